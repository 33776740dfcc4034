"""Facts about the image that decide where its caches and environments live.

Paths come from the image itself: its ENV, its configured user and that user's home in the
image's `/etc/passwd`. Build steps before a `USER` line run as root, so root's home counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imgaudit.classify.projects.interface import env_path
from imgaudit.layers.paths import Roots, normalize
from imgaudit.model import Category

__all__ = ["env_path"]  # re-exported: environments.py reads ENV paths through here

PASSWD = "etc/passwd"
# An image without /etc/passwd (scratch, distroless) still runs as uid 0, whose home every
# libc falls back to when no entry exists.
ROOT_HOME_WITHOUT_PASSWD = "root"


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    uid: str
    home: str


def parse_passwd(data: bytes) -> list[Account]:
    accounts = []
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and not line.startswith("#"):
            home = normalize(fields[5].lstrip("/")) if fields[5].startswith("/") else None
            if home is not None:
                accounts.append(Account(fields[0], fields[2], home))
    return accounts


def user_homes(user: str, env: Mapping[str, str], passwd: bytes | None) -> tuple[str, ...]:
    """Homes whose caches builds fill: the configured user's, root's, and $HOME."""
    accounts = parse_passwd(passwd) if passwd is not None else []
    wanted = {"0", "root"}
    if user:
        wanted.add(user.split(":", 1)[0])
    homes: list[str] = [a.home for a in accounts if a.name in wanted or a.uid in wanted]
    if not any(a.uid == "0" for a in accounts):
        homes.append(ROOT_HOME_WITHOUT_PASSWD)
    if env.get("HOME", "").startswith("/"):
        home = normalize(env["HOME"][1:])
        if home is not None:
            homes.append(home)
    return tuple(dict.fromkeys(h for h in homes if h))


def _under_each(homes: Iterable[str], *relative: str) -> list[str]:
    return [f"{home}/{rel}" for home in homes for rel in relative]


@dataclass(frozen=True, slots=True)
class ToolCache:
    """A project format's cache (classify.projects): its category, roots and what is not cache."""

    category: Category
    roots: tuple[str, ...]
    keep_out: tuple[str, ...] = ()


# apk's cache (apk-cache(5)): the repositories' indexes in /var/cache/apk; when /etc/apk/cache is
# a directory (or a link to one), apk keeps its indexes and every package it downloads there.
# (`--cache-dir` elsewhere, on a command or in apk-tools 3's /etc/apk/config, is not followed.)
APK_CACHE_ROOTS = ("var/cache/apk", "etc/apk/cache")


@dataclass(frozen=True, slots=True)
class CacheLocations:
    poetry: tuple[str, ...]
    poetry_virtualenvs: tuple[str, ...]  # inside Poetry's cache, but the app's venvs: not cache
    pip: tuple[str, ...]
    virtualenv_seed: tuple[str, ...]
    apt: tuple[str, ...] = ("var/lib/apt/lists", "var/cache/apt")
    # Every format's cache that has a category of its own beyond Poetry's (uv, PDM, Pipenv).
    tools: tuple[ToolCache, ...] = ()
    pip_tools: tuple[str, ...] = ()  # pip-compile's caches: among `pip` (pip's category)

    def tool(self, category: Category) -> ToolCache:
        return next((t for t in self.tools if t.category is category), ToolCache(category, ()))

    def all_roots(self) -> tuple[str, ...]:
        return (*self.poetry, *self.pip, *self.virtualenv_seed, *(r for t in self.tools for r in t.roots))


def cache_locations(homes: tuple[str, ...], env: Mapping[str, str]) -> CacheLocations:
    """Defaults (platformdirs on Linux) for every home, plus what ENV points elsewhere."""
    # Here, not at import: the report renderers import this module for `instruction`, and
    # `--help` should not load every project format.
    from imgaudit.classify.projects.registry import cache_specs

    cache_homes = list(_under_each(homes, ".cache"))
    data_homes = list(_under_each(homes, ".local/share"))
    if xdg_cache := env_path(env, "XDG_CACHE_HOME"):
        cache_homes.append(xdg_cache)
    if xdg_data := env_path(env, "XDG_DATA_HOME"):
        data_homes.append(xdg_data)
    tools = [
        ToolCache(spec.category, roots, spec.excluded(roots, env))
        for spec in cache_specs()
        for roots in [spec.roots(cache_homes, env)]
    ]
    poetry = next(t for t in tools if t.category is Category.POETRY_CACHE)
    pip = [f"{c}/pip" for c in cache_homes]
    if custom := env_path(env, "PIP_CACHE_DIR"):
        pip.append(custom)
    # pip-compile's (pip-tools): pip's wheel cache format, the packages pip downloaded for it.
    pip_tools = [f"{c}/pip-tools" for c in cache_homes]
    if custom := env_path(env, "PIP_TOOLS_CACHE_DIR"):
        pip_tools.append(custom)
    seed = [f"{c}/virtualenv" for c in cache_homes] + [f"{d}/virtualenv" for d in data_homes]
    if custom := env_path(env, "VIRTUALENV_OVERRIDE_APP_DATA"):
        seed.append(custom)
    tools.append(ToolCache(Category.CONDA_CACHE, _conda_pkgs(homes, env)))
    return CacheLocations(
        poetry.roots,
        poetry.keep_out,
        _unique([*pip, *pip_tools]),
        _unique(seed),
        tools=tuple(t for t in tools if t.category is not Category.POETRY_CACHE),
        pip_tools=_unique(pip_tools),
    )


