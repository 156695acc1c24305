"""Workflow config files: YAML syntax and schema errors as one line naming the key, the value and the fix.

Snakemake's own schema check prints the whole schema (hundreds of lines) for an unknown key; the
Snakefile calls :func:`check_schema` first, so a mistake reads like::

    config key tables.table1.cells[0].ipc_from = 'x': expected an integer

Snakemake parses ``--configfile`` files itself before the Snakefile runs and reports malformed YAML
without a line number; ``python -m yoco.configcheck FILE ...`` names the file, line and column and
checks the layered config against the schema too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import YocoError, closest

_PATTERN_WORDS = {
    "^[a-z][a-z0-9_]*$": "a lower-case name (letters, digits, _; starting with a letter)",
    "^[a-z0-9_]+$": "lower-case letters, digits and _",
    "^(cpu|cuda(:[0-9]+)?|mps)$": "cpu, cuda, cuda:N or mps",
}


def load_yaml(path: str | os.PathLike) -> dict:
    """A config file as a dict; a YocoError naming the file, line and column when it is not valid YAML."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise YocoError(
            f"config file {path} does not exist; check the path (relative paths start at the current folder)"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise YocoError(
            f"config file {where}: not valid YAML ({problem}); check the indentation, colons and "
            "brackets there (tabs are not allowed)"
        ) from None
    except UnicodeDecodeError:
        raise YocoError(f"config file {path} is not UTF-8 text; save it as a YAML text file") from None
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


def check_schema(config: Mapping, schema_path: str | os.PathLike) -> None:
    """Raise one :class:`YocoError` line for the first schema violation of ``config`` (if any)."""
    import jsonschema

    schema = load_yaml(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(dict(config)))
    if not errors:
        return
    # The deepest error names the key the user wrote; best_match prefers it among alternatives.
    error = jsonschema.exceptions.best_match(errors)
    raise YocoError(_describe(error))


def _merge(base: dict, extra: Mapping) -> dict:
    """Snakemake's layering: mappings merge key by key, everything else replaces."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m yoco.configcheck [FILE ...]``: check config files layered on config/config.yaml."""
    repo = Path(__file__).resolve().parents[1]
    files = [repo / "config" / "config.yaml"] + [Path(f) for f in (argv if argv is not None else sys.argv[1:])]
    try:
        config: dict = {}
        for f in files:
            config = _merge(config, load_yaml(f))
        check_schema(config, repo / "workflow" / "schemas" / "config.schema.yaml")
        from . import grid

        grid.validate(config)
    except YocoError as err:
        print(f"yoco configcheck: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(f"config OK: {', '.join(str(f) for f in files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
