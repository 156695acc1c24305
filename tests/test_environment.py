"""environment.yml, requirements.txt and pyproject.toml must name the same pinned packages."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def test_requirements_are_all_pinned_and_torch_is_the_supported_build():
    pins = _requirements()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert {"snakemake", "numpy", "pandas", "pytest"} <= set(pins)


def test_pyproject_pins_equal_requirements():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = {}
    for dep in project["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", dep)
        assert m, f"pyproject dependency {dep!r} is not pinned with =="
        deps[m.group(1).lower()] = m.group(2)
    assert deps == _requirements()


def test_environment_yml_is_python_pip_and_the_requirements_file():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert any(str(d).startswith("python") for d in deps)
    assert "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip_section == ["-r requirements.txt"]
