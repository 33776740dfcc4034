"""One interface for every project format (Poetry, uv, PDM, Pipenv, pip-tools, PEP 621).

A format declares, as data, what the rest of imgaudit needs from it:
- `files`: the file names it reads (the layer walk keeps their contents; `--project` reads them);
- `caches`: its cache directories (defaults under each cache home, and the ENV that moves them);
- `toolchain`: what installs the app (distributions, standalone binaries, tool venvs);
- `read(project)`: those files -> one `DependencyGraph` (main roots, dev roots, edges).

Reading stays pure: the files arrive as bytes. A new format is one module and one registry line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from imgaudit.classify.deps import Dependency, Root
from imgaudit.layers.paths import basename, normalize
from imgaudit.model import Category, Confidence, DevSource

MAIN_GROUP = "main"
PYPROJECT = "pyproject.toml"
_REQUIREMENTS = re.compile(r"requirements[^/]*\.(?:txt|in)")
KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class ProjectFiles:
    """A project directory's files that tell main from dev dependencies, by name."""

    location: str  # shown in the report: `/app` in the image, or the host directory
    files: Mapping[str, bytes] = field(default_factory=dict)  # pyproject.toml, locks, requirements*

    @property
    def requirement_files(self) -> dict[str, bytes]:
        return {name: data for name, data in self.files.items() if is_requirements_file(name)}


@dataclass(frozen=True, slots=True)
class Declared:
    main: tuple[Root, ...]
    dev: tuple[Root, ...]


@dataclass(frozen=True, slots=True)
class ProjectFile:
    """A file name (a regex over the base name) a format reads, and how much of it to keep."""

    pattern: str
    cap: int = 8 * MIB
    is_lock: bool = False  # a directory holding it is a locked project: preferred when finding one

    def matches(self, name: str) -> bool:
        return re.fullmatch(self.pattern, basename(name)) is not None

    @property
    def literal_prefix(self) -> str:
        """What every matching name starts with (`requirements`, `uv.lock`): a cheap pre-filter."""
        found: list[str] = []
        i = 0
        while i < len(self.pattern):
            char = self.pattern[i]
            if char == "\\" and i + 1 < len(self.pattern) and not self.pattern[i + 1].isalnum():
                found.append(self.pattern[i + 1])
                i += 2
            elif char in ".^$*+?{}[]|()\\":
                break
            else:
                found.append(char)
                i += 1
        return "".join(found)


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """A tool's cache: `<cache home>/<name>` for every home (and $XDG_CACHE_HOME), plus the
    directories ENV variables point at. `keep_out` names subdirectories that are not cache
    (Poetry's `virtualenvs/`: the app's venvs)."""

    category: Category
    under_cache_home: tuple[str, ...]
    env_vars: tuple[str, ...] = ()
    keep_out: tuple[str, ...] = ()
    keep_out_env_vars: tuple[str, ...] = ()

    def roots(self, cache_homes: Iterable[str], env: Mapping[str, str]) -> tuple[str, ...]:
        found = [f"{home}/{name}" for home in cache_homes for name in self.under_cache_home]
        found.extend(p for var in self.env_vars if (p := env_path(env, var)))
        return tuple(dict.fromkeys(found))

    def excluded(self, roots: Iterable[str], env: Mapping[str, str]) -> tuple[str, ...]:
        found = [f"{root}/{sub}" for root in roots for sub in self.keep_out]
        found.extend(p for var in self.keep_out_env_vars if (p := env_path(env, var)))
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class ToolchainSpec:
    """What installs the app and is not needed to run it."""

    distributions: frozenset[str] = frozenset()  # pip-installed: roots of the toolchain closure
    binaries: tuple[str, ...] = ()  # standalone executables in a `bin/` outside any venv
    tool_venvs: tuple[str, ...] = ()  # regexes (searched in a venv root) of venvs the tool made for itself


@dataclass(frozen=True, slots=True)
class InstallAdvice:
    """How this format's users install without dev dependencies, as the tool's docs say it."""

    text: str
    snippet: str
    # Dependency files first, install without the project, then the code (`{code}`: its dirs).
    ordered: str = ""


