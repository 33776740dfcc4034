"""`imgaudit lint`: the catalogue's rules over the model of the build, without an image.

Stage-aware: a size rule fires only where the bytes reach the final image (a stage that
ships, or an environment a shipping stage copies out of a builder); on a builder that never
ships it says nothing. Each finding takes its id, level and fix from the catalogue; an inline
`# imgaudit ignore=ID[,ID]` on the lines just above an instruction silences it there.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from imgaudit.classify.project import DEV_EXTRA
from imgaudit.dockerfile.build import (
    APT_DEPENDENCY_ONLY,
    PIP_NO_CACHE_SETTING,
    PYTHON_TOOLS,
    UV_PYTHON_IMAGE,
    Build,
    Install,
    RunStep,
    StageModel,
    apk_applet,
    apk_cache_kept,
    apt_installs_recommends,
    expand,
    flag,
    holds,
    installs_os_packages,
    is_pip_install,
    normalise,
    os_packages,
    overlaps,
    pip_installs,
    poetry_requirements,
    sets_pip_no_cache,
    subcommand_argv,
)
from imgaudit.dockerfile.parse import Instruction, ParsedDockerfile
from imgaudit.dockerfile.poetry_versions import (
    CURRENT_DEBIAN,
    EndOfLife,
    end_of_life,
    impossible_poetry_version,
    last_poetry_for,
    official_python,
    supported_python,
)
from imgaudit.dockerfile.shell import Command
from imgaudit.findings.catalogue import RUNNERS, Entry, Level, entry
from imgaudit.model import Finding

ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_IGNORE = re.compile(r"^\s*#\s*imgaudit\s+ignore\s*=\s*(?P<ids>[A-Za-z0-9_,\s-]+?)\s*$")
_EXEC_KEYWORDS = frozenset({"CMD", "ENTRYPOINT", "RUN", "SHELL"})
_FULL_PYTHON = re.compile(
    r"^(?:docker\.io/)?(?:library/)?python(?::(?P<tag>[0-9][0-9.]*(?:-(?:bookworm|bullseye|buster|stretch|jessie|trixie))?|latest|bookworm|bullseye|buster|stretch|jessie|trixie))?$"
)
# The compilers and headers a full `python:X.Y` image already carries (docker-library's
# buildpack-deps, which it is built on): installing them again adds nothing above the base, and
# the image advisor's build-toolchain-at-runtime counts only what is above the base.
# build-essential is the metapackage of dpkg-dev, g++, gcc, libc6-dev and make.
FULL_IMAGE_BUILD_PACKAGES = frozenset(
    [
        "autoconf",
        "automake",
        "build-essential",
        "dpkg-dev",
        "g++",
        "gcc",
        "libbz2-dev",
        "libc6-dev",
        "libcurl4-openssl-dev",
        "libdb-dev",
        "libevent-dev",
        "libffi-dev",
        "libgdbm-dev",
        "libglib2.0-dev",
        "libgmp-dev",
        "libjpeg-dev",
        "libkrb5-dev",
        "liblzma-dev",
        "libmagickcore-dev",
        "libmagickwand-dev",
        "libmaxminddb-dev",
        "libncurses5-dev",
        "libncursesw5-dev",
        "libpng-dev",
        "libpq-dev",
        "libreadline-dev",
        "libsqlite3-dev",
        "libssl-dev",
        "libtool",
        "libwebp-dev",
        "libxml2-dev",
        "libxslt-dev",
        "libyaml-dev",
        "make",
        "zlib1g-dev",
        "default-libmysqlclient-dev",
    ]
)
_DELETERS = frozenset(
    {
        "rm",
        "cd",  # moves where the next deletion runs, writes nothing
        "find",
        "apt-get",
        "apt",
        "pip",
        "pip3",
        "poetry",
        "uv",
        "apk",
        "true",
        "yes",
        "conda",
        "mamba",
        "micromamba",
    }
)


@dataclass(frozen=True, slots=True)
class Hint:
    id: str
    line: int
    message: str
    fix: str
    level: Level = Level.WARNING
    stage: str = ""

    @property
    def entry(self) -> Entry:
        return entry(self.id)


Rule = Callable[[Build, dt.date], Iterator[Hint]]


def hint(
    finding_id: str, line: int, message: str, stage: StageModel | None = None, level: Level | None = None
) -> Hint:
    item = entry(finding_id)
    return Hint(
        finding_id,
        line,
        message,
        item.fix,
        level or item.level,
        (stage.name or str(stage.index)) if stage is not None else "",
    )


def lint(build: Build, today: dt.date, ignore: Collection[str] = ()) -> list[Hint]:
    pragmas = inline_ignores(build.parsed.text)
    hints = {
        (h.line, h.id): h
        for rule in RULES
        for h in rule(build, today)
        if h.id not in ignore and h.id not in pragmas.get(h.line, ())
    }
    return sorted(hints.values(), key=lambda h: (h.line, h.id))


def inline_ignores(text: str) -> dict[int, frozenset[str]]:
    """Line of the instruction -> ids its `# imgaudit ignore=...` comment block silences."""
    result: dict[int, frozenset[str]] = {}
    pending: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        match = _IGNORE.match(stripped)
        if match:
            pending.update(i.strip() for i in match["ids"].split(",") if i.strip())
        elif stripped.startswith("#") or not stripped:
            continue
        else:
            if pending:
                result[number] = frozenset(pending)
            pending = set()
    return result


def pragma_silenced(findings: Sequence[Finding], parsed: ParsedDockerfile) -> tuple[str, ...]:
    """The audit's finding ids whose every finding points at instructions that an inline
    `# imgaudit ignore=ID` silences."""
    pragmas = inline_ignores(parsed.text)
    by_id: dict[str, list[Finding]] = {}
    for finding in findings:
        by_id.setdefault(finding.id, []).append(finding)
    return tuple(
        finding_id
        for finding_id, found in by_id.items()
        if all(
            f.dockerfile_lines
            and all(finding_id in pragmas.get(line.start, ()) for line in f.dockerfile_lines)
            for f in found
        )
    )


# --- size rules -----------------------------------------------------------------------------


def dependency_installs(build: Build, _today: dt.date) -> Iterator[Hint]:
    exports = dev_exports(build)
    for stage in build.stages:
        for step in stage.runs:
            for install in step.installs:
                exported = _exported_requirements(build, stage, install, exports)
                if exported:
                    install = replace(install, dev=True, why=exported)
                if not install.dev:
                    continue
                if not stage.ships and build.carried(stage, install.target) is None:
                    continue
                if install.command.branch:
                    continue  # a fallback that runs only when an install before it fails
                yield hint(
                    "dev-dependencies-installed",
                    step.line,
                    f"{' '.join(install.command.words[:2])}: {install.why}{_undecided(install.command)}",
                    stage,
                )


def _undecided(command: Command) -> str:
    """What the dev install depends on when the Dockerfile does not decide it: the tests it runs
    under, the substitutions whose output could have changed its flags."""
    said = [
        *(f" when {g.describe()}" for g in command.guards),
        *(f" unless `{text}` prints other flags" for text in command.unresolved),
    ]
    return f"{''.join(said)} (the Dockerfile does not decide it)" if said else ""


@dataclass(frozen=True, slots=True)
class DevExport:
    """A requirements file written by a `poetry export` that takes development groups."""

    stage: int
    path: str
    line: int


def dev_exports(build: Build) -> list[DevExport]:
    """`poetry export --with dev` (`--dev` before Poetry 1.2, `--all-groups`, `--only test`)
    with `-o FILE`, `--output FILE` or `> FILE`."""
    found: list[DevExport] = []
    for stage in build.stages:
        for step in stage.runs:
            for command in step.commands:
                if command.name != "poetry" or command.argv[1:2] != ("export",):
                    continue
                words = command.words
                groups = [*(_values(words, "--with") or ()), *(_values(words, "--only") or ())]
                if not (
                    any(DEV_EXTRA.match(g) for g in groups) or "--dev" in words or "--all-groups" in words
                ):
                    continue
                targets = [
                    *(_values(words, "-o") or ()),
                    *(_values(words, "--output") or ()),
                    *command.outputs,
                ]
                found.extend(
                    DevExport(stage.index, normalise(t, step.state.workdir), step.line) for t in targets
                )
    return found


def _values(words: tuple[str, ...], option: str) -> list[str] | None:
    """The comma-separated values of `--option V` and `--option=V`, or None when absent."""
    values: list[str] = []
    for i, word in enumerate(words):
        if word == option and i + 1 < len(words):
            values.extend(words[i + 1].split(","))
        elif word.startswith(option + "="):
            values.extend(word.split("=", 1)[1].split(","))
    return values or None


def _exported_requirements(
    build: Build, stage: StageModel, install: Install, exports: list[DevExport]
) -> str:
    """Why this pip install takes development groups: its `-r FILE` is a dev export of this
    stage's chain, or one a `COPY --from` brought into it."""
    if install.manager != "pip" or install.dev or not exports:
        return ""
    words = install.command.words
    files = {_basename(f) for f in [*(_values(words, "-r") or ()), *(_values(words, "--requirement") or ())]}
    chain = _chain(build, stage)
    for export in exports:
        if _basename(export.path) not in files and not any(
            _basename(c.instruction.args[-1]) in files
            for s in chain
            for c in s.copies
            if c.source_stage == export.stage and any(overlaps(src, export.path) for src in c.sources)
        ):
            continue
        reaches = export.stage in {s.index for s in chain} or any(
            c.source_stage is not None
            and export.stage in {x.index for x in _chain(build, build.stages[c.source_stage])}
            and any(overlaps(src, export.path) for src in c.sources)
            for s in chain
            for c in s.copies
        )
        if reaches:
            return f"its requirements come from `poetry export` with development groups (line {export.line})"
    return ""


