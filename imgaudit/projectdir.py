"""`--project DIR`: the project an image was built from, read from the host.

The only I/O for project files; classification receives their bytes. Which files: those any
project format reads (classify.projects.registry).
"""

from __future__ import annotations

from pathlib import Path

from imgaudit.classify.projects.interface import ProjectFiles
from imgaudit.classify.projects.registry import is_project_file
from imgaudit.errors import UsageError


def project_files_in(directory: Path) -> ProjectFiles:
    """The files of `directory` that any project format reads (none: an empty set); OSError."""
    files = {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if path.is_file() and is_project_file(path.name)
    }
    return ProjectFiles(str(directory), files)


def read_project_dir(directory: Path) -> ProjectFiles:
    if not directory.is_dir():
        raise UsageError("--project: not a directory", where=str(directory))
    try:
        project = project_files_in(directory)
    except OSError as exc:
        raise UsageError(
            f"--project: cannot read {exc.filename}: {exc.strerror}", where=str(directory)
        ) from exc
    if not project.files:
        raise UsageError(
            "--project: no pyproject.toml, lock file (poetry.lock, uv.lock, pdm.lock, Pipfile.lock) "
            "or requirements*.txt in the directory",
            where=str(directory),
        )
    return project
