"""`imgaudit fix`: the user's Dockerfile, edited into the article's multi-stage shape.

It keeps every instruction it has no reason to change, in order, and moves only what must
move. The stage that runs the project's install (`poetry install`, `uv sync`, `pdm install`,
`pipenv install`) stays the builder (its own lines, its own comments); the install gets the
flags that leave dev out (for Poetry, those the pinned version has: `--without dev,test` or
`--no-dev`) and hold it to the lock, and keeps no cache in the layer (a cache mount when the
file already uses BuildKit, else the tool's no-cache setting or its cache deleted in the same
RUN); an ENV just before it puts the venv in the project. What each tool needs is its
format's `ImageInstall` (imgaudit/classify/projects/). A new runtime stage (or the original one, when it was built FROM the builder)
starts from the slim base of the same Python and Debian release and receives what the app
needs to run: ARGs, ENV, the users, the runtime apt or apk packages (a `-dev` header's runtime
library), the venv, the code and entrypoint scripts, then every instruction that followed
the install. What cannot be fixed safely is refused with the reason (`FixRefused`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imgaudit.classify.project import DEV_EXTRA
from imgaudit.classify.projects.interface import ImageInstall, ProjectFormat
from imgaudit.classify.projects.registry import BY_NAME, FORMATS
from imgaudit.classify.runtime_libraries import APK_COMPILER_RUNTIME, APK_RUNTIME_LIBRARY, RUNTIME_LIBRARY
from imgaudit.dockerfile.build import (
    PYTHON_TOOLS,
    UV_IMAGE_REPOSITORY,
    UV_PYTHON_IMAGE,
    Build,
    Install,
    RunStep,
    StageModel,
    apk_applet,
    apk_cache_kept,
    apk_group,
    expand,
    fetches_apt_lists,
    heredoc_script,
    holds,
    installs_os_packages,
    is_build_package,
    normalise,
    os_packages,
    overlaps,
    poetry_requirements,
    reads_apk_index,
    reads_apt_lists,
    removed_packages,
    subcommand_argv,
    tool_installer,
)
from imgaudit.dockerfile.lint import cache_kept_out, inline_ignores, is_full_python_image
from imgaudit.dockerfile.parse import DockerfileError, Instruction, parse_dockerfile
from imgaudit.dockerfile.poetry_versions import (
    CURRENT_DEBIAN,
    LAST_POETRY_1,
    OFFICIAL_PYTHON,
    end_of_life,
    end_of_life_codename,
    impossible_poetry_version,
    last_poetry_for,
    official_python,
)
from imgaudit.dockerfile.project import ContextProject
from imgaudit.dockerfile.shell import Command, UnquotedScan, parse_shell

ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# The formats whose builds fix edits, by the install manager the build model names.
FIXABLE: dict[str, ProjectFormat] = {fmt.name: fmt for fmt in FORMATS if fmt.image_install is not None}
_TOOL_RUN = re.compile(r"(?<![\w-])(?:poetry|uv|pdm|pipenv)\s+run\s+")
# The first release of each Python the official image built on Debian bookworm: bookworm was
# added on 2023-06-14 (docker-library/official-images#14854), with the patch releases current
# then, and every later one has it; Pythons released after that day (3.12 on) have it from their
# first. A patch release older than these, and a Python older than 3.7, was never built there.
_FIRST_ON_BOOKWORM: dict[tuple[int, ...], int] = {(3, 7): 17, (3, 8): 17, (3, 9): 17, (3, 10): 12, (3, 11): 4}
_ALL_ON_BOOKWORM = (3, 12)
_RUNTIME_KEYWORDS = frozenset(
    {"EXPOSE", "LABEL", "VOLUME", "HEALTHCHECK", "STOPSIGNAL", "CMD", "ENTRYPOINT", "SHELL", "ONBUILD"}
)
_USER_COMMANDS = frozenset({"useradd", "adduser", "groupadd", "addgroup", "usermod"})
_DEPENDENCY_FILES = frozenset(
    name for fmt in FIXABLE.values() if fmt.image_install for name in fmt.image_install.dependency_files
)


@dataclass(frozen=True, slots=True)
class _SourceBuild:
    """A distribution that, on the full Python image, builds (or loads) against `header`, which
    that image carries; `unless`: distributions that bring their own copy of the library."""

    header: str
    unless: tuple[str, ...] = ()


# Well-known distributions with no Linux wheel on PyPI (an sdist, Windows or macOS wheels), that
# compile against a header buildpack-deps (the full `python:X.Y` image) installs: what they build
# loads the header's runtime library (RUNTIME_LIBRARY), which the slim image lacks. psycopg (3)
# loads libpq itself unless psycopg-binary or psycopg-c is installed (psycopg-c: `psycopg[c]`, an
# sdist). pycurl has manylinux wheels since 7.45.4 (2024-12): a lock's file list tells (see
# `_linux_wheels`); without one, the library is added. python-ldap (libldap2-dev, libsasl2-dev)
# is not here: buildpack-deps carries neither, so it builds only where the file installs them.
# The `-binary` twins, PyMySQL and the like need nothing and are not listed.
SOURCE_BUILDS: dict[str, _SourceBuild] = {
    "psycopg2": _SourceBuild("libpq-dev"),
    "psycopg-c": _SourceBuild("libpq-dev"),
    "psycopg": _SourceBuild("libpq-dev", unless=("psycopg-binary", "psycopg-c")),
    "mysqlclient": _SourceBuild("default-libmysqlclient-dev"),
    "pycurl": _SourceBuild("libcurl4-openssl-dev"),
}
# The platforms an image is commonly built for (x86 servers, ARM servers and Apple machines): a
# distribution whose lock lists a manylinux wheel for each needs no build on either.
_WHEEL_ARCHITECTURES = ("x86_64", "aarch64")
# Headers whose library every Python image has already: the C library's, Linux's, Python's.
_BASE_HEADERS = frozenset(
    {
        "musl-dev",
        "libc-dev",
        "libc6-dev",
        "linux-headers",
        "linux-libc-dev",
        "python3-dev",
        "python-dev",
        "python3-all-dev",
    }
)
POETRY_2 = "2.1.3"  # a released 2.x for projects written for Poetry 2 (its lock format, PEP 621)


class FixRefused(DockerfileError):
    """A Dockerfile that `fix` cannot edit safely; the message says why."""


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
    builder: str = "builder"
    venv: str = "/app/.venv"


@dataclass(frozen=True, slots=True)
class _Tool:
    """The tool whose install fix edits: its format, how its guide installs in an image, and
    whether the file already uses BuildKit (then a cache mount is what keeps the cache out)."""

    fmt: ProjectFormat
    recipe: ImageInstall
    buildkit: bool

    @property
    def manager(self) -> str:
        return self.fmt.name


@dataclass
class _Edit:
    """The Dockerfile being written: blocks of text in order, what was said about them, and the
    findings the user ignores (everywhere, or on the instruction below a pragma's line)."""

    blocks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ignore: frozenset[str] = frozenset()
    pragmas: Mapping[int, frozenset[str]] = field(default_factory=dict)

    def scratch(self) -> _Edit:
        """An edit whose notes are thrown away, with the same ignores."""
        return _Edit(ignore=self.ignore, pragmas=self.pragmas)

    def ignored(self, finding_id: str, line: int, what: str) -> bool:
        """The finding is ignored at `line` (`# imgaudit ignore=ID` above it, --ignore,
        `[tool.imgaudit] ignore`), so the edit it stands for is not made: said in a note."""
        if finding_id not in self.ignore and finding_id not in self.pragmas.get(line, ()):
            return False
        self.notes.append(f"line {line}: not {what} ({finding_id} is ignored)")
        return True


def repaired_env_continuations(text: str) -> tuple[str, list[str]]:
    """The article's mistake, repaired in the text itself: `NAME=value` lines that continue an
    ENV without a `\\` get it, so the rest of `fix` reads one ENV."""
    lines = text.splitlines()
    notes: list[str] = []
    in_env = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if in_env and ENV_ASSIGNMENT.match(stripped) and index > 0:
            previous = index - 1
            while previous > 0 and not lines[previous].strip():
                previous -= 1
            if not lines[previous].rstrip().endswith("\\"):
                lines[previous] = lines[previous].rstrip() + " \\"
                notes.append(f"line {index + 1}: ENV continuation without `\\` joined")
            continue
        if stripped and not stripped.startswith("#"):
            in_env = stripped.upper().startswith("ENV ") or (
                in_env and lines[index - 1].rstrip().endswith("\\")
            )
    return "\n".join(lines) + ("\n" if text.endswith("\n") else ""), notes


def fixed_dockerfile(
    build: Build, facts: FixFacts, today: dt.date, ignore: Collection[str] = ()
) -> FixResult:
    """The edited file; the edit of a finding `ignore` names, or a pragma ignores where lint
    would report it, is not made."""
    parsed = build.parsed
    lines = parsed.text.splitlines()
    install_stage, installs, tool = _install_stage(build)
    chain = _chain(build)
    poetry = _poetry_version(build, facts)
    edit = _Edit(ignore=frozenset(ignore), pragmas=inline_ignores(parsed.text))
    builder_name = install_stage.name or (
        "builder" if not _name_taken(build, "builder") else "imgaudit-builder"
    )
    venv = _venv(installs)
    _check_rewritable(build, installs, venv)
    runtime_name = next(n for n in ("runtime", "imgaudit-runtime", "app") if not _name_taken(build, n))

    # Everything before the chain's runtime part stays where it is.
    split_inside = install_stage.index == build.target
    builder_parents = set(_ancestry(build, install_stage, include_self=False))
    runtime_parents = _runtime_parents(build, chain, install_stage, builder_parents, today, edit)
    for stage in build.stages:
        if stage.index == install_stage.index:
            edit.blocks.append(
                _builder_text(
                    build, stage, builder_name, venv, poetry, lines, today, edit, split_inside, tool
                )
            )
            if split_inside:
                edit.blocks.append(
                    _runtime_text(
                        build,
                        chain,
                        install_stage,
                        builder_name,
                        runtime_name,
                        venv,
                        lines,
                        today,
                        edit,
                        facts,
                        tool,
                    )
                )
        elif stage.index in chain and stage.index > install_stage.index and install_stage.index in chain:
            if stage.parent == install_stage.index:
                edit.blocks.append(
                    _runtime_text(
                        build,
                        chain,
                        stage,
                        builder_name,
                        stage.name or runtime_name,
                        venv,
                        lines,
                        today,
                        edit,
                        facts,
                        tool,
                    )
                )
            else:
                edit.blocks.append(_stage_text(build, stage, lines, edit, today, runtime=stage.ships))
        elif stage.index in builder_parents and (install_stage.index in chain or runtime_parents):
            # The builder is built on it: it keeps its image (compilers, headers) and its lines;
            # the runtime has its own base (a new one, or the copy below).
            edit.blocks.append(_stage_text(build, stage, lines, edit, today, runtime=False))
            if stage.index in runtime_parents:
                edit.blocks.append(
                    _stage_text(build, stage, lines, edit, today, runtime=True, renamed=runtime_parents)
                )
        else:
            edit.blocks.append(
                _stage_text(build, stage, lines, edit, today, runtime=stage.ships, renamed=runtime_parents)
            )
    directives = [line for i, line in enumerate(lines) if _is_directive(lines, i)]
    body = "\n\n".join(block.strip("\n") for block in edit.blocks if block.strip())
    text = "\n".join([*directives, *_global_args_text(build, lines), body]) + "\n"
    _check_references(text, parsed.path)
    return FixResult(text, tuple(dict.fromkeys(edit.notes)), builder_name, venv)


def _runtime_parents(
    build: Build,
    chain: set[int],
    install_stage: StageModel,
    builder_parents: set[int],
    today: dt.date,
    edit: _Edit,
) -> dict[int, str]:
    """The stages both the builder and the runtime are built on (`FROM python:3.11 AS python`,
    then `FROM python AS builder` and `FROM python AS runtime`), by the name of the runtime's
    own copy of each: the runtime's base becomes slim, the builder's stays the full image. Empty
    when the runtime is built from the builder (it gets a base of its own anyway) or the slim
    variant is the image already."""
    shared = sorted(builder_parents & chain)
    if install_stage.index in chain or not shared:
        return {}
    root = build.stages[shared[0]]
    slim = _from_line(build, root, None, today, edit.scratch(), slim=True)
    if slim == _from_line(build, root, None, today, edit.scratch()):
        return {}
    names: dict[int, str] = {}
    for index in shared:
        original = build.stages[index].name or str(index)
        name = next(
            n for n in (f"{original}-slim", *(f"{original}-slim-{i}" for i in range(2, 100)))
            if not _name_taken(build, n)
        )  # fmt: skip
        names[index] = name
        edit.notes.append(
            f"line {build.stages[index].from_line}: `{name}`, the runtime's own copy of `{original}` on the "
            f"slim base; `{install_stage.name or install_stage.index}` keeps the full image"
        )
    return names


def _global_args_text(build: Build, lines: list[str]) -> list[str]:
    """The ARGs before the first FROM, as written (a blank line after them if there was one):
    FROM lines read them, and a stage's `ARG NAME` takes its default from them."""
    first_from = build.stages[0].from_line if build.stages else len(lines) + 1
    args = [i for i in build.parsed.instructions if i.keyword == "ARG" and i.start_line < first_from]
    if not args:
        return []
    blank = args[-1].end_line < len(lines) and not lines[args[-1].end_line].strip()
    return [*(_raw(item, lines) for item in args), *([""] if blank else [])]


# --- which stage, which installs ---------------------------------------------------------------


def _install_stage(build: Build) -> tuple[StageModel, list[tuple[RunStep, Install]], _Tool]:
    """The last stage whose project install reaches the final image, its installs with that
    tool, and the tool."""
    reaching = [
        (stage, step, install)
        for stage in build.stages
        for step in stage.runs
        for install in step.installs
        if install.manager in FIXABLE and (stage.ships or build.copied_from(stage))
    ]
    if not reaching:
        raise FixRefused(
            "imgaudit fix edits Poetry, uv, PDM and Pipenv builds, and no `poetry install` in this "
            "Dockerfile (nor `uv sync`, `pdm install`, `pipenv install`) reaches the final image "
            "(pip builds: `imgaudit lint` says what to change)",
            where=build.parsed.path,
        )
    stage, _, last = reaching[-1]
    fmt = FIXABLE[last.manager]
    assert fmt.image_install is not None  # FIXABLE holds only formats that have one
    tool = _Tool(fmt, fmt.image_install, _uses_buildkit(build))
    installs = [
        (step, install)
        for s, step, install in reaching
        if s.index == stage.index and install.manager == last.manager
    ]
    for step, install in installs:
        what = " ".join(install.command.argv[:2])
        if install.command.conditional:
            raise FixRefused(
                f"line {step.line}: the `{what}` runs inside a shell condition; imgaudit fix "
                "cannot tell which branch the image gets",
                where=build.parsed.path,
            )
        if step.choices:
            raise FixRefused(
                f"line {step.line}: the `{what}` is chosen by a shell condition (`{step.choices[0]}`); "
                "imgaudit fix would edit every branch: edit the branch the image gets by hand",
                where=build.parsed.path,
            )
        if step.instruction.heredocs and not _script_heredoc(step.instruction):
            raise FixRefused(
                f"line {step.line}: the `{what}` is in a heredoc that is not the RUN's script; edit it by hand",
                where=build.parsed.path,
            )
        if install.target.endswith("/__pypackages__"):
            raise FixRefused(
                f"line {step.line}: PDM installs into __pypackages__ (PEP 582, which PDM dropped); "
                "imgaudit fix moves venvs only: install into the project's .venv and run fix again",
                where=build.parsed.path,
            )
    if not stage.ships:
        _check_runtime_copies(build, stage, installs)
    return stage, installs, tool


def _check_runtime_copies(build: Build, stage: StageModel, installs: list[tuple[RunStep, Install]]) -> None:
    """A builder that never ships is edited only when the runtime takes the venv out of it, or
    the project directory where the venv will be: otherwise the runtime's own `COPY --from`s
    hold what it runs on, and moving the venv would leave it without."""
    for step, install in installs:
        what = " ".join(install.command.argv[:2])
        source = stage.name or str(stage.index)
        if install.target == "/usr/local":
            raise FixRefused(
                f"line {step.line}: `{what}` installs into the system site-packages of `{source}`, "
                "which the runtime copies directory by directory; imgaudit fix moves venvs only: "
                "install into a venv and copy it",
                where=build.parsed.path,
            )
        if not build.carried(stage, install.target) and not build.carried(stage, _venv([(step, install)])):
            taken = sorted(
                {src for s in build.stages if s.ships for c in s.copies if c.source_stage == stage.index
                 for src in c.sources}
            )  # fmt: skip
            raise FixRefused(
                f"line {step.line}: the runtime takes {', '.join(taken) or 'files'} from `{source}`, not the "
                f"venv `{what}` makes ({install.target}, as far as this file says); imgaudit fix moves "
                "venvs only (`imgaudit lint` says what to change)",
                where=build.parsed.path,
            )


# What fix will not write into a COPY or an ENV line: white space, quotes, `$`, backslashes.
_UNWRITABLE_PATH = re.compile(r"[\s\"'$`\\]")


def _check_rewritable(build: Build, installs: list[tuple[RunStep, Install]], venv: str) -> None:
    """What the runtime fix writes needs: a venv path it can write, a venv the builder keeps, and
    an image that does not start the tool itself (the runtime has none)."""
    where = build.parsed.path
    if _UNWRITABLE_PATH.search(venv):
        raise FixRefused(
            f"the venv's directory {venv!r} holds white space, quotes, `$` or backslashes; "
            "imgaudit fix does not write such a path into COPY and ENV lines",
            where=where,
        )
    for step, install in installs:
        if step.removes(venv, after=install.command):
            raise FixRefused(
                f"line {step.line}: the RUN deletes {venv} after `{' '.join(install.command.argv[:2])}`; "
                "there is no venv left for the runtime to copy",
                where=where,
            )
        mount = next((m.target for m in step.mounts if m.kind == "bind" and _within(venv, m.target)), None)
        if mount is not None:
            raise FixRefused(
                f"line {step.line}: the install runs with a bind mount on {mount}, so the venv it "
                f"would make in {venv} does not outlive the RUN (a bind mount keeps no writes): "
                "COPY the project's files instead of mounting them and run fix again",
                where=where,
            )
    for keyword, words in _start_commands(build):
        called = _script_calls_tool(build, words)
        if called is not None:
            script, line, tool = called
            raise FixRefused(
                f"{keyword} runs {script}, whose line {line} calls `{tool}`; the runtime imgaudit fix "
                f"writes has no {BY_NAME[tool].label}: call the venv's programs there (its bin/ is on "
                "PATH) and run fix again",
                where=where,
            )
        refused = _starts_tool(words, build.project.task_scripts)
        if refused:
            tool = words[0].rsplit("/", 1)[-1]
            raise FixRefused(
                f"{keyword} `{' '.join(words)}` {refused}; the runtime imgaudit fix writes has no "
                f"{BY_NAME[tool].label}: start the program itself and run fix again",
                where=where,
            )


_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "source", "."})
_TOOL_CALL = re.compile(r"(?<![\w/.$-])(poetry|uv|pdm|pipenv)\s+(?:run|sync|install|shell)\b")