def _basename(path: str) -> str:
    return path.strip("\"'").rstrip("/").rsplit("/", 1)[-1]


def caches(build: Build, _today: dt.date) -> Iterator[Hint]:
    for stage in build.stages:
        if not stage.ships:
            continue
        for step in stage.runs:
            yield from (found for found, _directory in _caches_left(build, stage, step))


def _caches_left(build: Build, stage: StageModel, step: RunStep) -> Iterator[tuple[Hint, str]]:
    """The caches a RUN leaves in its layer: the finding, and the cache's directory."""
    env = step.state.env
    home = step.state.home()
    # An install that only adds the project after the dependencies' install (Poetry's and uv's
    # guides: --no-root / --no-install-project first) downloads nothing more.
    managers = {i.manager for i in step.installs if not _reinstall(build, stage, step, i)}
    if "poetry" in managers and not cache_kept_out(step, "poetry"):
        poetry = next(i for i in step.installs if i.manager == "poetry")
        directory = cache_dir(poetry.command, env, "POETRY_CACHE_DIR", f"{home}/.cache/pypoetry")
        message = "poetry install keeps its cache in this layer"
        yield hint("poetry-cache-in-layer", step.line, message, stage), directory
    pip = _pip_cache_fillers(step.commands)
    pip_kept = bool(pip) and not cache_kept_out(step, "pip")
    if pip_kept:
        directory = cache_dir(pip[0], env, "PIP_CACHE_DIR", f"{home}/.cache/pip", "--cache-dir")
        message = (
            f"{'pip-sync' if pip[0].name == 'pip-sync' else 'pip install'} keeps its cache in this layer"
        )
        yield hint("pip-cache-in-layer", step.line, message, stage), directory
    compiled = pip_compile_caches(step)
    found = hint("pip-cache-in-layer", step.line, "", stage)
    if compiled and not pip_kept:  # one finding per line and id: else the pip install's says it
        message = f"pip-compile keeps its cache in this layer ({', '.join(compiled)})"
        found = replace(found, fix=found.entry.text("fix.pip-compile"))
    for directory in compiled:
        yield replace(found, message=message), directory
    for manager, (variable, under) in _TOOL_CACHES.items():
        if manager in managers and not cache_kept_out(step, manager):
            directory = expand(env.get(variable, f"{home}/.cache/{under}"), env)
            message = f"{manager} install keeps its cache in this layer"
            yield hint(f"{manager}-cache-in-layer", step.line, message, stage), directory
    sync = "uv" in managers
    kept = [c for c in _uv_commands(step, sync) if not _uv_cache_handled(step, c, f"{home}/.cache/uv")]
    if kept:
        directory = cache_dir(kept[0], env, "UV_CACHE_DIR", f"{home}/.cache/uv", "--cache-dir")
        yield hint("uv-cache-in-layer", step.line, "uv keeps its cache in this layer", stage), directory


# Pipenv hands pip its own cache (PIPENV_CACHE_DIR); PDM keeps wheels in PDM_CACHE_DIR.
_TOOL_CACHES = {"pipenv": ("PIPENV_CACHE_DIR", "pipenv"), "pdm": ("PDM_CACHE_DIR", "pdm")}


def cache_kept_out(step: RunStep, manager: str, sync: bool = True) -> bool:
    """This RUN keeps `manager`'s cache (poetry, uv, pip, pipenv, pdm) out of its layer, as the
    tool really keeps it: a mount on it, its removal, or the tool's own switch where the tool
    honours it. lint's *-cache-in-layer and fix's cache edit both ask this. For uv, every
    `uv pip install` and (with `sync`) `uv sync` of the RUN."""
    home, env = step.state.home(), step.state.env
    if manager == "poetry":
        return _poetry_cache_handled(step, f"{home}/.cache/pypoetry")
    if manager == "pip":
        return _pip_cache_handled(step, f"{home}/.cache/pip")
    if manager == "uv":
        return all(_uv_cache_handled(step, c, f"{home}/.cache/uv") for c in _uv_commands(step, sync))
    if manager == "pipenv" and _pipenv_writes_no_cache(step):
        return True
    variable, under = _TOOL_CACHES[manager]
    return _tool_cache_handled(step, manager, expand(env.get(variable, f"{home}/.cache/{under}"), env))


def _uv_commands(step: RunStep, sync: bool) -> list[Command]:
    """The RUN's uv commands that fill uv's cache: `uv pip install`, and `uv sync` with `sync`."""
    return [
        c
        for c in step.commands
        if c.name == "uv" and (c.argv[1:3] == ("pip", "install") or (sync and c.argv[1:2] == ("sync",)))
    ]


_CONDA = frozenset({"conda", "mamba", "micromamba"})
_CONDA_INSTALLS = frozenset({"install", "create", "update", "env"})


