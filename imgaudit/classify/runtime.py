"""The runtime set: what the app runs on, wherever the build installed it.

A venv (in the project, in Poetry's cache, anywhere) is copied whole by a multi-stage build.
Installed into an interpreter it shares with Poetry or pip (`virtualenvs.create false`,
`pip install .`, `--user`), the app's part is its site's distributions minus the toolchain:
the runtime stage must get those, and only those. Estimates that remove a stage or a tool keep
this set and count only what the runtime does not need.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from imgaudit.classify.context import PathSet
from imgaudit.classify.distributions import InstalledDistribution
from imgaudit.classify.environments import FoundEnvironment
from imgaudit.layers.paths import is_within
from imgaudit.model import EnvironmentKind


@dataclass(frozen=True, slots=True)
class RuntimeSet:
    """`paths`: final files the runtime needs (dev-only ones included: removing them is the dev
    step's saving); `layout`: where the build installed the app, as findings say it."""

    layout: str
    paths: frozenset[str]
    shared_interpreter: bool  # installed beside the toolchain, not in a venv
    environments: tuple[str, ...] = ()  # roots of the target environments


def _kind(env: FoundEnvironment, poetry_venvs: PathSet, project_dirs: Sequence[str]) -> str:
    if env.kind is EnvironmentKind.USER:
        return "user site-packages (--user)"
    if env.kind is not EnvironmentKind.VENV:
        return "system site-packages"
    if env.root in poetry_venvs:
        return "venv in Poetry's cache"
    if any(d is not None and is_within(env.root, d) for d in project_dirs if d):
        return "project venv"
    return "venv"


def describe_layout(
    targets: Sequence[FoundEnvironment],
    installed: Iterable[InstalledDistribution],
    poetry_venvs: Iterable[str],
    project_dirs: Sequence[str],
) -> str:
    """`project venv /app/.venv (installed by Poetry)`, one part per target environment."""
    venvs = PathSet(poetry_venvs)
    installers = Counter(d.installer for d in installed if d.installer)
    by = f" (installed by {installers.most_common(1)[0][0]})" if installers else ""
    return "; ".join(f"{_kind(env, venvs, project_dirs)} /{env.root}{by}" for env in targets)


def runtime_paths(
    targets: Sequence[FoundEnvironment],
    files: Iterable[str],
    owner: Mapping[str, str],
    distributions: Iterable[InstalledDistribution],
    toolchain: Mapping[str, str],
) -> frozenset[str]:
    """Target venvs whole; in shared sites, every file but the toolchain's: its distributions'
    files (their scripts in `bin/` too) and what no distribution lists."""
    venvs = PathSet(e.root for e in targets if e.kind is EnvironmentKind.VENV)
    shared_sites = {site for e in targets if e.kind is not EnvironmentKind.VENV for site in e.site_dirs}
    shared = PathSet(shared_sites)
    apps = {d.key for d in distributions if d.site in shared_sites and d.key not in toolchain}
    found = set()
    for path in files:
        key = owner.get(path)
        # The set lookups before the path-tree ones: most files are some distribution's.
        if (key in apps if key is not None else path in shared) or path in venvs:
            found.add(path)
    return frozenset(found)
