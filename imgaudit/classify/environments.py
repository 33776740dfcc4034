"""Python environments of the final filesystem: virtual environments and site-packages trees.

A virtual environment is a directory with `pyvenv.cfg`; its site-packages belong to it. Any
other `site-packages`/`dist-packages` directory is an environment of its own: the system
interpreter's, or a user's (`pip install --user`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from imgaudit.classify.context import PathSet, env_path
from imgaudit.classify.distributions import site_dir_of
from imgaudit.classify.projects.registry import tool_venv_patterns
from imgaudit.layers.merge import FinalFile
from imgaudit.layers.paths import is_within, parent
from imgaudit.model import EnvironmentKind

PYVENV_CFG = "pyvenv.cfg"
_PYTHON_DIR = re.compile(r"(?:^|/)python(\d+(?:\.\d+)?)(?:/|$)")
_CFG_VERSION = re.compile(r"^\s*(?:version_info|version)\s*=\s*(\d+\.\d+(?:\.\d+)?)", re.MULTILINE)
# Venvs that tools make for themselves (Poetry's official installer, pipx): toolchain as a whole.
_TOOL_VENV = re.compile(r"(?:^|/)(?:pypoetry/venv|pipx/venvs/[^/]+|pipx/shared)$")


@dataclass(frozen=True, slots=True)
class FoundEnvironment:
    root: str  # the venv directory, or the site-packages directory itself
    kind: EnvironmentKind
    python: str | None
    site_dirs: tuple[str, ...]


def _python_version(
    root: str, cfg: bytes | None, site_dirs: Sequence[str], seen: Sequence[str]
) -> str | None:
    if cfg and (match := _CFG_VERSION.search(cfg.decode("utf-8", "replace"))):
        return match.group(1)
    for site in site_dirs:
        if (match := _PYTHON_DIR.search(site)) and "." in match.group(1):
            return match.group(1)
    # Debian's `usr/lib/python3/dist-packages` serves the one `usr/lib/python3.X` beside it.
    versions = sorted(v for v in seen if "." in v and is_within(root, "usr/lib")) if root else []
    if versions:
        return versions[-1]
    return None


def tool_venv_roots(env: Mapping[str, str]) -> PathSet:
    """Where Poetry's installer and pipx keep their own venvs when ENV moves them."""
    roots = []
    if poetry_home := env_path(env, "POETRY_HOME"):
        roots.append(f"{poetry_home}/venv")
    if pipx_home := env_path(env, "PIPX_HOME"):
        roots.append(f"{pipx_home}/venvs")
        roots.append(f"{pipx_home}/shared")
    return PathSet(roots)


def is_tool_venv(root: str, from_env: PathSet) -> bool:
    return (
        bool(_TOOL_VENV.search(root))
        or root in from_env
        or any(p.search(root) for p in tool_venv_patterns())  # project formats' own venvs
    )


_INTERPRETER_TREES = "usr/lib/python"
_DIGITS = tuple("0123456789")


def _interpreter_versions(files: Sequence[FinalFile], directories: Iterable[str]) -> set[str]:
    """The `N[.N]` of the first `pythonN[.N]` component of each path under `usr/lib/python*`.

    Asked once per directory (`directories`: those of `files`): a match inside `D/` is the
    first one of every file in D. Only a file's own name can match beyond it, ending the
    path, so in a digit: those few files are asked on their own."""
    versions: set[str] = set()
    for directory in directories:
        probe = directory + "/"
        if probe.startswith(_INTERPRETER_TREES) and (match := _PYTHON_DIR.search(probe)):
            versions.add(match.group(1))
    for final in files:
        path = final.path
        if (
            path.endswith(_DIGITS)
            and path.startswith(_INTERPRETER_TREES)
            and (match := _PYTHON_DIR.search(path))
        ):
            versions.add(match.group(1))
    return versions


def find_environments(
    files: Sequence[FinalFile], contents: Mapping[str, bytes], env: Mapping[str, str]
) -> tuple[FoundEnvironment, ...]:
    venv_roots = sorted(parent(f.path) for f in files if f.path.rpartition("/")[2] == PYVENV_CFG)
    venvs = PathSet(venv_roots)
    tools = tool_venv_roots(env)
    sites: dict[str, None] = {}
    # A site marker ends in `/`: a file's site directory is its directory's, asked once per
    # directory (in first-seen order, as the report lists them).
    directories = dict.fromkeys(f.path.rpartition("/")[0] for f in files)
    for directory in directories:
        if directory and (site := site_dir_of(directory + "/")) is not None:
            sites.setdefault(site)
    python_dirs = _interpreter_versions(files, directories)
    by_venv: dict[str, list[str]] = {root: [] for root in venv_roots}
    found: list[FoundEnvironment] = []
    for site in sites:
        venv = venvs.root_of(site)
        if venv is not None:
            by_venv[venv].append(site)
            continue
        kind = EnvironmentKind.USER if "/.local/lib/" in f"/{site}" else EnvironmentKind.SYSTEM
        found.append(
            FoundEnvironment(site, kind, _python_version(site, None, [site], sorted(python_dirs)), (site,))
        )
    for root, site_dirs in by_venv.items():
        kind = EnvironmentKind.TOOL_VENV if is_tool_venv(root, tools) else EnvironmentKind.VENV
        version = _python_version(root, contents.get(f"{root}/{PYVENV_CFG}"), site_dirs, ())
        found.append(FoundEnvironment(root, kind, version, tuple(sorted(site_dirs))))
    return tuple(sorted(found, key=lambda e: e.root))
