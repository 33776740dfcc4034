"""What `imgaudit fix` and `imgaudit lint` do, between the CLI and the pure rewriters.

The only I/O here: the Dockerfile, the build context's pyproject.toml, and (for `fix IMAGE`)
the image's layers. Everything expected to fail raises an `ImgauditError`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from imgaudit.advise.facts import ProjectFacts, PyprojectFacts, project_facts, pyproject_facts
from imgaudit.audit import read_layers
from imgaudit.classify.base import decide_base
from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.fix import ENV_ASSIGNMENT, FixFacts, FixResult, fixed_dockerfile
from imgaudit.dockerfile.lint import Hint, lint
from imgaudit.dockerfile.parse import (
    DockerfileError,
    ParsedDockerfile,
    load_dockerfile,
    parse_dockerfile,
    read_dockerfile,
)
from imgaudit.dockerfile.project import read_context
from imgaudit.findings.catalogue import check_ids
from imgaudit.sources.interface import ImageSource


@dataclass(frozen=True, slots=True)
class FixOutcome:
    result: FixResult
    diff: str


def image_facts(source: ImageSource) -> ProjectFacts:
    """The project's facts as the image holds them (WORKDIR, versions, packages, command)."""
    merged = read_layers(source)
    info = source.info
    base = source.base_hint() or decide_base(len(source.layers), info.history, info.annotations)
    return project_facts(merged, info, base.layer_count)


def context_pyproject(context: Path) -> PyprojectFacts | None:
    path = context / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DockerfileError(f"cannot read the project's pyproject.toml: {exc}", where=str(path)) from exc
    return pyproject_facts(data, lambda rel: (context / rel).is_dir())


def fix_facts(image: ProjectFacts | None, project: PyprojectFacts | None) -> FixFacts:
    packages = project.package_dirs if project else ()
    if not packages and image is not None:
        packages = image.package_dirs
    dev_group = project.dev_group if project else (image.dev_group if image else True)
    readme = project.readme if project else (image.readme if image else None)
    if image is None:
        return FixFacts(package_dirs=packages, dev_group=dev_group, readme=readme)
    return FixFacts(
        workdir=image.workdir or None,
        python_version=image.python_version,
        poetry_version=image.poetry_version,
        package_dirs=packages,
        dev_group=dev_group,
        readme=readme,
        command=(*image.entrypoint, *image.cmd),
    )


def run_fix(dockerfile: Path, context: Path, image: ProjectFacts | None, today: dt.date) -> FixOutcome:
    parsed = _parse_for_fix(dockerfile)
    project = context_pyproject(context)
    if not _uses_poetry(parsed, context, project, image):
        raise DockerfileError(
            "imgaudit fix writes the reference article's Poetry multi-stage Dockerfile, and this project "
            f"does not use Poetry (no poetry.lock or [tool.poetry] in {context}, no poetry in the "
            "Dockerfile or the image); the audit's findings and `imgaudit lint` still apply",
            where=str(dockerfile),
        )
    result = fixed_dockerfile(parsed, fix_facts(image, project), today)
    diff = "".join(
        difflib.unified_diff(
            parsed.text.splitlines(keepends=True),
            result.text.splitlines(keepends=True),
            fromfile=str(dockerfile),
            tofile=f"{dockerfile} (imgaudit fix)",
        )
    )
    return FixOutcome(result, diff)


def _uses_poetry(
    parsed: ParsedDockerfile, context: Path, project: PyprojectFacts | None, image: ProjectFacts | None
) -> bool:
    return (
        (project is not None and project.poetry)
        or (context / "poetry.lock").is_file()
        or (image is not None and bool(image.poetry_version))
        or "poetry" in parsed.text.lower()
    )


def _parse_for_fix(dockerfile: Path) -> ParsedDockerfile:
    """Like `load_dockerfile`, but ENV continuations without `\\` are the article's mistake
    that `fix` repairs, so only other unknown instructions are refused."""
    parsed = parse_dockerfile(read_dockerfile(dockerfile), str(dockerfile))
    for item in parsed.unknown():
        if not ENV_ASSIGNMENT.match(item.original):
            load_dockerfile(dockerfile)  # raises the one-line error naming the line
    if not parsed.stages:
        raise DockerfileError("no FROM instruction", where=str(dockerfile))
    return parsed


def run_lint(
    dockerfile: Path,
    today: dt.date,
    context: Path | None = None,
    target: str | None = None,
    ignore: Collection[str] = (),
) -> list[Hint]:
    """The catalogue's rules over the build; `ignore` adds to the project's
    `[tool.imgaudit] ignore` list."""
    parsed = parse_dockerfile(read_dockerfile(dockerfile), str(dockerfile))
    if not parsed.stages:
        raise DockerfileError("no FROM instruction", where=str(dockerfile))
    project = read_context(context if context is not None else dockerfile.parent)
    check_ids([*ignore, *project.ignore])
    build = read_build(parsed, project, target)
    return lint(build, today, {*ignore, *project.ignore})


def write_dockerfile(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DockerfileError(f"cannot write the Dockerfile: {exc.strerror}", where=str(path)) from exc