def _script_calls_tool(build: Build, words: list[str]) -> tuple[str, int, str] | None:
    """(script, line, tool) when the start command runs a script of the build context (`bash
    ./entry.bash`, `./docker-entrypoint.sh`) that calls Poetry, uv, PDM or Pipenv itself
    (`uv run main.py`): the runtime has no such tool."""
    if not words or build.project.directory is None:
        return None
    program = words[0].rsplit("/", 1)[-1]
    script = words[1] if program in _SHELLS and len(words) > 1 else words[0]
    if not script.endswith((".sh", ".bash")) and not script.startswith("./"):
        return None
    context = Path(build.project.directory)
    for candidate in (context / script.lstrip("/"), context / script.rsplit("/", 1)[-1]):
        try:
            text = candidate.read_text(errors="replace") if candidate.is_file() else None
        except OSError:
            text = None
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            found = _TOOL_CALL.search(line.split("#", 1)[0])
            if found:
                return script, number, found[1]
        return None
    return None


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _start_commands(build: Build) -> list[tuple[str, list[str]]]:
    """The commands the final image starts with: its last ENTRYPOINT and CMD (a parent stage's
    count), each command of a shell form's `&&`/`;` list on its own."""
    last: dict[str, Instruction] = {}
    chain = [build.final]
    while chain[-1].parent is not None:
        chain.append(build.stages[chain[-1].parent])
    for stage in reversed(chain):
        for item in stage.instructions:
            if item.keyword in ("CMD", "ENTRYPOINT"):
                last[item.keyword] = item
    found: list[tuple[str, list[str]]] = []
    for keyword, item in last.items():
        text = " ".join(item.args).strip()
        try:
            words = json.loads(text) if text.startswith("[") else None
        except json.JSONDecodeError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            found.append((keyword, list(words)))
        else:
            found.extend((keyword, part.split()) for part in re.split(r"&&|\|\||;", text) if part.split())
    return found


def _starts_tool(words: list[str], task_scripts: frozenset[str]) -> str | None:
    """Why a start command needs the tool itself, or None (`poetry run uvicorn` needs only the
    venv's programs: fix drops the `poetry run`)."""
    tool = words[0].rsplit("/", 1)[-1] if words else ""
    if tool not in FIXABLE:
        return None
    operands = [w for w in words[1:] if not w.startswith("-")]
    if operands[:1] == ["run"]:
        name = operands[1] if len(operands) > 1 else None
        if tool in ("pdm", "pipenv") and name in task_scripts:
            return f"runs the project's {tool} script `{name}`, which is no program in the venv"
        return None
    if tool == "pdm" and operands[:1] and operands[0] in task_scripts:
        return f"runs the project's pdm script `{operands[0]}`, which is no program in the venv"
    return "runs the tool itself"


def _uses_buildkit(build: Build) -> bool:
    """The file asks for BuildKit (`# syntax=`), already mounts in a RUN or has a heredoc (which
    only BuildKit reads): a cache mount builds where it is built."""
    head = [
        line
        for i, line in enumerate(build.parsed.text.splitlines())
        if _is_directive(build.parsed.text.splitlines(), i)
    ]
    return (
        any(re.match(r"#\s*syntax\s*=", line.strip()) for line in head)
        or any(step.mounts for stage in build.stages for step in stage.runs)
        or any(item.heredocs for item in build.parsed.instructions)
    )


def _installs_with(step: RunStep, manager: str) -> bool:
    return any(i.manager == manager for i in step.installs)


def _chain(build: Build) -> set[int]:
    chain = {build.target}
    stage = build.final
    while stage.parent is not None:
        chain.add(stage.parent)
        stage = build.stages[stage.parent]
    return chain


def _name_taken(build: Build, name: str) -> bool:
    return any((s.name or "").lower() == name for s in build.stages)


def _venv(installs: list[tuple[RunStep, Install]]) -> str:
    """Where the runtime copies the venv from: the last install's own venv (the one the app
    runs with when a first install, without the project, ran in another directory), unless
    it lives in a tool's directory (Poetry's cache, Pipenv's virtualenvs) or is the system's
    /usr/local."""
    _step, install = installs[-1]
    target = install.target
    if "/virtualenvs" in target or target == "/usr/local" or target.startswith("/root/.cache"):
        return f"{install.project_dir.rstrip('/')}/.venv"
    return target


def _poetry_version(build: Build, facts: FixFacts) -> str:
    """The Poetry the builder will run: the one the file pins, else the image's, else one that
    reads the project's lock file."""
    for stage in build.stages:
        for step in stage.runs:
            for _requirement, match in poetry_requirements(step):
                if match["spec"].strip().startswith("=="):
                    version = match["spec"].strip()[2:]
                    if not impossible_poetry_version(version):
                        return version
            pinned = step.state.env.get("POETRY_VERSION")
            if pinned and any("install.python-poetry.org" in w for c in step.commands for w in c.words):
                return pinned
    if facts.poetry_version:
        return facts.poetry_version
    older = last_poetry_for(_builder_python(build, facts))
    if older is not None:
        return older  # an older Python: a newer Poetry does not install on it
    if _needs_poetry_2(build.project):
        return POETRY_2
    return ".".join(map(str, LAST_POETRY_1))


def _needs_poetry_2(project: ContextProject) -> bool:
    """The project is written for Poetry 2: its dependencies are in [project] (PEP 621), which
    Poetry 1 does not read, or its lock has the format Poetry 2 writes (lock-version 2.1; 1.3 to
    1.8 write 2.0 and read 2.1 only with a warning)."""
    lock = _version_tuple(project.lock_version or "0")
    return project.pep621_dependencies or lock >= (2, 1)


def _builder_python(build: Build, facts: FixFacts) -> tuple[int, int] | None:
    """The Python (major, minor) Poetry runs on: the image's, else the official base's tag."""
    if facts.python_version:
        version = _version_tuple(facts.python_version)
        return (version[0], version[1]) if len(version) >= 2 else None
    for stage in build.stages:
        if any(i.manager == "poetry" for step in stage.runs for i in step.installs):
            return official_python(build.root(stage).base)
    return None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


# --- the builder -------------------------------------------------------------------------------


def _builder_text(
    build: Build,
    stage: StageModel,
    name: str,
    venv: str,
    poetry: str,
    lines: list[str],
    today: dt.date,
    edit: _Edit,
    split: bool,
    tool: _Tool,
) -> str:
    out = [_from_line(build, stage, name, today, edit, lines=lines)]
    install_lines = {step.line for step in stage.runs if _installs_with(step, tool.manager)}
    last_install = max(install_lines)
    first = next(s for s in stage.runs if s.line == min(install_lines))
    env_inserted = False
    context_copy, dependencies = _dependencies_first(build, stage, first, tool, poetry, lines, edit)
    # The venv settings the file already has stay unless the install's ENV writes them anew
    # (`ENV POETRY_VIRTUALENVS_IN_PROJECT=1` before the install is what puts the venv there).
    venv_settings_rewritten = frozenset(
        name
        for name, _ in tool.recipe.venv_env
        if any(i.target != venv for s in stage.runs if s.line in install_lines for i in s.installs
               if i.manager == tool.manager)
    )  # fmt: skip
    for item in stage.instructions:
        if split and item.start_line > last_install:
            break  # the runtime stage takes the rest
        if split and item.keyword in _RUNTIME_KEYWORDS:
            continue  # moved to the runtime stage
        if item is context_copy:
            out.append(_install_env(first, venv, tool, stage.ships, edit))
            env_inserted = True
            out.append(dependencies)
            out.append(_raw(item, lines))
        elif item.keyword == "RUN" and item.start_line in install_lines:
            step = next(s for s in stage.runs if s.instruction is item)
            if not env_inserted:
                out.append(_install_env(step, venv, tool, stage.ships, edit))
                env_inserted = True
            out.append(_install_run(build, step, poetry, lines, edit, tool, ships=stage.ships))
        elif item.keyword == "RUN":
            step = next(s for s in stage.runs if s.instruction is item)
            out.append(_pinned(step, poetry, lines, edit))
        elif item.keyword == "ENV":
            out.append(
                _env_text(
                    item,
                    lines,
                    edit,
                    drop=venv_settings_rewritten,
                )
            )
        else:
            out.append(_raw(item, lines))
    return "\n".join(x for x in out if x)


