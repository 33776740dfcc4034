"""`imgaudit lint`: the advisor's patterns read from a Dockerfile alone, as hints.

No image, so no byte figures: each hint names the line, the finding id it would become in
an audit (or a Dockerfile-only id for the reference article's own mistakes) and the fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from imgaudit.advise.facts import POETRY_REQUIREMENT, is_pip_install, pip_requirements, run_commands
from imgaudit.dockerfile.fix import ENV_ASSIGNMENT
from imgaudit.dockerfile.parse import Instruction, ParsedDockerfile, Stage
from imgaudit.dockerfile.poetry_versions import (
    CURRENT_DEBIAN,
    end_of_life_codename,
    impossible_poetry_version,
)

_EXEC_KEYWORDS = frozenset({"CMD", "ENTRYPOINT", "RUN", "SHELL"})


@dataclass(frozen=True, slots=True)
class Hint:
    id: str
    line: int
    message: str
    fix: str


Rule = Callable[[ParsedDockerfile, dt.date], Iterator[Hint]]


def lint(parsed: ParsedDockerfile, today: dt.date) -> list[Hint]:
    hints = [hint for rule in RULES for hint in rule(parsed, today)]
    return sorted(hints, key=lambda h: (h.line, h.id))


def _runs(stage: Stage) -> Iterator[tuple[Instruction, list[list[str]]]]:
    for item in stage.instructions:
        if item.keyword == "RUN" and not item.json:
            yield item, run_commands("RUN " + " ".join(item.args))


def _poetry_install(words: list[str]) -> bool:
    return len(words) >= 2 and words[0].endswith("poetry") and words[1] in ("install", "sync")


def _installs_poetry(stage: Stage) -> bool:
    return any(
        is_pip_install(w) and any(POETRY_REQUIREMENT.match(r) for r in pip_requirements(w))
        for _, commands in _runs(stage)
        for w in commands
    )


def env_missing_continuation(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    previous: Instruction | None = None
    for item in parsed.instructions:
        if ENV_ASSIGNMENT.match(item.original) and previous is not None and previous.keyword == "ENV":
            yield Hint(
                "env-missing-continuation",
                item.start_line,
                f"`{item.original.split()[0]}` continues the ENV above without a `\\`: Docker stops at "
                "an unknown instruction",
                "end every line of a multi-line ENV but the last with ` \\`",
            )
            continue
        previous = item


def exec_form_not_json(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    for item in parsed.instructions:
        raw = " ".join(item.args).strip()
        if item.keyword in _EXEC_KEYWORDS and not item.json and raw.startswith("["):
            yield Hint(
                "exec-form-not-json",
                item.start_line,
                f"{item.keyword} looks like an exec form but is not JSON (single quotes?): Docker runs it "
                "through /bin/sh as one string",
                'write it with double quotes: ["python", "-m", "app"]',
            )


def poetry_run_without_poetry(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    final = parsed.final_stage
    if _installs_poetry(final) or len(parsed.stages) < 2:
        return
    for item in final.instructions:
        words = (
            list(item.args)
            if item.json
            else " ".join(item.args)
            .strip("[] ")
            .replace("'", " ")
            .replace('"', " ")
            .replace(",", " ")
            .split()
        )
        if item.keyword in ("CMD", "ENTRYPOINT") and words[:1] == ["poetry"]:
            yield Hint(
                "poetry-run-without-poetry",
                item.start_line,
                f"{item.keyword} calls Poetry, but the runtime stage does not install it",
                "call the venv's programs directly (its bin/ is on PATH): drop `poetry run`",
            )


def runtime_without_workdir(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    final = parsed.final_stage
    if len(parsed.stages) < 2 or any(i.keyword == "WORKDIR" for i in final.instructions):
        return
    yield Hint(
        "runtime-stage-without-workdir",
        final.from_line,
        "the runtime stage sets no WORKDIR: relative COPY destinations and the start command run from /",
        "add `WORKDIR /app` (the builder's) right after FROM",
    )


def poetry_versions(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    for stage in parsed.stages:
        for item, commands in _runs(stage):
            for words in commands:
                if not is_pip_install(words):
                    continue
                for requirement in pip_requirements(words):
                    match = POETRY_REQUIREMENT.match(requirement)
                    if match is None:
                        continue
                    spec = match["spec"].strip()
                    if not spec:
                        yield Hint(
                            "unpinned-poetry",
                            item.start_line,
                            "Poetry is installed without a version",
                            "pin it: pip install poetry==X.Y.Z",
                        )
                    elif spec.startswith("==") and impossible_poetry_version(spec[2:]):
                        yield Hint(
                            "nonexistent-poetry-version",
                            item.start_line,
                            f"Poetry {spec[2:]} does not exist (1.x ended with 1.8.5)",
                            "pin a released version (`imgaudit fix IMAGE` pins the one in the image)",
                        )
                if "--no-cache-dir" not in words:
                    yield Hint(
                        "pip-cache-in-layer",
                        item.start_line,
                        "pip install keeps its cache in the layer",
                        "add --no-cache-dir (or ENV PIP_NO_CACHE_DIR=1)",
                    )


def end_of_life_base(parsed: ParsedDockerfile, today: dt.date) -> Iterator[Hint]:
    for stage in parsed.stages:
        codename = end_of_life_codename(stage.base, today)
        if codename:
            yield Hint(
                "end-of-life-base",
                stage.from_line,
                f"{stage.base} is Debian {codename}, which no longer gets security updates",
                f"use the {CURRENT_DEBIAN} variant",
            )


def poetry_install(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    """Dev dependencies, cache cleanup, venv location, and what was copied before the install."""
    for stage in parsed.stages:
        env = _env_names(stage)
        code_copied: Instruction | None = None
        for item in stage.instructions:
            if item.keyword in ("COPY", "ADD") and not any(f.startswith("--from") for f in item.flags):
                if any(s.rstrip("/") in (".", "./", "*") for s in item.args[:-1]) and code_copied is None:
                    code_copied = item
                continue
            if item.keyword != "RUN" or item.json:
                continue
            commands = run_commands("RUN " + " ".join(item.args))
            installs = [w for w in commands if _poetry_install(w)]
            if not installs:
                continue
            words = installs[0]
            if not any(
                w in ("--without", "--only") or w.startswith(("--without=", "--only=")) for w in words
            ):
                yield Hint(
                    "dev-dependencies-installed",
                    item.start_line,
                    "poetry install also installs the dev group",
                    "poetry install --without dev",
                )
            if not any(
                c[0] == "rm" and any("POETRY_CACHE_DIR" in w or "pypoetry" in w for w in c) for c in commands
            ):
                yield Hint(
                    "poetry-cache-in-layer",
                    item.start_line,
                    "Poetry's cache stays in this layer",
                    "ENV POETRY_CACHE_DIR=/tmp/poetry_cache; `... && rm -rf $POETRY_CACHE_DIR` in this RUN",
                )
            if "POETRY_VIRTUALENVS_IN_PROJECT" not in env:
                yield Hint(
                    "venv-not-in-project",
                    item.start_line,
                    "the venv goes to Poetry's cache directory",
                    "ENV POETRY_VIRTUALENVS_IN_PROJECT=1",
                )
            if code_copied is not None:
                yield Hint(
                    "cache-unfriendly-order",
                    code_copied.start_line,
                    "the whole build context is copied before `poetry install`: every code change reinstalls",
                    "COPY pyproject.toml poetry.lock ./ ; poetry install --no-root ; then COPY the code",
                )
                code_copied = None
            if len(parsed.stages) < 2:
                yield Hint(
                    "toolchain-at-runtime",
                    item.start_line,
                    "a single stage: Poetry and its dependencies ship with the app",
                    "a builder stage for the venv, a runtime stage that copies only the venv and the code",
                )


def separate_deletion(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    for stage in parsed.stages:
        for item, commands in _runs(stage):
            if commands and all(c[0] == "rm" for c in commands):
                yield Hint(
                    "late-deletion",
                    item.start_line,
                    "a RUN that only deletes: the files still ship in the layer that made them",
                    "delete in the RUN that creates the files",
                )


def apt(parsed: ParsedDockerfile, _today: dt.date) -> Iterator[Hint]:
    for stage in parsed.stages:
        for item, commands in _runs(stage):
            for words in commands:
                tool = [w for w in words if not ENV_ASSIGNMENT.match(w)]
                if tool[:1] in (["apt-get"], ["apt"]) and "install" in tool:
                    if "--no-install-recommends" not in tool:
                        yield Hint(
                            "apt-recommends",
                            item.start_line,
                            "apt installs recommended packages too",
                            "apt-get install --no-install-recommends",
                        )
                    if not any(c[0] == "rm" and any("/var/lib/apt/lists" in w for w in c) for c in commands):
                        yield Hint(
                            "apt-lists-left",
                            item.start_line,
                            "apt's lists stay in the layer",
                            "&& rm -rf /var/lib/apt/lists/* in the same RUN",
                        )


def _env_names(stage: Stage) -> set[str]:
    names: set[str] = set()
    for item in stage.instructions:
        if item.keyword == "ENV":
            names.update(item.args[0::2])
        elif ENV_ASSIGNMENT.match(item.original):
            names.add(item.original.split("=", 1)[0])
    return names


RULES: tuple[Rule, ...] = (
    env_missing_continuation,
    exec_form_not_json,
    poetry_run_without_poetry,
    runtime_without_workdir,
    poetry_versions,
    end_of_life_base,
    poetry_install,
    separate_deletion,
    apt,
)
