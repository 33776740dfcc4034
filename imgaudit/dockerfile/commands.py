"""What `imgaudit fix` and `imgaudit lint` do, between the CLI and the pure rewriters.

The only I/O here: the Dockerfile, the build context's pyproject.toml, and (for `fix IMAGE`)
the image's layers. Everything expected to fail raises an `ImgauditError`.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from imgaudit.advise.facts import ProjectFacts, PyprojectFacts, project_facts, pyproject_facts
from imgaudit.audit import read_layers
from imgaudit.classify.base import decide_base
from imgaudit.classify.context import recorded_build_arguments
from imgaudit.dockerfile.build import copied_project_dirs, read_build
from imgaudit.dockerfile.fix import FixFacts, FixResult, fixed_dockerfile, repaired_env_continuations
from imgaudit.dockerfile.lint import Hint, lint
from imgaudit.dockerfile.parse import (
    DockerfileError,
    ParsedDockerfile,
    checked,
    parse_dockerfile,
    read_dockerfile,
)
from imgaudit.dockerfile.project import read_context
from imgaudit.findings.catalogue import Level, check_ids
from imgaudit.inputs import load_toml
from imgaudit.sources.interface import ImageSource


@dataclass(frozen=True, slots=True)
class FixOutcome:
    result: FixResult
    diff: str
    changed: bool = True  # False: the same instructions as the user's file (layout aside)


def image_facts(source: ImageSource) -> ProjectFacts:
    """The project's facts as the image holds them (WORKDIR, versions, packages, command)."""
    merged = read_layers(source)
    info = source.info
    base = source.base_hint() or decide_base(len(source.layers), info.history, info.annotations)
    recorded: dict[str, str] = {}
    for entry in info.history:
        recorded.update(recorded_build_arguments(entry.created_by))
    return replace(project_facts(merged, info, base.layer_count), build_args=recorded)


def context_pyproject(context: Path) -> PyprojectFacts | None:
    path = context / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = load_toml(path.read_bytes(), "the project's pyproject.toml", str(path), DockerfileError)
    except OSError as exc:
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


def project_dir(parsed: ParsedDockerfile, context: Path) -> Path:
    """Where the project's pyproject.toml is: the context's root, else the sub-directory the
    Dockerfile copies it from (`COPY backend/pyproject.toml ...`, `COPY backend .`)."""
    if (context / "pyproject.toml").is_file():
        return context
    for sub in copied_project_dirs(parsed):
        if (context / sub / "pyproject.toml").is_file():
            return context / sub
    return context


def run_fix(
    dockerfile: Path,
    context: Path,
    image: ProjectFacts | None,
    today: dt.date,
    build_args: Mapping[str, str] = {},
    ignore: Collection[str] = (),
) -> FixOutcome:
    """The user's Dockerfile edited (see `fix.py`), or `FixRefused` saying why not. The ARG
    values: `build_args`, else those the image's history recorded, else the defaults. The
    findings `ignore` names, the project's `[tool.imgaudit] ignore` and the file's pragmas
    name keep the lines their edits would change, as they keep them out of `lint`."""
    original = read_dockerfile(dockerfile)
    text, repairs = repaired_env_continuations(original)
    parsed = checked(parse_dockerfile(text, str(dockerfile)))
    recorded = image.build_args if image is not None else {}
    project = read_context(project_dir(parsed, context))
    check_ids([*ignore, *project.ignore])
    build = read_build(parsed, project, None, {**recorded, **build_args})
    ignored = {*ignore, *project.ignore}
    if not repairs and not any(h.level is not Level.INFO for h in lint(build, today, ignored)):
        # fix edits what lint finds: with nothing found there is nothing to edit, whatever
        # fix would have refused (an install chosen by a shell test, say) or only re-spelled.
        return FixOutcome(FixResult(original, ()), "", changed=False)
    facts = fix_facts(image, context_pyproject(context))
    result = fixed_dockerfile(build, facts, today, ignored)
    result = replace(result, notes=(*repairs, *result.notes))
    diff = "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            result.text.splitlines(keepends=True),
            fromfile=str(dockerfile),
            tofile=f"{dockerfile} (imgaudit fix)",
        )
    )
    return FixOutcome(result, diff, bool(repairs) or _instructions(result.text) != _instructions(text))


def _instructions(text: str) -> list[tuple[object, ...]]:
    """What a Dockerfile's build does, its comments, blank lines and line breaks aside."""
    parsed = parse_dockerfile(text)
    return [(i.keyword, i.flags, i.args, i.json, i.heredocs) for i in parsed.instructions]


def run_lint(
    dockerfile: Path,
    today: dt.date,
    context: Path | None = None,
    target: str | None = None,
    ignore: Collection[str] = (),
    build_args: Mapping[str, str] = {},
) -> list[Hint]:
    """The catalogue's rules over the build; `ignore` adds to the project's
    `[tool.imgaudit] ignore` list; `build_args` set ARGs as `docker build --build-arg` does."""
    parsed = parse_dockerfile(read_dockerfile(dockerfile), str(dockerfile))
    if not parsed.stages:
        raise DockerfileError("no FROM instruction", where=str(dockerfile))
    root = context if context is not None else dockerfile.parent
    project = read_context(project_dir(parsed, root))
    check_ids([*ignore, *project.ignore])
    build = read_build(parsed, project, target, build_args)
    return lint(build, today, {*ignore, *project.ignore})


def write_dockerfile(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DockerfileError(f"cannot write the Dockerfile: {exc.strerror}", where=str(path)) from exc
