"""Gate settings from files: `.imgaudit.toml`, `[tool.imgaudit]` in `pyproject.toml`, or
dive's `.dive-ci`, turned into a click `default_map` (defaults < file < flags).

The first directory from the working directory upwards that holds one of these files wins,
and in it the first of `.imgaudit.toml`, `pyproject.toml` with a `[tool.imgaudit]` table,
`.dive-ci`. The search stops at the project root (a directory with `.git` or `pyproject.toml`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgaudit.errors import UsageError
from imgaudit.inputs import decode_text, load_toml

IMGAUDIT_TOML = ".imgaudit.toml"
PYPROJECT = "pyproject.toml"
DIVE_CI = ".dive-ci"

# File key -> (audit command parameter, whether it takes several values).
_KEYS: dict[str, tuple[str, bool]] = {
    "max-size": ("max_size", False),
    "max-category": ("max_category", True),
    "max-wasted": ("max_wasted", True),
    "min-efficiency": ("min_efficiency", False),
    "max-removable": ("max_removable", False),
    "fail-on": ("fail_on", True),
    # Finding ids left out, as --ignore: in `audit` and `lint` alike (the findings catalogue's ids).
    "ignore": ("ignore", True),
    "baseline": ("baseline", False),
    "max-growth": ("max_growth", False),
    "max-category-growth": ("max_category_growth", True),
}
# Keys whose value may be a table {CATEGORY = LIMIT}.
_KEYED = {"max-category", "max-category-growth"}
# dive's `.dive-ci` rules; highestUserWastedPercent is a ratio there (0.2 = 20%).
_DIVE_RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")
CONFIG_CAP = 1024 * 1024  # a config file of a MB is not one anybody wrote


@dataclass(frozen=True, slots=True)
class ConfigFile:
    path: Path
    settings: Mapping[str, Any]  # audit parameter -> value as the command line would give it


def find_config(start: Path) -> ConfigFile | None:
    for directory in (start.resolve(), *start.resolve().parents):
        found = _config_in(directory)
        if found is not None:
            return found
        if (directory / ".git").exists() or (directory / PYPROJECT).is_file():
            return None
    return None


def _config_in(directory: Path) -> ConfigFile | None:
    if (directory / IMGAUDIT_TOML).is_file():
        return load_config(directory / IMGAUDIT_TOML)
    if (directory / PYPROJECT).is_file():
        table = _tool_table(_read_toml(directory / PYPROJECT))
        if table is not None:
            return ConfigFile(directory / PYPROJECT, _settings(table, directory / PYPROJECT))
    if (directory / DIVE_CI).is_file():
        return load_config(directory / DIVE_CI)
    return None


def load_config(path: Path) -> ConfigFile:
    """Read a named config file: `.dive-ci` by its name, anything else as TOML; a
    `pyproject.toml` is read from its `[tool.imgaudit]` table."""
    if path.name == DIVE_CI or path.suffix in (".yaml", ".yml"):
        return ConfigFile(path, _dive_settings(path))
    document = _read_toml(path)
    if path.name == PYPROJECT:
        document = _tool_table(document) or {}
    elif _tool_table(document) is not None:
        document = _tool_table(document)
    return ConfigFile(path, _settings(document, path))


def _tool_table(document: dict[str, Any]) -> Any:
    """`[tool.imgaudit]`, or None; `tool` of another type is no table of ours."""
    tool = document.get("tool")
    return tool.get("imgaudit") if isinstance(tool, dict) else None


def default_map(config: ConfigFile | None) -> dict[str, Any]:
    """The audit command's defaults from a config file."""
    return dict(config.settings) if config else {}


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(CONFIG_CAP + 1)
    except FileNotFoundError as exc:
        raise UsageError("config file not found", where=str(path)) from exc
    except OSError as exc:
        raise UsageError(f"cannot read the config file: {exc.strerror}", where=str(path)) from exc
    if len(data) > CONFIG_CAP:
        raise UsageError(f"the config file is larger than {CONFIG_CAP} bytes", where=str(path))
    return data


def _read_toml(path: Path) -> dict[str, Any]:
    return load_toml(_read_bytes(path), "the config file", str(path), UsageError)


