"""`imgaudit fix`: the Dockerfile rewritten in the article's multi-stage shape.

Builder stage: the original's own set-up (ARGs, ENVs, certificates, the Poetry install,
pinned and cache-free), then the dependency files, `poetry install --no-root` without dev
and the cache removed in the same RUN. Runtime stage: the same base (its slim variant for an
official full python image), a WORKDIR, the venv and the app's packages, and the start
command without `poetry run` (no Poetry there) as a JSON exec form.

Unlike the article, the result has `\\` continuations in multi-line ENV, double-quoted exec
forms, a WORKDIR in the runtime stage, a Poetry version that exists and a supported Debian.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imgaudit.advise.facts import POETRY_REQUIREMENT, is_pip_install, pip_requirements, run_commands
from imgaudit.dockerfile.parse import Instruction, ParsedDockerfile, Stage
from imgaudit.dockerfile.poetry_versions import (
    CURRENT_DEBIAN,
    LAST_POETRY_1,
    end_of_life_codename,
    impossible_poetry_version,
)

ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_OFFICIAL_FULL_PYTHON = re.compile(
    r"^(?:docker\.io/)?(?:library/)?python:(?P<version>\d+\.\d+(?:\.\d+)?)(?:-(?P<codename>[a-z]+))?$"
)
_SHELL_META = re.compile(r"[|&;<>$`*?(){}\\]")
_RUNTIME_KEYWORDS = frozenset({"EXPOSE", "USER", "LABEL", "VOLUME", "HEALTHCHECK", "STOPSIGNAL"})
_START_KEYWORDS = frozenset({"CMD", "ENTRYPOINT"})
_DEPENDENCY_FILES = ("pyproject.toml", "poetry.lock")
POETRY_ENV = (
    ("POETRY_NO_INTERACTION", "1"),
    ("POETRY_VIRTUALENVS_IN_PROJECT", "1"),
    ("POETRY_VIRTUALENVS_CREATE", "1"),
    ("POETRY_CACHE_DIR", "/tmp/poetry_cache"),
)


@dataclass(frozen=True, slots=True)
class FixFacts:
    """The project's facts, from the image (when given) and the build context."""

    workdir: str | None = None
    python_version: str | None = None
    poetry_version: str | None = None  # the Poetry installed in the image
    package_dirs: tuple[str, ...] = ()
    dev_group: bool = True
    readme: str | None = None
    command: tuple[str, ...] = ()  # the image's ENTRYPOINT + CMD


@dataclass(frozen=True, slots=True)
class FixResult:
    text: str
    notes: tuple[str, ...]


def fixed_dockerfile(parsed: ParsedDockerfile, facts: FixFacts, today: dt.date) -> FixResult:
    notes: list[str] = []
    final = parsed.final_stage
    source = _builder_source(parsed)
    earlier = [s for s in parsed.stages if s is not final and s is not source]
    builder_name = source.name or "builder"
    base = _supported(source.base, today, notes)
    workdir = facts.workdir or _last_workdir(final) or _last_workdir(source) or "/app"
    if not facts.workdir and not _last_workdir(final):
        notes.append("the original runtime stage sets no WORKDIR: using " + workdir)

    carried, code_copies, runtime_extras, start = _split(source, facts, workdir, notes)
    if source is not final:
        _, _, runtime_extras, start = _split(final, facts, workdir, notes)
    builder = [f"FROM {base} AS {builder_name}", _env(POETRY_ENV), *carried]
    if f"WORKDIR {workdir}" not in carried:
        builder.append(f"WORKDIR {workdir}")
    sources = [*_DEPENDENCY_FILES, *([facts.readme] if facts.readme else [])]
    builder.append(f"COPY {' '.join(sources)} ./")
    without = " --without dev" if facts.dev_group else ""
    builder.append(f"RUN poetry install{without} --no-root && rm -rf $POETRY_CACHE_DIR")

    runtime_base = _runtime_base(_supported(final.base, today, notes), notes)
    venv = f"{workdir.rstrip('/')}/.venv"
    runtime = [
        f"FROM {runtime_base} AS runtime",
        f"WORKDIR {workdir}",
        _env((("VIRTUAL_ENV", venv), ("PATH", f'"{venv}/bin:$PATH"'))),
        f"COPY --from={builder_name} {venv} {venv}",
    ]
    if facts.package_dirs:
        runtime.extend(f"COPY {d.rstrip('/')}/ ./{d.rstrip('/')}/" for d in facts.package_dirs)
    else:
        runtime.extend(code_copies)
        notes.append("no package directory is known (pyproject.toml): the original code COPY is kept")
    runtime.extend(runtime_extras)
    runtime.extend(start)

    blocks = [_stage_text(s) for s in earlier]
    blocks.append("# Builder: makes the venv\n" + "\n".join(builder))
    blocks.append("# Runtime: the base, the venv and the app's code only\n" + "\n".join(runtime))
    return FixResult("\n\n".join(blocks) + "\n", tuple(dict.fromkeys(notes)))