# Where conda, mamba and micromamba installs put their root prefix (its `pkgs/` is the cache):
# the miniconda/miniforge images' /opt/conda, and what ENV says.
_CONDA_ROOT_DEFAULT = "opt/conda"
_CONDA_ROOT_VARS = ("CONDA_DIR", "MAMBA_ROOT_PREFIX", "CONDA_ROOT")


def _conda_pkgs(homes: Iterable[str], env: Mapping[str, str]) -> tuple[str, ...]:
    """conda's package caches: `<root prefix>/pkgs`, `~/.conda/pkgs` (a user without write
    access to the root prefix), and every directory of CONDA_PKGS_DIRS (comma-separated)."""
    roots = [_CONDA_ROOT_DEFAULT, *(p for var in _CONDA_ROOT_VARS if (p := env_path(env, var)))]
    found = [f"{root}/pkgs" for root in roots] + _under_each(homes, ".conda/pkgs")
    for part in env.get("CONDA_PKGS_DIRS", "").split(","):
        if p := env_path({"CONDA_PKGS_DIRS": part.strip()}, "CONDA_PKGS_DIRS"):
            found.append(p)
    return _unique(found)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


_FEW_ROOTS = 16


class PathSet:
    """Membership of a path in any of several directory trees, in one walk down the roots'
    names per directory asked (however deep the path)."""

    def __init__(self, roots: Iterable[str]) -> None:
        self._roots = frozenset(r for r in roots if r)
        self._tree = Roots(dict.fromkeys(sorted(self._roots), True))
        # Directory -> whether it lies within a root. Files share directories (250k files sit
        # in a few thousand), so a file costs one split and a lookup, not a walk. Only the
        # directories asked are kept: keeping each one above them too (a walk up, a string per
        # level) took 100 files 2,000 levels deep to 430 MB.
        self._directories: dict[str, bool] = {}
        # A few roots (the usual cache sets): one C-level `startswith` over their prefixes is
        # cheaper still than the split; many roots go through the directory memo.
        self._prefixes = tuple(f"{r}/" for r in self._roots) if len(self._roots) <= _FEW_ROOTS else None

    def __contains__(self, path: str) -> bool:
        if not self._roots:
            return False
        if self._prefixes is not None:
            return path.startswith(self._prefixes) or path in self._roots
        if path in self._roots:
            return True
        directory = path.rpartition("/")[0]
        known = self._directories.get(directory)
        if known is None:
            known = self._directories[directory] = self._tree.deepest(directory) is not None
        return known

    def root_of(self, path: str) -> str | None:
        """The deepest root that is `path` or holds it."""
        found = self._tree.deepest(path)
        return None if found is None else found[0]

    def __bool__(self) -> bool:
        return bool(self._roots)

    @property
    def roots(self) -> frozenset[str]:
        return self._roots


_COPY_STEP = re.compile(r"^(?:COPY|ADD)\b")


def instruction(created_by: str | None) -> str:
    """`/bin/sh -c #(nop) COPY file:.. in /app`, `COPY . . # buildkit` and
    `|1 ARG=value /bin/sh -c cmd` -> `COPY ...` / `RUN cmd`. Build arguments are dropped: the
    report shows instructions, and argument values may carry URLs with credentials."""
    if not created_by:
        return ""
    text = redact_credentials(created_by.strip())
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    run = text.startswith("RUN ")
    if run:
        text = text[len("RUN ") :].lstrip()
    text, had_arguments = _without_build_arguments(text)
    if text.startswith(_SHELL):
        command = text[len(_SHELL) :].strip()
        if command.startswith("#(nop)"):
            return command[len("#(nop)") :].strip()
        return f"RUN {command}"
    return f"RUN {text}" if run or had_arguments else text


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact_credentials(text: str) -> str:
    """`https://user:token@host/...` -> `https://***@host/...`: history text goes into reports."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)


_SHELL = "/bin/sh -c "
_ARGUMENT_COUNT = re.compile(r"^\|(\d+)\s+")
_ARGUMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*\s+")


def _without_build_arguments(text: str) -> tuple[str, bool]:
    counted = _ARGUMENT_COUNT.match(text)
    if counted is None:
        return text, False
    rest = text[counted.end() :]
    for _ in range(int(counted.group(1))):
        argument = _ARGUMENT.match(rest)
        if argument is None:
            break
        rest = rest[argument.end() :]
    return rest, True


def recorded_build_arguments(created_by: str | None) -> dict[str, str]:
    """`RUN |2 ENVIRONMENT=production DEV=0 /bin/sh -c ...` -> {"ENVIRONMENT": "production",
    "DEV": "0"}: the build arguments a RUN step ran with, as BuildKit and the classic builder
    record them in the history (values with spaces are not recorded unambiguously: cut there)."""
    text = (created_by or "").strip()
    text = text[len("RUN ") :].lstrip() if text.startswith("RUN ") else text
    counted = _ARGUMENT_COUNT.match(text)
    if counted is None:
        return {}
    arguments: dict[str, str] = {}
    rest = text[counted.end() :]
    for _ in range(int(counted.group(1))):
        argument = _ARGUMENT.match(rest)
        if argument is None:
            break
        name, _, value = argument.group(0).strip().partition("=")
        arguments[name] = value
        rest = rest[argument.end() :]
    return arguments


def is_copy_step(created_by: str | None) -> bool:
    return bool(_COPY_STEP.match(instruction(created_by)))
