"""Workflow config files: YAML syntax and schema errors as one line naming the key, the value and the fix.

Snakemake's own schema check prints the whole schema (hundreds of lines) for an unknown key; the
Snakefile calls :func:`check_schema` first, so a mistake reads like::

    config key tables.table1.cells[0].ipc_from = 'x': expected an integer

Snakemake parses ``--configfile`` files itself before the Snakefile runs and reports malformed YAML
without a line number; ``python -m yoco.configcheck FILE ...`` names the file, line and column and
checks the layered config against the schema too.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import YocoError, closest

_PATTERN_WORDS = {
    "^[a-z][a-z0-9_]*$": "a lower-case name (letters, digits, _; starting with a letter)",
    "^[a-z0-9_]+$": "lower-case letters, digits and _",
    "^(cpu|cuda(:[0-9]+)?|mps)$": "cpu, cuda, cuda:N or mps",
}


class _Duplicate(Exception):
    def __init__(self, key, first, again):
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


def _strict_loader():
    """yaml's SafeLoader, except that a key given twice in one mapping is an error, not "last wins"."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue  # `<<: *base` then overriding a key is YAML's merge, not a duplicate
                    key = self.construct_object(key_node, deep=True)
                    try:
                        if key in seen:
                            raise _Duplicate(key, seen[key], key_node.start_mark)
                        seen[key] = key_node.start_mark
                    except TypeError:  # an unhashable key: yaml's own constructor reports it
                        pass
            return super().construct_mapping(node, deep)

    return StrictLoader


def load_yaml(path: str | os.PathLike) -> dict:
    """A config file as a dict; a YocoError naming the file, line and column when it is not valid YAML
    (or gives a key twice, which plain YAML loaders resolve silently by keeping the last)."""
    import yaml

    if isinstance(path, str) and not path.strip():
        raise YocoError("config file name is empty; give the path of a YAML file, e.g. --configfile config/my.yaml")
    path = Path(path)
    if path.is_dir():
        raise YocoError(f"config file {path} is a folder; give the YAML file inside it")
    if not path.is_file():
        raise YocoError(
            f"config file {path} does not exist; check the path (relative paths start at the current folder)"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_strict_loader())
    except _Duplicate as dup:
        raise YocoError(
            f"config file {path}, line {dup.again.line + 1}: key {dup.key!r} is given twice in one mapping "
            f"(first on line {dup.first.line + 1}); YAML would silently keep the last: delete one of them"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        if "special characters are not allowed" in problem:
            raise YocoError(
                f"config file {path} is not text (binary bytes at {where}); give a YAML text file"
            ) from None
        raise YocoError(
            f"config file {where}: not valid YAML ({problem}); check the indentation, colons and "
            "brackets there (tabs are not allowed)"
        ) from None
    except UnicodeDecodeError:
        raise YocoError(f"config file {path} is not UTF-8 text (a binary file?); give a YAML text file") from None
    except OSError as exc:
        raise YocoError(f"config file {path} cannot be read ({exc.strerror}); check its permissions") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise YocoError(f"config file {path} holds a {type(data).__name__}, not key: value pairs at the top level")
    return data


def _where(error) -> str:
    parts = ""
    for p in error.absolute_path:
        parts += f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p))
    return parts


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error) -> str:
    """One line for one jsonschema error: the key, the value and what is allowed."""
    key = _where(error)
    kind, expected, schema = error.validator, error.validator_value, error.schema
    value = error.instance
    if kind == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        extra = sorted(k for k in value if k not in allowed) if isinstance(value, Mapping) else []
        name = extra[0] if extra else "?"
        guess = closest(name, allowed)
        hint = f" Did you mean {guess!r}?" if guess else ""
        place = f"under {key}" if key else "at the top level"
        return f"config: unknown key {name!r} {place}.{hint} Allowed keys: {', '.join(allowed)}"
    if kind == "required":
        missing = [k for k in expected if not (isinstance(value, Mapping) and k in value)]
        place = f"{key}" if key else "the config"
        return (
            f"config: {place} lacks the required key {missing[0]!r}; add it (config/config.yaml, which the "
            "Snakefile loads first, sets every required key)"
        )
    head = f"config key {key or '(top level)'} = {_show(value)}"
    if kind == "type":
        names = {
            "integer": "an integer",
            "number": "a number",
            "string": "a string",
            "boolean": "true or false",
            "array": "a list",
            "object": "a mapping of keys",
            "null": "null",
        }
        types = expected if isinstance(expected, list) else [expected]
        return f"{head}: expected {' or '.join(names.get(t, t) for t in types)}"
    if kind == "enum":
        return f"{head}: allowed values are {', '.join(map(repr, expected))}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        return f"{head}: must be {sign} {expected}"
    if kind == "pattern":
        return f"{head}: must be {_PATTERN_WORDS.get(expected, f'a string matching {expected}')}"
    if kind in ("minItems", "maxItems"):
        return f"{head}: needs {'at least' if kind == 'minItems' else 'at most'} {expected} item(s)"
    if kind == "uniqueItems":
        return f"{head}: items must not repeat"
    if kind in ("minLength", "minProperties"):
        return f"{head}: must not be empty"
    return f"{head}: {' '.join(str(error.message).split())[:160]}"