def conda_caches(build: Build, _today: dt.date) -> Iterator[Hint]:
    """conda keeps every package it downloads in `<root prefix>/pkgs` (CONDA_PKGS_DIRS moves it)."""
    for stage in build.stages:
        if not stage.ships:
            continue
        for step in stage.runs:
            installs = [
                c
                for c in step.commands
                if c.name in _CONDA and (set(c.argv[1:2]) & _CONDA_INSTALLS) and "--help" not in c.words
            ]
            if not installs or any(c.name in _CONDA and c.argv[1:2] == ("clean",) for c in step.commands):
                continue
            env = step.state.env
            pkgs = [normalise(d) for d in (env.get("CONDA_PKGS_DIRS") or "").split(",") if d.strip()]
            pkgs = pkgs or [
                f"{normalise(env.get('MAMBA_ROOT_PREFIX') or env.get('CONDA_DIR') or '/opt/conda')}/pkgs"
            ]
            if all(step.cache_mounted(d) or step.removes(d) for d in pkgs) or _removes_pkgs(step):
                continue
            yield hint(
                "conda-cache-in-layer",
                step.line,
                f"{' '.join(installs[0].argv[: 3 if installs[0].argv[1] == 'env' else 2])} keeps its "
                f"downloaded packages in {pkgs[0]}",
                stage,
            )


def copied_wheels(build: Build, _today: dt.date) -> Iterator[Hint]:
    """The `pip wheel` + `COPY --from` + `pip install` pattern: the wheel directory the COPY
    brings stays in its layer."""
    for stage in build.stages:
        if not stage.ships:
            continue
        for step in stage.runs:
            kept = [d for d in _wheel_dirs(step) if not step.removes(d)]
            if kept:
                yield hint(
                    "wheels-left-in-image", step.line, f"pip wheel leaves its wheels in {kept[0]}", stage
                )
        for copy in stage.copies:
            if copy.source_stage is None:
                continue
            wheel_dirs = [d for step in build.stages[copy.source_stage].runs for d in _wheel_dirs(step)]
            if any(overlaps(source, d) for source in copy.sources for d in wheel_dirs):
                yield hint(
                    "wheels-left-in-image",
                    copy.instruction.start_line,
                    f"the wheels built in stage {build.stages[copy.source_stage].name or copy.source_stage} "
                    "stay in this COPY's layer",
                    stage,
                )


def _wheel_dirs(step: RunStep) -> list[str]:
    """The directories this RUN's `pip wheel -w DIR` fill."""
    found: list[str] = []
    for command in step.commands:
        if command.name.startswith("pip") and command.argv[1:2] == ("wheel",):
            words = command.words
            for i, word in enumerate(words):
                if word in ("-w", "--wheel-dir") and i + 1 < len(words):
                    found.append(normalise(words[i + 1], step.state.workdir))
                elif word.startswith("--wheel-dir="):
                    found.append(normalise(word.split("=", 1)[1], step.state.workdir))
    return found


def _removes_pkgs(step: RunStep) -> bool:
    """`rm -rf /some/prefix/pkgs/*`: conda installed under another root prefix."""
    return any(
        c.name == "rm" and any(w.rstrip("/*").endswith("/pkgs") for w in c.words[1:]) for c in step.commands
    )


def _reinstall(build: Build, stage: StageModel, step: RunStep, install: Install) -> bool:
    """An earlier RUN of this stage (or a parent) ran the same manager's install and took at
    least the groups this one takes."""
    runs = [r for s in _chain(build, stage) for r in s.runs]
    earlier = runs[: next(i for i, r in enumerate(runs) if r is step)]
    return install.manager in ("poetry", "uv") and any(
        i.manager == install.manager and (i.dev or not install.dev) for r in earlier for i in r.installs
    )


def _chain(build: Build, stage: StageModel) -> list[StageModel]:
    """The stage's parents, oldest first, then the stage."""
    chain = [stage]
    while chain[0].parent is not None:
        chain.insert(0, build.stages[chain[0].parent])
    return chain


def cache_dir(command: Command, env: Mapping[str, str], variable: str, default: str, option: str = "") -> str:
    """Where a command keeps its cache: its `--cache-dir` option, a `VAR=... command` prefix,
    the stage's ENV, or the tool's default."""
    words = command.words
    for i, word in enumerate(words):
        if option and word == option and i + 1 < len(words):
            return normalise(words[i + 1])
        if option and word.startswith(option + "="):
            return normalise(word.split("=", 1)[1])
    local = {**env, **dict(command.assignments)}
    return normalise(expand(local.get(variable) or default, local))


def _uv_cache_handled(step: RunStep, command: Command, default: str) -> bool:
    env = {**step.state.env, **dict(command.assignments)}
    cache = cache_dir(command, step.state.env, "UV_CACHE_DIR", default, "--cache-dir")
    # `--no-cache-dir` is uv's hidden alias of --no-cache, for pip's habit (astral-sh/uv#1380).
    return (
        bool(flag(env.get("UV_NO_CACHE")))
        or any(w in ("--no-cache", "-n", "--no-cache-dir") for w in command.words)
        or step.cache_mounted(cache)
        or step.removes(cache)
        or any(
            c.name == "uv" and c.argv[1:3] in (("cache", "clean"), ("cache", "prune")) for c in step.commands
        )
    )


def _poetry_cache_handled(step: RunStep, default_cache: str) -> bool:
    """Only a mount over Poetry's cache directory, or its removal, keeps the wheels out: Poetry
    downloads through its artifact cache (`artifacts/`) whatever `--no-cache` says (that flag
    turns off the repositories' metadata cache only), and `poetry cache clear NAME --all`
    empties `cache/repositories/NAME`, never `artifacts/` (python-poetry/poetry#3374, #6445;
    console/commands/cache/clear.py)."""
    installs = [i for i in step.installs if i.manager == "poetry"]
    caches = {cache_dir(i.command, step.state.env, "POETRY_CACHE_DIR", default_cache) for i in installs}
    return all(step.cache_mounted(cache) or step.removes(cache) for cache in caches)


def _tool_cache_handled(step: RunStep, tool: str, cache: str) -> bool:
    """A cache mount on it, its removal, or `TOOL cache clear` in the same RUN."""
    return (
        step.cache_mounted(cache)
        or step.removes(cache)
        or any(c.name == tool and c.argv[1:3] in (("cache", "clear"), ("--clear",)) for c in step.commands)
    )


def _pipenv_writes_no_cache(step: RunStep) -> bool:
    """Every Pipenv install of the RUN installs the lock as it is (`--deploy`, `--ignore-pipfile`,
    `sync`: no locking, so no resolver's hash cache) through a pip whose cache is off: Pipenv
    runs pip with the environment it inherits, PIP_CACHE_DIR aimed into PIPENV_CACHE_DIR, and
    pip's PIP_NO_CACHE_DIR wins over any PIP_CACHE_DIR (pypa/pipenv's utils/pip.py)."""
    installs = [i for i in step.installs if i.manager == "pipenv"]
    return bool(installs) and all(
        (i.command.argv[1] == "sync" or not {"--deploy", "--ignore-pipfile"}.isdisjoint(i.command.words))
        and _pip_cache_off({**step.state.env, **dict(i.command.assignments)})
        for i in installs
    )