def _dependencies_first(
    build: Build, stage: StageModel, install: RunStep, tool: _Tool, poetry: str, lines: list[str], edit: _Edit
) -> tuple[Instruction | None, str]:
    """(the COPY of the whole context before the install, the dependency files' COPY and the
    install without the project that go before it), as uv's and PDM's guides order a build;
    (None, "") when the tool has no such flag, the stage copies the dependency files first
    already, the install copies nothing first, or runs elsewhere than the copy went."""
    recipe = tool.recipe
    files = [f for f in recipe.dependency_files if f in build.project.files]
    if not recipe.dependencies_only or "pyproject.toml" not in files:
        return None, ""
    if any(recipe.dependencies_only in i.command.words for i in install.installs):
        return None, ""
    workdir = stage.start.workdir
    user = stage.start.user
    for item in stage.instructions:
        if item.start_line >= install.line:
            return None, ""
        if item.keyword == "WORKDIR" and item.args:
            workdir = normalise(expand(item.args[0], install.state.env), workdir)
        if item.keyword == "USER" and item.args:
            user = " ".join(item.args)
        if item.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in item.flags):
            continue
        sources = [s.rstrip("/") for s in item.args[:-1]]
        if any(s.rsplit("/", 1)[-1] in recipe.dependency_files for s in sources):
            return None, ""  # the dependency files come first already
        if not any(s in (".", "", "*") for s in sources) or not item.args:
            continue
        if normalise(expand(item.args[-1], install.state.env), workdir) != install.state.workdir:
            return None, ""
        break
    else:
        return None, ""
    installed = install.state.tool(recipe.tool)
    if installed is not None and installed.line > item.start_line:
        return None, ""  # the tool arrives after the code (`COPY . .` then `COPY --from=.../uv`)
    if user.split(":")[0] != install.state.user:
        # A USER between the code's COPY and the install: installed earlier, the dependencies
        # would go in as another user, in directories that user may not write (the install
        # that completes them must write in the venv they make).
        edit.notes.append(
            f"line {item.start_line}: the dependencies stay installed after the code: line "
            f"{install.line} installs as USER {install.state.user}, the COPY runs as {user.split(':')[0]}"
        )
        return None, ""
    span = _command_span(_install_run(build, install, poetry, lines, edit, tool, ships=stage.ships), recipe)
    if span is None:
        return None, ""
    if edit.ignored("cache-unfriendly-order", item.start_line, "installing the dependencies before the code"):
        return None, ""
    command = re.sub(r"\s*\\\n\s*", " ", span).strip()
    plan = _cache_plan(install, tool, stage.ships, edit)
    mount = f"--mount=type=cache,target={_cache_dir(install, tool)} " if plan == "mount" else ""
    tail = f" && rm -rf ${_cache_variable(tool)}" if plan == "rm" else ""
    edit.notes.append(
        f"line {item.start_line}: the dependencies installed before the code is copied "
        f"({recipe.tool} {recipe.dependencies_only}), as {tool.fmt.label}'s guide does"
    )
    destination = "./" if item.args[-1] in (".", "./") else item.args[-1].rstrip("/") + "/"
    enter = leave = ""
    if workdir != install.state.workdir:
        # The code is copied before the WORKDIR the install runs in (`ADD . /app`, then
        # `WORKDIR /app`): the dependencies install there too, and what ran in between
        # still runs where it ran.
        enter = f"WORKDIR {install.state.workdir}\n"
        if not destination.startswith(("/", "$")):
            destination = "./"
        if _depends_on_workdir(stage, item, install):
            leave = f"\nWORKDIR {workdir}"
        edit.notes.append(
            f"line {item.start_line}: the dependencies installed in {install.state.workdir}, where "
            f"line {install.line}'s {recipe.tool} runs"
        )
    return item, (
        f"# imgaudit fix: the dependencies first, so that a code change does not reinstall them\n"
        f"{enter}COPY {' '.join([*item.flags, *files])} {destination}\n"
        f"RUN {mount}{command} {recipe.dependencies_only}{tail}{leave}"
    )


def _depends_on_workdir(stage: StageModel, copy: Instruction, install: RunStep) -> bool:
    """Some instruction from `copy` up to the WORKDIR that `install` runs in depends on the
    working directory it runs in (a RUN, a relative COPY destination or WORKDIR)."""
    following = [i for i in stage.instructions if copy.start_line <= i.start_line < install.line]
    for item in following:
        where = expand(item.args[-1], install.state.env) if item.args else ""
        if item.keyword == "WORKDIR":
            return not where.startswith("/")  # an absolute one: the rest runs where it says
        if item.keyword == "RUN" or (item.keyword in ("COPY", "ADD") and not where.startswith("/")):
            return True
    return True


def _install_env(step: RunStep, venv: str, tool: _Tool, ships: bool, edit: _Edit) -> str:
    """ENV just before the install (so nothing earlier overrides it): the venv in the project
    unless it is already where the runtime copies it from, the guide's settings the file lacks,
    a venv without pip and setuptools in place of a system install (what the plan counts), and how the cache stays out of the layer (the tool's no-cache setting, or a throw-away
    directory that the RUN deletes)."""
    recipe, env = tool.recipe, step.state.env
    pairs: list[tuple[str, str]] = []
    installs = [i for i in step.installs if i.manager == tool.manager]
    if any(i.target != venv for i in installs):
        pairs += [(name, value.format(venv=venv)) for name, value in recipe.venv_env]
    if not any("{venv}" in value for _name, value in recipe.venv_env):
        # Poetry, PDM and Pipenv keep the venv beside the project file they find: an install that
        # finds another (run before WORKDIR) fills a venv the runtime does not copy (duplicate-venv).
        edit.notes += [
            f"line {step.line}: {i.project_dir.rstrip('/')}/.venv is not the venv the runtime copies "
            f"({venv}): this install only fills the builder; set WORKDIR before it to fill one venv"
            for i in installs
            if f"{i.project_dir.rstrip('/')}/.venv" != venv and i.target != venv
        ]
    pairs += [(name, value) for name, value in recipe.guide_env if name not in env]
    if any(i.target == "/usr/local" for i in installs):
        pairs += [(name, value) for name, value in recipe.unseeded_venv_env if name not in env]
    plan = _cache_plan(step, tool, ships, edit)
    if plan == "env":
        pairs += list(recipe.no_cache_env)
    elif plan == "rm" and not env.get(_cache_variable(tool)):
        pairs.append((_cache_variable(tool), f"/tmp/{tool.manager}_cache"))
    if not pairs:
        return ""
    comment = f"# imgaudit fix: the venv where the runtime copies it from, {tool.fmt.label}'s cache kept out of the layer"
    return comment + "\n" + _env(pairs)


def _cache_variable(tool: _Tool) -> str:
    return tool.fmt.caches[0].env_vars[0]


def _cache_dir(step: RunStep, tool: _Tool) -> str:
    spec = tool.fmt.caches[0]
    configured = step.state.env.get(spec.env_vars[0])
    return normalise(configured or f"{step.state.home()}/.cache/{spec.under_cache_home[0]}")


def _cache_plan(step: RunStep, tool: _Tool, ships: bool, edit: _Edit) -> str | None:
    """How this RUN keeps the tool's cache out of the layer: None (it ships nowhere, the file
    handles it already, or the user ignores the finding), `mount` (BuildKit), `env` (the tool's
    no-cache setting), `rm`."""
    if not ships:
        return None
    # What lint counts as kept out (its *-cache-in-layer), fix does not edit: one answer.
    if cache_kept_out(step, tool.manager) or edit.ignored(
        f"{tool.manager}-cache-in-layer", step.line, f"keeping {tool.fmt.label}'s cache out of the layer"
    ):
        return None
    # A cache mount is root's (uid 0, mode 0755) unless it says another uid: an install that runs
    # as another USER could not write it, so that one gets the tool's own switch.
    if tool.buildkit and step.state.user in ("root", "0"):
        return "mount"
    return "env" if tool.recipe.no_cache_env else "rm"


def _install_run(
    build: Build, step: RunStep, poetry: str, lines: list[str], edit: _Edit, tool: _Tool, ships: bool
) -> str:
    text = _pinned(step, poetry, lines, edit)
    add: list[str] = []
    drop: list[str] = []
    for install in step.installs:
        if install.manager == tool.manager:
            more, less = _install_flags(build, step, install, poetry, tool, edit)
            add, drop = [*add, *more], [*drop, *less]
    add, drop = list(dict.fromkeys(add)), list(dict.fromkeys(drop))
    if add or drop:
        text = _edited_command(text, tool.recipe, add, drop)
        said = " ".join([*add, *(f"(no {d})" for d in drop)])
        version = f" (Poetry {poetry})" if tool.manager == "poetry" else ""
        edit.notes.append(f"line {step.line}: {tool.recipe.tool} {said}{version}")
    plan = _cache_plan(step, tool, ships, edit)
    if plan == "mount":
        target = _cache_dir(step, tool)
        text = re.sub(
            r"^(\s*RUN)\s", rf"\1 --mount=type=cache,target={target} ", text, count=1, flags=re.I | re.M
        )
        edit.notes.append(
            f"line {step.line}: {tool.fmt.label}'s cache in a BuildKit cache mount, not the layer"
        )
    elif plan == "rm":
        text = run_last(text, f"rm -rf ${_cache_variable(tool)}")
        edit.notes.append(f"line {step.line}: {tool.fmt.label}'s cache deleted in the RUN that fills it")
    elif plan == "env":
        edit.notes.append(
            f"line {step.line}: {tool.fmt.label} keeps no cache "
            f"({', '.join(n + '=' + v for n, v in tool.recipe.no_cache_env)})"
        )
    return text


def _install_flags(
    build: Build, step: RunStep, install: Install, poetry: str, tool: _Tool, edit: _Edit
) -> tuple[list[str], list[str]]:
    """(flags to add, flags to drop) for one install: no dev (unless the user ignores
    dev-dependencies-installed there), no system site, held to the lock."""
    recipe, words = tool.recipe, install.command.words
    add: list[str] = []
    drop = [w for w in words if w in recipe.system_flags]
    if install.dev and not edit.ignored(
        "dev-dependencies-installed", step.line, "leaving the development dependencies out"
    ):
        if tool.manager == "poetry":
            add += [f for f in [_without_flags(build, poetry)] if f]
        else:
            add += list(recipe.production)
            drop += [w for w in words if w in recipe.dev_flags]
            if tool.manager == "uv":
                drop += _dev_selections(words)
    if tool.manager == "poetry" and "--no-dev" in words and _version_tuple(poetry) >= (2,):
        # Poetry 2 has no --no-dev: the same install is spelled --without.
        drop.append("--no-dev")
        project = build.project
        if not project.known or project.dev_groups(project.default_groups):
            add.append(_without_flags(build, poetry))
    verb = install.command.argv[1] if len(install.command.argv) > 1 else ""
    if (
        recipe.locked
        and recipe.lock_file in build.project.files
        and _lock_reaches(step, recipe.lock_file)
        and (not recipe.locked_verbs or verb in recipe.locked_verbs)
        and not any(w in recipe.locked for w in words)
    ):
        add.insert(0, recipe.locked[0])  # first, as the guides write it
    return add, list(dict.fromkeys(drop))


def _dev_selections(words: Sequence[str]) -> list[str]:
    """The options of a `uv sync` that ask for a development extra or group by name (`--extra
    dev`, `--group=test`): `--no-dev` leaves out the dev group only, not what these name."""
    found = []
    for i, word in enumerate(words):
        option, _, value = word.partition("=")
        if option not in ("--extra", "--group"):
            continue
        if value and DEV_EXTRA.match(value):
            found.append(word)
        elif not value and i + 1 < len(words) and DEV_EXTRA.match(words[i + 1]):
            found.append(f"{word} {words[i + 1]}")
    return found


def _lock_reaches(step: RunStep, lock: str) -> bool:
    """The lock file is in the image (or bind-mounted) when the install runs: a flag that holds
    the install to it (`uv sync --locked`) fails without it."""
    return step.state.has_copied(lock) or any(
        m.kind == "bind" and m.target.rsplit("/", 1)[-1] == lock for m in step.mounts
    )