@dataclass(frozen=True, slots=True)
class ImageInstall:
    """How this format's tool installs the project in an image the way its Docker guide says
    (what `imgaudit fix` writes into the builder stage): the command, the flags that leave
    dev out and hold the install to the lock, the ENV that puts the venv in the project, the
    guide's settings, how to build without keeping the cache, and the runtime wrapper that a
    stage without the tool drops (`uv run`)."""

    tool: str  # the command: uv, pdm, pipenv, poetry
    verbs: tuple[str, ...]  # its install verbs (`sync`, `install`)
    production: tuple[str, ...] = ()  # flags that leave the dev groups out
    dev_flags: tuple[str, ...] = ()  # flags that ask for them (dropped)
    system_flags: tuple[
        str, ...
    ] = ()  # flags that install outside a venv (dropped: the runtime copies the venv)
    # Flags that hold the install to the lock (the first is added when the context holds
    # `lock_file` and the verb is one of `locked_verbs`, unless one of them is there already).
    locked: tuple[str, ...] = ()
    lock_file: str = ""
    locked_verbs: tuple[str, ...] = ()
    venv_env: tuple[tuple[str, str], ...] = ()  # ENV putting the venv at `{venv}` (the project's .venv)
    guide_env: tuple[tuple[str, str], ...] = ()  # the guide's settings for images
    # ENV that makes the venv without pip and setuptools, where the original installed into the
    # system interpreter: the plan's runtime set is then the app's distributions alone.
    unseeded_venv_env: tuple[tuple[str, str], ...] = ()
    no_cache_env: tuple[tuple[str, str], ...] = ()  # ENV to keep no cache (else: a throw-away dir, rm'd)
    dependency_files: tuple[str, ...] = ()  # what the install reads besides the code
    # The flag that installs the dependencies without the project: the guide installs them
    # from the dependency files alone, before the code is copied (a code change then
    # reinstalls nothing). Empty: the tool has none, or fix leaves the order as it is.
    dependencies_only: str = ""
    run_options: tuple[str, ...] = ()  # options of `TOOL run` that take a value

    def run_prefix(self, words: list[str]) -> int:
        """How many leading words are `TOOL run [options]` (0: none): what the runtime, which
        has no tool, drops from a command."""
        if len(words) < 3 or words[0] != self.tool or words[1] != "run":
            return 0
        index = 2
        while index < len(words) and words[index].startswith("-"):
            index += 2 if words[index] in self.run_options else 1
        return index if index < len(words) else 0


@dataclass(frozen=True, slots=True)
class DependencyGraph:
    """What a format's files say about main and dev dependencies.

    `edges` is the file's own graph (a lock); None means the graph comes from the installed
    distributions' `Requires-Dist`. `labelled` is set when the file itself marks packages as
    dev-only (Poetry 1.x categories, Pipfile.lock's `develop`): name -> why; `labelled_main`
    then names what it marks main.
    """

    source: DevSource
    confidence: Confidence
    main: tuple[Root, ...] = ()
    dev: tuple[Root, ...] = ()
    edges: Mapping[str, tuple[Dependency, ...]] | None = None
    labelled: Mapping[str, str] | None = None
    labelled_main: frozenset[str] = frozenset()


class ProjectFormat(Protocol):
    """One project format. Modules implement it as a frozen dataclass instance."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str:
        """The tool's name in reports: `uv`, `PDM`, `Poetry`."""
        ...

    @property
    def files(self) -> tuple[ProjectFile, ...]: ...

    @property
    def caches(self) -> tuple[CacheSpec, ...]: ...

    @property
    def toolchain(self) -> ToolchainSpec: ...

    @property
    def install_commands(self) -> tuple[tuple[str, ...], ...]:
        """Leading words of the commands that install the project's dependencies."""
        ...

    @property
    def image_install(self) -> ImageInstall | None:
        """How `imgaudit fix` installs this format's project in a builder (None: it does not)."""
        ...

    def install_advice(self, project: ProjectFiles | None) -> InstallAdvice:
        """How to install without dev dependencies (the project may change the words)."""
        ...

    def detects(self, project: ProjectFiles) -> bool:
        """The project uses this format (its lock, or its table in pyproject.toml)."""
        ...

    def read(self, project: ProjectFiles) -> DependencyGraph | None:
        """The dependency graph, or None when these files cannot tell main from dev."""
        ...


def is_requirements_file(name: str) -> bool:
    return bool(_REQUIREMENTS.fullmatch(basename(name)))


def env_path(env: Mapping[str, str], name: str) -> str | None:
    """An absolute path from ENV, normalised and relative (`/root/.cache` -> `root/.cache`)."""
    value = env.get(name, "")
    if not value.startswith("/"):
        return None
    path = normalize(value[1:])
    return path or None


def where(project: ProjectFiles, name: str) -> str:
    return f"{project.location.rstrip('/')}/{name}"
