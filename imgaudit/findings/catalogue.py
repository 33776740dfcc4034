"""The one catalogue of findings: an id means the same thing in the image advisor
(`imgaudit IMAGE`), in `imgaudit lint` and in `imgaudit fix`.

Each entry says what the finding sees, how severe it is for the image advisor (`severity`)
and for lint (`level`: what `--failure-threshold` compares), whether it is about bytes the
image ships (`size`: a lint hint on a stage that never ships is not a size finding), and the
fix with a snippet. The advisor's detectors and lint's rules look things up here by id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from imgaudit.errors import UsageError
from imgaudit.severity import Severity


class Level(StrEnum):
    """lint's levels, most severe first (SARIF's error/warning/note)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, threshold: Level) -> bool:
        return self.rank <= threshold.rank


_RANKS = {Level.ERROR: 0, Level.WARNING: 1, Level.INFO: 2}


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    severity: Severity  # in an image audit
    level: Level  # in lint, on a stage that ships
    size: bool  # about bytes the image ships
    sees: str  # what the rule looks at
    fix: str
    snippet: str = ""
    image: bool = True  # the image advisor reports it too (else lint/fix only)
    # The image advisor's own texts where it says more than `title`/`fix` can without an image:
    # name ("title", "fix", or a variant such as "fix.one-run") -> a str.format template that the
    # advisor fills with what it measured (layer numbers, byte counts, the tool found).
    image_texts: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def text(self, name: str, **measured: object) -> str:
        """The advisor's text `name`, filled in: a template of `image_texts`, else `title`/`fix`.
        A template field the advisor does not pass raises KeyError (the unit tests catch it)."""
        template = self.image_texts.get(name)
        if template is None:
            template = {"title": self.title, "fix": self.fix}[name]
        return template.format(**measured)


# The project tools whose `run` a start command may go through, by their command and name.
RUNNERS = {"poetry": "Poetry", "uv": "uv", "pdm": "PDM", "pipenv": "Pipenv"}


def _run_without_tool(tool: str, label: str) -> Entry:
    """`{tool}-run-without-{tool}`: one rule (lint's tool_run_without_tool), an id per tool, as
    the caches have."""
    return Entry(
        f"{tool}-run-without-{tool}",
        f"{label} is called in a stage that does not have it",
        Severity.HIGH,
        Level.ERROR,
        False,
        f"CMD/ENTRYPOINT of the final stage starts with `{tool}` while no {label} reaches that stage; "
        f"or a RUN calls `{tool}` in a stage built on an image without it (python, debian, ubuntu, "
        f"alpine) where nothing installed it",
        f"Call the venv's programs directly (its bin/ is on PATH); a RUN needs {label} installed in "
        "its stage first.",
        'CMD ["python", "-m", "app"]',
        image=False,
    )