def _pip_cache_off(env: Mapping[str, str]) -> bool:
    """pip reads any non-empty PIP_NO_CACHE_DIR (0 and off too) as --no-cache-dir and ignores
    an empty one."""
    return env.get("PIP_NO_CACHE_DIR", "") != ""


def _pip_cache_handled(step: RunStep, default_cache: str) -> bool:
    env = step.state.env
    if _pip_cache_off(env):
        return True
    if step.state.tool_config.get(PIP_NO_CACHE_SETTING) or any(sets_pip_no_cache(c) for c in step.commands):
        return True  # pip's config file says no-cache-dir (an earlier RUN, or this one)
    purged = any(c.name.startswith("pip") and c.argv[1:3] == ("cache", "purge") for c in step.commands)
    return purged or all(
        any(part in ("--no-cache-dir", "--no-cache") for w in c.words for part in w.split())
        # `--no-index` downloads nothing (wheels from `--find-links`, as a `pip wheel` stage
        # leaves them): no HTTP cache, and a wheel needs no build to cache.
        or "--no-index" in c.words
        or "PIP_NO_CACHE_DIR" in dict(c.assignments)
        or step.cache_mounted(cache := cache_dir(c, env, "PIP_CACHE_DIR", default_cache, "--cache-dir"))
        or step.removes(cache)
        for c in _pip_cache_fillers(step.commands)
    )


def is_pip_compile(command: Command) -> bool:
    """pip-tools' `pip-compile`, or `python -m piptools compile`."""
    return command.name == "pip-compile" or command.argv[:2] == ("piptools", "compile")


def pip_compile_caches(step: RunStep) -> list[str]:
    """The caches the RUN's pip-compile runs leave in its layer: pip-tools' own (`--cache-dir`,
    PIP_TOOLS_CACHE_DIR, else `~/.cache/pip-tools`: downloaded packages, built wheels, its
    dependency cache), and pip's HTTP cache, which it fetches through (off with PIP_NO_CACHE_DIR
    or `--pip-args --no-cache-dir`), where no mount covers them and no later command of the
    RUN removes them."""
    home, env = step.state.home(), step.state.env
    kept: list[str] = []
    for command in step.commands:
        if not is_pip_compile(command):
            continue
        local = {**env, **dict(command.assignments)}
        cache_home = normalise(expand(local.get("XDG_CACHE_HOME") or f"{home}/.cache", local))
        caches = [cache_dir(command, env, "PIP_TOOLS_CACHE_DIR", f"{cache_home}/pip-tools", "--cache-dir")]
        pip_args = [p for w in _values(command.words, "--pip-args") or () for p in w.split()]
        pip_off = _pip_cache_off(local) or step.state.tool_config.get(PIP_NO_CACHE_SETTING)
        if not pip_off and not {"--no-cache-dir", "--no-cache"} & set(pip_args):
            caches.append(cache_dir(command, env, "PIP_CACHE_DIR", f"{cache_home}/pip"))
        kept += [
            c
            for c in caches
            if not (step.cache_mounted(c) or step.removes(c, after=command)) and c not in kept
        ]
    return kept


def _pip_cache_fillers(commands: Sequence[Command]) -> list[Command]:
    """The RUN's `pip install`s, and pip-tools' `pip-sync`, which runs `pip install` (with the
    options `--pip-args` gives it: `--pip-args '--no-cache-dir'`)."""
    return [*pip_installs(commands), *(c for c in commands if c.name == "pip-sync")]


def toolchain(build: Build, _today: dt.date) -> Iterator[Hint]:
    final = build.final
    for tool in final.end.tools:
        if tool.name in PYTHON_TOOLS:
            yield hint(
                "toolchain-at-runtime",
                tool.line,
                f"{tool.name} reaches the final image (stage {final.name or final.index})",
                final,
            )
    full_base = _FULL_PYTHON.match(build.root(final).base) is not None
    by_line: dict[int, list[str]] = {}
    for package, line in final.end.build_packages:
        if full_base and package in FULL_IMAGE_BUILD_PACKAGES:
            continue  # already in the base: nothing above it (fat-base-image is the finding)
        by_line.setdefault(line, []).append(package)
    for line, packages in by_line.items():
        # One finding per line names every package it leaves (lint keeps one per line and id).
        names = list(dict.fromkeys(packages))
        verb = "is" if len(names) == 1 else "are"
        purged = [n for n in names if n in APT_DEPENDENCY_ONLY and _purged_at(build, line, n)]
        why = (
            f" ({', '.join(purged)} purged without --auto-remove: the compilers it pulled in stay)"
            if purged
            else ""
        )
        yield hint(
            "build-toolchain-at-runtime",
            line,
            f"{', '.join(names)} {verb} installed in a stage that ships{why}",
            final,
        )


def _purged_at(build: Build, line: int, package: str) -> bool:
    """The RUN at `line` names `package` in an `apt-get purge`/`remove`."""
    return any(
        c.name in ("apt-get", "apt") and {"purge", "remove"} & set(c.words) and package in c.words
        for stage in build.stages
        for step in stage.runs
        if step.line == line
        for c in step.commands
    )


def is_full_python_image(base: str) -> bool:
    """The full official Python image on Debian (buildpack-deps: compilers and headers), or a
    uv image built on it."""
    uv_python = UV_PYTHON_IMAGE.match(base.rsplit("@", 1)[0])
    full_uv = uv_python is not None and not uv_python["slim"] and uv_python["distro"] != "alpine"
    return _FULL_PYTHON.match(base) is not None or full_uv


def fat_base(build: Build, _today: dt.date) -> Iterator[Hint]:
    root = build.root(build.final)
    if is_full_python_image(root.base):
        yield hint(
            "fat-base-image",
            root.from_line,
            f"the final image starts from {root.base}, the full image with compilers and headers",
            root,
        )


def apt(build: Build, _today: dt.date) -> Iterator[Hint]:
    for stage in build.stages:
        if not stage.ships:
            continue
        for step in stage.runs:
            commands = step.commands
            if any(c.name in ("apt-get", "apt") and "update" in c.words for c in commands) and not (
                step.removes("/var/lib/apt/lists") or step.cache_mounted("/var/lib/apt/lists")
            ):
                yield hint("apt-lists-left", step.line, "apt's lists stay in this layer", stage)
            if not step.state.apt_without_recommends and any(apt_installs_recommends(c) for c in commands):
                yield hint("apt-recommends", step.line, "apt installs recommended packages too", stage)


def apk(build: Build, _today: dt.date) -> Iterator[Hint]:
    """An apk command that refreshes the indexes into its cache, with the cache neither mounted
    nor removed after it in the same RUN, where the layer ships or a shipping stage copies the
    cache out of it. (`apk cache clean` keeps every configured repository's index.)"""
    for stage in build.stages:
        for step in stage.runs:
            for command in step.commands:
                cache = apk_cache_kept(step, command)
                if cache is None:
                    continue
                if stage.ships or build.carried(stage, cache) is not None:
                    yield hint(
                        "apk-cache-left",
                        step.line,
                        f"`apk {apk_applet(command)}` keeps the package index in {cache}{_undecided(command)}",
                        stage,
                    )
                    break


