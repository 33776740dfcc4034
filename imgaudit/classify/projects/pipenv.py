"""Pipenv: Pipfile.lock (pipfile-spec 6) and the Pipfile.

The lock is a JSON object whose `default` section holds what `pipenv install --deploy` installs
and whose `develop` section what `--dev` adds; it records no edges, so the sections decide:
in `develop` and not in `default` is dev-only. The Pipfile's `[dev-packages]` names the roots.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from imgaudit.classify.lockfiles import load_toml
from imgaudit.classify.names import canonical
from imgaudit.classify.projects.interface import (
    CacheSpec,
    DependencyGraph,
    ImageInstall,
    InstallAdvice,
    ProjectFile,
    ProjectFiles,
    ToolchainSpec,
    where,
)
from imgaudit.classify.projects.pep621 import table
from imgaudit.errors import ClassifyError
from imgaudit.inputs import load_json
from imgaudit.model import Category, Confidence, DevSource

PIPFILE = "Pipfile"
PIPFILE_LOCK = "Pipfile.lock"


@dataclass(frozen=True, slots=True)
class PipfileLock:
    spec: int | None
    default: frozenset[str]
    develop: frozenset[str]


def _section(document: Mapping[str, object], name: str, where: str) -> frozenset[str]:
    section = document.get(name, {})
    if not isinstance(section, dict):
        raise ClassifyError(f"`{name}` is not an object", where=where)
    return frozenset(canonical(key) for key in section)


def parse_pipfile_lock(data: bytes, where: str = PIPFILE_LOCK) -> PipfileLock:
    document = load_json(data, PIPFILE_LOCK, where, ClassifyError)
    if not isinstance(document, dict) or not isinstance(document.get("_meta"), dict):
        raise ClassifyError("no `_meta` object: not a Pipfile.lock", where=where)
    spec = document["_meta"].get("pipfile-spec")
    return PipfileLock(
        spec if isinstance(spec, int) else None,
        _section(document, "default", where),
        _section(document, "develop", where),
    )


def _dev_packages(project: ProjectFiles) -> frozenset[str]:
    data = project.files.get(PIPFILE)
    if data is None:
        return frozenset()
    try:
        return frozenset(
            canonical(n) for n in table(load_toml(data, where(project, PIPFILE)), "dev-packages")
        )
    except ClassifyError:
        return frozenset()


class PipenvFormat:
    """The format\'s declarations (class attributes) and its reader."""

    name: str = "pipenv"
    label: str = "Pipenv"  # how reports name the tool
    files: tuple[ProjectFile, ...] = (
        ProjectFile(re.escape(PIPFILE_LOCK), is_lock=True),
        ProjectFile(re.escape(PIPFILE), cap=1024 * 1024),
    )
    caches: tuple[CacheSpec, ...] = (CacheSpec(Category.PIPENV_CACHE, ("pipenv",), ("PIPENV_CACHE_DIR",)),)
    install_commands: tuple[tuple[str, ...], ...] = (("pipenv", "install"), ("pipenv", "sync"))
    toolchain: ToolchainSpec = ToolchainSpec(distributions=frozenset({"pipenv"}))
    # Pipenv's advice for images: the lock enforced (`--deploy`), no `--dev`, the venv in the
    # project (not `--system`: the runtime copies the venv), its cache deleted after use.
    image_install: ImageInstall | None = ImageInstall(
        tool="pipenv",
        verbs=("install", "sync"),
        dev_flags=("--dev", "-d"),
        system_flags=("--system",),
        locked=("--deploy",),
        lock_file=PIPFILE_LOCK,
        locked_verbs=("install",),
        venv_env=(("PIPENV_VENV_IN_PROJECT", "1"),),
        # virtualenv's own settings: Pipenv installs with its vendored pip, so the venv needs none
        # (a real build of `pipenv install --deploy` with these ran and imported its packages).
        unseeded_venv_env=(
            ("VIRTUALENV_NO_PIP", "1"),
            ("VIRTUALENV_NO_SETUPTOOLS", "1"),
            ("VIRTUALENV_NO_WHEEL", "1"),
        ),
        dependency_files=(PIPFILE, PIPFILE_LOCK),
        run_options=(),
    )

    def install_advice(self, project: ProjectFiles | None) -> InstallAdvice:
        return InstallAdvice(
            "Install only the `default` packages: `pipenv install --deploy` without `--dev` "
            "(or `pipenv sync`), into an in-project venv.",
            "ENV PIPENV_VENV_IN_PROJECT=1\nRUN pipenv install --deploy && rm -rf /root/.cache/pipenv",
            "COPY Pipfile Pipfile.lock ./\nRUN pipenv install --deploy\nCOPY {code} ./",
        )

    def detects(self, project: ProjectFiles) -> bool:
        return PIPFILE_LOCK in project.files or PIPFILE in project.files

    def read(self, project: ProjectFiles) -> DependencyGraph | None:
        if PIPFILE_LOCK not in project.files:
            return None
        lock = parse_pipfile_lock(project.files[PIPFILE_LOCK], where(project, PIPFILE_LOCK))
        roots = _dev_packages(project)
        labelled = {
            name: "dev dependency (develop)" if name in roots else "in develop of Pipfile.lock"
            for name in sorted(lock.develop - lock.default)
        }
        return DependencyGraph(
            DevSource.PIPFILE_LOCK, Confidence.HIGH, labelled=labelled, labelled_main=lock.default
        )


PIPENV = PipenvFormat()