_ENTRIES = (
    Entry(
        "poetry-cache-in-layer",
        "Poetry's cache ships in the image",
        Severity.HIGH,
        Level.WARNING,
        True,
        "`poetry install` in a stage that ships, with no cache mount, `poetry cache clear`, "
        "`--no-cache` or removal of POETRY_CACHE_DIR in the same RUN",
        "Point POETRY_CACHE_DIR at a throw-away directory and remove it in the same RUN as `poetry install`.",
        "ENV POETRY_CACHE_DIR=/tmp/poetry_cache\nRUN poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR",
        image_texts={
            # Deleting the cache directory would delete a venv that lives inside it.
            "fix.venv-in-cache": "Point POETRY_CACHE_DIR at a throw-away directory and remove it in the same "
            "RUN as `poetry install` (keep the venv out of it: POETRY_VIRTUALENVS_IN_PROJECT=1).",
        },
    ),
    Entry(
        "pip-cache-in-layer",
        "pip's cache ships in the image",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "`pip install` (pip-tools' `pip-sync` too) in a stage that ships, without --no-cache-dir, "
        "PIP_NO_CACHE_DIR, a cache mount on ~/.cache/pip or its removal in the same RUN; `pip-compile`, "
        "whose own cache (~/.cache/pip-tools, PIP_TOOLS_CACHE_DIR) is neither mounted nor removed, or "
        "whose pip keeps its HTTP cache",
        "Tell pip not to keep a cache: `pip install --no-cache-dir`, or PIP_NO_CACHE_DIR=1 for every step.",
        "RUN pip install --no-cache-dir -r requirements.txt",
        image_texts={
            # pip-compile keeps its own cache beside pip's: PIP_NO_CACHE_DIR turns off pip's only.
            "fix.pip-compile": "Compile the requirements outside the image and commit them; a pip-compile "
            "in the build needs its caches kept out of the layer: a cache mount on ~/.cache (pip-tools' "
            "and pip's), or `rm -rf ~/.cache/pip-tools ~/.cache/pip` in the same RUN.",
        },
    ),
    Entry(
        "uv-cache-in-layer",
        "uv's cache ships in the image",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "`uv sync`/`uv pip install` in a stage that ships, without --no-cache, UV_NO_CACHE, a "
        "cache mount on uv's cache or `uv cache clean` in the same RUN",
        "Keep uv's cache out of the image: a cache mount for `uv sync` (with UV_LINK_MODE=copy, "
        "since a mounted cache cannot be hard-linked into the venv), or UV_NO_CACHE=1 / "
        "`rm -rf` the cache in the same RUN.",
        "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev",
    ),
    Entry(
        "pdm-cache-in-layer",
        "PDM's cache ships in the image",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "PDM's cache (`~/.cache/pdm`, PDM_CACHE_DIR) shipped in a layer of the image",
        "Keep PDM's cache out of the image: a cache mount, or PDM_CACHE_DIR removed in the same RUN.",
        "RUN --mount=type=cache,target=/root/.cache/pdm pdm install --check --prod --no-editable",
    ),
    Entry(
        "pipenv-cache-in-layer",
        "Pipenv's cache ships in the image",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "Pipenv's cache (`~/.cache/pipenv`, PIPENV_CACHE_DIR) shipped in a layer of the image",
        "Keep Pipenv's cache out of the image: a cache mount, or remove it in the same RUN "
        "(PIPENV_CACHE_DIR; pip's cache too).",
        "RUN pipenv install --deploy && rm -rf /root/.cache/pipenv /root/.cache/pip",
    ),
    Entry(
        "conda-cache-in-layer",
        "conda's package cache ships in the image",
        Severity.HIGH,
        Level.WARNING,
        True,
        "`conda`/`mamba`/`micromamba` install, create or update in a stage that ships, with no "
        "`clean --all` in the same RUN, no cache mount on the pkgs directory (CONDA_PKGS_DIRS) and "
        "no removal of it: every downloaded package stays, as tarball and extracted",
        "Clean conda's package cache in the same RUN, or mount it as a cache.",
        "RUN conda env create -f environment.yml && conda clean --all --yes",
    ),
    Entry(
        "wheels-left-in-image",
        "Built wheels are copied into a stage that ships and stay there after the install",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "`COPY --from=builder` of the directory a builder filled with `pip wheel -w DIR` into a "
        "stage that ships: the wheels stay in that COPY's layer beside the packages installed "
        "from them (a later `rm` cannot remove them from it)",
        "Install from the builder's wheels through a bind mount, so no layer keeps them.",
        "RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \\\n"
        "    pip install --no-cache-dir /wheels/*",
        image=False,
    ),
    Entry(
        "late-deletion",
        "Files deleted by a later layer still ship in the layer that made them",
        Severity.HIGH,
        Level.WARNING,
        True,
        "a RUN in a stage that ships that only deletes (rm, apt-get purge/clean, pip uninstall, "
        "poetry cache clear): the files stay in the earlier layer",
        "Delete in the same RUN that creates the files (or never create them); a later `RUN rm` only hides them.",
        "RUN <the command that creates the files> \\\n    && rm -rf <the files>",
        image_texts={
            "title": "Deleted by layer {removed}, but layer {shipped} still ships it",
            # A later instruction uses the files and a COPY/ADD stands in between: no same-RUN edit.
            "fix.blocked": "Deleting these in the RUN that creates them would break layer {last} "
            "({last_step}), which uses them, and {between} stands in between: only a multi-stage build "
            "leaves them out of the image (see toolchain-at-runtime).",
            "fix.one-run": "Layer {last} ({last_step}) uses these files: deleting them where they are "
            "created would break it. Create, use and delete them in one RUN.",
        },
    ),
    Entry(
        "files-rewritten-later",
        "Files written again by a later layer still ship in the layer that made them",
        Severity.HIGH,
        Level.WARNING,
        True,
        "a RUN in a stage that ships that runs `chown -R`, `chmod -R` or `chgrp -R` on what an "
        "earlier step of the stage wrote (a COPY/ADD destination, an install's target or venv, "
        "files a RUN wrote): every file is copied again into the new layer",
        "Set owner and mode where the files are written (`COPY --chown=`/`--chmod=`, or chown in "
        "the RUN that writes them); a later `chown -R`/`chmod -R` copies every file into a new layer.",
        "COPY --chown=app:app . /app",
        image_texts={
            "title": "Written again by layer {rewritten}, but layer {shipped} still ships the first copy",
            # The rewriting RUN changes owner, group or mode (chown, chmod, chgrp).
            "fix.ownership": "Set owner and mode where the files are written (`COPY --chown=USER:GROUP`/"
            "`--chmod=`, chown in the RUN that creates them, or create the user first and install as that "
            "user); layer {rewritten} ({step}) changes owner or mode of what layer {shipped} wrote, so "
            "every file ships again.",
            # A reinstall, a second COPY of the same files, a tool that rewrites what it finds.
            "fix.write-once": "Write each file once; layer {rewritten} ({step}) writes again what layer "
            "{shipped} wrote: leave them out of the earlier step, or out of the later one.",
        },
    ),
    Entry(
        "duplicate-venv",
        "Two venvs of the same project ship in the image",
        Severity.HIGH,
        Level.WARNING,
        True,
        "a project install (`uv sync`, `poetry install`, `pdm install`, `pipenv install`) in a stage "
        "that ships that makes its venv in another directory than an earlier install of the same "
        "tool made one from the same project file of the build context (`uv sync` before WORKDIR "
        "makes /.venv, after `WORKDIR /app` /app/.venv); in the image, a venv whose distributions "
        "another venv holds too",
        "Install into one venv: set WORKDIR (or UV_PROJECT_ENVIRONMENT) before the first install, so "
        "that the dependencies' install and the project's fill the same venv.",
        "WORKDIR /app\nCOPY pyproject.toml uv.lock ./\nRUN uv sync --locked --no-dev --no-install-project\n"
        "COPY . .\nRUN uv sync --locked --no-dev",
        image_texts={"title": "A second venv with the same distributions ships: {redundant} beside {kept}"},
    ),
    Entry(
        "dev-dependencies-installed",
        "Development-only packages are installed in the image",
        Severity.HIGH,
        Level.WARNING,
        True,
        "an install (Poetry, uv, PDM, Pipenv, pip) that takes the project's development groups, "
        "in a stage that ships or whose environment a shipping stage copies",
        "Install the main dependencies only.",
        "RUN poetry install --without dev --no-root   # uv sync --no-dev · pdm install --prod",
    ),
    Entry(
        "toolchain-at-runtime",
        "Poetry and the build toolchain ship in the runtime image",
        Severity.HIGH,
        Level.WARNING,
        True,
        "Poetry, Pipenv, PDM, pipx or uv installed in a stage that ships, or copied into it "
        "(`COPY --from` of /usr/local, $POETRY_HOME, ~/.local)",
        "Build the venv in a builder stage; the runtime stage starts again from the base "
        "and copies only the venv and the app's code (`imgaudit fix` writes it).",
        "FROM BASE AS builder\n...\nFROM BASE AS runtime\nCOPY --from=builder /app/.venv /app/.venv",
        image_texts={
            "title": "{tool} and the build toolchain ship in the runtime image",
            "fix.shared-interpreter": "The app is installed beside {tool} in the system interpreter: install "
            "it into a venv in a builder stage instead (made without pip and setuptools; for Poetry, no "
            "`virtualenvs.create false`), and copy only that venv and the app's code into a runtime stage "
            "that starts again from the base.",
        },
    ),
    Entry(
        "build-toolchain-at-runtime",
        "Compilers, headers and build tools installed above the base ship at runtime",
        Severity.HIGH,
        Level.WARNING,
        True,
        "apt/apk installs of compilers, build-essential, make or `*-dev` headers in a stage "
        "that ships, not removed in the same RUN, that add to the base (on a full python image, "
        "the packages it already carries are the fat-base-image finding)",
        "Install build tools only in the builder stage; the runtime stage gets the built venv.",
        "FROM BASE AS builder\nRUN apt-get install -y --no-install-recommends build-essential\n...\n"
        "FROM BASE AS runtime\nCOPY --from=builder /app/.venv /app/.venv",
    ),
    Entry(
        "fat-base-image",
        "The base image carries compilers and headers the app does not run with",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "the final image starts from a full `python:X.Y` image (not -slim or -alpine)",
        "Keep the full base for the builder stage only; run on its -slim variant.",
        "FROM python:X.Y AS builder\n...\nFROM python:X.Y-slim AS runtime",
        image_texts={"title.measured": "The base image carries files its slim variant ({slim}) does without"},
    ),
    Entry(
        "apt-lists-left",
        "apt lists or downloaded packages left in the image",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "`apt-get update` in a stage that ships, without removing /var/lib/apt/lists in the same "
        "RUN or a cache mount on it",
        "Remove apt's lists in the RUN that downloads them.",
        "RUN apt-get update && apt-get install -y --no-install-recommends PKG && rm -rf /var/lib/apt/lists/*",
        # The image shows which of apt's leftovers ship (lists, pkgcache.bin, downloaded .debs).
        image_texts={"fix": "Clean what apt left ({leftovers}) in the RUN that installs packages."},
    ),
    Entry(
        "apk-cache-left",
        "apk's package index or downloaded packages left in the image",
        Severity.MEDIUM,
        Level.WARNING,
        True,
        "`apk add`, `apk update`, `apk upgrade` or `apk fix` without `--no-cache` in a stage that "
        "ships (or whose /var/cache/apk a shipping stage copies), with no cache mount on "
        "/var/cache/apk or /etc/apk/cache and no removal of the cache after it in the same RUN "
        "(`apk cache clean` keeps the indexes)",
        "Let apk fetch its index on the fly and keep none: `apk add --no-cache` (or "
        "`rm -rf /var/cache/apk/*` in the same RUN).",
        "RUN apk add --no-cache PACKAGES",
        # The image shows what apk left (indexes, the packages an enabled cache keeps) and where.
        image_texts={
            "fix": "Let apk fetch its index on the fly and keep none: `apk add --no-cache` "
            "(or `rm -rf {where}` in the same RUN); this image keeps {leftovers}."
        },
    ),
    Entry(
        "apt-recommends",
        "apt installs recommended packages too",
        Severity.LOW,
        Level.WARNING,
        True,
        "`apt-get install` in a stage that ships without --no-install-recommends or "
        "`-o APT::Install-Recommends=false` (or an apt.conf.d file that says so)",
        "Install only what you ask for.",
        "RUN apt-get install -y --no-install-recommends PACKAGES",
    ),
    Entry(
        "venv-not-in-project",
        "The venv lives in Poetry's cache directory",
        Severity.MEDIUM,
        Level.WARNING,
        False,
        "`poetry install` that creates its venv in Poetry's cache directory: the settings are read "
        "from ENV (this stage or a parent), `poetry config` in a RUN, a committed poetry.toml, "
        "VIRTUAL_ENV",
        "Create the venv in the project (a fixed path a runtime stage can copy, and one that survives "
        "deleting the cache).",
        "ENV POETRY_VIRTUALENVS_IN_PROJECT=1",
    ),
    Entry(
        "unpinned-poetry",
        "Poetry is installed without a version",
        Severity.LOW,
        Level.WARNING,
        False,
        "`pip install poetry` without `==VERSION`",
        "Pin Poetry, so a new release cannot change the build.",
        "RUN pip install --no-cache-dir poetry==X.Y.Z",
        image_texts={
            "fix.version-known": "Pin Poetry to the version this image has, so a new release cannot change the build."
        },
    ),
    Entry(
        "cache-unfriendly-order",
        "The app's code is copied before the dependencies are installed",
        Severity.MEDIUM,
        Level.INFO,
        False,
        "the whole build context copied before the dependency install: every code change reinstalls",
        "Copy the dependency files first, install without the project, then copy the code.",
        "COPY pyproject.toml poetry.lock ./\nRUN poetry install --no-root\nCOPY . .",
        image_texts={
            "title": "The app's code is copied before the dependencies are installed: "
            "{rebuilt} rebuilt and re-pushed per code change"
        },
    ),
    Entry(
        "unneeded-files-copied",
        "Files the app does not need are copied from the build context",
        Severity.MEDIUM,
        Level.INFO,
        True,
        "files the app does not need (tests, .git, docs) copied into the image",
        "List them in .dockerignore and copy only what the app needs (its package, the lock files).",
        ".git\ntests/\ndocs/",
    ),
    Entry(
        "env-missing-continuation",
        "An ENV continues on the next line without a `\\`",
        Severity.HIGH,
        Level.ERROR,
        False,
        "a line `NAME=value` right after an ENV: Docker reads it as an unknown instruction",
        "End every line of a multi-line ENV but the last with ` \\`.",
        "ENV A=1 \\\n    B=2",
        image=False,
    ),
    Entry(
        "exec-form-not-json",
        "An exec form that is not JSON runs through /bin/sh as one string",
        Severity.HIGH,
        Level.ERROR,
        False,
        "CMD/ENTRYPOINT/RUN/SHELL written `[...]` that is not a JSON array (single quotes?)",
        "Write it with double quotes.",
        'CMD ["python", "-m", "app"]',
        image=False,
    ),
    *(_run_without_tool(tool, label) for tool, label in RUNNERS.items()),
    Entry(
        "runtime-stage-without-workdir",
        "The runtime stage sets no WORKDIR",
        Severity.LOW,
        Level.INFO,
        False,
        "a multi-stage final stage without a WORKDIR of its own or from a parent stage",
        "Set the runtime stage's WORKDIR right after FROM, to the directory its start command expects.",
        "WORKDIR /app",
        image=False,
    ),
    Entry(
        "nonexistent-poetry-version",
        "Poetry is pinned to a version that does not exist",
        Severity.HIGH,
        Level.ERROR,
        False,
        "`poetry==1.X.Y` past 1.8.5, the last 1.x release",
        "Pin a released version.",
        "RUN pip install --no-cache-dir poetry==1.8.5",
        image=False,
    ),
    Entry(
        "end-of-life-base",
        "The base image's Python or Debian release no longer gets security updates",
        Severity.MEDIUM,
        Level.WARNING,
        False,
        "a base whose tag names an end-of-life Python (the official image's `python:3.8.18-slim`, "
        "`python:3.7-alpine`; uv's `python3.8` images: no longer rebuilt either) or Debian release "
        "(`debian:10.13`, or a codename in any tag: buster, stretch, ...)",
        "Use a supported Python and the current Debian variant.",
        "FROM python:X.Y-slim-bookworm",
        image=False,
    ),
)

CATALOGUE: dict[str, Entry] = {entry.id: entry for entry in _ENTRIES}
FINDING_IDS = tuple(CATALOGUE)
SIZE_IDS = frozenset(e.id for e in _ENTRIES if e.size)


def entry(finding_id: str) -> Entry:
    return CATALOGUE[finding_id]


def check_ids(ids: Collection[str]) -> None:
    unknown = sorted(set(ids) - set(CATALOGUE))
    if unknown:
        raise UsageError(f"unknown finding id(s): {', '.join(unknown)} (known: {', '.join(FINDING_IDS)})")
