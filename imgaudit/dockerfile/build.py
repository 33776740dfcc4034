"""A model of the whole build, read once from the parsed Dockerfile and the build context.

Stages and their parents (`FROM builder AS runtime` starts from everything `builder` left:
tools, caches, ENV, WORKDIR, USER), which stages reach the final image (the target's chain of
parents), what each `COPY --from` carries (copying `/usr/local` or `$POETRY_HOME` carries
Poetry), the effective ENV/ARG/WORKDIR/USER at each RUN, every RUN's shell parsed into
commands with variables expanded, its cache mounts, Poetry's settings from every place they
can come from, and the tools each stage holds. Rules (`lint.py`) only read this model.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from imgaudit.advise.facts import pip_requirements
from imgaudit.classify.context import APK_CACHE_ROOTS
from imgaudit.classify.os_packages import BUILD_ONLY
from imgaudit.classify.project import DEV_EXTRA
from imgaudit.dockerfile.parse import Instruction, ParsedDockerfile
from imgaudit.dockerfile.project import ContextProject
from imgaudit.dockerfile.shell import Command, Guard, Substitution, as_written, parse_shell

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# Python tools that are not the app: they ship only if a runtime stage gets them.
PYTHON_TOOLS = frozenset({"poetry", "pipenv", "pdm", "pipx", "uv"})
_TOOL_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[[^\]]*\])?(?:[<>=!~;@ ].*)?$")
# The official installer's URL, and the script saved under any of its names
# (`ADD https://install.python-poetry.org install_poetry.py` then `python install_poetry.py`).
_POETRY_INSTALLER = (
    "install.python-poetry.org",
    "install-poetry.py",
    "install_poetry.py",
    "get-poetry.py",
    "get_poetry.py",
)
_UV_INSTALLER = "astral.sh/uv"
# PDM's installer script (pdm-project.org/install-pdm.py, the repository's install-pdm.py).
_PDM_INSTALLER = "install-pdm.py"
# uv's images: GitHub's `ghcr.io/astral-sh/uv` and Docker Hub's `astral/uv` (the same builds).
UV_IMAGE_REPOSITORY = r"(?:ghcr\.io/astral-sh|(?:docker\.io/)?astral|astral-sh)/uv"
# uv's images with Python (`ghcr.io/astral-sh/uv:0.5-python3.12-bookworm-slim`) are built on
# the official Python image of the same version and distribution (`python:3.12-slim-bookworm`;
# without `-slim`, the full `python:3.12-bookworm`, compilers and headers included).
UV_PYTHON_IMAGE = re.compile(
    rf"^{UV_IMAGE_REPOSITORY}:(?:[\d.]+-)?python(?P<python>\d+\.\d+)-(?P<distro>[a-z]+[\d.]*)(?P<slim>-slim)?$"
)
_UV_IMAGE = re.compile(rf"^{UV_IMAGE_REPOSITORY}(?::|@|$)")

Manager = Literal["poetry", "pip", "uv", "pipenv", "pdm"]


def expand(text: str, env: Mapping[str, str]) -> str:
    """`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}` from the build's ENV and ARG."""

    def value(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        current = env.get(name)
        op = match["op"]
        if op is None:
            return current or ""
        if op.endswith("-"):
            unset = current is None or (op == ":-" and not current)
            return expand(match["word"], env) if unset else (current or "")
        return expand(match["word"], env) if current else ""

    return _VARIABLE.sub(value, text)


def flag(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().strip("\"'").lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def normalise(path: str, workdir: str = "/") -> str:
    path = path.strip().strip("\"'")
    if path.startswith("~"):
        path = "/root" + path[1:]
    if not path.startswith("/"):
        path = f"{workdir.rstrip('/')}/{path}"
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def overlaps(a: str, b: str) -> bool:
    """One path is the other or holds it (globs in either match a whole component)."""
    left, right = a.strip("/").split("/"), b.strip("/").split("/")
    if left == [""] or right == [""]:
        return True
    return all(
        fnmatch.fnmatchcase(x, y) or fnmatch.fnmatchcase(y, x) for x, y in zip(left, right, strict=False)
    )


# BuildKit mounts whose target's writes never reach the layer (a secret or ssh mount is one
# file or socket, not a directory a tool writes its cache into).
_MOUNTS_KEPT_OUT = frozenset({"cache", "tmpfs", "bind"})


def holds(outer: str, inner: str) -> bool:
    """`outer` is `inner` or a directory above it (globs in `outer` match a whole component)."""
    left, right = outer.strip("/").split("/"), inner.strip("/").split("/")
    if left == [""]:
        return True
    return len(left) <= len(right) and all(
        fnmatch.fnmatchcase(y, x) for x, y in zip(left, right, strict=False)
    )


@dataclass(frozen=True, slots=True)
class Mount:
    kind: str  # cache, bind, secret, ...
    target: str

    @staticmethod
    def parse(flag_text: str, workdir: str, env: Mapping[str, str] = {}) -> Mount | None:
        """`--mount=type=cache,target=$POETRY_CACHE_DIR`: BuildKit expands ARG and ENV here."""
        if not flag_text.startswith("--mount="):
            return None
        options = dict(item.partition("=")[::2] for item in flag_text[len("--mount=") :].split(",") if item)
        target = options.get("target") or options.get("dst") or options.get("destination")
        if not target:
            return None
        return Mount(options.get("type", "bind"), normalise(expand(target, env), workdir))


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool installed in the build that is not the app (Poetry, uv, ...)."""

    name: str
    line: int  # the instruction that installed it (or copied it into this stage)
    locations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Venv:
    """A virtual environment the build made (or copied in) so far."""

    path: str
    with_pip: bool  # its bin/ holds pip (`python -m venv`, virtualenv), not uv's or PDM's


@dataclass(frozen=True, slots=True)
class PoetrySettings:
    create: bool = True
    in_project: bool = False


@dataclass(frozen=True, slots=True)
class State:
    """What a stage holds at one point of its instructions (inherited from its parent)."""

    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    # Settings written by `poetry config`/`pdm config` in a RUN or a committed poetry.toml.
    tool_config: Mapping[str, bool] = field(default_factory=dict)
    apt_without_recommends: bool = False  # an apt.conf.d file says so
    apk_without_cache: bool = False  # /etc/apk/config says `no-cache` (apk-tools 3's global options)
    tools: tuple[Tool, ...] = ()
    build_packages: tuple[tuple[str, int], ...] = ()  # (package, line) of compilers/headers
    # apk's virtual packages (`apk add --virtual .build-deps gcc`): name -> what it installed.
    apk_virtual: tuple[tuple[str, tuple[str, ...]], ...] = ()
    copied: tuple[str, ...] = ()  # build-context sources COPYed so far
    # Where an ADD saved a tool's official installer (`ADD https://astral.sh/uv/install.sh
    # /uv-installer.sh`): (path, tool), so that `sh /uv-installer.sh` installs that tool.
    installer_scripts: tuple[tuple[str, str], ...] = ()
    # Where COPYs put the project's file (pyproject.toml, Pipfile), by name or with the whole
    # context: the tools find it from WORKDIR upwards and keep an in-project venv beside it.
    # (directory, named): `named` when the COPY names the file, not when it copies the whole context.
    project_files_at: tuple[tuple[str, bool], ...] = ()
    # The same COPYs, with where their project file comes from in the build context:
    # (directory in the image, context directory, named). `COPY . /app` is (/app, "", False),
    # `COPY api/pyproject.toml ./` in /srv is (/srv, "api", True).
    project_sources: tuple[tuple[str, str, bool], ...] = ()
    # ARGs declared without a value that no build arg sets: empty in the shell of a plain
    # `docker build`, so a test on them is decided (`[ -n "$DEV" ]` does not hold).
    unset_args: frozenset[str] = frozenset()
    venvs: tuple[Venv, ...] = ()

    def shell_env(self) -> dict[str, str]:
        """The variables a RUN's shell sees, as far as the Dockerfile says."""
        return {**dict.fromkeys(self.unset_args, ""), **self.env}

    def poetry(self, assignments: Mapping[str, str] = {}) -> PoetrySettings:
        env = {**self.env, **assignments}
        create = flag(env.get("POETRY_VIRTUALENVS_CREATE"))
        in_project = flag(env.get("POETRY_VIRTUALENVS_IN_PROJECT"))
        return PoetrySettings(
            create=create if create is not None else self.tool_config.get("virtualenvs.create", True),
            in_project=in_project
            if in_project is not None
            else self.tool_config.get("virtualenvs.in-project", False),
        )

    def home(self) -> str:
        return "/root" if self.user in ("root", "0") else f"/home/{self.user.split(':')[0]}"

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    def project_dir(self) -> str:
        """The directory of the project file the tools find from WORKDIR (the nearest one at or
        above it), WORKDIR itself when no COPY says."""
        workdir = self.workdir.rstrip("/") or "/"
        # A whole-context copy into a directory above WORKDIR says nothing: the context's root
        # may not hold the project file, and one nearer WORKDIR would win.
        found = [
            d
            for d, named in self.project_files_at
            if d == workdir or (named and workdir.startswith(d.rstrip("/") + "/"))
        ]
        return max(found, key=len, default=workdir)

    def project_source(self, directory: str) -> str | None:
        """The build context's directory whose project file the tools find in `directory` (a
        project directory), as the last COPY that put one there says; None when no COPY did."""
        for at, source, named in reversed(self.project_sources):
            if named and at == directory:
                return source
            if not named and _holds(at, directory):
                return "/".join(p for p in (source, directory[len(at) :].strip("/")) if p)
        return None

    def venv(self, path: str) -> Venv | None:
        return next((v for v in self.venvs if v.path == path), None)

    def with_venv(self, venv: Venv) -> State:
        return replace(self, venvs=(*(v for v in self.venvs if v.path != venv.path), venv))

    def has_copied(self, filename: str) -> bool:
        """A COPY so far brought `filename` from the build context (by name, or the whole context)."""
        return any(_names_file(source, filename) for source in self.copied)


@dataclass(frozen=True, slots=True)
class Install:
    """One command that installs the project's dependencies."""

    manager: Manager
    command: Command
    target: str  # where the packages go (a venv, /usr/local, a --target directory)
    dev: bool  # it installs development dependencies too
    why: str  # how `dev` was decided
    # The project's directory as the tool found it from where it ran (a `cd` of the RUN
    # before it counts): where an in-project venv goes.
    project_dir: str = "/"


@dataclass(frozen=True, slots=True)
class RunStep:
    instruction: Instruction
    commands: tuple[Command, ...]  # variables expanded, words re-split like the shell would
    mounts: tuple[Mount, ...]
    state: State  # before this RUN
    parser: str
    installs: tuple[Install, ...] = ()
    # The shell tests and substitutions of this RUN that choose what runs, as written (decided
    # or not): `fix` leaves such a RUN to the user.
    choices: tuple[str, ...] = ()

    @property
    def line(self) -> int:
        return self.instruction.start_line

    def cache_mounted(self, path: str) -> bool:
        """A mount on `path` or a directory above it: what the RUN writes there stays out of the
        layer. A cache mount keeps it for the next build; a tmpfs or a bind mount (read-only, or
        `rw` with its writes discarded) keeps nothing, which is as good for the image. A mount
        on a part of it (`/root/.cache/pypoetry/cache`) leaves the rest (`artifacts/`) in."""
        return any(m.kind in _MOUNTS_KEPT_OUT and holds(m.target, path) for m in self.mounts)

    def directory(self, command: Command) -> str:
        """Where one of the RUN's commands runs: WORKDIR, moved by the `cd`s before it (`cd
        /tmp/src && rm -rf build`). A `cd` that may not run (under a test, a fallback), goes
        back (`cd -`) or to a path the build model cannot read leaves it unknown: WORKDIR then,
        as before any `cd` was read."""
        directory = self.state.workdir
        for earlier in self.commands:
            if earlier is command:
                break
            if earlier.name != "cd" or (earlier.isolated and not command.isolated):
                continue
            operands = [w for w in earlier.words[1:] if not w.startswith("-")]
            target = operands[0] if operands else "~"
            target = self.state.home() + target[1:] if target.split("/")[0] == "~" else target
            if earlier.conditional or target == "-" or "$" in target or "`" in target:
                return self.state.workdir
            directory = normalise(target, directory)
        return directory

    def removes(self, path: str, after: Command | None = None) -> bool:
        """A command of this RUN deletes `path` or a directory holding it; with `after` (one of
        the RUN's commands), one that runs after it whenever it runs: later, not a fallback
        (`A || rm`), under no test that `after` does not run under too."""
        commands = self.commands
        if after is not None:
            start = next(i for i, c in enumerate(commands) if c is after) + 1
            shared = set(after.guards)
            commands = tuple(c for c in commands[start:] if not c.branch and shared.issuperset(c.guards))
        for command in commands:
            if command.name == "rm":
                targets = [w for w in command.words[1:] if not w.startswith("-")]
                where = self.directory(command)
                if any(_holds(normalise(t.rstrip("*").rstrip("/") or "/", where), path) for t in targets):
                    return True
        return False


def _holds(directory: str, path: str) -> bool:
    directory = directory.rstrip("/")
    return path == directory or path.startswith(directory + "/")


@dataclass(frozen=True, slots=True)
class CopyFrom:
    instruction: Instruction
    source_stage: int | None  # None: an image, not a stage of this file
    image: str | None
    sources: tuple[str, ...]  # absolute paths in the source


@dataclass(frozen=True, slots=True)
class StageModel:
    index: int
    name: str | None
    base: str  # as resolved (ARG defaults applied)
    from_line: int
    parent: int | None  # the stage it is built FROM, if one of this file
    instructions: tuple[Instruction, ...]
    runs: tuple[RunStep, ...]
    copies: tuple[CopyFrom, ...]
    start: State
    end: State
    ships: bool  # its layers are in the final image (the target or a parent of it)
    # The state before each of `instructions` (its ENV, ARG, WORKDIR and USER so far).
    states: tuple[State, ...] = ()

    def state_before(self, item: Instruction) -> State:
        """What the stage holds where `item`, one of its instructions, runs."""
        return next(s for i, s in zip(self.instructions, self.states, strict=True) if i is item)


@dataclass(frozen=True, slots=True)
class Build:
    parsed: ParsedDockerfile
    stages: tuple[StageModel, ...]
    target: int
    project: ContextProject
    # The ARGs declared before the first FROM, with their values (FROM lines read them, and a
    # stage's `ARG NAME` takes its default from them).
    global_args: Mapping[str, str] = field(default_factory=dict)

    @property
    def final(self) -> StageModel:
        return self.stages[self.target]

    def root(self, stage: StageModel) -> StageModel:
        """The stage of a chain that starts from an image (FROM python:..., not FROM builder)."""
        while stage.parent is not None:
            stage = self.stages[stage.parent]
        return stage

    def carried(self, stage: StageModel, path: str) -> CopyFrom | None:
        """A `COPY --from` into a shipping stage that takes `path` out of `stage` (or a
        stage built from it)."""
        family = {stage.index} | {s.index for s in self.stages if self._descends(s, stage.index)}
        for other in self.stages:
            if not other.ships:
                continue
            for copy in other.copies:
                if copy.source_stage in family and any(overlaps(s, path) for s in copy.sources):
                    return copy
        return None

    def copied_from(self, stage: StageModel) -> bool:
        """A shipping stage copies something out of `stage` or a stage built from it."""
        family = {stage.index} | {s.index for s in self.stages if self._descends(s, stage.index)}
        return any(c.source_stage in family for s in self.stages if s.ships for c in s.copies)

    def _descends(self, stage: StageModel, ancestor: int) -> bool:
        while stage.parent is not None:
            if stage.parent == ancestor:
                return True
            stage = self.stages[stage.parent]
        return False


def read_build(
    parsed: ParsedDockerfile,
    project: ContextProject,
    target: str | None = None,
    build_args: Mapping[str, str] = {},
) -> Build:
    """`build_args`: the `--build-arg`s of the build (they set the ARGs that declare them)."""
    global_args: dict[str, str] = {}
    for item in parsed.instructions:
        if item.keyword == "FROM":
            break
        if item.keyword == "ARG":
            for word in item.args:
                name, _, default = word.partition("=")
                if name in build_args:
                    global_args[name] = build_args[name]
                elif default or name not in global_args:
                    global_args[name] = _unquote(default)
    names: dict[str, int] = {}
    models: list[StageModel] = []
    for index, stage in enumerate(parsed.stages):
        base = expand(stage.base, global_args)
        parent = names.get(base.lower())
        if (
            parent is None
            and (chosen := _stage_named_by_build_arg(stage.base, global_args, names)) is not None
        ):
            base, parent = chosen
        start = (
            models[parent].end
            if parent is not None
            else State(tools=_base_image_tools(base, stage.from_line))
        )
        models.append(_read_stage(index, stage.name, base, stage.from_line, parent, stage.instructions,
                                  start, global_args, names, models, project, build_args))  # fmt: skip
        if stage.name:
            names[stage.name.lower()] = index
    target_index = len(models) - 1
    if target is not None:
        if target.lower() not in names:
            from imgaudit.dockerfile.parse import DockerfileError

            raise DockerfileError(f"no stage named {target!r}", where=parsed.path)
        target_index = names[target.lower()]
    chain = {target_index}
    cursor = models[target_index] if models else None
    while cursor is not None and cursor.parent is not None:
        chain.add(cursor.parent)
        cursor = models[cursor.parent]
    stages = tuple(replace(m, ships=m.index in chain) for m in models)
    return Build(parsed, stages, target_index, project, global_args)


def copied_project_dirs(parsed: ParsedDockerfile) -> list[str]:
    """The context sub-directories that may hold the project the Dockerfile builds, for one
    that does not sit at the context's root: those whose pyproject.toml it copies (`COPY
    ./src/pyproject.toml /src/`) first, then the directories it copies whole (`COPY backend .`)."""
    named: list[str] = []
    whole: list[str] = []
    for item in parsed.instructions:
        if item.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in item.flags):
            continue
        for source in item.args[:-1]:
            parts = [p for p in source.strip("\"'").split("/") if p not in ("", ".")]
            if (
                not parts
                or ".." in parts
                or "$" in source
                or "://" in source
                or any(c in source for c in "*?[")
            ):
                continue
            if parts[-1] == "pyproject.toml":
                if len(parts) >= 2:
                    named.append("/".join(parts[:-1]))
            else:
                whole.append("/".join(parts))
    return list(dict.fromkeys([*named, *whole]))


def _stage_named_by_build_arg(
    raw: str, global_args: Mapping[str, str], names: Mapping[str, int]
) -> tuple[str, int] | None:
    """`FROM build-${RUN_AS}` with no default for RUN_AS: the build must pass one, and it names
    one of this file's stages. The audit is about the image that ships, so the production-like
    candidate (a name with `prod`) is read, else the first one."""
    unset = [
        m["braced"] or m["plain"]
        for m in _VARIABLE.finditer(raw)
        if not global_args.get(m["braced"] or m["plain"])
    ]
    if not unset:
        return None
    pattern = _VARIABLE.sub("*", raw).lower()
    candidates = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
    if not candidates:
        return None
    chosen = next((c for c in candidates if "prod" in c), candidates[0])
    return chosen, names[chosen]


# Images whose name says they carry a Python tool (`.../python-poetry:...`, uv's own images).
_TOOL_IMAGES = (
    (
        "poetry",
        re.compile(r"(?:^|[/_-])poetry(?:[:_-]|$)"),
        ("/usr/local/bin/poetry", "/opt/poetry", "/root/.local"),
    ),
    # The distroless image holds /uv and /uvx at its root; the python-flavoured ones in /usr/local/bin.
    ("uv", re.compile(rf"^{UV_IMAGE_REPOSITORY}:"), ("/uv", "/uvx", "/usr/local/bin/uv", "/bin/uv")),
)


def _base_image_tools(base: str, line: int) -> tuple[Tool, ...]:
    repository = base.rsplit("@", 1)[0]
    return tuple(
        Tool(name, line, locations) for name, pattern, locations in _TOOL_IMAGES if pattern.search(repository)
    )


def _read_stage(
    index: int,
    name: str | None,
    base: str,
    from_line: int,
    parent: int | None,
    instructions: tuple[Instruction, ...],
    start: State,
    global_args: Mapping[str, str],
    names: Mapping[str, int],
    earlier: list[StageModel],
    project: ContextProject,
    build_args: Mapping[str, str] = {},
) -> StageModel:
    state = start
    runs: list[RunStep] = []
    copies: list[CopyFrom] = []
    states: list[State] = []
    for item in instructions:
        states.append(state)
        keyword = item.keyword
        if keyword == "ARG":
            env = dict(state.env)
            unset = set(state.unset_args)
            for word in item.args:
                arg, has_default, default = word.partition("=")
                unset.discard(arg)
                if arg in build_args:
                    env[arg] = build_args[arg]
                elif has_default:
                    env[arg] = expand(_unquote(default), env)
                elif arg in global_args:
                    env[arg] = global_args[arg]
                elif arg not in env:
                    unset.add(arg)
            state = replace(state, env=env, unset_args=frozenset(unset))
        elif keyword == "ENV":
            env = dict(state.env)
            for i in range(0, len(item.args) - 1, 2):
                env[item.args[i]] = expand(_unquote(item.args[i + 1]), env)
            state = replace(state, env=env)
        elif keyword == "WORKDIR" and item.args:
            state = replace(state, workdir=normalise(expand(item.args[0], state.env), state.workdir))
        elif keyword == "USER" and item.args:
            state = replace(state, user=expand(item.args[0], state.env).split(":")[0])
        elif keyword in ("COPY", "ADD"):
            copy = _copy_from(item, state, names, earlier)
            if copy is not None:
                copies.append(copy)
                state = replace(
                    state, tools=_merge_tools(state.tools, _carried_tools(copy, earlier, item, state))
                )
                for venv in _carried_venvs(copy, earlier, item, state):
                    state = state.with_venv(venv)
            else:
                sources = tuple(expand(s, state.env) for s in item.args[:-1])
                state = replace(state, copied=(*state.copied, *sources))
                if keyword == "ADD" and len(item.args) >= 2:
                    state = _with_installer_scripts(state, sources, expand(item.args[-1], state.env))
                if item.args and any(_names_file(s, f) for s in sources for f in _PROJECT_FILES):
                    at = _copy_destination_dir(expand(item.args[-1], state.env), state.workdir, sources)
                    named = any(s.rstrip("/").rsplit("/", 1)[-1] in _PROJECT_FILES for s in sources)
                    state = replace(
                        state,
                        project_files_at=(*state.project_files_at, (at, named)),
                        project_sources=(*state.project_sources, *_project_sources(at, sources)),
                    )
                if project.poetry_toml and any(_names_file(s, "poetry.toml") for s in sources):
                    state = replace(state, tool_config={**state.tool_config, **project.poetry_toml})
        elif keyword == "RUN":
            step = _run_step(item, state, project)
            runs.append(step)
            state = _after_run(step, state)
    return StageModel(index, name, base, from_line, parent, instructions, tuple(runs), tuple(copies),
                      start, state, ships=False, states=tuple(states))  # fmt: skip


_PROJECT_FILES = ("pyproject.toml", "Pipfile")


def _project_sources(at: str, sources: tuple[str, ...]) -> list[tuple[str, str, bool]]:
    """Where a COPY into `at` takes project files from in the build context: the context's
    root for a whole-context copy, a named file's directory."""
    found: list[tuple[str, str, bool]] = []
    for source in sources:
        parts = [p for p in _unquote(source).split("/") if p not in ("", ".")]
        if parts in ([], ["*"]):
            found.append((at, "", False))
        elif parts[-1] in _PROJECT_FILES:
            found.append((at, "/".join(parts[:-1]), True))
    return found


def _with_installer_scripts(state: State, sources: tuple[str, ...], destination: str) -> State:
    """The state with the paths an ADD saved tools' installer scripts under (a URL's file
    goes in a destination ending in `/` under its own name)."""
    saved = []
    for source in sources:
        tool = tool_installer(source) if "://" in source else None
        if tool is None:
            continue
        path = _unquote(destination)
        if path.endswith("/") or len(sources) > 1:
            path = path.rstrip("/") + "/" + source.rstrip("/").rsplit("/", 1)[-1]
        saved.append((normalise(path, state.workdir), tool))
    return replace(state, installer_scripts=(*state.installer_scripts, *saved)) if saved else state


def _copy_destination_dir(destination: str, workdir: str, sources: tuple[str, ...]) -> str:
    """The directory a COPY's files land in (`COPY pyproject.toml /app/pyproject.toml` -> /app)."""
    path = normalise(_unquote(destination), workdir)
    named = {s.rstrip("/").rsplit("/", 1)[-1] for s in sources}
    if (
        len(sources) == 1
        and not destination.endswith("/")
        and path.rsplit("/", 1)[-1] in named | set(_PROJECT_FILES)
    ):
        return path.rsplit("/", 1)[0] or "/"
    return path


def _names_file(source: str, filename: str) -> bool:
    cleaned = source.rstrip("/")
    return cleaned in (".", "./", "*", "") or cleaned.rsplit("/", 1)[-1] == filename


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _copy_from(
    item: Instruction, state: State, names: Mapping[str, int], earlier: list[StageModel]
) -> CopyFrom | None:
    reference = next((f.split("=", 1)[1] for f in item.flags if f.startswith("--from=")), None)
    if reference is None:
        return None
    reference = expand(reference, state.env)
    stage: int | None = names.get(reference.lower())
    if stage is None and reference.isdigit() and int(reference) < len(earlier):
        stage = int(reference)
    sources = tuple(normalise(expand(s, state.env)) for s in item.args[:-1])
    return CopyFrom(item, stage, None if stage is not None else reference, sources)


def _copy_destination(copy: CopyFrom, item: Instruction, state: State) -> tuple[str, bool]:
    """Where a `COPY --from` puts its sources, and whether into that directory (several
    sources, or a destination ending in `/`) rather than as it."""
    destination = normalise(expand(item.args[-1], state.env), state.workdir) if item.args else "/"
    return destination, len(copy.sources) > 1 or (bool(item.args) and item.args[-1].endswith("/"))


def _carried_venvs(copy: CopyFrom, earlier: list[StageModel], item: Instruction, state: State) -> list[Venv]:
    """The venvs of the source stage that a `COPY --from` takes whole, where they land."""
    if copy.source_stage is None:
        return []
    destination, into_directory = _copy_destination(copy, item, state)
    return [
        replace(venv, path=_landed(source, venv.path, destination, into_directory))
        for venv in earlier[copy.source_stage].end.venvs
        for source in copy.sources
        if _holds(source, venv.path)
    ]


def _carried_tools(
    copy: CopyFrom, earlier: list[StageModel], item: Instruction, state: State
) -> tuple[Tool, ...]:
    destination, into_directory = _copy_destination(copy, item, state)
    if copy.source_stage is None:
        if _UV_IMAGE.match(copy.image or ""):
            landed = tuple(_landed(s, s, destination, into_directory) for s in copy.sources)
            return (Tool("uv", item.start_line, landed),)
        return ()
    source = earlier[copy.source_stage].end
    carried: list[Tool] = []
    for tool in source.tools:
        landed = tuple(
            _landed(s, location, destination, into_directory)
            for s in copy.sources
            for location in tool.locations
            if overlaps(s, location)
        )
        if landed:
            carried.append(replace(tool, line=item.start_line, locations=tuple(dict.fromkeys(landed))))
    return tuple(carried)


def _landed(source: str, location: str, destination: str, into_directory: bool) -> str:
    """Where a tool's `location` is after `COPY --from=stage source destination`: `COPY
    --from=uv /uv /usr/local/bin/uv` puts uv at /usr/local/bin/uv, so a later `COPY --from`
    of /usr/local/bin carries it on."""
    if location == source or location.startswith(source.rstrip("/") + "/"):
        # The source is the tool or a directory holding it: its contents land in destination.
        rest = location[len(source.rstrip("/")) :]
        if not rest and into_directory:
            rest = "/" + source.rstrip("/").rsplit("/", 1)[-1]
        return destination.rstrip("/") + rest if rest else destination
    return destination  # a file inside the tool's directory (`/opt/poetry/bin/poetry`)


def _merge_tools(have: tuple[Tool, ...], new: tuple[Tool, ...]) -> tuple[Tool, ...]:
    known = {t.name for t in have}
    return (*have, *(t for t in new if t.name not in known))


# A RUN whose command line is its heredocs alone, or a shell reading them (`RUN <<EOF`,
# `RUN bash -e <<'EOF'`): the documents are the script. Any other command line (`cat <<EOF >
# file && ...`, `python3 <<EOF`) is the script and reads its documents as data.
_HEREDOC_SCRIPT = re.compile(
    r"^(?:(?:/usr)?/bin/)?(?:(?:ba|da|a)?sh(?:[ \t]+-[A-Za-z]+)*[ \t]+)?"
    r"(?:<<-?(?P<quote>['\"]?)[\w.-]+(?P=quote)[ \t]*)+$"
)


def heredoc_script(item: Instruction) -> str | None:
    """The shell script of a RUN whose heredocs are its script; None for any other RUN."""
    if not item.heredocs or _HEREDOC_SCRIPT.match(" ".join(item.args).strip()) is None:
        return None
    return "\n".join(item.heredocs)


def _run_step(item: Instruction, state: State, project: ContextProject) -> RunStep:
    mounts = tuple(m for f in item.flags if (m := Mount.parse(f, state.workdir, state.env)) is not None)
    choices: tuple[str, ...] = ()
    if item.json:
        commands: tuple[Command, ...] = (Command(tuple(item.args)),)
        parser = "exec"
    else:
        text = heredoc_script(item)
        script = parse_shell(" ".join(item.args) if text is None else text)
        env = state.shell_env()
        commands = tuple(_expanded(c, env) for c in _known_branches(script.commands, env))
        parser = script.parser
        choices = _install_choices(script.commands)
    installs: list[Install] = []
    current = state
    for command in commands:
        # Earlier commands of the same RUN set up the later ones: `poetry config ...`,
        # `python -m venv /v`, `. /venv/bin/activate`.
        current = _configured(command, current)
        found = _install(command, current, project)
        if found is not None:
            installs.append(replace(found, project_dir=current.project_dir()))
            current = _with_install_venv(found, current)
    return RunStep(item, commands, mounts, state, parser, tuple(installs), choices)


_INSTALLERS = frozenset({"poetry", "uv", "pdm", "pipenv", "pip", "pip3"})


def _install_choices(commands: tuple[Command, ...]) -> tuple[str, ...]:
    """The tests and substitutions that choose a dependency tool's command in this RUN (taken
    or not), as written."""
    chosen = [c for c in commands if c.name in _INSTALLERS]
    return tuple(
        dict.fromkeys(
            [as_written(g.text or " ".join(g.test)) for c in chosen for g in c.guards]
            + [as_written(s.text) for c in chosen for s in c.substitutions]
        )
    )


# `pip config set` keys that turn pip's cache off, and the State.tool_config key that says so.
_PIP_NO_CACHE_OPTIONS = ("global.no-cache-dir", "install.no-cache-dir")
PIP_NO_CACHE_SETTING = "pip.no-cache-dir"


def sets_pip_no_cache(command: Command) -> bool:
    """`pip config set global.no-cache-dir true`: every later pip reading that file keeps no
    cache. pip takes any valid value as "no cache", `false` included (pip's
    `_handle_no_cache_dir`, so for backward compatibility)."""
    verbs = [w for w in command.argv[1:] if not w.startswith("-")]
    return (
        _is_pip(command)
        and verbs[:2] == ["config", "set"]
        and len(verbs) >= 4
        and verbs[2] in _PIP_NO_CACHE_OPTIONS
    )


def _configured(command: Command, state: State) -> State:
    words = command.argv
    if sets_pip_no_cache(command):
        return replace(state, tool_config={**state.tool_config, PIP_NO_CACHE_SETTING: True})
    if command.name == "cd" and not command.branch:
        # The later commands of the RUN run there (`cd /app && pipenv install`); the next
        # instruction starts again from WORKDIR.
        operands = [w for w in words[1:] if w not in ("-L", "-P", "-e", "-@", "--")]
        directory = operands[0] if operands else state.home()
        return state if directory == "-" else replace(state, workdir=normalise(directory, state.workdir))
    if command.name == "poetry" and len(words) >= 4 and words[1] == "config":
        options = [w for w in words[2:] if not w.startswith("-")]
        if len(options) >= 2 and options[0] in ("virtualenvs.create", "virtualenvs.in-project"):
            value = flag(options[1])
            if value is not None:
                return replace(state, tool_config={**state.tool_config, options[0]: value})
    if command.name == "pdm" and words[1:3] == ("config", "python.use_venv") and len(words) >= 4:
        value = flag(words[3])
        if value is not None:
            return replace(state, tool_config={**state.tool_config, "pdm.use_venv": value})
    if command.name == "mkdir" and any(w.rstrip("/").endswith("__pypackages__") for w in words):
        return replace(state, tool_config={**state.tool_config, "pdm.use_venv": False})
    if words[:1] in ((".",), ("source",)) and len(words) >= 2 and words[1].endswith("/bin/activate"):
        # The script exists, so the venv does; it puts its bin/ first on PATH.
        venv = normalise(words[1][: -len("/bin/activate")], state.workdir)
        path = f"{venv}/bin:{state.env['PATH']}" if state.env.get("PATH") else f"{venv}/bin"
        activated = replace(state, env={**state.env, "VIRTUAL_ENV": venv, "PATH": path})
        return activated if state.venv(venv) else activated.with_venv(Venv(venv, with_pip=True))
    made = _made_venv(command, state)
    return state if made is None else state.with_venv(made)


# The options of `python -m venv`, `virtualenv` and `uv venv` that take a value (the venv's
# directory is the one operand).
_VENV_VALUED = frozenset(
    {"--prompt", "-p", "--python", "--activators", "--discovery", "--creator", "--seeder",
     "--app-data", "--pip", "--setuptools", "--wheel", "--extra-search-dir", "--index-url", "-i",
     "--extra-index-url", "--index", "--default-index", "--find-links", "-f", "--cache-dir",
     "--link-mode", "--index-strategy", "--keyring-provider", "--exclude-newer", "--directory",
     "--project", "--config-file"}
)  # fmt: skip


def _made_venv(command: Command, state: State) -> Venv | None:
    """The venv `python -m venv DIR`, `virtualenv DIR` or `uv venv [DIR]` makes: pip in it
    unless `--without-pip`/`--no-pip`; uv's has none unless seeded."""
    words = command.argv
    if words[:1] == ("venv",) and command.words[0].rsplit("/", 1)[-1].startswith("python"):
        with_pip, operands, default = "--without-pip" not in words, _venv_operands(words[1:]), None
    elif words[:1] == ("virtualenv",):
        with_pip, operands, default = "--no-pip" not in words, _venv_operands(words[1:]), None
    elif command.name == "uv" and words[1:2] == ("venv",):
        seeded = flag({**state.env, **dict(command.assignments)}.get("UV_VENV_SEED"))
        with_pip, operands, default = "--seed" in words or bool(seeded), _venv_operands(words[2:]), ".venv"
    else:
        return None
    directory = operands[-1] if operands else default
    return None if directory is None else Venv(normalise(directory, state.workdir), with_pip)


def _venv_operands(words: Sequence[str]) -> list[str]:
    operands: list[str] = []
    takes_value = False
    for word in words:
        if takes_value:
            takes_value = False
        elif word.startswith("-"):
            takes_value = word in _VENV_VALUED
        else:
            operands.append(word)
    return operands


def _with_install_venv(install: Install, state: State) -> State:
    """A dependency tool's install makes the venv it installs into (Poetry's and Pipenv's with
    pip, uv's and PDM's without) where the model knows its path."""
    target = install.target
    if (
        install.manager == "pip"
        or target == "/usr/local"
        or target.endswith(("/virtualenvs", "/__pypackages__"))
    ):
        return state
    if state.venv(target):
        return state
    return state.with_venv(Venv(target, with_pip=install.manager in ("poetry", "pipenv")))


def _known_branches(commands: tuple[Command, ...], env: Mapping[str, str]) -> Iterator[Command]:
    """The commands that run: a test (`if`, `&&`, `||`, a `case` arm) that the ARG defaults,
    build args and ENV decide keeps only the branch taken; the tests left on a command are
    those the Dockerfile does not decide."""
    for command in commands:
        local = {**env, **dict(command.assignments)}
        verdicts = [satisfied(g, local) for g in command.guards]
        if any(v is False for v in verdicts):
            continue  # a branch that is not taken
        undecided = tuple(g for g, v in zip(command.guards, verdicts, strict=True) if v is None)
        yield replace(command, guards=undecided) if undecided != command.guards else command


def satisfied(guard: Guard, env: Mapping[str, str]) -> bool | None:
    """Whether the command runs as far as this guard says: True, False, or None (undecided)."""
    if guard.alternatives:
        outcome = _any_of(_all_of(satisfied(g, env) for g in alt) for alt in guard.alternatives)
    else:
        outcome = condition_holds(guard.test, env)
    return None if outcome is None else outcome == guard.holds


def _all_of(values: Iterable[bool | None]) -> bool | None:
    seen = list(values)
    return False if False in seen else None if None in seen else True


def _any_of(values: Iterable[bool | None]) -> bool | None:
    seen = list(values)
    return True if True in seen else None if None in seen else False


_TEST_BRACKETS = {"[": "]", "[[": "]]"}
_NUMERIC = {"-eq": "==", "-ne": "!=", "-gt": ">", "-lt": "<", "-ge": ">=", "-le": "<="}


def condition_holds(words: tuple[str, ...], env: Mapping[str, str]) -> bool | None:
    """`[ "$X" = v ]`, `[ $X != v ]`, `[ -n "$X" ]`, `[ -z "$X" ]`, `[ "$X" ]`, `[ $N -eq 1 ]`,
    `test ...`, `[[ $X == dev* ]]` (a pattern), `true`/`false`, with `!`: True or False when
    every variable it names is known, None otherwise (file tests, other commands)."""
    if words[:1] in (("true",), (":",)):
        return True
    if words[:1] == ("false",):
        return False
    operands = list(words)
    pattern = operands[:1] == ["[["]
    if operands and operands[0] in _TEST_BRACKETS and operands[-1] == _TEST_BRACKETS[operands[0]]:
        operands = operands[1:-1]
    elif operands[:1] == ["test"]:
        operands = operands[1:]
    else:
        return None
    negate = operands[:1] == ["!"]
    operands = operands[1:] if negate else operands
    values: list[str] = []
    for word in operands:
        names = [m["braced"] or m["plain"] for m in _VARIABLE.finditer(word)]
        if any(name not in env for name in names) or "`" in word or "$(" in word:
            return None
        values.append(expand(word, env))
    result: bool | None
    if len(values) == 3 and values[1] in ("=", "==", "!="):
        same = fnmatch.fnmatchcase(values[0], values[2]) if pattern else values[0] == values[2]
        result = same != (values[1] == "!=")
    elif len(values) == 3 and values[1] in _NUMERIC:
        result = _compare_numbers(values[0], _NUMERIC[values[1]], values[2])
    elif len(values) == 2 and values[0] in ("-n", "-z"):
        result = bool(values[1]) == (values[0] == "-n")
    elif len(values) == 1:
        result = bool(values[0])
    else:
        return None
    return None if result is None else result != negate


def _compare_numbers(left: str, operator: str, right: str) -> bool | None:
    try:
        a, b = int(left.strip()), int(right.strip())
    except ValueError:
        return None
    return {"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[operator]


def _expanded(command: Command, env: Mapping[str, str]) -> Command:
    """Variables expanded and substitutions replaced by what they print (the words re-split as
    the shell splits them); a substitution whose output is not known prints nothing here and is
    named in `unresolved`."""
    local = {**env, **dict(command.assignments)}
    words: list[str] = []
    unresolved = list(command.unresolved)
    for word in command.words:
        split = "$" in word
        for substitution in command.substitutions:
            if substitution.text in word:
                printed = _printed(substitution, local)
                if printed is None:
                    unresolved.append(as_written(substitution.text))
                word = word.replace(substitution.text, printed or "")
                split = True
        if split:
            words.extend(expand(word, local).split())
        else:
            words.append(word)
    return replace(command, words=tuple(words), unresolved=tuple(unresolved))


_QUIET = frozenset({"[", "[[", "test", "true", "false", ":"})


def _printed(substitution: Substitution, env: Mapping[str, str]) -> str | None:
    """What a `$(...)` prints when its `echo`/`printf` and their tests are decided
    (`$(test "$ENV" = production && echo --only=main)`), None when it cannot be known."""
    printed: list[str] = []
    for command in _known_branches(substitution.commands, env):
        if command.name in _QUIET:
            continue
        if command.conditional or command.unresolved or command.name not in ("echo", "printf"):
            return None
        words = [expand(w, {**env, **dict(command.assignments)}) for w in command.words[1:]]
        if command.name == "echo":
            while words and re.fullmatch(r"-[neE]+", words[0]):
                words = words[1:]
            printed.append(" ".join(words))
        elif words and "%" not in words[0]:
            printed.append(words[0].replace("\\n", " "))
        else:
            return None
    return " ".join(printed)


def _after_run(step: RunStep, state: State) -> State:
    # The settings and venvs the RUN's commands leave (not their `cd` or activation).
    current = state
    for command in step.commands:
        current = _configured(command, current)
        for install in step.installs:
            current = _with_install_venv(install, current) if install.command is command else current
    config = dict(current.tool_config)
    tools = list(state.tools)
    build_packages = list(state.build_packages)
    apk_virtual = list(state.apk_virtual)
    apt_quiet = state.apt_without_recommends
    removed: set[str] = set()
    left_behind: set[str] = set()  # purged without --auto-remove: their dependencies stay
    for command in step.commands:
        words = command.argv
        tools.extend(
            Tool(name, step.line, _tool_locations(name, command, step))
            for name in dict.fromkeys(_installed_tools(command, step))
        )
        if _is_pip(command) and "uninstall" in words:
            removed.update(_requirements(command, "uninstall"))
        if installs_os_packages(command):
            build_packages.extend((p, step.line) for p in os_packages(command) if is_build_package(p))
            if command.name == "apk" and (virtual := apk_group(command)):
                apk_virtual.append((virtual, tuple(os_packages(command))))
        # Removed in the RUN that installed them, they never ship; removed by a later RUN, they
        # ship in the earlier layer but not in the final filesystem: that is late-deletion.
        gone = removed_packages(command, apk_virtual)
        apt_verb = next((w for w in command.words if w in ("purge", "remove")), None)
        if command.name in ("apt-get", "apt") and apt_verb and not auto_removes(command):
            left_behind |= APT_DEPENDENCY_ONLY.intersection(_operands(command.words, apt_verb))
        elif auto_removes(command):  # what an earlier removal of this RUN left behind goes now
            gone |= left_behind
        if gone:
            build_packages = [(p, line) for p, line in build_packages if p not in gone]
            apk_virtual = [(name, members) for name, members in apk_virtual if name not in gone]
    text = step.instruction.original + "".join(step.instruction.heredocs)
    if "apt.conf" in text and "Install-Recommends" in text:  # a config file (a redirect target)
        apt_quiet = True
    apk_without_cache = state.apk_without_cache or ("apk/config" in text and "no-cache" in text)
    if "pip.conf" in text and "no-cache-dir" in text:  # a pip config file written by a redirect
        config[PIP_NO_CACHE_SETTING] = True
    tools = [t for t in tools if not (t.line == step.line and t.name in removed)]
    return replace(
        state,
        tools=tuple(tools),
        tool_config=config,
        build_packages=tuple(build_packages),
        apk_virtual=tuple(apk_virtual),
        apt_without_recommends=apt_quiet,
        apk_without_cache=apk_without_cache,
        venvs=current.venvs,
    )


def _is_pip(command: Command) -> bool:
    name = command.name
    return name in ("pip", "pip3") or re.fullmatch(r"pip3\.\d+", name) is not None


def is_pip_install(command: Command) -> bool:
    verbs = [w for w in command.argv[1:] if not w.startswith("-")]
    return _is_pip(command) and verbs[:1] == ["install"]


_RUNNERS = frozenset({"poetry", "pipenv", "pdm", "uv"})


def run_through(command: Command) -> Command | None:
    """The command that `poetry run X` (`pipenv`, `pdm`, `uv run`) runs, as its own command."""
    words = command.words
    if (
        command.name in _RUNNERS
        and words[1:2] == ("run",)
        and len(words) > 2
        and not words[2].startswith("-")
    ):
        return replace(command, words=words[2:])
    return None


def pip_installs(commands: Iterable[Command]) -> list[Command]:
    """The `pip install`s among `commands`, those run through a tool's venv included
    (`poetry run pip install gunicorn` fills pip's cache as a plain `pip install` does)."""
    found: list[Command] = []
    for command in commands:
        inner = run_through(command)
        found.extend(c for c in (command, inner) if c is not None and is_pip_install(c))
    return found


def _requirements(command: Command, verb: str = "install") -> list[str]:
    """The distribution names a `pip install`/`uninstall` names (`Poetry==1.8` -> `poetry`)."""
    result: list[str] = []
    for arg in pip_requirements(list(command.words), verb):
        match = _TOOL_REQUIREMENT.match(arg)
        result.append(match["name"].lower().replace("_", "-") if match else arg)
    return result


POETRY_REQUIREMENT = re.compile(r"^poetry(?P<extras>\[[^\]]*\])?(?P<spec>(?:[<>=!~;@ ].*)?)$", re.IGNORECASE)


def poetry_requirements(step: RunStep) -> Iterator[tuple[str, re.Match[str]]]:
    """Each `poetry...` requirement a `pip install` of this RUN names, with its parts
    (`extras`, `spec`): what lint checks for a pin and fix pins."""
    for command in step.commands:
        if not is_pip_install(command):
            continue
        for requirement in requirement_words(command):
            match = POETRY_REQUIREMENT.match(requirement)
            if match is not None:
                yield requirement, match


def requirement_words(command: Command) -> list[str]:
    """The raw requirement arguments of a `pip install` (options and their values dropped)."""
    return pip_requirements(list(command.words))


def _installed_tools(command: Command, step: RunStep) -> Iterator[str]:
    words = command.argv
    if is_pip_install(command) or (command.name == "uv" and words[1:3] == ("pip", "install")):
        yield from (n for n in _requirements(command) if n in PYTHON_TOOLS)
    elif (command.name == "pipx" and words[1:2] == ("install",)) or (
        command.name == "uv" and words[1:3] == ("tool", "install")
    ):
        yield from (n for n in words[2:] if n in PYTHON_TOOLS)
    if command.name in ("curl", "wget", "python", "python3"):
        yield from dict.fromkeys(t for w in words if (t := tool_installer(w)) in ("poetry", "pdm"))
    if command.name in ("curl", "wget") and any(tool_installer(w) == "uv" for w in words):
        yield "uv"
    if command.name in _INSTALLER_RUNNERS:
        yield from _saved_installer(command, step.state)


# What runs an installer script an ADD saved (`sh /uv-installer.sh`, `python install.py`).
_INSTALLER_RUNNERS = frozenset({"sh", "bash", "dash", "ash", "python", "python3"})


def _saved_installer(command: Command, state: State) -> Iterator[str]:
    """The tool whose installer script, saved by an earlier ADD, this command runs."""
    script = next((w for w in command.argv[1:] if not w.startswith("-")), None)
    if script is None:
        return
    path = normalise(_unquote(script), state.workdir)
    yield from dict.fromkeys(tool for saved, tool in state.installer_scripts if saved == path)


def tool_installer(word: str) -> str | None:
    """The Python tool whose official installer script `word` (a URL, a file name) is."""
    if any(marker in word for marker in _POETRY_INSTALLER):
        return "poetry"
    if _PDM_INSTALLER in word:
        return "pdm"
    return "uv" if _UV_INSTALLER in word else None


def _tool_locations(name: str, command: Command, step: RunStep) -> tuple[str, ...]:
    env, home = step.state.env, step.state.home()
    if command.name in ("curl", "wget", "python", "python3") and name == "poetry":
        poetry_home = env.get("POETRY_HOME") or f"{home}/.local/share/pypoetry"
        return (normalise(poetry_home), f"{home}/.local/bin/poetry")
    if command.name in ("curl", "wget", *_INSTALLER_RUNNERS) and name == "pdm":
        pdm_home = env.get("PDM_HOME") or f"{home}/.local/share/pdm"
        return (normalise(pdm_home), f"{home}/.local/bin/pdm")
    if command.name in ("curl", "wget", *_INSTALLER_RUNNERS) and name == "uv":
        return (f"{home}/.local/bin/uv", f"{home}/.cargo/bin/uv")
    if command.name in ("pipx", "uv"):
        return (f"{home}/.local/share/pipx", f"{home}/.local/share/uv/tools", f"{home}/.local/bin/{name}")
    target = pip_target(command, step.state)
    return (f"{target}/lib/python*/site-packages/{name}", f"{target}/bin/{name}")


_SYSTEM_BINS = frozenset({"/usr/local/bin", "/usr/bin", "/bin"})


def pip_target(command: Command, state: State) -> str:
    """Where a `pip install` puts packages."""
    words = list(command.words)
    for option in ("-t", "--target", "--prefix", "--root"):
        if option in words and words.index(option) + 1 < len(words):
            return normalise(words[words.index(option) + 1], state.workdir)
        joined = next((w for w in words if w.startswith(option + "=")), None)
        if joined:
            return normalise(joined.split("=", 1)[1], state.workdir)
    if "--user" in words:
        return f"{state.home()}/.local"
    program = words[0]
    if "/bin/" in program:
        return normalise(program.rsplit("/bin/", 1)[0], state.workdir)
    if command.name == "uv":
        # uv chooses its environment itself: --system, else the active venv ($VIRTUAL_ENV),
        # else a .venv in the working directory or one above it.
        if "--system" in words or flag(state.env.get("UV_SYSTEM_PYTHON")):
            return "/usr/local"
        if active := state.env.get("VIRTUAL_ENV"):
            return normalise(active, state.workdir)
        found = [
            v.path
            for v in state.venvs
            if v.path.endswith("/.venv") and _holds(v.path[: -len("/.venv")] or "/", state.workdir)
        ]
        return max(found, key=len, default="/usr/local")
    # pip installs into the Python it runs as, the first found on PATH: a venv's when the build
    # made (or copied in) that venv and put its bin/ on PATH; `VIRTUAL_ENV` alone changes nothing.
    needs_pip = not program.rsplit("/", 1)[-1].startswith("python")  # `python -m pip` needs python
    for entry in state.env.get("PATH", "").split(":"):
        if entry.rstrip("/") in _SYSTEM_BINS:
            break
        venv = state.venv(normalise(entry.rstrip("/").removesuffix("/bin")))
        if entry.rstrip("/").endswith("/bin") and venv is not None and (venv.with_pip or not needs_pip):
            return venv.path
    return "/usr/local"


def is_build_package(name: str) -> bool:
    """The advisor's build-only OS packages, but git: a runtime that installs it on purpose
    usually runs it (GitPython, pip installs from git at start-up)."""
    return BUILD_ONLY.match(name) is not None and name not in ("git", "git-man")


def installs_os_packages(command: Command) -> bool:
    return (command.name in ("apt-get", "apt") and "install" in command.words) or (
        command.name == "apk" and "add" in command.words
    )


def os_packages(command: Command) -> list[str]:
    return _operands(command.words, "install" if "install" in command.words else "add")


def removed_packages(command: Command, apk_groups: Sequence[tuple[str, tuple[str, ...]]]) -> set[str]:
    """The packages a removal takes out of the image: those `apt-get purge`/`remove` or `apk del`
    names, and the members of each `apk add --virtual NAME` group `apk del` names; nothing else
    (the packages installed beside them stay). `apt-get autoremove` takes only what apt
    installed as a dependency: the packages an `install` named are marked manual and stay."""
    if command.name in ("apt-get", "apt"):
        verb = next((w for w in command.words if w in ("purge", "remove")), None)
        groups: Sequence[tuple[str, tuple[str, ...]]] = ()
    elif apk_applet(command) == "del":
        verb, groups = "del", apk_groups
    else:
        return set()
    if verb is None:
        return set()
    named = set(_operands(command.words, verb))
    if verb != "del" and not auto_removes(command):
        named -= APT_DEPENDENCY_ONLY  # the package goes, the compiler it pulled in stays
    return named.union(*(members for name, members in groups if name in named))


# Debian packages whose bytes are their dependencies: `build-essential` is a list of them,
# `gcc` a link to `gcc-12`. `apt-get purge gcc` leaves gcc-12 (auto-installed), which only
# `--auto-remove` or a later `apt-get autoremove` takes (apt-get(8)).
APT_DEPENDENCY_ONLY = frozenset(
    {"build-essential", "gcc", "g++", "cpp", "python3-dev", "libpython3-dev", "python3-all-dev"}
)


def auto_removes(command: Command) -> bool:
    """`apt-get autoremove`, or a removal with `--auto-remove`: apt also takes the packages only
    the removed ones needed."""
    words = command.words
    return command.name in ("apt-get", "apt") and (
        "autoremove" in words or "--auto-remove" in words or "--autoremove" in words
    )


def _operands(command_words: Sequence[str], verb: str) -> list[str]:
    """The package names after a package manager's `verb`, without options and their values
    and without `=VERSION`."""
    words = list(command_words[list(command_words).index(verb) + 1 :])
    packages: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("-o", "-t", "--virtual", "-t", "--target-release"):
            skip = True
        elif not word.startswith("-"):
            packages.append(word.split("=", 1)[0])
    return packages


def apk_group(command: Command) -> str | None:
    """The NAME of `apk add --virtual NAME` / `-t NAME`."""
    words = command.words
    for index, word in enumerate(words):
        if word in ("--virtual", "-t") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--virtual="):
            return word.split("=", 1)[1]
    return None


# apk-tools' applets that refresh the repositories' indexes into apk's cache before they run
# (they open the database for writing with auto-update; `update` does nothing else); `del` opens
# it without auto-update, the others only read it.
APK_INDEXING = frozenset({"add", "update", "upgrade", "fix"})
# The roots the image advisor measures (classify.context), as a Dockerfile writes them: the
# indexes' cache, and the directory that, when it is one (a cache mount makes it one), apk
# keeps its whole cache in instead.
APK_CACHE, APK_CACHE_ENABLED = (f"/{root}" for root in APK_CACHE_ROOTS)
_APK_OPTIONS_WITH_VALUE = frozenset(
    {
        "-p",
        "--root",
        "-X",
        "--repository",
        "--repositories-file",
        "--keys-dir",
        "--arch",
        "--cache-dir",
        "--cache-max-age",
        "--timeout",
        "--wait",
        "--progress-fd",
    }
)


def apk_applet(command: Command) -> str | None:
    """The applet of an `apk` command: its first word that is neither an option nor the value
    of one (`apk --no-cache add`, `apk -X URL add`, `apk add`)."""
    if command.name != "apk":
        return None
    takes_value = False
    for word in command.words[1:]:
        if takes_value:
            takes_value = False
        elif word.startswith("-"):
            takes_value = word in _APK_OPTIONS_WITH_VALUE
        else:
            return word
    return None


def apk_index_cache(command: Command) -> str | None:
    """Where an apk command leaves the repositories' indexes: its `--cache-dir` (relative to the
    root), else /var/cache/apk; None when it keeps none (`--no-cache`, an applet that does not
    refresh them)."""
    if apk_applet(command) not in APK_INDEXING or "--no-cache" in command.words:
        return None
    values = _option_values(command.words, "--cache-dir")
    return normalise(values[-1]) if values else APK_CACHE


def apk_cache_kept(step: RunStep, command: Command) -> str | None:
    """The cache this apk command of `step` leaves in the layer: where its indexes go, unless a
    cache mount takes them (on that directory, or on /etc/apk/cache, which apk then uses) or a
    removal of it runs after the command whenever the command runs."""
    cache = apk_index_cache(command)
    if cache is None or step.state.apk_without_cache:
        return None
    if (
        step.cache_mounted(cache)
        or (cache == APK_CACHE and step.cache_mounted(APK_CACHE_ENABLED))
        or step.removes(cache, after=command)
    ):
        return None
    return cache


def reads_apk_index(command: Command) -> bool:
    """An apk command that reads the indexes a cache holds rather than fetching its own
    (`apk search`, `apk info -a`, `apk policy`, ...): without `--no-cache`, not one that
    refreshes them, not `del`."""
    applet = apk_applet(command)
    return applet is not None and applet not in APK_INDEXING | {"del"} and "--no-cache" not in command.words


# apt's verbs that read the package lists `update` fetches (an install without them finds no
# package); apt-cache reads them whatever it is asked.
_APT_LIST_READERS = frozenset(
    {"install", "reinstall", "upgrade", "dist-upgrade", "full-upgrade", "build-dep", "source",
     "download", "satisfy", "search", "show", "showsrc", "policy", "list", "madison", "depends",
     "rdepends"}
)  # fmt: skip


_APT_VALUE_OPTIONS = frozenset({"-o", "--option", "-c", "--config-file", "-t", "--target-release"})


def apt_verb(command: Command) -> str | None:
    """The apt-get/apt subcommand (`apt-get -y install` -> install); None for another program."""
    if command.name not in ("apt-get", "apt"):
        return None
    words = iter(command.words[1:])
    for word in words:
        if word in _APT_VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def fetches_apt_lists(command: Command) -> bool:
    return apt_verb(command) == "update"


def reads_apt_lists(command: Command) -> bool:
    return command.name == "apt-cache" or apt_verb(command) in _APT_LIST_READERS


def apt_installs_recommends(command: Command) -> bool:
    if command.name not in ("apt-get", "apt") or "install" not in command.words:
        return False
    return "--no-install-recommends" not in command.words and not any(
        "Install-Recommends" in w and (w.rstrip("\"'").endswith(("false", "0", "no"))) for w in command.words
    )


# --- what a dependency install does --------------------------------------------------------


# The options of a tool that may come before its subcommand and take a value (`poetry -C DIR
# install`, `uv --cache-dir D sync`, `pipenv --python 3.12 install`); their flags take none.
_GLOBAL_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "poetry": frozenset({"-C", "--directory", "-P", "--project"}),
    "uv": frozenset(
        {"--directory", "--project", "--cache-dir", "--config-file", "--color", "--python-preference"}
    ),
    "pdm": frozenset({"-c", "--config"}),
    "pipenv": frozenset({"--python"}),
}


def subcommand_argv(command: Command) -> tuple[str, ...]:
    """The tool, then its subcommand and what follows: `poetry --no-interaction install -n` is
    read as `poetry install -n` (the global options before the verb left out)."""
    words = command.argv
    takes_value = _GLOBAL_VALUE_OPTIONS.get(command.name)
    if takes_value is None:
        return words
    index = 1
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in takes_value else 1
    return (words[0], *words[index:])


def _install(command: Command, state: State, project: ContextProject) -> Install | None:
    words = subcommand_argv(command)
    name = command.name
    if name == "poetry" and len(words) >= 2 and words[1] in ("install", "sync"):
        return _poetry_install(command, state, project)
    if name == "uv" and len(words) >= 2 and words[1] == "sync":
        named = _dev_names(words, "--group", "--only-group", "--extra")
        dev = project.standard_dev and not _has(words, "--no-dev", "--only-group", "--no-default-groups")
        env = {**state.env, **dict(command.assignments)}  # `UV_NO_DEV=1 uv sync`, UV_PROJECT_ENVIRONMENT
        dev = dev and flag(env.get("UV_NO_DEV")) is not True
        # `uv sync --no-group dev` leaves out the default group(s) it names (UV_NO_GROUP likewise).
        excluded = {*(_option_values(words, "--no-group") or ()), *env.get("UV_NO_GROUP", "").split()}
        dev = dev and not project.uv_default_groups <= excluded
        why = (
            f"uv sync installs the development extra(s)/group(s) {', '.join(named)}"
            if named
            else "uv sync installs the dev group"
        )
        dev = dev or bool(named) or _has(words, "--only-dev")
        target = env.get("UV_PROJECT_ENVIRONMENT") or f"{state.project_dir().rstrip('/')}/.venv"
        return Install("uv", command, normalise(target, state.workdir), dev, why)
    if name == "pipenv" and len(words) >= 2 and words[1] in ("install", "sync"):
        target = "/usr/local" if "--system" in words else (
            f"{state.project_dir().rstrip('/')}/.venv"
            if flag({**state.env, **dict(command.assignments)}.get("PIPENV_VENV_IN_PROJECT")) else
            f"{state.home()}/.local/share/virtualenvs")  # fmt: skip
        dev = project.pipenv_dev and _has(words, "--dev", "-d")
        return Install("pipenv", command, target, dev, "pipenv install --dev")
    if name == "pdm" and len(words) >= 2 and words[1] in ("install", "sync"):
        dev = project.standard_dev and not _has(words, "--prod", "--production", "--no-dev")
        # PDM installs into __pypackages__ when told so or when that directory exists.
        use_venv = flag({**state.env, **dict(command.assignments)}.get("PDM_USE_VENV"))
        use_venv = state.tool_config.get("pdm.use_venv", True) if use_venv is None else use_venv
        packages = ".venv" if use_venv else "__pypackages__"
        target = f"{state.project_dir().rstrip('/')}/{packages}"
        return Install(
            "pdm",
            command,
            target,
            dev,
            "pdm install takes the dev groups by default"
            + ("" if project.known else " (no pyproject.toml in the build context: a dev group is assumed)"),
        )
    if is_pip_install(command) or (name == "uv" and words[1:3] == ("pip", "install")):
        dev_files = [w for w in words if _DEV_REQUIREMENTS.search(w)]
        dev_extra = [w for w in words if re.search(r"\[[^\]]*\b(?:dev|test|tests|lint|docs)\b[^\]]*\]", w)]
        # `uv pip install -r pyproject.toml --group dev` (and pip >= 25.1's --group), `--extra test`.
        named = _dev_names(words, "--group", "--extra")
        target = "/usr/local" if "--system" in words else pip_target(command, state)
        return Install(
            "pip",
            command,
            target,
            bool(dev_files or dev_extra or named),
            f"the development group(s) {', '.join(named)}"
            if named
            else "requirements or extras for development",
        )
    return None


# requirements-dev.txt, requirements/test.txt, requirements_docs.in, and the other order:
# dev-requirements.txt, test_requirements.txt.
_DEV_KIND = r"(?:dev(?:elop(?:ment)?)?|tests?|testing|lint(?:ing)?|docs?|ci)"
_DEV_REQUIREMENTS = re.compile(
    rf"requirements[^/]*[-_/.]{_DEV_KIND}\b|(?:^|/){_DEV_KIND}[-_.]requirements\b", re.IGNORECASE
)


def _dev_names(words: tuple[str, ...], *options: str) -> list[str]:
    """The development groups/extras named by these options (`--group dev`, `--extra=test`)."""
    return [v for option in options for v in _option_values(words, option) or () if DEV_EXTRA.match(v)]


def _has(words: tuple[str, ...], *options: str) -> bool:
    return any(w in options or w.split("=", 1)[0] in options for w in words)


def _option_values(words: tuple[str, ...], option: str) -> list[str] | None:
    values: list[str] = []
    found = False
    for i, word in enumerate(words):
        if word == option and i + 1 < len(words):
            values.extend(words[i + 1].split(","))
            found = True
        elif word.startswith(option + "="):
            values.extend(word.split("=", 1)[1].split(","))
            found = True
    return [v.strip() for v in values if v.strip()] if found else None


def _poetry_install(command: Command, state: State, project: ContextProject) -> Install:
    words = command.words
    settings = state.poetry(dict(command.assignments))
    env = {**state.env, **dict(command.assignments)}
    if env.get("VIRTUAL_ENV"):
        target = env["VIRTUAL_ENV"]
    elif not settings.create:
        target = "/usr/local"
    elif settings.in_project:
        target = f"{state.project_dir().rstrip('/')}/.venv"
    elif env.get("POETRY_VIRTUALENVS_PATH"):
        target = env["POETRY_VIRTUALENVS_PATH"]
    else:
        target = f"{env.get('POETRY_CACHE_DIR') or state.home() + '/.cache/pypoetry'}/virtualenvs"
    dev_groups = project.dev_groups(project.default_groups)
    optional_dev = project.dev_groups(project.optional_groups)
    only = _option_values(words, "--only")
    if _has(words, "--no-dev", "--only-root"):
        installed: frozenset[str] = frozenset()
        why = "no development groups (--no-dev / --only-root)"
    elif only is not None:
        installed = frozenset(only) & (dev_groups | optional_dev)
        why = f"--only {','.join(only)}"
    else:
        with_groups = frozenset(_option_values(words, "--with") or ()) & optional_dev
        without = frozenset(_option_values(words, "--without") or ())
        installed = (dev_groups | with_groups) - without
        if _has(words, "--all-groups"):
            installed = (dev_groups | optional_dev) - without
        why = f"installs the group(s) {', '.join(sorted(installed))}" + (
            "" if project.known else " (no pyproject.toml in the build context: a dev group is assumed)"
        )
    return Install("poetry", command, normalise(target, state.workdir), bool(installed), why)
