"""Poetry: poetry.lock (every lock-version in use) and the pyproject's Poetry tables."""

from __future__ import annotations

import re

from imgaudit.classify.lockfiles import PoetryLock, parse_poetry_lock
from imgaudit.classify.projects.interface import (
    MAIN_GROUP,
    CacheSpec,
    DependencyGraph,
    ImageInstall,
    InstallAdvice,
    ProjectFile,
    ProjectFiles,
    ToolchainSpec,
    where,
)
from imgaudit.classify.projects.pep621 import declared_graph
from imgaudit.model import Category, Confidence, DevSource

POETRY_LOCK = "poetry.lock"


def _labelled(lock: PoetryLock) -> dict[str, str]:
    """A lock without its pyproject: 1.x categories and 2.1 groups still say it."""
    verdict = {}
    for name, package in lock.packages.items():
        if package.category == "dev":
            verdict[name] = "category dev in poetry.lock"
        elif package.groups and MAIN_GROUP not in package.groups:
            verdict[name] = f"groups {', '.join(package.groups)} in poetry.lock"
    return verdict


class PoetryFormat:
    """The format\'s declarations (class attributes) and its reader."""

    name: str = "poetry"
    label: str = "Poetry"  # how reports name the tool
    files: tuple[ProjectFile, ...] = (ProjectFile(re.escape(POETRY_LOCK), is_lock=True),)
    caches: tuple[CacheSpec, ...] = (
        CacheSpec(
            Category.POETRY_CACHE,
            ("pypoetry",),
            ("POETRY_CACHE_DIR",),
            keep_out=("virtualenvs",),  # the app's venvs live there: not cache
            keep_out_env_vars=("POETRY_VIRTUALENVS_PATH",),
        ),
    )
    install_commands: tuple[tuple[str, ...], ...] = (("poetry", "install"), ("poetry", "sync"))
    toolchain: ToolchainSpec = ToolchainSpec(
        distributions=frozenset({"poetry"}), tool_venvs=(r"(?:^|/)pypoetry/venv$",)
    )
    # The article's builder: the venv in the project, the cache deleted after use. The flags
    # that leave dev out depend on the Poetry the file pins: `imgaudit fix` chooses them.
    image_install: ImageInstall | None = ImageInstall(
        tool="poetry",
        verbs=("install", "sync"),
        venv_env=(("POETRY_VIRTUALENVS_CREATE", "1"), ("POETRY_VIRTUALENVS_IN_PROJECT", "1")),
        # Poetry 2.1 seeds pip, 1.8 pip and setuptools (measured on Python 3.11); 2.x ignores the
        # setuptools option it no longer has.
        unseeded_venv_env=(
            ("POETRY_VIRTUALENVS_OPTIONS_NO_PIP", "true"),
            ("POETRY_VIRTUALENVS_OPTIONS_NO_SETUPTOOLS", "true"),
        ),
        dependency_files=("pyproject.toml", POETRY_LOCK, "poetry.toml"),
    )

    def install_advice(self, project: ProjectFiles | None) -> InstallAdvice:
        return InstallAdvice(
            "Install only the main dependency group: `poetry install --without dev` "
            "(pip: leave dev requirements out; PEP 735: do not install the dev group).",
            "RUN poetry install --without dev --no-root",
            "COPY pyproject.toml poetry.lock ./\nRUN poetry install --without dev --no-root\nCOPY {code} ./",
        )

    def detects(self, project: ProjectFiles) -> bool:
        return POETRY_LOCK in project.files

    def read(self, project: ProjectFiles) -> DependencyGraph | None:
        if POETRY_LOCK not in project.files:
            return None
        lock = parse_poetry_lock(project.files[POETRY_LOCK], where(project, POETRY_LOCK))
        graph = declared_graph(project, DevSource.POETRY_LOCK, lock.dependencies)
        if graph is not None:
            return graph
        if not any(p.category or p.groups for p in lock.packages.values()):
            return None  # a 2.0 lock alone cannot tell main from dev
        main = frozenset(
            name for name, p in lock.packages.items() if p.category == MAIN_GROUP or MAIN_GROUP in p.groups
        )
        return DependencyGraph(
            DevSource.POETRY_LOCK, Confidence.HIGH, labelled=_labelled(lock), labelled_main=main
        )


POETRY = PoetryFormat()