def _edited_command(text: str, recipe: ImageInstall, add: Sequence[str], drop: Sequence[str]) -> str:
    """Each `TOOL VERB ...` of the RUN's text with `drop` removed and `add` after the verb (up to
    the end of that command: `&&`, `||`, `;`, `|`)."""
    out, position = [], 0
    for match in _install_head(recipe).finditer(text):
        if match.start() < position:
            continue
        end = _command_end(text, match.end())
        rest = text[match.end() : end]
        for word in drop:  # an option and its value (`--extra dev`) may stand on two lines
            spelled = r"(?:[ \t]|\\\n)+".join(map(re.escape, word.split()))
            rest = re.sub(rf"[ \t]+{spelled}(?=\s|$)", "", rest)
        out.append(text[position : match.start()] + match.group(0) + "".join(f" {a}" for a in add) + rest)
        position = end
    out.append(text[position:])
    return "".join(out)


def _install_head(recipe: ImageInstall) -> re.Pattern[str]:
    verbs = "|".join(map(re.escape, recipe.verbs))
    return re.compile(rf"(?<![\w/-])(?:python3?\s+-m\s+)?{re.escape(recipe.tool)}\s+(?:{verbs})(?![\w-])")


_COMMAND_END = re.compile(r"&&|\|\||;|\||(?<!\\)\n")


def _command_end(text: str, start: int) -> int:
    """Where the shell command that goes on at `start` ends: a list or pipe operator, or a line
    end not continued (a heredoc script's line)."""
    found = _COMMAND_END.search(text, start)
    return found.start() if found else len(text)


def _command_span(text: str, recipe: ImageInstall) -> str | None:
    """The text of the first `TOOL VERB ...` command of a RUN, up to its end."""
    match = _install_head(recipe).search(text)
    return text[match.start() : _command_end(text, match.end())] if match else None


def _without_flags(build: Build, poetry: str) -> str:
    """Poetry's flags that leave the development groups out, as the pinned version spells them."""
    if _version_tuple(poetry) < (1, 2):
        return "--no-dev"
    project = build.project
    groups = sorted(project.dev_groups(project.default_groups)) or ["dev"]
    return "--without " + ",".join(groups)


def _pinned(step: RunStep, poetry: str, lines: list[str], edit: _Edit) -> str:
    """The RUN's own text, with an unpinned or impossible Poetry pinned."""
    text = _raw(step.instruction, lines)
    for requirement, match in poetry_requirements(step):
        spec = match["spec"].strip()
        if spec.startswith("==") and not impossible_poetry_version(spec[2:]):
            continue
        finding = "nonexistent-poetry-version" if spec else "unpinned-poetry"
        if edit.ignored(finding, step.line, f"pinning {requirement}"):
            continue
        pinned = f"poetry{match['extras'] or ''}=={poetry}"
        text = re.sub(rf"(?<![\w.-]){re.escape(requirement)}(?![\w.=<>!~-])", pinned, text, count=1)
        text = re.sub(
            r"(?<![\w-])(pip3?|-m pip)\s+install(?!\s+--no-cache-dir)",
            r"\1 install --no-cache-dir",
            text,
            count=1,
        )
        edit.notes.append(f"line {step.line}: Poetry pinned to {poetry}")
    return text


# --- the runtime -------------------------------------------------------------------------------


def _runtime_text(
    build: Build,
    chain: set[int],
    stage: StageModel,
    builder: str,
    name: str,
    venv: str,
    lines: list[str],
    today: dt.date,
    edit: _Edit,
    facts: FixFacts,
    tool: _Tool,
) -> str:
    """The runtime stage: the slim base, what the builder's chain set up that the app needs at
    run time, the venv, then the instructions that followed the install (in `stage`, or in
    the original runtime stage that was built FROM the builder)."""
    split = stage.index == build.target and any(_installs_with(s, tool.manager) for s in stage.runs)
    root = build.root(stage)
    base = _runtime_base(root, build, today, edit)
    out = [f"FROM {base} AS {name}"]
    setup = [i for s in _ancestry(build, stage, include_self=split) for i in build.stages[s].instructions]
    last_install = max(
        (st.line for s in _ancestry(build, stage, include_self=split) for st in build.stages[s].runs
         if _installs_with(st, tool.manager)),
        default=0,
    )  # fmt: skip
    if split:
        setup = [i for i in setup if i.start_line <= last_install or i.start_line < stage.from_line]
    # The builder's RUNs that do not come to the runtime: what only they use stays behind.
    set_up = {id(i) for i in setup}
    runs = [
        r for s in _ancestry(build, stage, include_self=split) for r in build.stages[s].runs
        if id(r.instruction) in set_up
    ]  # fmt: skip
    carried: list[str] = []
    code: list[str] = []
    code_copies: list[tuple[str, str]] = []  # (text, destination) of the code the runtime copies
    starts: list[str] = []
    workdir = "/"
    user: str | None = None
    for item in setup:
        keyword = item.keyword
        if keyword == "ARG":
            carried.append(_raw(item, lines))
        elif keyword == "ENV":
            text = _env_text(item, lines, edit, drop=frozenset(), tool_settings=True)
            if text:
                carried.append(text)
        elif keyword == "WORKDIR" and item.args:
            workdir = normalise(item.args[0], workdir)
        elif keyword == "USER":
            user = _raw(item, lines)
        elif keyword == "RUN":
            carried.extend(_runtime_setup(item, build, lines, edit))
            carried.append(_chowned_in_builder(build, item, code_copies, workdir, carried, edit))
        elif keyword in ("COPY", "ADD") and not _builder_only(item, build, runs, edit):
            copied = _runtime_copy(item, build, workdir, lines)
            if copied:
                code.append(copied)
                code_copies.append((copied, normalise(expand(item.args[-1], stage.end.env), workdir)))
        elif keyword in _RUNTIME_KEYWORDS:
            starts.append(_start_text(item, lines, edit))
    code = [text for text, _destination in code_copies]
    carried.append(_full_image_libraries(build, root, base, runs, name, edit))
    rest = [i for i in stage.instructions if not split or i.start_line > last_install]
    handed = _ownership_at_copy(build, stage, rest, lines, workdir, venv, code_copies, carried, edit)
    if handed is not None:
        rest = [i for i in rest if i is not handed.item]
        carried.append(handed.setup)
        code = [handed.copy(text, destination) for text, destination in code_copies]
    out.extend(dict.fromkeys(carried))
    out.append(f"WORKDIR {workdir}")
    venv_copy = f"COPY --from={builder} {venv} {venv}"
    out.append(handed.copy(venv_copy, venv) if handed is not None else venv_copy)
    install_steps = [r for r in runs if _installs_with(r, tool.manager)]
    managed = _uv_managed_python(build, install_steps) if tool.manager == "uv" else None
    if managed is not None:
        # uv's Docker guide (multi-stage, managed Python): the venv's python is a link into
        # the Python uv installed, which the runtime needs at the same path.
        out.append(f"COPY --from={builder} {managed} {managed}")
        edit.notes.append(
            f"runtime stage `{name}`: the Python uv installed ({managed}), which the venv's python links to"
        )
    out.append(_env((("VIRTUAL_ENV", venv), ("PATH", f'"{venv}/bin:$PATH"'))))
    out.extend(code)
    if user:
        out.append(user)
    out.extend(starts)
    out.extend(_runtime_instructions(rest, lines, edit, stage.runs, handed.copies if handed else {}))
    if not any(i.keyword in ("CMD", "ENTRYPOINT") for i in [*setup, *rest]) and facts.command:
        out.append(f"CMD {json.dumps(_without_tool_run(list(facts.command), edit, 'CMD'))}")
    edit.notes.append(
        f"runtime stage `{name}` on {base}: the venv from `{builder}`, no {tool.fmt.label}, no compilers"
    )
    return "# Runtime: the app, its venv and what it runs with (imgaudit fix)\n" + "\n".join(
        x for x in out if x
    )


@dataclass(frozen=True, slots=True)
class _Ownership:
    """A `RUN [useradd ... &&] chown -R OWNER PATHS` after the install, turned into `--chown`
    on the runtime's COPYs of those paths: the files are written once, already owned."""

    item: Instruction  # the RUN, dropped from the runtime
    owner: str
    paths: tuple[str, ...]
    setup: str  # what stays of it, before the COPYs: the users it makes, the directories' owner
    # The COPYs between the install and the RUN, by id, as the runtime writes them.
    copies: Mapping[int, str] = field(default_factory=dict)

    def copy(self, text: str, destination: str) -> str:
        if "--chown=" in text or not any(holds(p, destination) for p in self.paths):
            return text
        return _COPY_KEYWORD.sub(rf"\1 --chown={self.owner}\2", text, count=1)


_COPY_KEYWORD = re.compile(r"^([ \t]*(?:COPY|ADD)(?:[ \t]+--from=\S+)?)([ \t])", re.M | re.I)


def _ownership_at_copy(
    build: Build,
    stage: StageModel,
    rest: Sequence[Instruction],
    lines: list[str],
    workdir: str,
    venv: str,
    code_copies: Sequence[tuple[str, str]],
    carried: Sequence[str],
    edit: _Edit,
) -> _Ownership | None:
    """The first RUN after the install, when it only makes users and hands the workdir, the
    venv or the copied code to one owner with `chown -R` (lint's files-rewritten-later): the
    runtime copies them with `--chown` instead. None (the RUN stays as it is, and the finding
    with it) when anything else writes there first, when the RUN does more, when the owner
    could not exist yet at the COPYs, or when an instruction before it changes what its users'
    RUN would do above the COPYs (see `_crossing`)."""
    item = next((i for i in rest if i.keyword == "RUN"), None)
    if item is None:
        return None
    before = rest[: rest.index(item)]
    # What the runtime writes before it: the code COPYs that followed the install.
    if any(i.keyword in ("COPY", "ADD") and any(f.startswith("--from=") for f in i.flags) for i in before):
        return None
    others = [venv, *(d for _t, d in code_copies)]
    # Its users are made with what the runtime carries from the builder, as the base's user.
    runs_as = build.root(stage).start.user
    return _handover(build, stage, item, before, workdir, runs_as, others, carried, lines, edit)


def _recursive_chown(step: RunStep) -> tuple[str, list[str]] | None:
    """The one owner and the paths of the RUN's `chown -R` commands; None when it has none, one
    that is not recursive or that fix cannot read, or several owners."""
    owners = set()
    paths: list[str] = []
    for command in step.commands:
        if command.name != "chown":
            continue
        words = command.argv[1:]
        if not any(
            w == "--recursive" or (w.startswith("-") and not w.startswith("--") and "R" in w) for w in words
        ):
            return None
        operands = [w for w in words if not w.startswith("-")]
        if len(operands) < 2 or any(w.startswith("--") and w != "--recursive" for w in words):
            return None
        owners.add(operands[0])
        paths += [normalise(o, step.directory(command)) for o in operands[1:]]
    if len(owners) != 1:
        return None
    owner = next(iter(owners))
    return (owner, paths) if re.fullmatch(r"[\w.-]+(?::[\w.-]+)?", owner) else None


def _user_made(owner: str, texts: Iterable[str]) -> bool:
    """The owner's user is numeric, or a useradd/adduser among `texts` makes it."""
    name = owner.split(":")[0]
    made = re.compile(rf"\b(?:useradd|adduser)\b[^&;|]*(?<![\w.-]){re.escape(name)}(?![\w.-])")
    return name.isdigit() or any(made.search(text) for text in texts)


def _chowned_in_builder(
    build: Build,
    item: Instruction,
    code_copies: list[tuple[str, str]],
    workdir: str,
    carried: Sequence[str],
    edit: _Edit,
) -> str:
    """A builder-chain RUN before the install that hands the code copied so far to a user with
    `chown -R` (the runtime gets the RUN's users, not its chown): the runtime's COPYs of that
    code get `--chown`, in place, and the workdir's own owner is returned as a RUN to carry."""
    step = _step(build, item)
    if step is None or not any(c.name == "chown" for c in step.commands):
        return ""
    chowned = _recursive_chown(step)
    if chowned is None or any(re.search(r"\bchown\b", text) for text in carried):
        return ""  # fix cannot read it, or the runtime runs a chown of its own already
    owner, paths = chowned
    if not _user_made(owner, carried) or edit.ignored(
        "files-rewritten-later", item.start_line, "handing the code over at the runtime's COPYs"
    ):
        return ""
    for index, (text, destination) in enumerate(code_copies):
        if "--chown=" not in text and any(holds(p, destination) for p in paths):
            code_copies[index] = (_COPY_KEYWORD.sub(rf"\1 --chown={owner}\2", text, count=1), destination)
            edit.notes.append(
                f"line {item.start_line}: the runtime copies {destination} with --chown={owner}"
            )
    return f"RUN mkdir -p {workdir} && chown {owner} {workdir}" if workdir in paths else ""