def _builder_source(parsed: ParsedDockerfile) -> Stage:
    """The stage that installs the dependencies (the final one in a single-stage file)."""
    for stage in parsed.stages:
        for item in stage.instructions:
            if item.keyword == "RUN" and any(
                len(c) >= 2 and c[0].endswith("poetry") and c[1] in ("install", "sync")
                for c in run_commands("RUN " + " ".join(item.args))
            ):
                return stage
    return parsed.final_stage


def _split(
    stage: Stage, facts: FixFacts, workdir: str, notes: list[str]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """The original stage's instructions: (builder set-up, code copies, runtime extras, start)."""
    carried: list[str] = []
    code: list[str] = []
    extras: list[str] = []
    starts: dict[str, list[str]] = {}
    instructions = list(stage.instructions)
    index = 0
    while index < len(instructions):
        item = instructions[index]
        index += 1
        keyword = item.keyword
        if keyword == "ENV":
            pairs = _env_pairs(item.args)
            # The article's mistake: continuation lines without `\` parse as instructions.
            while index < len(instructions) and ENV_ASSIGNMENT.match(instructions[index].original):
                pairs.extend(_assignment(w) for w in shlex.split(instructions[index].original))
                notes.append(f"line {instructions[index].start_line}: ENV continuation without `\\` joined")
                index += 1
            ours = {name for name, _ in POETRY_ENV}
            pairs = [(name, value) for name, value in pairs if name not in ours]
            if pairs:
                carried.append(_env(pairs))
        elif keyword in ("COPY", "ADD"):
            if _copies_project(item, facts):
                code.append(item.original)
            else:
                carried.append(item.original)
        elif keyword == "RUN":
            rewritten = _run(item, facts, notes)
            if rewritten is not None:
                carried.append(rewritten)
        elif keyword in _START_KEYWORDS:
            starts[keyword] = _exec_form(item, notes)
        elif keyword in _RUNTIME_KEYWORDS:
            extras.append(item.original)
        elif keyword == "WORKDIR":
            if f"WORKDIR {workdir}" not in carried:
                carried.append(f"WORKDIR {workdir}")
        elif keyword == "ONBUILD":
            continue
        else:
            carried.append(item.original)
    start = _start(starts, facts, notes)
    return carried, code, extras, start


def _run(item: Instruction, facts: FixFacts, notes: list[str]) -> str | None:
    text = "RUN " + " ".join(item.args)
    commands = run_commands(text)
    if any(len(c) >= 2 and c[0].endswith("poetry") and c[1] in ("install", "sync", "lock") for c in commands):
        notes.append(f"line {item.start_line}: replaced by the builder's cache-free `poetry install`")
        return None
    if commands and all(c[0] == "rm" for c in commands):
        notes.append(
            f"line {item.start_line}: a separate `RUN rm` saves nothing; cleanup now happens in the same RUN"
        )
        return None
    if item.json:
        return item.original
    body = " ".join(item.args)
    for words in commands:
        if is_pip_install(words):
            body = _pin_poetry(body, words, facts, item.start_line, notes)
    return f"RUN {body}"


def _pin_poetry(body: str, words: list[str], facts: FixFacts, line: int, notes: list[str]) -> str:
    changed = list(words)
    for requirement in pip_requirements(words):
        match = POETRY_REQUIREMENT.match(requirement)
        if match is None:
            continue
        spec = match["spec"].strip()
        pinned = spec.startswith("==") and not impossible_poetry_version(spec[2:])
        if pinned:
            continue
        version = facts.poetry_version or ".".join(map(str, LAST_POETRY_1))
        if spec.startswith("==") and impossible_poetry_version(spec[2:]):
            notes.append(f"line {line}: Poetry {spec[2:]} does not exist; pinned {version}")
        else:
            notes.append(
                f"line {line}: Poetry pinned to {version}"
                + (" (the version in the image)" if facts.poetry_version else "")
            )
        changed[changed.index(requirement)] = f"poetry{match['extras'] or ''}=={version}"
    if "--no-cache-dir" not in changed:
        changed.insert(changed.index("install") + 1, "--no-cache-dir")
    old, new = " ".join(words), " ".join(shlex.quote(w) if _SHELL_META.search(w) else w for w in changed)
    return body.replace(old, new) if old in body else body


def _copies_project(item: Instruction, facts: FixFacts) -> bool:
    if any(f.startswith("--from") for f in item.flags):
        return False
    sources = [s.rstrip("/") or "." for s in item.args[:-1]]
    project = {".", "./", "*", *_DEPENDENCY_FILES, *(d.rstrip("/") for d in facts.package_dirs)}
    return any(s in project or s.lstrip("./") in project for s in sources)


def _exec_form(item: Instruction, notes: list[str]) -> list[str]:
    if item.json:
        return list(item.args)
    raw = " ".join(item.args).strip()
    if raw.startswith("["):
        try:
            words = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            notes.append(
                f"line {item.start_line}: exec form with single quotes is not JSON (Docker ran it through /bin/sh)"
            )
            return words
    if _SHELL_META.search(raw):
        return ["/bin/sh", "-c", raw]
    return shlex.split(raw)


def _start(starts: dict[str, list[str]], facts: FixFacts, notes: list[str]) -> list[str]:
    if not starts and facts.command:
        starts = {"CMD": list(facts.command)}
    lines = []
    for keyword in ("ENTRYPOINT", "CMD"):
        words = starts.get(keyword)
        if words is None:
            continue
        if words[:2] == ["poetry", "run"]:
            words = words[2:]
            notes.append(
                f"{keyword}: `poetry run` dropped (the runtime stage has no Poetry; the venv is on PATH)"
            )
        lines.append(f"{keyword} {json.dumps(words)}")
    return lines


def _assignment(word: str) -> tuple[str, str]:
    name, _, value = word.partition("=")
    return name, value


def _env_pairs(args: Sequence[str]) -> list[tuple[str, str]]:
    return [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]


def _env(pairs: Iterable[tuple[str, str]]) -> str:
    rendered = [f"{name}={_quoted(value)}" for name, value in pairs]
    return "ENV " + " \\\n    ".join(rendered)


def _quoted(value: str) -> str:
    if value.startswith('"') and value.endswith('"'):
        return value
    return f'"{value}"' if (" " in value or not value) else value


def _supported(base: str, today: dt.date, notes: list[str]) -> str:
    codename = end_of_life_codename(base, today)
    if codename is None:
        return base
    notes.append(f"{base}: Debian {codename} is end-of-life; using {CURRENT_DEBIAN}")
    return base.replace(codename, CURRENT_DEBIAN)


def _runtime_base(base: str, notes: list[str]) -> str:
    match = _OFFICIAL_FULL_PYTHON.match(base)
    if match is None:
        return base
    codename = f"-{match['codename']}" if match["codename"] else ""
    slim = f"python:{match['version']}-slim{codename}"
    notes.append(f"runtime stage on {slim}: the full image's compilers stay in the builder")
    return slim


def _last_workdir(stage: Stage) -> str | None:
    workdirs = [i.args[0] for i in stage.instructions if i.keyword == "WORKDIR" and i.args]
    return workdirs[-1] if workdirs else None


def _stage_text(stage: Stage) -> str:
    header = f"FROM {stage.base}" + (f" AS {stage.name}" if stage.name else "")
    return "\n".join([header, *(i.original for i in stage.instructions)])