def late_deletion(build: Build, _today: dt.date) -> Iterator[Hint]:
    for stage in build.stages:
        if not stage.ships:
            continue
        for step in stage.runs:
            if (
                step.commands
                and all(_only_deletes(c.argv) for c in step.commands)
                and not _uninstalls_absent_tool(step)
                and _deletes_what_the_build_wrote(build, stage, step)
            ):
                yield hint(
                    "late-deletion",
                    step.line,
                    "a RUN that only deletes: the files still ship in the layer that made them",
                    stage,
                )


def _deletes_what_the_build_wrote(build: Build, stage: StageModel, step: RunStep) -> bool:
    """A deletion of this RUN takes something an earlier step of the stage or its parents is
    known to have written: a path under one it wrote (an install's target, a cache it left, a
    file it downloaded or COPYed), packages an apt/apk/conda/pip install put there, a cache its
    tool left. What the base image holds (its .pyc files, apt's empty lists) is not this build's."""
    earlier = _earlier_runs(build, stage, step)
    written = [p for s, r in earlier for p in _written_paths(build, s, r)] + _copied_paths(build, stage, step)
    written += [location for tool in step.state.tools for location in tool.locations]
    kinds = {k for _s, r in earlier for k in _write_kinds(r)}
    kinds |= {found.id for s, r in earlier for found, _directory in _caches_left(build, s, r)}
    compiled = [p for _s, r in earlier for p in _bytecode_written(r)]
    for command in step.commands:
        kind = _deletion_kind(command.argv)
        if kind is not None and kind in kinds:
            return True
        # `find DIR -name '*.pyc' -delete` takes only bytecode: that an earlier step compiled.
        candidates = compiled if _deletes_only_bytecode(command) else written
        for path in _deleted_paths(command, step.directory(command)):
            if any(overlaps(path, w) for w in candidates):
                return True
    return False


# Commands that make only empty directories or files.
_EMPTY_MAKERS = frozenset({"mkdir", "touch"})
# Commands that change owner, group or mode: run recursively over files a layer below holds,
# the overlay filesystem copies each of them, whole, into this layer.
_OWNERSHIP = frozenset({"chown", "chmod", "chgrp"})


def rewritten_files(build: Build, _today: dt.date) -> Iterator[Hint]:
    """A `chown -R`/`chmod -R`/`chgrp -R` in a stage that ships, on what an earlier step of its
    stage chain wrote (a COPY/ADD destination, an install's target, files a RUN wrote): every
    file is shipped twice. Not on a directory only made empty (`mkdir`, `WORKDIR`), nor on what
    the same RUN made (its chown writes a file's bytes once)."""
    for stage in build.stages:
        if not stage.ships:
            continue
        for step in stage.runs:
            for command in step.commands:
                targets = _recursive_ownership_targets(command, step.directory(command))
                made_here = _made_before_in_run(step, command)
                targets = [t for t in targets if not any(holds(m, t) for m in made_here)]
                writer = next((w for t in targets if (w := _earlier_writer(build, stage, step, t))), None)
                if writer is not None:
                    yield hint(
                        "files-rewritten-later",
                        step.line,
                        f"`{command.name} -R` on what {writer} wrote: every file ships again in this layer",
                        stage,
                    )
                    break


def _recursive_ownership_targets(command: Command, workdir: str) -> list[str]:
    """The paths of a recursive chown/chmod/chgrp (`-R`, `-hR`, `--recursive`), else []."""
    if command.name not in _OWNERSHIP:
        return []
    words = command.argv[1:]
    options = list(itertools.takewhile(lambda w: w != "--", words))
    recursive = any(
        w == "--recursive" or (w.startswith("-") and not w.startswith("--") and "R" in w) for w in options
    )
    if not recursive:
        return []
    operands = [w for w in words if not w.startswith("-")]
    # The owner or mode comes first, unless `--reference=FILE` gives it.
    if not any(w.startswith("--reference") for w in words):
        operands = operands[1:]
    return [normalise(o, workdir) for o in operands]


def _made_before_in_run(step: RunStep, command: Command) -> list[str]:
    """What the RUN's commands before `command` write (directories it makes included): a chown
    of those is part of writing them, not a second copy."""
    made: list[str] = []
    before: list[Command] = []
    for earlier in step.commands:
        if earlier is command:
            break
        before.append(earlier)
        made += [
            normalise(o, step.directory(earlier)) for o in [*earlier.outputs, *_command_outputs(earlier)]
        ]
    made += [i.target for i in step.installs if any(i.command is c for c in before)]
    return made


def _earlier_writer(build: Build, stage: StageModel, step: RunStep, target: str) -> str | None:
    """The earlier step of the stage chain that wrote files at or under `target` (or a
    directory holding it), as `COPY (line N)` / `the RUN of line N`; None when none did."""
    for item, destination in reversed(_copies_before(build, stage, step)):
        if overlaps(target, destination):
            return f"the {item.keyword} of line {item.start_line}"
    for earlier_stage, run in reversed(_earlier_runs(build, stage, step)):
        if any(overlaps(target, w) for w in _written_paths(build, earlier_stage, run, empty=False)):
            return f"the RUN of line {run.line}"
    return None


def _deletes_only_bytecode(command: Command) -> bool:
    """A `find` whose `-name` tests all take Python's bytecode (`*.pyc`, `*.py[co]`,
    `__pycache__`) and nothing else."""
    words = command.argv
    patterns = [
        words[i + 1] for i, w in enumerate(words[:-1]) if command.name == "find" and w in ("-name", "-iname")
    ]
    return bool(patterns) and all(
        any(fnmatch.fnmatchcase(n, p) for n in ("a.pyc", "a.pyo", "__pycache__"))
        and not any(fnmatch.fnmatchcase(n, p) for n in ("a.py", "a.so", "a.txt"))
        for p in patterns
    )


def _bytecode_written(step: RunStep) -> list[str]:
    """Where a RUN writes bytecode: the target of a pip install (pip compiles unless told
    not to: --no-compile, PIP_NO_COMPILE), of a uv or Poetry install told to compile (neither
    does by default), and the directories `python -m compileall` names."""
    paths: list[str] = []
    for install in step.installs:
        words = install.command.words
        env = {**step.state.env, **dict(install.command.assignments)}
        if install.command.name == "uv":
            compiles = not {"--compile-bytecode", "--compile"}.isdisjoint(words)
            compiles = compiles or bool(flag(env.get("UV_COMPILE_BYTECODE")))
        elif install.manager in ("pip", "pipenv"):
            compiles = "--no-compile" not in words and env.get("PIP_NO_COMPILE", "") == ""
        else:
            compiles = install.manager == "poetry" and "--compile" in words
        if compiles:
            paths.append(install.target)
    for command in step.commands:
        if command.name == "compileall":
            paths += [normalise(w, step.state.workdir) for w in command.argv[1:] if not w.startswith("-")]
    return paths


def _earlier_runs(build: Build, stage: StageModel, step: RunStep) -> list[tuple[StageModel, RunStep]]:
    """The RUNs before `step` in its stage and the stages it is built from, oldest first."""
    runs = [(s, r) for s in _chain(build, stage) for r in s.runs]
    return runs[: next(i for i, (_s, r) in enumerate(runs) if r is step)]


def _copied_paths(build: Build, stage: StageModel, step: RunStep) -> list[str]:
    """Where the COPYs and ADDs before `step` (in its stage and parents) put their files."""
    return [path for _item, path in _copies_before(build, stage, step)]