# Instructions that change neither the files nor how a RUN after them runs: the users a
# chown's RUN makes may be made above them (ENV and ARG: unless it reads what they set; USER
# and WORKDIR: see `_crossing`).
_METADATA = frozenset(
    {"CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "STOPSIGNAL"}
)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _handover(
    build: Build,
    stage: StageModel,
    item: Instruction,
    span: Sequence[Instruction],
    workdir: str,
    runs_as: str,
    others: Sequence[str],
    carried: Sequence[str],
    lines: list[str],
    edit: _Edit,
) -> _Ownership | None:
    """`item`, a RUN that only makes users and runs `chown -R OWNER PATHS`, where each path is
    a workdir (`workdir`, where its users are made, or the RUN's: the directory is handed over
    with them) or lies in what the COPYs of `span` (the instructions before it, from where its
    users are made, as `runs_as`) or the runtime's other COPYs (`others`: their destinations)
    write: the COPYs get `--chown`, the users and the directories' owner move before them.
    None when that is not safe (the RUN then stays; a note says why when only the
    instructions between stand in the way)."""
    step = _step(build, item)
    if step is None or item.heredocs or item.json:
        return None
    copied: list[tuple[Instruction, str]] = []
    owned: list[str] = []  # where COPYs that set an owner of their own write
    for copy in (i for i in span if i.keyword in ("COPY", "ADD")):
        if len(copy.args) < 2:
            return None
        at = stage.state_before(copy)
        destination = normalise(expand(copy.args[-1], at.env), at.workdir)
        if any(f.startswith("--chown=") for f in copy.flags):
            owned.append(destination)
        else:
            copied.append((copy, destination))
    if any(c.conditional for c in step.commands):
        return None
    if not all(c.name in _USER_COMMANDS or c.name == "chown" for c in step.commands):
        return None
    chowned = _recursive_chown(step)
    if chowned is None:
        return None
    owner, paths = chowned
    if any(overlaps(d, p) for d in owned for p in paths):
        return None  # the chown gave those files its owner: `--chown` on the others would not
    # Each path is a workdir (its directory is handed over below) or lies in what a COPY of
    # the runtime writes (the venv, the code), which `--chown` hands over as it writes it.
    directories = [d for d in dict.fromkeys([workdir, step.state.workdir]) if d in paths]
    destinations = [*others, *(d for _i, d in copied)]
    if not all(p in directories or any(holds(d, p) for d in destinations) for p in paths):
        return None
    needs = [c.name in _USER_COMMANDS for c in step.commands]
    members = _list_members_needed(item, step, needs) if any(needs) else []
    if any(needs) and not members:
        return None
    if not members and not _user_made(owner, carried):
        return None  # the user may not exist yet where the COPYs run
    between = [i for i in span if i.keyword not in ("COPY", "ADD")]
    why = _crossing(stage, step, between, paths, directories, runs_as, lines)
    if why is not None:
        edit.notes.append(f"line {item.start_line}: `chown -R` kept (files-rewritten-later): {why}")
        return None
    if edit.ignored("files-rewritten-later", item.start_line, "handing the files over at the COPYs"):
        return None
    for directory in directories:
        members += [f"mkdir -p {directory}", f"chown {owner} {directory}"]
    edit.notes.append(
        f"line {item.start_line}: {', '.join(sorted(set(paths)))} copied with --chown={owner} "
        "instead of a `chown -R` that ships every file twice"
    )
    handed = _Ownership(item, owner, tuple(paths), "RUN " + " && ".join(members) if members else "")
    rewritten = {id(i): handed.copy(_raw(i, lines), d) for i, d in copied}
    return _Ownership(item, owner, tuple(paths), handed.setup, rewritten)


def _crossing(
    stage: StageModel,
    step: RunStep,
    between: Sequence[Instruction],
    paths: Sequence[str],
    directories: Sequence[str],
    runs_as: str,
    lines: list[str],
) -> str | None:
    """Why the users of the chown's RUN (`step`) cannot be made above `between` (the
    instructions from the first COPY to it), for `COPY --chown` to find them: None when the
    move changes nothing. The metadata instructions never stand in the way. ENV and ARG do
    when the RUN reads a variable they set (`useradd -u $UID`): above them it reads another
    value. Who runs it must stay the same (a USER, before or between). A WORKDIR makes its
    directory when missing: one inside what the chown hands over, unless the users' RUN hands
    that directory over itself, would stay root's. VOLUME (what a RUN changes in a volume may
    not be kept) and SHELL (another shell would make the users) stand in the way."""
    read = set(_VARIABLE.findall(_raw(step.instruction, lines)))
    for item in between:
        keyword, where = item.keyword, f"the {item.keyword} of line {item.start_line}"
        if keyword in _METADATA or keyword == "USER":
            continue
        if keyword in ("ENV", "ARG"):
            names = item.args[0::2] if keyword == "ENV" else [w.partition("=")[0] for w in item.args]
            name = next((n for n in names if n in read), None)
            if name is not None:
                return f"it reads ${name}, which {where} sets after the COPYs its users would go above"
        elif keyword == "WORKDIR" and item.args:
            at = stage.state_before(item)
            made = normalise(expand(item.args[0], at.env), at.workdir)
            if made not in directories and any(holds(p, made) for p in paths):
                return f"{where} makes {made}, which the chown hands over and `COPY --chown` would not"
        elif keyword == "VOLUME":
            return f"{where} stands between: what a RUN changes in a volume may not be kept"
        else:
            return f"{where} stands between: the users would be made above it"
    user = step.state.user
    if _as_user(user) != _as_user(runs_as):
        setting = next((i for i in reversed(between) if i.keyword == "USER"), None)
        said = f"the USER of line {setting.start_line}" if setting else "the stage's USER"
        return f"{said} runs it as {user}, where its users would be made as {runs_as}"
    return None


def _as_user(name: str) -> str:
    return "root" if name in ("root", "0") else name


def _full_image_libraries(
    build: Build, root: StageModel, base: str, runs: Sequence[RunStep], name: str, edit: _Edit
) -> str:
    """The apt install (or "") of the libraries the project's dependencies load at run time,
    having been built on the full image `root` starts from against headers it carries, when the
    runtime `base` is another (slim) image; what the file's own RUNs install is given already."""
    if base == root.base or not is_full_python_image(root.base):
        return ""
    known, listed_files = build.project.dependencies()
    if known is None:
        edit.notes.append(
            f"runtime stage `{name}` on {base}: compiled dependencies built on {root.base} may need their "
            "libraries there too (libpq5 for psycopg2); imgaudit fix found no lock or requirements file "
            "in the context to tell"
        )
        return ""
    installed = {p for r in runs for c in r.commands if installs_os_packages(c) for p in os_packages(c)}
    python = _python_minor(root.base)
    needed: dict[str, list[str]] = {}
    for distribution, source in SOURCE_BUILDS.items():
        library = RUNTIME_LIBRARY[source.header]
        if (
            distribution not in known
            or known.intersection(source.unless)
            or {source.header, library} & installed
            or _linux_wheels(listed_files.get(distribution, ()), python)
        ):
            continue
        needed.setdefault(library, []).append(f"{distribution} (against {source.header})")
    if not needed:
        return ""
    listed = " ".join(needed)
    built = ", ".join(d for ds in needed.values() for d in ds)
    edit.notes.append(
        f"runtime stage `{name}`: the apt packages {listed}: {built} build from source on {root.base}, "
        f"whose headers {base} lacks, and load them at run time"
    )
    return _RUNTIME_INSTALL["apt"].run.format(packages=listed)


def _python_minor(image: str) -> str | None:
    """`3.11` of python:3.11-bookworm or uv:python3.11-bookworm; None when the tag names none."""
    match = re.search(r"(?:^|[:-]|python)(3\.\d+)(?:$|[.-])", image.rsplit("@", 1)[0].rpartition(":")[2])
    return match[1] if match else None


def _linux_wheels(files: Sequence[str], python: str | None) -> bool:
    """The lock lists a wheel pip installs on the runtime's Debian for `python` (any Python
    when unknown), so nothing is compiled: a pure wheel (`none-any`), or manylinux wheels
    for every architecture of _WHEEL_ARCHITECTURES whose Python tag is `py3`, the same
    `cpXY`, or an older `cp3Y` with the stable ABI (`abi3`)."""
    covered: set[str] = set()
    for file in files:
        parts = file.removesuffix(".whl").split("-") if file.endswith(".whl") else []
        if len(parts) < 5:
            continue
        pythons, abi, platforms = parts[-3].split("."), parts[-2], parts[-1].split(".")
        if not any(_fits(tag, abi, python) for tag in pythons):
            continue
        if "any" in platforms:
            return True
        covered.update(
            arch
            for p in platforms
            if p.startswith("manylinux")
            for arch in _WHEEL_ARCHITECTURES
            if p.endswith(arch)
        )
    return covered.issuperset(_WHEEL_ARCHITECTURES)


def _fits(tag: str, abi: str, python: str | None) -> bool:
    if tag.startswith("py3") or python is None:
        return tag.startswith(("py3", "cp3"))
    wanted = int(python.split(".")[1])
    minor = int(tag[3:]) if tag.startswith("cp3") and tag[3:].isdigit() else None
    return minor is not None and (minor == wanted or (abi == "abi3" and minor <= wanted))


# Official distribution images that have no Python: uv downloads one for a project there.
_NO_PYTHON_BASE = re.compile(r"^(?:docker\.io/)?(?:library/)?(?:ubuntu|debian|alpine)(?::|@|$)")
_UV_NO_DOWNLOADS = frozenset({"never", "manual", "0", "false", "no", "off"})


def _uv_managed_python(build: Build, installs: Sequence[RunStep]) -> str | None:
    """Where the Python uv installed for the project is (UV_PYTHON_INSTALL_DIR, by default
    $XDG_DATA_HOME/uv/python, ~/.local/share/uv/python), when the venv's python is one: the
    image has no Python (an official distribution image without a python3 package installed),
    `uv python install` ran first, or the install takes managed Pythons only; else None."""
    if not installs:
        return None
    step = installs[-1]
    env = step.state.env
    if env.get("UV_PYTHON_DOWNLOADS", "").strip("\"'").lower() in _UV_NO_DOWNLOADS:
        return None
    stage = next(s for s in build.stages if any(r is step for r in s.runs))
    earlier = [r for i in _ancestry(build, stage, include_self=True) for r in build.stages[i].runs
               if r.line <= step.line]  # fmt: skip
    commands = [c for r in earlier for c in r.commands]
    installed = any(subcommand_argv(c)[:3] == ("uv", "python", "install") for c in commands)
    only_managed = env.get("UV_PYTHON_PREFERENCE") == "only-managed" or any(
        "--managed-python" in i.command.words or "only-managed" in i.command.words
        for r in installs for i in r.installs
    )  # fmt: skip
    no_python = _NO_PYTHON_BASE.match(build.root(stage).base) is not None and not any(
        p.startswith("python") for c in commands if installs_os_packages(c) for p in os_packages(c)
    )
    # The image's Python is older than the project requires: uv downloads one that fits.
    too_old = _older_than_required(_image_python(build.root(stage).base), build.project.requires_python)
    if not (installed or only_managed or no_python or too_old):
        return None
    data = env.get("XDG_DATA_HOME") or f"{step.state.home()}/.local/share"
    path = normalise(env.get("UV_PYTHON_INSTALL_DIR") or f"{data}/uv/python")
    if _UNWRITABLE_PATH.search(path):
        raise FixRefused(
            f"line {step.line}: uv's Python directory {path!r} holds white space, quotes, `$` or "
            "backslashes; imgaudit fix does not write such a path into a COPY line",
            where=build.parsed.path,
        )
    return path


def _image_python(image: str) -> tuple[int, int] | None:
    """The Python (major, minor) of an official Python image or one of uv's images with Python."""
    reference = image.rsplit("@", 1)[0]
    match = UV_PYTHON_IMAGE.match(reference)
    if match is not None:
        major, minor = match["python"].split(".")
        return int(major), int(minor)
    return official_python(reference)


_LOWER_BOUND = re.compile(r"^\s*(?:>=|~=|==)\s*(\d+)\.(\d+)")


def _older_than_required(python: tuple[int, int] | None, requires: str | None) -> bool:
    """`python` is below the lowest Python `requires` (`>=3.13`, `~=3.12.1`, `==3.13.*`) allows."""
    if python is None or not requires:
        return False
    bounds = [(int(m[1]), int(m[2])) for clause in requires.split(",") if (m := _LOWER_BOUND.match(clause))]
    return any(python < bound for bound in bounds)


def _runtime_base(root: StageModel, build: Build, today: dt.date, edit: _Edit) -> str:
    """The slim base of the same Python and distribution; for a base that carries the tool,
    the Python image it was built on when its name says (uv's images), else a refusal."""
    if not root.start.tools:
        line = root.from_line
        return _written_base(
            build, root, lambda base, said: _slim(_supported(base, today, said, line), said, line), edit
        )
    match = UV_PYTHON_IMAGE.match(root.base.rsplit("@", 1)[0])
    if match is None:
        raise FixRefused(
            f"line {root.from_line}: the base image {root.base} carries {root.start.tools[0].name}; "
            "a runtime stage needs a base without it, which imgaudit cannot name: put one in FROM and "
            "run fix again",
            where=build.parsed.path,
        )
    distro = match["distro"]
    tag = f"{match['python']}-{distro}" if distro.startswith("alpine") else f"{match['python']}-slim-{distro}"
    base = _supported(f"python:{tag}", today, edit, root.from_line)
    edit.notes.append(f"runtime base {base}: the Python image {root.base} is built on, without uv")
    return base


def _ancestry(build: Build, stage: StageModel, include_self: bool) -> list[int]:
    chain: list[int] = [stage.index] if include_self else []
    cursor = stage
    while cursor.parent is not None:
        chain.append(cursor.parent)
        cursor = build.stages[cursor.parent]
    return sorted(chain)


@dataclass(frozen=True, slots=True)
class _OsPackages:
    """How a runtime stage installs OS packages with one package manager, and the runtime
    library of each `-dev` package it knows."""

    manager: str
    runtime_library: dict[str, str]
    run: str  # the RUN that installs {packages} and keeps no cache or index
    compiler_runtime: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_RUNTIME_INSTALL = {
    "apt": _OsPackages(
        "apt",
        RUNTIME_LIBRARY,
        "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends {packages} \\\n"
        "    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb",
    ),
    "apk": _OsPackages("apk", APK_RUNTIME_LIBRARY, "RUN apk add --no-cache {packages}", APK_COMPILER_RUNTIME),
}


def _runtime_setup(item: Instruction, build: Build, lines: list[str], edit: _Edit) -> list[str]:
    """From a builder RUN: the users it creates and the OS packages the app runs with."""
    step = _step(build, item)
    if step is None:
        return []
    out: list[str] = []
    needs = _runtime_needs(step)
    if all(needs):
        out.append(_raw(item, lines))
    elif any(needs):
        # The RUN also builds (a tool's installer, a download): the runtime gets its users and
        # directories alone, or, when fix cannot take its list apart, all of it if it
        # installs no dependencies.
        members = _list_members_needed(item, step, needs)
        if members:
            out.append("RUN " + " && ".join(members))
            edit.notes.append(
                f"line {item.start_line}: the runtime gets `{' && '.join(members)}` of this RUN; the rest builds"
            )
        elif not step.installs:
            out.append(_raw(item, lines))
    removed = _removed_from(build, step)
    wanted: dict[str, list[str]] = {}
    for command in step.commands:
        if not installs_os_packages(command):
            continue
        packages = _RUNTIME_INSTALL["apk" if command.name == "apk" else "apt"]
        for package in os_packages(command):
            runtime = _runtime_packages(package, packages, removed, item.start_line, edit)
            wanted.setdefault(packages.manager, []).extend(runtime)
    for manager, names in wanted.items():
        if not names:
            continue
        listed = " ".join(dict.fromkeys(names))
        out.append(_RUNTIME_INSTALL[manager].run.format(packages=listed))
        edit.notes.append(
            f"line {item.start_line}: the runtime gets the {manager} packages it runs with: {listed}"
        )
    return out


_OWNERSHIP_COMMANDS = frozenset({"chown", "chmod", "chgrp"})


def _runtime_needs(step: RunStep) -> list[bool]:
    """Which of the RUN's commands the runtime needs too: those that create users and groups,
    and, in a RUN that creates users or hands its directories to someone, the directories it
    makes (`mkdir -p /home/user/.cache/x && chown -R user /home/user/.cache/x`) and the chown,
    chmod or chgrp of them (not of other files: the runtime may not have them yet)."""
    workdir = step.state.workdir
    made = [normalise(w, workdir) for c in step.commands if c.name == "mkdir" for w in _operands(c)]

    def of_made(command: Command) -> bool:
        paths = _operands(command)[1:]  # after the owner or mode
        return bool(paths) and all(any(holds(d, normalise(p, workdir)) for d in made) for p in paths)

    handed = [c.name in _OWNERSHIP_COMMANDS and of_made(c) for c in step.commands]
    users = any(c.name in _USER_COMMANDS for c in step.commands)
    return [
        c.name in _USER_COMMANDS or h or (c.name == "mkdir" and (users or any(handed)))
        for c, h in zip(step.commands, handed, strict=True)
    ]


def _operands(command: Command) -> list[str]:
    return [w for w in command.words[1:] if not w.startswith("-")]


def _list_members_needed(item: Instruction, step: RunStep, needs: Sequence[bool]) -> list[str]:
    """The members of the RUN's `&&`/`;` list, as written, whose every command is needed; []
    when the RUN is no plain list fix can take apart (a heredoc, a test, `||`, a subshell)."""
    if item.heredocs or item.json or any(c.conditional for c in step.commands):
        return []
    members = _list_members(" ".join(item.args))
    if members is None:
        return []
    kept: list[str] = []
    position = 0
    for member in members:
        count = len(parse_shell(member).commands)
        if all(needs[position : position + count]):
            kept.append(member)
        position += count
    return kept if position == len(step.commands) else []


def _list_members(text: str) -> list[str] | None:
    """The commands of a shell list joined by `&&` and `;`, as written (a pipeline is one
    member); None when it has anything else at its top level (`||`, `&`, a subshell, a group,
    a substitution, a comment)."""
    members: list[str] = []
    start = skip_to = 0
    scan = UnquotedScan(text)
    for index in scan:
        if index < skip_to:
            continue
        char = text[index]
        if text.startswith("${", index):
            skip_to = text.find("}", index) + 1  # a parameter, not a group
            if skip_to == 0:
                return None
        elif text.startswith("&&", index) or char == ";":
            members.append(text[start:index].strip())
            start = skip_to = index + (1 if char == ";" else 2)
        elif char in "&(){}`#" or text.startswith("$(", index) or text.startswith("||", index):
            return None
    members.append(text[start:].strip())
    return None if scan.open_quote or not all(members[:-1]) else [m for m in members if m]


def _removed_from(build: Build, step: RunStep) -> set[str]:
    """The packages this RUN or a later one of its stage deletes again (`apk del .fetch`,
    `apt-get purge curl`): they served the build only."""
    stage = next(s for s in build.stages if any(r is step for r in s.runs))
    groups = list(step.state.apk_virtual)
    removed: set[str] = set()
    for later in stage.runs[next(i for i, r in enumerate(stage.runs) if r is step) :]:
        for command in later.commands:
            if installs_os_packages(command) and command.name == "apk" and (group := apk_group(command)):
                groups.append((group, tuple(os_packages(command))))
            removed |= removed_packages(command, groups)
    return removed


def _runtime_packages(
    package: str, packages: _OsPackages, removed: set[str], line: int, edit: _Edit
) -> tuple[str, ...]:
    """The packages the runtime installs for a builder's `package`: a `-dev` package's runtime
    library, a compiler's the build keeps (what it builds loads them), the package itself when it is no build
    tool and the RUN keeps it; none otherwise, said in a note when the app may load a library
    fix cannot name."""
    if package in packages.runtime_library:
        return (packages.runtime_library[package],)
    if package in packages.compiler_runtime and package not in removed:
        # (A build that deletes its compiler again runs without those libraries already.)
        libraries = packages.compiler_runtime[package]
        edit.notes.append(
            f"line {line}: {package} stays in the builder; the runtime gets {' and '.join(libraries)}, "
            "which what it compiles loads"
        )
        return libraries
    if is_build_package(package) or package in _BASE_HEADERS:
        if package.endswith("-dev") and package not in _BASE_HEADERS:
            edit.notes.append(
                f"line {line}: {package} stays in the builder; imgaudit fix does not know the library "
                "the app loads from it at run time: add that package to the runtime stage"
            )
        else:
            edit.notes.append(f"line {line}: {package} stays in the builder")
        return ()
    return () if package in removed else (package,)


def _builder_only(item: Instruction, build: Build, runs: Sequence[RunStep], edit: _Edit) -> bool:
    """A COPY/ADD of the builder's that the runtime must not get: a tool's installer script
    (`ADD https://astral.sh/uv/install.sh /uv-installer.sh`: what it installs is a build tool),
    or files a later RUN of the builder deletes (they served the build only)."""
    sources = [s for s in item.args[:-1] if not s.startswith("--")]
    if not sources or any(f.startswith("--from=") for f in item.flags):
        return False
    installer = next((tool for s in sources if (tool := tool_installer(s))), None)
    if installer is not None:
        edit.notes.append(f"line {item.start_line}: {installer}'s installer stays in the builder")
        return True
    stage = next(s for s in build.stages if any(i is item for i in s.instructions))
    env, workdir = stage.end.env, stage.start.workdir
    for earlier in stage.instructions:
        if earlier is item:
            break
        if earlier.keyword == "WORKDIR" and earlier.args:
            workdir = normalise(expand(earlier.args[0], env), workdir)
    destination = expand(item.args[-1], env)
    into = destination.endswith("/") or len(sources) > 1
    landed = [
        normalise(
            f"{destination.rstrip('/')}/{s.rstrip('/').rsplit('/', 1)[-1]}" if into else destination, workdir
        )
        for s in sources
    ]
    later = [r for r in runs if r.line > item.start_line]
    if all(any(r.removes(path) for r in later) for path in landed):
        edit.notes.append(
            f"line {item.start_line}: {' '.join(sources)} stays in the builder, which deletes it"
        )
        return True
    return False


def _runtime_copy(item: Instruction, build: Build, workdir: str, lines: list[str]) -> str | None:
    """A COPY/ADD of the builder that the runtime needs too: the code, scripts, certificates
    (not the dependency files alone, not tools)."""
    source_flag = next((f for f in item.flags if f.startswith("--from=")), None)
    if source_flag is not None:
        reference = source_flag.split("=", 1)[1]
        if (
            re.match(rf"^{UV_IMAGE_REPOSITORY}(?::|@|$)", reference)
            or any(tool in reference.lower() for tool in PYTHON_TOOLS - {"uv"})
            or any(_copies_tool(item, stage) for stage in build.stages)
        ):
            # A tool's image, or a stage that holds a tool (`FROM .../uv AS uv`, then
            # `COPY --from=uv /uv /bin/`): the runtime runs without it.
            return None
        return _raw(item, lines)
    sources = [s.rstrip("/") for s in item.args[:-1]]
    if sources and all(
        s.rsplit("/", 1)[-1] in _DEPENDENCY_FILES or s.lower().startswith("readme") for s in sources
    ):
        return None
    destination = item.args[-1] if item.args else "."
    if destination.startswith("/") or "$" in destination or workdir == "/":
        return _raw(item, lines)
    absolute = normalise(destination, workdir) + (
        "/" if destination.endswith("/") or len(sources) > 1 else ""
    )
    flags = " ".join(item.flags)
    return " ".join(x for x in (item.keyword, flags, *item.args[:-1], absolute) if x)


def _runtime_instructions(
    items: Iterable[Instruction],
    lines: list[str],
    edit: _Edit,
    runs: Sequence[RunStep] = (),
    replaced: Mapping[int, str] = {},
) -> list[str]:
    """`replaced`: instructions (by id) the runtime writes otherwise (a COPY given --chown)."""
    out: list[str] = []
    kept = list(items)
    steps = {id(s.instruction): s for s in runs}
    lists_fetched = False  # by an earlier RUN here, which fix has them removed in
    for position, item in enumerate(kept):
        if item.keyword in ("CMD", "ENTRYPOINT"):
            out.append(_start_text(item, lines, edit))
        elif item.keyword == "RUN" and not item.json:
            step = steps.get(id(item))
            later = [steps[id(i)] for i in kept[position + 1 :] if id(i) in steps]
            text = _raw(item, lines)
            if step is not None:
                text = _apt_lists_where_read(text, step, lists_fetched, later, edit)
                lists_fetched = lists_fetched or any(fetches_apt_lists(c) for c in step.commands)
            text = _runtime_run(item, text, edit, out) if text else ""
            if text and step is not None:
                read_later = any(reads_apk_index(c) for s in later for c in s.commands)
                text = _apk_without_cache(text, step, edit, read_later)
            out.append(text)
        else:
            out.append(replaced.get(id(item)) or _raw(item, lines))
    return [x for x in out if x]


def _words(command: str) -> list[str]:
    """A RUN's words as the shell splits them, or on whitespace where it would not (a quote
    left open: the build fails there, but fix must not; an apostrophe inside a word)."""
    if "'" in command:
        return command.split()
    try:
        return shlex.split(command, comments=False, posix=True)
    except ValueError:
        return command.split()


def _apt_lists_where_read(
    text: str, step: RunStep, fetched_before: bool, later: Sequence[RunStep], edit: _Edit
) -> str:
    """The RUN with apt's lists fetched in the RUN that reads them: fix removes them at the end
    of each RUN that fetches them (lint's apt-lists-left: a later RUN's removal would leave them
    in this layer), so a RUN that reads them (`apt-get install`) after an earlier RUN fetched them
    fetches them itself, and a RUN whose `apt-get update` only a later RUN read loses it."""
    if fetched_before and _reads_apt_lists_first(step.commands):
        edit.notes.append(
            f"line {step.line}: `apt-get update` first: the lists an earlier RUN fetched are gone"
        )
        return run_first(text, "apt-get update")
    fetches = [i for i, c in enumerate(step.commands) if fetches_apt_lists(c)]
    if not fetches or not any(_reads_apt_lists_first(s.commands) for s in later):
        return text
    if _reads_apt_lists_first(step.commands[fetches[0] + 1 :]):
        return text  # it reads them itself
    updates = list(_APT_UPDATE.finditer(text))
    dropped = _without_commands(text, updates, bool(step.instruction.heredocs), last=True)
    if dropped is None:
        return text
    edit.notes.append(
        f"line {step.line}: `apt-get update` goes to the RUN that installs, which deletes the lists after it"
    )
    return "" if _RUN_START.search(dropped.rstrip()) else dropped


def _reads_apt_lists_first(commands: Sequence[Command]) -> bool:
    """Some command reads apt's lists before any of them fetches them."""
    for command in commands:
        if fetches_apt_lists(command):
            return False
        if reads_apt_lists(command):
            return True
    return False


def _runtime_run(item: Instruction, text: str, edit: _Edit, so_far: list[str]) -> str:
    """A RUN that stays in the runtime stage (`text`, as fix has it so far), without the size
    mistakes lint would flag."""
    words = _words(" ".join(item.args))
    targets = [w for w in words[1:] if not w.startswith("-")] if words[:1] == ["rm"] else []
    if targets and all(_cache_path(t) for t in targets):
        edit.notes.append(
            f"line {item.start_line}: `RUN rm` of build caches dropped: the runtime stage has none"
        )
        return ""
    if words and words[0] == "rm" and so_far and so_far[-1].startswith("RUN "):
        # A delete-only RUN frees nothing: it joins the RUN before it.
        so_far[-1] = run_last(so_far[-1], " ".join(item.args))
        edit.notes.append(f"line {item.start_line}: the deletion joins the RUN before it")
        return ""
    text = _without_pipenv_shell(text, item, edit)
    if not text:
        return ""
    text = _TOOL_RUN.sub("", text)
    line = item.start_line
    pip = r"(?<![\w-])(pip3?|-m pip)\s+install(?!\s+--no-cache-dir)"
    if re.search(pip, text) and not edit.ignored("pip-cache-in-layer", line, "adding --no-cache-dir"):
        text = re.sub(pip, r"\1 install --no-cache-dir", text)
    if (
        re.search(r"\bapt(?:-get)?\s+update\b", text)
        and "/var/lib/apt/lists" not in text
        and not edit.ignored("apt-lists-left", line, "removing apt's lists")
    ):
        text = run_last(text, "rm -rf /var/lib/apt/lists/*")
    if (
        re.search(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b", text)
        and "--no-install-recommends" not in text
        and not edit.ignored("apt-recommends", line, "adding --no-install-recommends")
    ):
        text = re.sub(r"\b(apt(?:-get)?\s+(?:-\S+\s+)*install)\b", r"\1 --no-install-recommends", text)
    return text


_PIPENV_SHELL = re.compile(r"(?<![\w/.-])pipenv(?:[ \t]|\\\n)+shell(?![\w.-])")


def _without_pipenv_shell(text: str, item: Instruction, edit: _Edit) -> str:
    """The RUN without `pipenv shell`, which starts an interactive shell: in a build it has no
    terminal and does nothing, and the runtime has no Pipenv to run it. A RUN of nothing else
    goes (""); one it is not a plain member of the list of (a test's branch, a pipeline) runs
    `true` there instead."""
    found = list(_PIPENV_SHELL.finditer(text))
    if not found:
        return text
    heredoc = bool(item.heredocs)
    for match in reversed(found):
        end = _command_end(text, match.end())
        removed = _without_command(text, match.start(), end, heredoc, last=True)
        text = removed if removed is not None else text[: match.start()] + "true" + text[end:]
    edit.notes.append(
        f"line {item.start_line}: `pipenv shell` dropped (an interactive shell: a build has no terminal "
        "for it, and the runtime has no Pipenv)"
    )
    return "" if _RUN_START.search(text.rstrip()) else text


# `apk [options] APPLET`, the applet one that refreshes the indexes: words up to it never cross
# a command's end (`;`, `&`, `|`, a line not continued).
_APK_SPACE = r"(?:[ \t]|\\\n)+"
_APK_APPLETS = r"(?:add|upgrade|fix|update)(?![\w.-])"
_APK_HEAD = re.compile(
    rf"(?<![\w.-])apk(?:{_APK_SPACE}(?!{_APK_APPLETS})[^\s;&|]+)*?{_APK_SPACE}(?P<applet>{_APK_APPLETS})"
)
# What may stand between a RUN's start (its flags) or a `&&`/`;` and the command after it.
_RUN_START = re.compile(r"(?:^|\n)[ \t]*RUN(?:[ \t]+--\S+)*\Z", re.I)
_LIST_JOIN = re.compile(r"(?:&&|;)\Z")
_LIST_JOIN_BEFORE = re.compile(r"(?:[ \t]|\\\n)*(?:&&|;)(?:[ \t]|\\\n)*\Z")
_APK_SPACES = re.compile(_APK_SPACE)


def _apk_without_cache(text: str, step: RunStep, edit: _Edit, read_later: bool) -> str:
    """The RUN without apk's cache in its layer (lint's apk-cache-left): `--no-cache` after every
    `apk add`/`upgrade`/`fix`, which then fetch fresh indexes themselves. An `apk update` is
    dropped when nothing reads the indexes it writes any more (no `apk search`, `apk info`, ...
    after it in the stage, and it runs under no test), else its cache is removed at the end of
    the RUN."""
    left = [c for c in step.commands if apk_cache_kept(step, c) is not None]
    if not left or edit.ignored("apk-cache-left", step.line, "keeping apk's cache out of the layer"):
        return text

    def no_cache(match: re.Match[str]) -> str:
        command = text[match.start() : _command_end(text, match.end())]
        if match["applet"] == "update" or "--no-cache" in command.split():
            return match.group(0)
        return f"{match.group(0)} --no-cache"

    text = _APK_HEAD.sub(no_cache, text)
    if any(apk_applet(c) != "update" for c in left):
        edit.notes.append(f"line {step.line}: apk fetches its index on the fly and keeps none (--no-cache)")
    updates = [c for c in left if apk_applet(c) == "update"]
    if not updates:
        return text
    first = next(i for i, c in enumerate(step.commands) if c is updates[0])
    needed = (
        read_later
        or any(c.conditional for c in updates)
        or any(reads_apk_index(c) for c in step.commands[first + 1 :])
    )
    dropped_note = f"line {step.line}: `apk update` dropped: every apk command after it fetches its own index"
    if not needed and all(apk_applet(c) == "update" for c in step.commands):
        edit.notes.append(dropped_note)
        return ""
    heredoc = bool(step.instruction.heredocs)
    dropped = None if needed else _without_apk_updates(text, heredoc)
    if dropped is not None:
        edit.notes.append(dropped_note)
        return dropped
    removal = "rm -rf " + " ".join(dict.fromkeys(f"{apk_cache_kept(step, c)}/*" for c in updates))
    edit.notes.append(f"line {step.line}: apk's cache deleted in the RUN that fills it")
    return run_last(text, removal)


def _without_apk_updates(text: str, heredoc: bool) -> str | None:
    """The text without its `apk update` commands."""
    return _without_commands(text, [m for m in _APK_HEAD.finditer(text) if m["applet"] == "update"], heredoc)


# `apt-get [options] update` (apt's too): the options never cross a command's end.
_APT_UPDATE = re.compile(rf"(?<![\w./-])apt(?:-get)?(?:{_APK_SPACE}-[^\s;&|]+)*{_APK_SPACE}update(?![\w.-])")


def _without_commands(
    text: str, heads: Sequence[re.Match[str]], heredoc: bool, last: bool = False
) -> str | None:
    """The text without the commands that start with `heads` (their options only after them),
    each with the `&&`/`;` after it (a heredoc script's line end); None when one of them is not a
    plain member of the RUN's list (in a test's branch, a pipeline, or the last command unless
    `last`)."""
    for match in reversed(heads):
        end = _command_end(text, match.end())
        options = text[match.end() : end].replace("\\\n", " ").split()
        removed = (
            _without_command(text, match.start(), end, heredoc, last)
            if all(o.startswith("-") for o in options)
            else None
        )
        if removed is None:
            return None
        text = removed
    return text


def _without_command(text: str, start: int, end: int, heredoc: bool, last: bool = False) -> str | None:
    """The RUN's text without the command at `start:end` and the `&&`/`;` (a heredoc script's
    line end) after it; with `last`, a last command goes with the `&&`/`;` before it. None when
    the command is not a plain member of the RUN's list (in a test's branch, a pipeline, or the
    last command without `last`); the RUN's head alone when it was the only command."""
    before = text[:start].replace("\\\n", " ").rstrip(" \t")
    connector = next((len(c) for c in ("&&", ";", "\n") if text.startswith(c, end)), 0)
    line_start = heredoc and before.endswith("\n")
    if not (line_start or _LIST_JOIN.search(before.rstrip()) or _RUN_START.search(before.rstrip())):
        return None
    if not connector:
        if not last or text[end:].strip():
            return None
        joint = _LIST_JOIN_BEFORE.search(text[:start])
        return text[: joint.start()] if joint is not None else text[:start]  # no list left: `RUN`
    if text.startswith("\n", end) and not line_start:
        return None
    spaces = _APK_SPACES.match(text, end + connector)
    return text[:start] + text[spaces.end() if spaces else end + connector :]


_LIST_END = re.compile(r"(?<![\\;]);\Z")  # `a; b;` (not `find -exec ... \;`, not `;;`)


def run_last(text: str, command: str) -> str:
    """`text`, a RUN as written, with `command` run after everything it runs (the clean-ups fix
    adds for apt, apk and the tools' caches). A heredoc script (`RUN <<EOF`, `RUN <<-EOF`,
    `RUN bash <<'EOF'`) gets it as its last line, before the terminator, indented as the script
    is (text after the terminator would start another instruction); a RUN whose heredoc is a
    document its command line reads (`cat <<EOF > file && ...`) at the end of that command
    line; any other RUN on a continuation line."""
    heredoc = _heredoc_run(text)
    if heredoc is None:
        return _then(text.rstrip(), command, continued=True)
    lines = text.rstrip("\n").split("\n")
    if _script_heredoc(heredoc):
        script = heredoc.heredocs[0].splitlines() or [""]
        indent = re.match(r"[ \t]*", script[-1])
        line = (indent.group(0) if indent else "") + command
        return "\n".join([*lines[:-1], line, lines[-1]])
    # Each document takes its lines and its terminator's: the command line ends before them.
    command_line = len(lines) - sum(len(body.splitlines()) + 1 for body in heredoc.heredocs) - 1
    if not 0 <= command_line < len(lines):
        return text
    lines[command_line] = _then(lines[command_line].rstrip(), command, continued=False)
    return "\n".join(lines)


def _script_heredoc(run: Instruction) -> bool:
    """The RUN's one heredoc is its script (what build.py reads as its commands)."""
    return len(run.heredocs) == 1 and heredoc_script(run) is not None


def run_first(text: str, command: str) -> str:
    """`text`, a RUN as written, with `command` run before everything it runs: after the RUN's
    flags, or as the first line of its heredoc script."""
    heredoc = _heredoc_run(text)
    head = re.search(r"^([ \t]*RUN(?:[ \t]+--\S+)*)[ \t]+", text, re.I | re.M)
    if head is None:
        return text
    if heredoc is not None and _script_heredoc(heredoc) and text[head.end() :].startswith("<<"):
        line_end = text.index("\n", head.end())
        return f"{text[: line_end + 1]}{command}\n{text[line_end + 1 :]}"
    return f"{text[: head.end()]}{command} && {text[head.end() :]}"


def _then(line: str, command: str, continued: bool) -> str:
    """`command` after a shell line (on a continuation line of its own when `continued`): with
    `&&` unless the line ends its list with `;` already."""
    joint = " \\\n    " if continued else " "
    return line + joint + ("" if _LIST_END.search(line) else "&& ") + command


def _read_back(text: str) -> Instruction | None:
    """The one instruction `text` holds, as BuildKit's parser reads it; None when it reads
    none, more than one, or fails."""
    try:
        parsed = parse_dockerfile(f"FROM scratch\n{text}\n")
    except DockerfileError:
        return None
    return parsed.instructions[1] if len(parsed.instructions) == 2 else None


def _heredoc_run(text: str) -> Instruction | None:
    """The RUN in `text` when it has heredocs."""
    run = _read_back(text)
    return run if run is not None and run.keyword == "RUN" and run.heredocs else None


_CACHE_VARIABLES = tuple(var for fmt in FIXABLE.values() for spec in fmt.caches for var in spec.env_vars)
_CACHE_PATHS = (
    "/root/.cache",
    "~/.cache",
    *(f"${var}" for var in _CACHE_VARIABLES),
    *(f"${{{var}}}" for var in _CACHE_VARIABLES),
    *(f"/tmp/{name}" for name in FIXABLE),
)


def _cache_path(path: str) -> bool:
    return path.startswith(_CACHE_PATHS)


def _start_text(item: Instruction, lines: list[str], edit: _Edit) -> str:
    if item.keyword not in ("CMD", "ENTRYPOINT"):
        return _raw(item, lines)
    words = _exec_words(item, edit)
    if words is None:
        # Shell form: every command of the list may start with the tool's `run`
        # (`alembic upgrade head && poetry run uvicorn ...`).
        parts = re.split(r"(&&|\|\||;)", " ".join(item.args))
        for index in range(0, len(parts), 2):
            part_words = parts[index].split()
            prefix = tool_run_prefix(part_words)
            if prefix:
                edit.notes.append(
                    f"line {item.start_line}: `{' '.join(part_words[:2])}` dropped (the venv is on PATH)"
                )
                rest = re.sub(r"^(\s*)(?:\S+\s+)" + f"{{{prefix}}}", r"\1", parts[index])
                python = " ".join(_python_for(part_words, prefix))
                parts[index] = re.sub(r"^(\s*)", rf"\g<1>{python} ", rest) if python else rest
        command = "".join(parts).strip()
        return f"{item.keyword} {command}" if command != " ".join(item.args).strip() else _raw(item, lines)
    if item.keyword == "ENTRYPOINT" and _bare_tool_run(words):
        edit.notes.append(
            f"ENTRYPOINT: `{' '.join(words)}` dropped (the runtime stage has no {BY_NAME[words[0]].label}; "
            "the venv is on PATH, so the command runs as it is)"
        )
        return "ENTRYPOINT []"
    return f"{item.keyword} {json.dumps(_without_tool_run(words, edit, item.keyword))}"


def _bare_tool_run(words: list[str]) -> bool:
    """`ENTRYPOINT ["pdm", "run"]`: the tool's `run` in front of whatever command is given."""
    return (
        len(words) >= 2
        and words[0] in FIXABLE
        and words[1] == "run"
        and all(w.startswith("-") for w in words[2:])
    )


def _script(words: list[str], prefix: int) -> bool:
    """`uv run app.py` (and PDM's): the tool runs a script file with the project's Python; once
    the tool is gone, `python` must."""
    return words[0] in ("uv", "pdm") and prefix < len(words) and words[prefix].endswith(".py")


def _python_for(words: list[str], prefix: int) -> list[str]:
    """What runs the command once its `TOOL run [options]` prefix is gone: `python -m` for `uv
    run -m pkg` (uv's --module), `python` for a script file, nothing for a program."""
    if words[0] == "uv" and any(w in ("-m", "--module") for w in words[2:prefix]):
        return ["python", "-m"]
    return ["python"] if _script(words, prefix) else []


def _exec_words(item: Instruction, edit: _Edit) -> list[str] | None:
    if item.json:
        return list(item.args)
    raw = " ".join(item.args).strip()
    if raw.startswith("[") and raw.endswith("]"):
        try:
            words = json.loads(raw.replace("'", '"'))
        except ValueError:
            return None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            edit.notes.append(
                f"line {item.start_line}: exec form written as JSON (it was not: /bin/sh ran it)"
            )
            return words
    return None


def tool_run_prefix(words: list[str]) -> int:
    """How many leading words are `poetry run`, `uv run [options]`, `pdm run`, `pipenv run`."""
    return max(
        (fmt.image_install.run_prefix(words) for fmt in FIXABLE.values() if fmt.image_install), default=0
    )


def without_tool_run(words: list[str]) -> list[str]:
    """A start command as the runtime, which has the venv on PATH and no tool, runs it."""
    prefix = tool_run_prefix(words)
    return [*_python_for(words, prefix), *words[prefix:]] if prefix else words


def _without_tool_run(words: list[str], edit: _Edit, keyword: str) -> list[str]:
    prefix = tool_run_prefix(words)
    if prefix:
        edit.notes.append(
            f"{keyword}: `{' '.join(words[:prefix])}` dropped (the runtime stage has no "
            f"{BY_NAME[words[0]].label}; the venv is on PATH)"
        )
        return [*_python_for(words, prefix), *words[prefix:]]
    return words


# --- other stages and shared pieces --------------------------------------------------------------


def _stage_text(
    build: Build,
    stage: StageModel,
    lines: list[str],
    edit: _Edit,
    today: dt.date,
    runtime: bool,
    renamed: Mapping[int, str] = {},
) -> str:
    """A stage kept as it is; one that ships gets the runtime edits (no `poetry run`, no caches).
    `renamed`: the runtime's own copies of stages the builder is built on, by their index (the
    stage itself when it is one of them)."""
    name = renamed.get(stage.index, stage.name)
    header = _from_line(
        build, stage, name, today, edit, slim=runtime and stage.parent is None, lines=lines, renamed=renamed
    )
    if not runtime:
        return "\n".join([header, *(_raw(i, lines) for i in stage.instructions)])
    kept = [i for i in stage.instructions if not _copies_tool(i, stage)]
    kept, replaced = _stage_handovers(build, stage, kept, lines, edit)
    # No WORKDIR is added, even where lint says the stage lacks one: the directory a stage
    # starts in is where its start command finds the code (`gunicorn pkg.app:app` from /).
    body = _runtime_instructions(kept, lines, edit, stage.runs, replaced)
    return "\n".join([header, *body])


def _stage_handovers(
    build: Build, stage: StageModel, kept: list[Instruction], lines: list[str], edit: _Edit
) -> tuple[list[Instruction], dict[int, str]]:
    """In a stage that ships as it is: each `COPY ...` + `RUN [useradd ... &&] chown -R U <what
    those COPYs wrote>` becomes `RUN useradd ...` + `COPY --chown=U ...` (see `_handover`)."""
    replaced: dict[int, str] = {}
    dropped: set[int] = set()
    earlier = [
        _raw(i, lines)
        for s in _ancestry(build, stage, include_self=False)
        for i in build.stages[s].instructions
    ]
    for index, item in enumerate(kept):
        if item.keyword != "RUN":
            continue
        start = index
        while start > 0 and kept[start - 1].keyword != "RUN":
            start -= 1
        block = kept[start:index]
        first = next((i for i, c in enumerate(block) if c.keyword in ("COPY", "ADD")), None)
        step = _step(build, item)
        if first is None or step is None:
            continue
        span = block[first:]
        carried = [*earlier, *(_raw(i, lines) for i in kept[: start + first])]
        at = stage.state_before(span[0])
        handed = _handover(build, stage, item, span, at.workdir, at.user, [], carried, lines, edit)
        if handed is None:
            continue
        dropped.add(id(item))
        replaced.update(handed.copies)
        if handed.setup:
            replaced[id(span[0])] = f"{handed.setup}\n{handed.copies[id(span[0])]}"
    return [i for i in kept if id(i) not in dropped], replaced


def _copies_tool(item: Instruction, stage: StageModel) -> bool:
    if item.keyword != "COPY" or not any(f.startswith("--from=") for f in item.flags):
        return False
    return any(t.line == item.start_line and t.name in PYTHON_TOOLS for t in stage.end.tools)


def _comments_above(line: int, lines: list[str]) -> list[str]:
    start = line - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#") and not _is_directive(lines, start - 1):
        start -= 1
    return lines[start : line - 1]


def _from_line(
    build: Build,
    stage: StageModel,
    name: str | None,
    today: dt.date,
    edit: _Edit,
    slim: bool = False,
    lines: list[str] | None = None,
    renamed: Mapping[int, str] = {},
) -> str:
    def change(base: str, said: _Edit) -> str:
        if stage.parent is not None:
            return base
        supported = _supported(base, today, said, stage.from_line)
        return _slim(supported, said, stage.from_line) if slim else supported

    parent = renamed.get(stage.parent) if stage.parent is not None else None
    base = parent or _written_base(build, stage, change, edit)
    comments = _comments_above(stage.from_line, lines) if lines else []
    return "\n".join([*comments, f"FROM {base}" + (f" AS {name}" if name else "")])


_ARG_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _written_base(build: Build, stage: StageModel, change: Callable[[str, _Edit], str], edit: _Edit) -> str:
    """The image a FROM of the fixed file names: `change` (a supported Debian, the slim
    variant) of the one `stage` starts from. A FROM that names it through the global ARGs
    (`FROM python:${PY}`, `FROM ${BASE_IMAGE}`) keeps naming it so, for the file to take the
    same build args: changed where it is written when the change reads there too
    (`python:${PY}-slim`), else as written, said in a note."""
    written = build.parsed.stages[stage.index].base
    if "$" not in written or expand(written, build.global_args) != stage.base:
        return change(stage.base, edit)
    said = edit.scratch()
    changed = change(stage.base, said)
    rewritten = change(written, edit.scratch())
    unset = sorted({v for v in _ARG_NAME.findall(written) if not build.global_args.get(v)})
    if unset:
        edit.notes.append(
            f"line {stage.from_line}: FROM {written} kept: {', '.join(unset)} has no default, the build "
            "passes the image (imgaudit fix cannot name its slim variant)"
        )
        return written
    if changed == stage.base or expand(rewritten, build.global_args) == changed:
        edit.notes.extend(said.notes)
        return written if changed == stage.base else rewritten
    edit.notes.append(
        f"line {stage.from_line}: FROM {written} kept, for the build args to choose the image; "
        f"imgaudit fix would use {changed} for {stage.base}"
    )
    return written


def _supported(base: str, today: dt.date, edit: _Edit, line: int) -> str:
    codename = end_of_life_codename(base, today)
    for ended in end_of_life(base, today):
        # The project's Python is its own choice (requires-python, the lock), and a Debian named
        # by number (`debian:10.13`) may name its packages otherwise in a later release: said.
        python = ended.what.startswith("Python")
        note = f"{ended.what} is end-of-life (since {ended.ended}); kept: choose a supported " + (
            "Python" if python else "release"
        )
        if (python or codename is None) and note not in edit.notes:
            edit.notes.append(note)
    if codename is None or edit.ignored("end-of-life-base", line, f"moving {base} off Debian {codename}"):
        return base
    official = OFFICIAL_PYTHON.match(base)
    version = re.match(r"^\d+(?:\.\d+)*", official["tag"] or "") if official else None
    if version and not _built_on_bookworm(_version_tuple(version[0])):
        # `python:3.7.7-stretch` was built only on the Debian of its day: no such tag on bookworm.
        edit.notes.append(
            f"{base}: Debian {codename} is end-of-life; kept: python:{version[0]} has no {CURRENT_DEBIAN} image"
        )
        return base
    edit.notes.append(f"{base}: Debian {codename} is end-of-life; using {CURRENT_DEBIAN}")
    return base.replace(codename, CURRENT_DEBIAN)


def _built_on_bookworm(version: tuple[int, ...]) -> bool:
    """The official image has a bookworm tag of this Python (`3.11`, `3.11.4`; a bare `3` has one)."""
    minor = version[:2]
    if len(minor) < 2:
        return minor >= _ALL_ON_BOOKWORM[:1]
    if minor >= _ALL_ON_BOOKWORM:
        return True
    first = _FIRST_ON_BOOKWORM.get(minor)
    return first is not None and (len(version) < 3 or version[2] >= first)


def _slim(base: str, edit: _Edit, line: int) -> str:
    """The official image's slim variant of the same Python and Debian release; any other base
    is kept (imgaudit cannot know its slim sibling), and so is one whose FROM (at `line`) says
    to ignore fat-base-image."""
    match = OFFICIAL_PYTHON.match(base)
    if match is None:
        return base
    tag = match["tag"] or "latest"
    if "slim" in tag or "alpine" in tag or "windows" in tag:
        return base
    if edit.ignored("fat-base-image", line, f"giving the runtime the slim variant of {base}"):
        return base
    if tag == "latest":
        slim = "slim"
    elif re.match(r"^[a-z]+$", tag):  # python:bookworm
        slim = f"slim-{tag}"
    else:
        version, _, codename = tag.partition("-")
        slim = f"{version}-slim" + (f"-{codename}" if codename else "")
    result = f"{match['repo']}:{slim}"
    edit.notes.append(f"runtime base {result}: the full image's compilers and headers stay in the builder")
    return result


_TOOL_SETTINGS = tuple(f"{name.upper()}_" for name in FIXABLE)  # POETRY_, UV_, PDM_, PIPENV_


def _env_text(
    item: Instruction, lines: list[str], edit: _Edit, drop: frozenset[str], tool_settings: bool = False
) -> str:
    """The ENV without `drop`, and without the tools' settings when it goes to a runtime."""
    pairs = [(item.args[i], item.args[i + 1]) for i in range(0, len(item.args) - 1, 2)]
    kept = [
        (n, v) for n, v in pairs if n not in drop and not (tool_settings and n.startswith(_TOOL_SETTINGS))
    ]
    if len(kept) == len(pairs):
        return _raw(item, lines)
    if not kept:
        return ""
    text = _env(kept)
    written = _read_back(text)
    if written is None or written.args != tuple(v for pair in kept for v in pair):
        # A value fix cannot write back as it was read (a quote left open): the ENV as written.
        return _raw(item, lines)
    return text


def _env(pairs: Iterable[tuple[str, str]]) -> str:
    rendered = [f"{name}={_quoted(value)}" for name, value in pairs]
    return "ENV " + " \\\n    ".join(rendered)


def _quoted(value: str) -> str:
    if value.startswith('"') and value.endswith('"'):
        return value
    return f'"{value}"' if (" " in value or not value) else value


def _raw(item: Instruction, lines: list[str]) -> str:
    """The instruction as the user wrote it, continuation lines and the comment lines right
    above it included."""
    start = item.start_line - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#") and not _is_directive(lines, start - 1):
        start -= 1
    return "\n".join(lines[start : item.end_line])


def _is_directive(lines: list[str], index: int) -> bool:
    """`# syntax=...` / `# escape=...` at the top of the file belong to the file, not a line."""
    return all(line.lstrip().startswith("#") for line in lines[: index + 1]) and "=" in lines[index]


def _step(build: Build, item: Instruction) -> RunStep | None:
    return next((s for stage in build.stages for s in stage.runs if s.instruction is item), None)


def _check_references(text: str, path: str) -> None:
    """Every `COPY --from=NAME` and `FROM NAME` names a stage defined earlier (or an image)."""
    names: set[str] = set()
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        keyword = words[0].upper()
        if keyword == "FROM" and len(words) >= 4 and words[2].upper() == "AS":
            names.add(words[3].lower())
        elif keyword == "COPY":
            for word in words[1:]:
                if word.startswith("--from="):
                    reference = word.split("=", 1)[1].lower()
                    if _looks_like_stage(reference) and reference not in names:
                        raise DockerfileError(
                            f"internal error: the fixed Dockerfile copies from stage {reference!r} "
                            "before it is defined",
                            where=path,
                        )


def _looks_like_stage(reference: str) -> bool:
    return not any(c in reference for c in ":/.$@") and not reference.isdigit()
