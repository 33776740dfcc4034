"""Gate settings from files: `.imgaudit.toml`, `[tool.imgaudit]` in `pyproject.toml`, or
dive's `.dive-ci`, turned into a click `default_map` (defaults < file < flags).

The first directory from the working directory upwards that holds one of these files wins,
and in it the first of `.imgaudit.toml`, `pyproject.toml` with a `[tool.imgaudit]` table,
`.dive-ci`. The search stops at the project root (a directory with `.git` or `pyproject.toml`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgaudit.errors import UsageError

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
    "baseline": ("baseline", False),
    "max-growth": ("max_growth", False),
    "max-category-growth": ("max_category_growth", True),
    # Finding ids silenced in `audit` and `lint` alike (the findings catalogue's ids).
    "ignore": ("ignore", True),
}
# Keys whose value may be a table {CATEGORY = LIMIT}.
_KEYED = {"max-category", "max-category-growth"}
# dive's `.dive-ci` rules; highestUserWastedPercent is a ratio there (0.2 = 20%).
_DIVE_RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")


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
        table = _read_toml(directory / PYPROJECT).get("tool", {}).get("imgaudit")
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
        document = document.get("tool", {}).get("imgaudit", {})
    elif isinstance(document.get("tool"), dict) and "imgaudit" in document["tool"]:
        document = document["tool"]["imgaudit"]
    return ConfigFile(path, _settings(document, path))


def default_map(config: ConfigFile | None) -> dict[str, Any]:
    """The audit command's defaults from a config file."""
    return dict(config.settings) if config else {}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise UsageError("config file not found", where=str(path)) from exc
    except OSError as exc:
        raise UsageError(f"cannot read the config file: {exc.strerror}", where=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"invalid TOML in the config file: {exc}", where=str(path)) from exc


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


_DIVE_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z]+)\s*:\s*(?P<value>.*?)\s*$")


def _dive_settings(path: Path) -> dict[str, Any]:
    """dive's `.dive-ci` is a two-level YAML mapping (`rules:` then `name: value`); it is read
    here line by line rather than with a YAML library for three keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the config file: {exc.strerror}", where=str(path)) from exc
    rules: dict[str, str] = {}
    section = None
    for number, line in enumerate(text.splitlines(), 1):
        content = line.split("#", 1)[0].rstrip()
        if not content.strip():
            continue
        match = _DIVE_LINE.match(content)
        if match is None:
            raise UsageError(f"line {number}: expected `name: value`", where=str(path))
        key, value = match.group("key"), match.group("value").strip("'\"")
        if not match.group("indent"):
            section = key
            continue
        if section != "rules":
            continue
        if key not in _DIVE_RULES:
            raise UsageError(
                f"line {number}: unknown dive rule {key!r}; known: {', '.join(_DIVE_RULES)}", where=str(path)
            )
        rules[key] = value
    return _from_dive(rules)


def _from_dive(rules: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    wasted: list[str] = []
    for key, value in rules.items():
        if value.lower() == "disabled":
            continue
        if key == "lowestEfficiency":
            settings["min_efficiency"] = value
        elif key == "highestWastedBytes":
            wasted.append(value)
        else:
            # dive's ratio -> a percentage. dive counts wasted bytes outside the first layer only;
            # imgaudit counts every wasted byte, so this limit is the stricter reading.
            wasted.append(f"{_ratio_as_percent(value)}%")
    if wasted:
        settings["max_wasted"] = tuple(wasted)
    return settings


def _ratio_as_percent(value: str) -> str:
    try:
        return f"{float(value) * 100:g}"
    except ValueError:
        return value  # left for the gate's parser to reject with the value in the message