def _settings(table: object, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise UsageError("[tool.imgaudit] must be a table", where=str(path))
    settings: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = str(raw_key).replace("_", "-")
        if key not in _KEYS:
            raise UsageError(f"unknown setting {raw_key!r}; known: {', '.join(_KEYS)}", where=str(path))
        parameter, several = _KEYS[key]
        if key in _KEYED and isinstance(value, dict):
            value = [f"{name}={_scalar(key, limit, path)}" for name, limit in value.items()]
        if key == "baseline":
            # A relative baseline is relative to the file that names it, not to the shell.
            value = str((path.parent / _scalar(key, value, path)).resolve())
        if several:
            items = value if isinstance(value, list) else [value]
            settings[parameter] = tuple(_scalar(key, item, path) for item in items)
        else:
            settings[parameter] = _scalar(key, value, path)
    return settings


def _scalar(key: str, value: object, path: Path) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UsageError(f"setting {key!r} must be a string or a number, not {value!r}", where=str(path))
    return str(value)


# dive reads `.dive-ci` with viper (YAML) and looks up three keys under `rules`; everything
# else in the file (a leading `---`, a `plugins:` list, `plugin1/rule1` keys) it ignores.
_DIVE_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[^\s:#][^:#]*?)\s*:(?:\s+(?P<value>.*?))?\s*$")
_DIVE_IGNORED = re.compile(r"^(---|\.\.\.)(\s.*)?$|^\s*-(\s.*)?$")
# go-humanize's ParseBytes, which dive uses for highestWastedBytes: SI and IEC units, any case.
_HUMAN_BYTES = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)$", re.IGNORECASE)
_HUMAN_UNITS = {
    **dict.fromkeys(("", "b", "byte"), 1),
    **{p: 1000**i for i, p in enumerate("kmgtpe", 1) for p in (p, p + "b")},
    **{p + "i": 1024**i for i, p in enumerate("kmgtpe", 1)},
    **{p + "ib": 1024**i for i, p in enumerate("kmgtpe", 1)},
}

_SAME_AS_IMGAUDIT = frozenset({"", "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib"})


def _dive_settings(path: Path) -> dict[str, Any]:
    """The three rules of dive's `.dive-ci`, read the way dive reads them (see above)."""
    text = decode_text(_read_bytes(path), "the config file", str(path), UsageError)
    rules: dict[str, str] = {}
    section = None
    for number, line in enumerate(text.splitlines(), 1):
        content = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if not content.strip() or _DIVE_IGNORED.match(content):
            continue  # a document marker, or a list item (`plugins:\n  - plugin1`)
        match = _DIVE_LINE.match(content)
        if match is None:
            if section == "rules":
                raise UsageError(f"line {number}: expected `name: value` under rules", where=str(path))
            continue
        key, value = match.group("key").strip("'\""), (match.group("value") or "").strip("'\"")
        if not match.group("indent"):
            section = key
            if key == "rules" and value:
                raise UsageError(
                    f"line {number}: write each rule on its own line under rules:", where=str(path)
                )
            continue
        if section == "rules" and key in _DIVE_RULES:
            rules[key] = value
    return _from_dive(rules, path)


def _from_dive(rules: Mapping[str, str], path: Path) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    wasted: list[str] = []
    for key, value in rules.items():
        if value.lower() == "disabled":
            continue
        if key == "lowestEfficiency":
            settings["min_efficiency"] = value
        elif key == "highestWastedBytes":
            wasted.append(_dive_bytes(value, path))
        else:
            # dive divides the wasted bytes by the bytes of every layer but the first
            # ("user" bytes): the `%user` form of --max-wasted does the same.
            wasted.append(f"{_ratio_as_percent(value)}%user")
    if wasted:
        settings["max_wasted"] = tuple(wasted)
    return settings


def _dive_bytes(value: str, path: Path) -> str:
    match = _HUMAN_BYTES.match(value.strip())
    unit = match.group("unit").lower() if match else ""
    if match is None or unit not in _HUMAN_UNITS or len(match.group("number")) > 30:
        raise UsageError(f"highestWastedBytes {value!r}: expected a size like 20MB", where=str(path))
    if unit in _SAME_AS_IMGAUDIT:
        return value.strip()  # kept as written: the gate reads these units the same way
    return str(int(float(match.group("number")) * _HUMAN_UNITS[unit]))


def _ratio_as_percent(value: str) -> str:
    try:
        return f"{float(value) * 100:g}"
    except ValueError:
        return value  # left for the gate's parser to reject with the value in the message