def _copies_before(build: Build, stage: StageModel, step: RunStep) -> list[tuple[Instruction, str]]:
    """The COPYs and ADDs before `step` (in its stage and parents), with their destinations."""
    copies: list[tuple[Instruction, str]] = []
    for current in _chain(build, stage):
        workdir = current.start.workdir
        for item in current.instructions:
            if current is stage and item.start_line >= step.line:
                break
            if item.keyword == "WORKDIR" and item.args:
                workdir = normalise(expand(item.args[0], current.end.env), workdir)
            elif item.keyword in ("COPY", "ADD") and len(item.args) >= 2:
                copies.append((item, normalise(expand(item.args[-1], current.end.env), workdir)))
    return copies


# Where apt keeps what `update` fetches and `install` downloads and logs.
_APT_WRITES = {"update": ("/var/lib/apt/lists",), "install": ("/var/cache/apt", "/var/log")}


def _written_paths(build: Build, stage: StageModel, step: RunStep, *, empty: bool = True) -> list[str]:
    """The paths a RUN is known to write and leave in its layer; with `empty=False`, not those
    it only creates empty (`mkdir`, `touch`): a later `chown -R` of them copies no bytes."""
    workdir = step.state.workdir
    paths = [i.target for i in step.installs]
    paths += [directory for _found, directory in _caches_left(build, stage, step)]
    for command in step.commands:
        if not empty and command.name in _EMPTY_MAKERS:
            continue
        words = command.argv
        paths += [normalise(o, workdir) for o in command.outputs]
        if command.name in ("apt-get", "apt"):
            verbs = [w for w in words[1:] if w in _APT_WRITES]
            paths += [p for v in verbs for p in _APT_WRITES[v] if not step.removes(p, after=command)]
        if (cache := apk_cache_kept(step, command)) is not None:
            paths.append(cache)
        paths += [normalise(p, workdir) for p in _command_outputs(command)]
    return paths


