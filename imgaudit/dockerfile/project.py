"""What the build context says about the project: its dependency groups (Pipenv's dev
packages too), committed `poetry.toml` settings, `[tool.imgaudit]` ignores, and the
distributions its lock or requirements name (with the files poetry.lock and uv.lock list
for each).

Read once per lint/fix from the context directory (`--context`, default the Dockerfile's
folder). Without a pyproject.toml nothing is known, and the rules assume the common case
(a `dev` group exists), saying so in their message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgaudit.classify.lockfiles import load_toml as load_lock
from imgaudit.classify.names import canonical
from imgaudit.classify.project import DEV_EXTRA
from imgaudit.classify.projects.interface import DependencyGraph, ProjectFiles
from imgaudit.classify.projects.pipenv import parse_pipfile_lock
from imgaudit.classify.projects.registry import FORMATS
from imgaudit.dockerfile.parse import DockerfileError
from imgaudit.errors import ClassifyError
from imgaudit.inputs import load_toml
from imgaudit.projectdir import project_files_in


@dataclass(frozen=True, slots=True)
class ContextProject:
    known: bool = False  # a pyproject.toml was read
    # Poetry groups installed by default (not optional), and the optional ones.
    default_groups: frozenset[str] = frozenset({"dev"})
    optional_groups: frozenset[str] = frozenset()
    # PEP 735 / uv / PDM development groups (uv sync and pdm install take them by default).
    standard_dev: bool = True
    # The groups `uv sync` installs by default ([tool.uv] default-groups, else dev); "all" as such.
    uv_default_groups: frozenset[str] = frozenset({"dev"})
    # Pipenv's dev-only packages exist (what `pipenv install --dev` adds): the lock's `develop`
    # minus its `default`, else the Pipfile's [dev-packages]; assumed without either file.
    pipenv_dev: bool = True
    poetry_toml: dict[str, bool] = field(default_factory=dict)  # "virtualenvs.create" -> False
    package_mode: bool = True
    extras: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()  # [tool.imgaudit] ignore = [...]
    files: frozenset[str] = frozenset()  # top-level names in the context
    lock_version: str | None = None  # poetry.lock's [metadata] lock-version
    # Task scripts `pdm run NAME` / `pipenv run NAME` run from the project's files, not programs
    # the venv holds: [tool.pdm.scripts] in pyproject.toml, [scripts] in the Pipfile.
    task_scripts: frozenset[str] = frozenset()
    # The dependencies are declared in [project] (PEP 621) and not in [tool.poetry.dependencies]:
    # Poetry 2's layout, whose dependencies Poetry 1 does not read.
    pep621_dependencies: bool = False
    requires_python: str | None = None  # [project] requires-python, as written
    directory: str | None = None  # the context read, for what only some edits need

    def dev_groups(self, groups: frozenset[str]) -> frozenset[str]:
        """The development groups among `groups` (dev, test, lint, docs, ...)."""
        return frozenset(g for g in groups if DEV_EXTRA.match(g))

    def dependencies(self) -> tuple[frozenset[str] | None, Mapping[str, tuple[str, ...]]]:
        """Every distribution the context's lock, requirements or pyproject.toml names
        (canonical, main and dev alike; None when none of them could be read), and the file
        names poetry.lock and uv.lock list for each (wheels and sdist: what an install can
        choose from). Read when asked: every project format's reader runs, and only fix's
        runtime libraries need it, not lint."""
        return _dependencies(Path(self.directory)) if self.directory is not None else (None, {})


def read_context(context: Path) -> ContextProject:
    if not context.is_dir():
        return ContextProject()
    files = frozenset(p.name for p in context.iterdir())
    poetry_toml = _poetry_toml(context / "poetry.toml")
    lock = context / "poetry.lock"
    lock_version = _table(_toml(lock).get("metadata")).get("lock-version") if lock.is_file() else None
    lock_version = lock_version if isinstance(lock_version, str) else None
    pipfile = context / "Pipfile"
    pipfile_data = _toml(pipfile) if pipfile.is_file() else None
    scripts = set(_table((pipfile_data or {}).get("scripts")))
    pipenv_dev = _pipenv_dev(context / "Pipfile.lock", pipfile_data)
    pyproject = context / "pyproject.toml"
    if not pyproject.is_file():
        return ContextProject(
            pipenv_dev=pipenv_dev,
            poetry_toml=poetry_toml,
            files=files,
            lock_version=lock_version,
            task_scripts=frozenset(scripts),
            directory=str(context),
        )
    data = _toml(pyproject)
    tool = _table(data.get("tool"))
    scripts |= {name for name in _table(_table(tool.get("pdm")).get("scripts")) if name != "_"}
    poetry = _table(tool.get("poetry"))
    groups = _table(poetry.get("group"))
    default = {name for name, table in groups.items() if not _table(table).get("optional")}
    optional = {name for name, table in groups.items() if _table(table).get("optional")}
    if "dev-dependencies" in poetry:
        default.add("dev")
    standard = _table(data.get("dependency-groups"))
    uv_dev = _table(tool.get("uv")).get("dev-dependencies")
    uv_defaults = _table(tool.get("uv")).get("default-groups", ["dev"])
    uv_defaults = [uv_defaults] if isinstance(uv_defaults, str) else uv_defaults
    pdm_dev = _table(tool.get("pdm")).get("dev-dependencies")
    project = _table(data.get("project"))
    extras = [*_table(poetry.get("extras")), *_table(project.get("optional-dependencies"))]
    ignore = _table(tool.get("imgaudit")).get("ignore", [])
    return ContextProject(
        known=True,
        default_groups=frozenset(default),
        optional_groups=frozenset(optional),
        standard_dev=bool(standard) or bool(uv_dev) or bool(pdm_dev),
        uv_default_groups=frozenset(str(g) for g in uv_defaults)
        if isinstance(uv_defaults, list)
        else frozenset(),
        pipenv_dev=pipenv_dev,
        poetry_toml=poetry_toml,
        package_mode=poetry.get("package-mode", True) is not False,
        extras=tuple(extras),
        ignore=tuple(str(i) for i in ignore) if isinstance(ignore, list) else (),
        files=files,
        lock_version=lock_version,
        task_scripts=frozenset(scripts),
        pep621_dependencies="dependencies" in project and "dependencies" not in poetry,
        requires_python=str(project["requires-python"]) if "requires-python" in project else None,
        directory=str(context),
    )


def _pipenv_dev(lock: Path, pipfile: dict[str, Any] | None) -> bool:
    """Whether `pipenv install --dev` adds packages: the lock is what `--deploy` installs, so
    it decides when it reads as one; the Pipfile's [dev-packages] otherwise; assumed without
    either (a stand-in lock such as `{}` is no reason to refuse the lint)."""
    if lock.is_file():
        try:
            sections = parse_pipfile_lock(_read(lock), str(lock))
        except ClassifyError:
            pass
        else:
            return bool(sections.develop - sections.default)
    if pipfile is not None:
        return bool(_table(pipfile.get("dev-packages")))
    return True


def _dependencies(context: Path) -> tuple[frozenset[str] | None, dict[str, tuple[str, ...]]]:
    """(the distributions the project formats read from the context, the files the locks list
    for each). A file a format cannot read tells nothing here: lint and fix go on without it."""
    try:
        project = project_files_in(context)
    except OSError:
        return None, {}
    graphs: list[DependencyGraph] = []
    for fmt in FORMATS:
        try:
            graph = fmt.read(project) if fmt.detects(project) else None
        except ClassifyError:
            graph = None
        if graph is not None:
            graphs.append(graph)
    if not graphs:
        return None, {}
    names: set[str] = set()
    for graph in graphs:
        names.update(root.name for root in (*graph.main, *graph.dev))
        names.update(graph.labelled or {})
        names.update(graph.labelled_main)
        for name, dependencies in (graph.edges or {}).items():
            names.add(name)
            names.update(d.name for d in dependencies)
    return frozenset(names), _locked_files(project)


def _locked_files(project: ProjectFiles) -> dict[str, tuple[str, ...]]:
    """The file names poetry.lock (`files`, lock 2.x; `[metadata.files]`, 1.x) and uv.lock
    (`sdist` and `wheels`, by URL, path or filename) list per distribution."""
    found: dict[str, list[str]] = {}
    for lock, keys in (("poetry.lock", ("files",)), ("uv.lock", ("sdist", "wheels"))):
        if lock not in project.files:
            continue
        try:
            document = load_lock(project.files[lock], lock)
        except ClassifyError:
            continue
        packages = document.get("package")
        entries = [p for p in packages if isinstance(p, dict)] if isinstance(packages, list) else []
        legacy = _table(_table(document.get("metadata")).get("files"))
        for name, listed in legacy.items():
            entries.append({"name": name, "files": listed})
        for entry in entries:
            if not isinstance(entry.get("name"), str):
                continue
            files = found.setdefault(canonical(entry["name"]), [])
            for key in keys:
                value = entry.get(key)
                for item in value if isinstance(value, list) else [value]:
                    files.extend(_file_name(item))
    return {name: tuple(files) for name, files in found.items() if files}


def _file_name(item: object) -> list[str]:
    """A lock's file entry (`{file = ...}`, `{url = ...}`, `{path = ...}`, `{filename = ...}`)
    as its base name."""
    table = _table(item)
    for key in ("file", "filename", "url", "path"):
        value = table.get(key)
        if isinstance(value, str) and value:
            return [value.rstrip("/").rsplit("/", 1)[-1]]
    return []


def _poetry_toml(path: Path) -> dict[str, bool]:
    if not path.is_file():
        return {}
    virtualenvs = _table(_toml(path).get("virtualenvs"))
    return {
        f"virtualenvs.{key}": value
        for key, value in virtualenvs.items()
        if key in ("create", "in-project") and isinstance(value, bool)
    }


def _toml(path: Path) -> dict[str, Any]:
    return load_toml(_read(path), path.name, str(path), DockerfileError)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DockerfileError(f"cannot read {path.name}: {exc.strerror}", where=str(path)) from exc


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