def _import_jsonschema():
    """jsonschema, without the IRI format checker it builds when rfc3987-syntax is installed (Jupyter's
    dependencies install it): compiling its ~40 grammars took ~1.7 s of every Snakemake start, before any
    job could run. The workflow's schema uses no ``format``, and validation here checks none."""
    if "jsonschema" in sys.modules:
        return sys.modules["jsonschema"]
    hide = "rfc3987_syntax" not in sys.modules
    if hide:
        sys.modules["rfc3987_syntax"] = None  # makes its import fail, which jsonschema handles
    try:
        import jsonschema
    finally:
        if hide:
            del sys.modules["rfc3987_syntax"]  # anything imported later gets the real package
    return jsonschema


def check_schema(config: Mapping, schema_path: str | os.PathLike) -> None:
    """Raise one :class:`YocoError` line for the first schema violation of ``config`` (if any)."""
    jsonschema = _import_jsonschema()
    check_finite(config)
    schema = load_yaml(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(dict(config)))
    if not errors:
        return
    # The deepest error names the key the user wrote; best_match prefers it among alternatives.
    error = jsonschema.exceptions.best_match(errors)
    raise YocoError(_describe(error))


def _walk(node, key: str = ""):
    """Every leaf of a config as (dotted key, value)."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _walk(v, f"{key}.{k}" if key else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, f"{key}[{i}]")
    else:
        yield key, node


def check_finite(config: Mapping) -> None:
    """Refuse ``.inf`` and ``.nan`` anywhere: no setting of this workflow means anything at infinity, and
    the schema's ranges let them through (``inf >= 1``; every comparison with ``nan`` is false)."""
    for key, value in _walk(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise YocoError(f"config key {key} = {value}: not a finite number; give a finite value")


# Training images per class of the datasets `yoco data` prepares (the smallest class; digits: the 70 %
# train split of scikit-learn's digits with seed 0, yoco.data). A condensed set cannot keep more.
TRAIN_IMAGES_PER_CLASS = {"cifar10": 5000, "cifar100": 500, "imagenet10": 1300, "digits": 122}
# As yoco.data.NUM_CLASSES (kept here so that reading a config does not import torch; a test keeps them equal).
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet10": 10, "digits": 10}
_TILDE = re.compile(r"^~[A-Za-z0-9_.-]*(/|$)")
_ROOTS = ("output_root", "figures_root")


def _images_per_class(config: Mapping, ds: str) -> tuple[int, str] | None:
    """Smallest training class of ``ds``: counted in the configured npz when it exists, else known."""
    spec = config["datasets"].get(ds) or {}
    npz = spec.get("npz")
    if npz and os.path.isfile(npz):
        import numpy as np

        try:
            with np.load(npz, allow_pickle=False) as data:
                counts = np.bincount(np.asarray(data["y_train"]).astype(np.int64).ravel())
            return int(counts[counts > 0].min()), str(npz)
        except Exception:  # noqa: BLE001 - an unreadable cache is reported by `yoco data`/the jobs reading it
            return None
    if ds in TRAIN_IMAGES_PER_CLASS:
        return TRAIN_IMAGES_PER_CLASS[ds], f"the {ds} training set"
    return None


def _check_cli(cli: str) -> None:
    try:
        words = shlex.split(cli)
    except ValueError as exc:
        raise YocoError(
            f"config key cli = {cli!r}: {exc}; write the command as a shell would, e.g. cli: yoco"
        ) from None
    fix = "use `yoco` (installed) or `python -m yoco` (from a checkout)"
    if not words:
        raise YocoError(f"config key cli = {cli!r} is empty; {fix}")
    if shutil.which(words[0]) is None:
        guess = closest(words[0], ["yoco", "python", "python3"])
        hint = f" Did you mean {guess!r}?" if guess and guess != words[0] else ""
        raise YocoError(f"config key cli = {cli!r}: {words[0]!r} is not a command on PATH.{hint} {fix}")
    if os.path.basename(words[-1]) != "yoco" and words[-2:] != ["-m", "yoco"]:
        raise YocoError(f"config key cli = {cli!r} does not run the yoco command line (it must end in yoco); {fix}")


def check_values(config: Mapping) -> None:
    """What the schema and :func:`yoco.grid.validate` leave open, before any job: where outputs go (not
    ``/``, not ``~``, not a file), the ``cli`` command, the datasets' classes and images per class."""
    for key, value in _walk(config):
        if isinstance(value, str) and _TILDE.match(value):
            raise YocoError(
                f"config key {key} = {value!r}: a leading ~ is not expanded here (Snakemake and the quoted "
                f"shell commands take it literally, making a folder named '~'); write the full path, e.g. "
                f"{os.path.expanduser(value)}"
            )
    for name in _ROOTS:
        root = str(config[name])
        if os.path.exists(root) and os.path.samefile(root, os.sep):  # "/", "//", "/./", a link to /
            raise YocoError(
                f"config key {name} = {root!r} is the file-system root; give a folder of its own, e.g. {name}: results"
            )
        if os.path.exists(root) and not os.path.isdir(root):
            raise YocoError(
                f"config key {name} = {root!r} is an existing file, not a folder; give a folder (created if missing)"
            )
    _check_cli(str(config["cli"]))
    for ds, spec in config["datasets"].items():
        known = NUM_CLASSES.get(ds)
        if known is not None and int(spec["num_classes"]) != known:
            raise YocoError(
                f"config key datasets.{ds}.num_classes = {spec['num_classes']}: {ds} has {known} classes; "
                f"set num_classes: {known}"
            )
    from . import grid

    for cs in grid.condensed_sets(config):
        if not str(cs.ipcf).isdigit():
            continue
        have = _images_per_class(config, cs.ds)
        if have is not None and int(cs.ipcf) > have[0]:
            raise YocoError(
                f"config: ipc_from {cs.ipcf} for {cs.ds} ({cs.ck}) is more than the {have[0]} training images "
                f"per class of {have[1]}; lower ipc_from (tables.*.cells, figures.*) to at most {have[0]}"
            )


def merge_configs(*layers: Mapping) -> dict:
    """Snakemake's layering of configfiles and ``--config``: later layers win; mappings merge key by key,
    everything else (lists included) replaces."""
    out: dict = {}
    for layer in layers:
        for k, v in layer.items():
            out[k] = merge_configs(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m yoco.configcheck [FILE ...]``: check config files layered on config/config.yaml."""
    repo = Path(__file__).resolve().parents[1]
    files = [repo / "config" / "config.yaml"] + [Path(f) for f in (argv if argv is not None else sys.argv[1:])]
    try:
        config = merge_configs(*(load_yaml(f) for f in files))
        check_schema(config, repo / "workflow" / "schemas" / "config.schema.yaml")
        from . import grid

        grid.validate(config)
        check_values(config)
    except YocoError as err:
        print(f"yoco configcheck: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(f"config OK: {', '.join(str(f) for f in files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