def _command_outputs(command: Command) -> list[str]:
    """The files and directories a file-making command names: `mkdir`/`touch` operands, the
    destination of `cp`/`mv`/`git clone`, `curl -o`, `wget -O`/`-P`, `tar -C`, `unzip -d`
    (the working directory when a download (`curl -O`) or unpacking names none)."""
    words = command.argv
    operands = [w for w in words[1:] if not w.startswith("-")]
    name = command.name
    if name in ("mkdir", "touch"):
        return operands
    if name in ("cp", "mv") and len(operands) >= 2:
        return operands[-1:]
    if name == "git" and operands[:1] == ["clone"] and len(operands) >= 2:
        # `git clone URL [DIR]`: DIR, else the repository's name.
        return operands[2:3] or [operands[1].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")]
    named = {"curl": ("-o", "--output"), "wget": ("-O", "-P", "--directory-prefix"), "tar": ("-C", "--directory"),
             "unzip": ("-d",)}.get(name)  # fmt: skip
    if named is None:
        return []
    for index, word in enumerate(words):
        for option in named:
            # `-o FILE`, and the same at the end of joined short options (`curl -sSLo FILE`).
            joined = len(option) == 2 and re.fullmatch(rf"-[A-Za-z]*{option[1]}", word) is not None
            if (word == option or joined) and index + 1 < len(words):
                return [words[index + 1]]
            if word.startswith(option) and len(word) > len(option) and word[len(option)] != "-":
                return [word[len(option) :].removeprefix("=")]
    # curl prints to stdout unless told to keep the remote name; `wget -O-` prints too.
    if name == "curl" and not any(w == "--remote-name" or re.fullmatch(r"-[A-Za-z]*O", w) for w in words):
        return []
    if name == "wget" and any(re.fullmatch(r"-[A-Za-z]*O-", w) for w in words):
        return []
    return ["."]


def _write_kinds(step: RunStep) -> set[str]:
    """What kind of thing a RUN installs that a later removal can take: apt's, apk's and
    conda's packages, Python packages."""
    kinds: set[str] = set()
    for command in step.commands:
        if installs_os_packages(command):
            kinds.add("apk" if command.name == "apk" else "apt")
        if command.name in _CONDA and command.argv[1:2] and command.argv[1] in _CONDA_INSTALLS:
            kinds.add("conda")
    if step.installs:
        kinds.add("python")
    return kinds


def _deletion_kind(words: tuple[str, ...]) -> str | None:
    """What a removal that names no path takes: packages of a kind, or a tool's cache (as the
    id of the finding that says the cache was left)."""
    name = words[0].rsplit("/", 1)[-1] if words else ""
    if name in ("apt-get", "apt"):
        return "apt"
    if name == "apk":
        return "apk"
    if name in _CONDA:
        return "conda"
    if (name.startswith("pip") or name == "uv") and "uninstall" in words:
        return "python"
    if name.startswith("pip") or name in ("uv", "poetry", "pdm", "pipenv"):
        return f"{'pip' if name.startswith('pip') else name}-cache-in-layer"
    return None


def _deleted_paths(command: Command, workdir: str) -> list[str]:
    """The paths `rm` deletes (a trailing `/*` taken as its directory) and `find` searches."""
    words = command.argv
    if command.name == "rm":
        targets = [w for w in words[1:] if not w.startswith("-")]
    elif command.name == "find":
        targets = list(itertools.takewhile(lambda w: not w.startswith(("-", "(", "!")), words[1:])) or ["."]
    else:
        return []
    return [normalise(t.rstrip("*").rstrip("/") or "/", workdir) for t in targets]


def _uninstalls_absent_tool(step: RunStep) -> bool:
    """`pip uninstall poetry` where no Poetry reached this stage deletes nothing."""
    named = [
        w
        for c in step.commands
        if c.name.startswith("pip") and "uninstall" in c.words
        for w in c.words[c.words.index("uninstall") + 1 :]
        if not w.startswith("-")
    ]
    return bool(named) and all(n in PYTHON_TOOLS and step.state.tool(n) is None for n in named)


def _only_deletes(words: tuple[str, ...]) -> bool:
    name = words[0].rsplit("/", 1)[-1] if words else ""
    if name not in _DELETERS:
        return False
    if name in ("rm", "cd", "true", "yes"):  # `yes | pip uninstall poetry` answers the prompt
        return True
    if name == "find":
        return "-delete" in words or "rm" in words
    if name in ("apt-get", "apt"):
        return any(w in ("purge", "remove", "autoremove", "clean") for w in words)
    if name.startswith("pip") or name == "uv":
        # `rm -rf $(pip cache dir)`: the query names what rm deletes.
        return "uninstall" in words or words[1:3] in (
            ("cache", "purge"),
            ("cache", "clean"),
            ("cache", "dir"),
        )
    if name == "apk":
        return "del" in words
    if name in ("conda", "mamba", "micromamba"):
        return words[1:2] == ("clean",)
    return words[1:3] == ("cache", "clear")


@dataclass(frozen=True, slots=True)
class _ProjectVenv:
    """A venv a project install of a shipping stage makes, and the project it is made from."""

    line: int
    stage: StageModel
    command: str  # `uv sync`, as the messages name it
    manager: str
    venv: str  # its path (Poetry's and Pipenv's shared directories: `<dir>/<project's venv>`)
    project: str  # the build context's directory of its project file


def duplicate_venvs(build: Build, _today: dt.date) -> Iterator[Hint]:
    """A project install of a shipping stage makes its venv where an earlier install of the same
    tool made another from the same project file of the build context: `uv sync` before
    WORKDIR (`/.venv`) and again after it (`/app/.venv`). Both venvs ship; the hint stands on
    the earlier install, whose venv the image does not need. A venv deleted in its own RUN does
    not ship; two projects of the context (a monorepo's services) are two venvs rightly."""
    made: list[_ProjectVenv] = []
    for stage in _chain(build, build.final):
        for step in stage.runs:
            for install in step.installs:
                venv = _project_venv(stage, step, install)
                if venv is None:
                    continue
                earlier = next(
                    (
                        m
                        for m in made
                        if m.manager == venv.manager and m.project == venv.project and m.venv != venv.venv
                    ),
                    None,
                )
                if earlier is not None:
                    where = f"{venv.project}/" if venv.project else "root"
                    yield hint(
                        "duplicate-venv",
                        earlier.line,
                        f"`{earlier.command}` makes a venv in {earlier.venv}, and `{venv.command}` of line "
                        f"{venv.line} another in {venv.venv} from the same project file (in the build "
                        f"context's {where}): both ship",
                        earlier.stage,
                    )
                made.append(venv)


def _project_venv(stage: StageModel, step: RunStep, install: Install) -> _ProjectVenv | None:
    """The venv of a project tool's install (uv, Poetry, PDM, Pipenv), when it makes one that
    stays in the layer and the build says which project file it reads."""
    if install.manager == "pip" or install.command.branch or install.target in ("/usr/local", "/usr"):
        return None
    project = step.state.project_source(install.project_dir)
    if project is None or step.removes(install.target, after=install.command):
        return None
    venv = install.target
    if venv.rsplit("/", 1)[-1] == "virtualenvs":
        # Poetry's and Pipenv's shared directory: one venv per project directory in it.
        venv = f"{venv}/<the venv of {install.project_dir}>"
    command = " ".join(subcommand_argv(install.command)[:2])
    return _ProjectVenv(step.line, stage, command, install.manager, venv, project)


# --- settings and correctness ---------------------------------------------------------------


def venv_location(build: Build, _today: dt.date) -> Iterator[Hint]:
    for stage in build.stages:
        for step in stage.runs:
            for install in step.installs:
                if install.manager != "poetry" or "/virtualenvs" not in install.target:
                    continue
                # A builder matters when the runtime copies the venv, or the project directory
                # where it expected the venv (`COPY --from=builder /app /app`); one that only
                # hands over an exported requirements.txt does not.
                in_project = f"{install.project_dir.rstrip('/')}/.venv"
                if stage.ships or any(build.carried(stage, p) for p in (install.target, in_project)):
                    yield hint(
                        "venv-not-in-project",
                        step.line,
                        f"the venv goes to {install.target}, inside Poetry's cache directory"
                        + (", which this RUN deletes" if step.removes(install.target) else ""),
                        stage,
                    )


def poetry_versions(build: Build, _today: dt.date) -> Iterator[Hint]:
    for stage in build.stages:
        for step in stage.runs:
            for _requirement, match in poetry_requirements(step):
                spec = match["spec"].strip()
                if not spec:
                    message = _unpinned_poetry_message(build, official_python(build.root(stage).base))
                    yield hint("unpinned-poetry", step.line, message, stage)
                elif spec.startswith("==") and impossible_poetry_version(spec[2:]):
                    yield hint(
                        "nonexistent-poetry-version",
                        step.line,
                        f"Poetry {spec[2:]} does not exist (1.x ended with 1.8.5)",
                        stage,
                    )


def _unpinned_poetry_message(build: Build, python: tuple[int, int] | None) -> str:
    """Poetry 2.0 (January 2025) removed `install --no-dev` and no longer bundles `export` (it
    is the poetry-plugin-export plugin now): an unpinned install gets 2.x, and a build that
    still uses either stops there ("The option "--no-dev" does not exist", "The command
    "export" does not exist"). On a Python older than 2.0 runs on (3.8 and before), pip picks
    a 1.x that still has both."""
    message = "Poetry is installed without a version"
    if last_poetry_for(python) is not None:
        return message
    poetry = [
        (step.line, c)
        for stage in build.stages
        for step in stage.runs
        for c in step.commands
        if c.name == "poetry"
    ]
    plugin = any(
        "poetry-plugin-export" in step.instruction.original for stage in build.stages for step in stage.runs
    )
    broken = [
        f"no `{what}` (line {line})"
        for what, line in (
            (
                "install --no-dev",
                next((n for n, c in poetry if _verb(c) == "install" and "--no-dev" in c.argv), None),
            ),
            (
                "export without poetry-plugin-export",
                None if plugin else next((n for n, c in poetry if _verb(c) == "export"), None),
            ),
        )
        if line is not None
    ]
    if broken:
        message += f", so it is 2.x, which has {' and '.join(broken)}: the build fails there"
    return message


def _verb(command: Command) -> str | None:
    return next(iter(subcommand_argv(command)[1:2]), None)


def cache_order(build: Build, _today: dt.date) -> Iterator[Hint]:
    """The whole context copied before the first dependency install of a stage. An install
    after that copy that follows an earlier one (deps first, then the project, as uv's and
    Poetry's guides do) is cheap and is not flagged. A stage that ships inherits its parents'
    instructions in order: `COPY . /app` in a parent reruns the child's install on every code
    change just the same (each install is judged in its own stage, so once)."""
    for stage in build.stages:
        copied: Instruction | None = None
        installed = False
        for owner in _chain(build, stage) if stage.ships else [stage]:
            for item in owner.instructions:
                if item.keyword in ("COPY", "ADD") and not any(f.startswith("--from") for f in item.flags):
                    if copied is None and any(s.rstrip("/") in (".", "", "*") for s in item.args[:-1]):
                        copied = item
                elif item.keyword == "RUN":
                    step = next(s for s in owner.runs if s.instruction is item)
                    installs = any(
                        i.manager != "pip" or _requirement_file(i.command.words) for i in step.installs
                    )
                    if installs and copied is not None and not installed and owner is stage:
                        yield hint(
                            "cache-unfriendly-order",
                            copied.start_line,
                            "the whole build context is copied before the dependency install: every code "
                            "change reinstalls",
                            stage,
                        )
                    installed = installed or installs
                    if installs:
                        copied = None


def _requirement_file(words: tuple[str, ...]) -> bool:
    return "-r" in words or "--requirement" in words


def env_missing_continuation(build: Build, _today: dt.date) -> Iterator[Hint]:
    previous: Instruction | None = None
    for item in build.parsed.instructions:
        if ENV_ASSIGNMENT.match(item.original) and previous is not None and previous.keyword == "ENV":
            yield hint(
                "env-missing-continuation",
                item.start_line,
                f"`{item.original.split()[0]}` continues the ENV above without a `\\`: Docker stops at "
                "an unknown instruction",
            )
            continue
        previous = item


def exec_form_not_json(build: Build, _today: dt.date) -> Iterator[Hint]:
    for item in build.parsed.instructions:
        raw = " ".join(item.args).strip()
        # `[ -d x ] && ...` and `[[ ... ]]` are the test command; an exec form is a bracketed
        # list of quoted words, or of bare ones (`RUN [uv sync --no-dev]`: the shell looks for
        # a program named `[uv`).
        if (
            item.keyword in _EXEC_KEYWORDS
            and not item.json
            and re.match(r"^\[(?:\s*['\"]|[^\s\[\]])", raw)
            and raw.endswith("]")
        ):
            yield hint(
                "exec-form-not-json",
                item.start_line,
                f"{item.keyword} looks like an exec form but is not JSON (single quotes, or words without "
                "quotes?): Docker runs it through /bin/sh as one string",
            )


def tool_run_without_tool(build: Build, _today: dt.date) -> Iterator[Hint]:
    """The final stage starts with Poetry, uv, PDM or Pipenv (`CMD ["uv", "run", ...]`), which
    a stage of the build had and the final one does not."""
    final = build.final
    missing = {
        tool: label
        for tool, label in RUNNERS.items()
        if final.end.tool(tool) is None and any(s.end.tool(tool) for s in build.stages)
    }
    for item in final.instructions:
        if item.keyword not in ("CMD", "ENTRYPOINT"):
            continue
        words = list(item.args) if item.json else re.sub(r"[\[\],'\"]", " ", " ".join(item.args)).split()
        tool = words[0].rsplit("/", 1)[-1] if words else ""
        if tool in missing:
            yield hint(
                f"{tool}-run-without-{tool}",
                item.start_line,
                f"{item.keyword} calls {missing[tool]}, but no {missing[tool]} reaches the final stage",
                final,
            )


# Base images known to carry none of Poetry, uv, PDM, Pipenv: the official Python image and the
# distributions' own. Any other base (a team's image, uv's, a devcontainer) may.
_BARE_BASE = re.compile(r"^(?:docker\.io/)?(?:library/)?(?:python|debian|ubuntu|alpine)(?::[^$]*)?(?:@.*)?$")
# A package manager's package of the tool (Debian's pipenv/python3-poetry, Alpine's uv/poetry).
_TOOL_PACKAGE = re.compile(r"(?:^|[-.])(poetry|uv|pdm|pipenv)(?:$|[-=<>~])")


def tool_without_install(build: Build, _today: dt.date) -> Iterator[Hint]:
    """A RUN calls `poetry`, `uv`, `pdm` or `pipenv` (not under a test or as a fallback) in a
    stage built on an image that has none, where no instruction before it installed the tool:
    `/bin/sh: uv: not found`. Conservative: nothing before it in the stages may have installed
    it unseen (a requirements file, a script of the context, a package manager's package)."""
    for stage in build.stages:
        root = build.root(stage)
        written = next((i for i in build.parsed.instructions if i.start_line == root.from_line), None)
        if _BARE_BASE.match(root.base) is None or written is None or "$" in " ".join(written.args):
            continue  # a base named through an ARG is whatever the build passes
        chain = _chain(build, stage)
        for index, step in enumerate(stage.runs):
            after = stage.runs[index + 1].state if index + 1 < len(stage.runs) else stage.end
            earlier = [r for s in chain for r in s.runs if s is not stage or r.line <= step.line]
            if any(_may_install_unseen(c) for r in earlier for c in r.commands):
                break
            for command in step.commands:
                tool = command.words[0] if command.words else ""
                if tool not in RUNNERS or command.conditional or len(command.words) < 2:
                    continue
                if (
                    step.state.tool(tool) is not None
                    or after.tool(tool) is not None
                    or _mounts_tool(step, tool)
                ):
                    continue
                yield hint(
                    f"{tool}-run-without-{tool}",
                    step.line,
                    f"RUN calls {RUNNERS[tool]}, but nothing installed it in this stage and its base "
                    f"{root.base} has none: the build stops at `{tool}: not found`",
                    stage,
                )
                break


def _mounts_tool(step: RunStep, tool: str) -> bool:
    """The RUN mounts the tool in for itself, as uv's guide shows
    (`--mount=from=ghcr.io/astral-sh/uv,source=/uv,target=/bin/uv uv sync`), or mounts something
    on a bin/ or /opt directory that may hold it."""
    return any(
        m.kind == "bind"
        and (
            m.target.rsplit("/", 1)[-1] == tool or "bin" in m.target.split("/") or m.target.startswith("/opt")
        )
        for m in step.mounts
    )


def _may_install_unseen(command: Command) -> bool:
    """A command that may install a tool the build model does not see: pip from a requirements
    file or a project, a script of the context, an OS package named after the tool, conda."""
    words = command.argv
    if is_pip_install(command) and any(
        w in ("-r", "--requirement", "-e", ".") or w.startswith("-r") for w in words
    ):
        return True
    if installs_os_packages(command) and any(_TOOL_PACKAGE.search(p) for p in os_packages(command)):
        return True
    if command.name in ("conda", "mamba", "micromamba", "pipx", "brew", "nix-env"):
        return True
    program = command.words[0] if command.words else ""
    script = (
        command.words[1]
        if command.name in ("sh", "bash", "dash", "ash", "source", ".") and len(command.words) > 1
        else program
    )
    return (
        script.startswith(("./", "../"))
        or script.endswith((".sh", ".bash"))
        or (script.startswith("/") and not script.startswith(("/usr/", "/bin/", "/sbin/", "/opt/")))
    )


def runtime_without_workdir(build: Build, _today: dt.date) -> Iterator[Hint]:
    final = build.final
    if len(build.stages) < 2 or final.end.workdir != "/":
        return
    yield hint(
        "runtime-stage-without-workdir",
        final.from_line,
        "the final stage sets no WORKDIR: relative COPY destinations and the start command run from /",
        final,
    )


def end_of_life_base(build: Build, today: dt.date) -> Iterator[Hint]:
    """A stage's base names a Python or a Debian release whose security support ended: by
    codename, by number (`debian:10.13`) or by the official Python image's tag, patch releases
    and variants included (`python:3.8.18-slim-bookworm` is Python 3.8)."""
    for stage in build.stages:
        if stage.parent is not None:
            continue
        ended = end_of_life(stage.base, today)
        if ended:
            yield hint(
                "end-of-life-base",
                stage.from_line,
                f"{stage.base}: " + "; ".join(_end_of_life_said(e, today) for e in ended),
                stage,
                None if stage.ships else Level.INFO,
            )


def _end_of_life_said(ended: EndOfLife, today: dt.date) -> str:
    said = f"{ended.what} no longer gets security updates (since {ended.ended.isoformat()})"
    if ended.what.startswith("Python"):
        supported = supported_python(today)
        # docker-library stops building a Python at its end of life: the image's OS packages
        # stay as they were that day, whatever Debian it is on.
        return said + (
            ", nor does its official image, which is no longer rebuilt"
            + (f" (use Python {supported} or newer)" if supported else "")
        )
    return said + f" (use {CURRENT_DEBIAN})"


RULES: tuple[Rule, ...] = (
    dependency_installs,
    caches,
    conda_caches,
    copied_wheels,
    toolchain,
    fat_base,
    apt,
    apk,
    late_deletion,
    rewritten_files,
    venv_location,
    duplicate_venvs,
    poetry_versions,
    cache_order,
    env_missing_continuation,
    exec_form_not_json,
    tool_run_without_tool,
    tool_without_install,
    runtime_without_workdir,
    end_of_life_base,
)
