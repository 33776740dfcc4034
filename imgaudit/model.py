"""Values shared by the pipeline stages.

Everything here is a frozen dataclass, a named tuple or an enum: stages hand these to each other and
never mutate what they received.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from imgaudit.severity import Severity as Severity  # re-exported: every stage names it as a model value


class EntryKind(StrEnum):
    """What a tar member of a layer is, after whiteouts are recognised."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  # devices, fifos: zero bytes, but they occupy a path
    WHITEOUT = "whiteout"  # `.wh.NAME`: deletes NAME from lower layers
    OPAQUE = "opaque"  # `.wh..wh..opq`: hides the directory's lower contents


class LayerEntry(NamedTuple):
    """One member of a layer tar, path normalised (no leading `/` or `./`).

    A named tuple, not a frozen dataclass: a layer has 10^5 of them and a tuple is built
    about 2.5x faster (measured 0.21 vs 0.50 us).

    For WHITEOUT the path is the deleted path; for OPAQUE it is the directory.
    `link` is the normalised target of a hard link, the raw target of a symlink.
    """

    path: str
    kind: EntryKind
    size: int = 0
    link: str | None = None


@dataclass(frozen=True, slots=True)
class LayerAnalysis:
    """What one layer tar holds: a pure function of the layer's bytes.

    Small enough to serialise, so it can be cached by the layer's diff_id.
    `contents` holds the bytes of the few small files classification reads.
    """

    entries: tuple[LayerEntry, ...]
    contents: Mapping[str, bytes] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def file_bytes(self) -> int:
        return sum(e.size for e in self.entries if e.kind is EntryKind.FILE)


@dataclass(frozen=True, slots=True)
class LayerDescriptor:
    """A layer as the image manifest and config describe it."""

    index: int
    diff_id: str | None
    digest: str | None
    media_type: str | None
    blob_size: int | None  # bytes stored in the source (compressed when the blob is)
    created_by: str | None
    created: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool
    created: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the image came from, as the report states it."""

    kind: str  # docker-archive, oci-archive, oci-layout, docker-engine, registry, skopeo-dir
    location: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    reference: str
    image_id: str | None  # sha256 of the config blob
    manifest_digest: str | None
    os: str | None
    architecture: str | None
    variant: str | None
    created: str | None
    origin: Origin
    config: Mapping[str, Any]  # the image config's `config` object (Env, User, WorkingDir, ...)
    history: tuple[HistoryEntry, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            name, _, value = str(item).partition("=")
            env[name] = value
        return env

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "")

    @property
    def workdir(self) -> str:
        return str(self.config.get("WorkingDir") or "")


class Category(StrEnum):
    """Where a byte of the final filesystem comes from. Ids are stable: never renamed."""

    BASE_IMAGE = "base_image"
    POETRY_CACHE = "poetry_cache"
    PIP_CACHE = "pip_cache"
    VIRTUALENV_SEED_CACHE = "virtualenv_seed_cache"
    APT_CACHE = "apt_cache"
    DEV_PACKAGES = "dev_packages"
    PYTHON_TOOLCHAIN = "python_toolchain"
    BUILD_TOOLCHAIN = "build_toolchain"
    PYTHON_PACKAGES = "python_packages"
    APP = "app"
    OTHER = "other"
    # Added with the project formats (uv, PDM, Pipenv): caches that ship, after the rest.
    UV_CACHE = "uv_cache"
    PDM_CACHE = "pdm_cache"
    PIPENV_CACHE = "pipenv_cache"
    CONDA_CACHE = "conda_cache"


class BaseMethod(StrEnum):
    """How the boundary between base image and the image's own layers was decided."""

    FLAG = "flag"
    ANNOTATION = "annotation"
    HISTORY = "history"
    FIRST_LAYER = "first-layer"
    LOCAL_IMAGE = "local-image"  # the engine's tagged image whose layers are a prefix of this one's


@dataclass(frozen=True, slots=True)
class BaseImage:
    method: BaseMethod
    layer_count: int
    name: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class LayerReport:
    descriptor: LayerDescriptor
    size_bytes: int  # regular-file bytes the layer ships (uncompressed)
    wasted_bytes: int
    files: int
    is_base: bool

    @property
    def index(self) -> int:
        return self.descriptor.index


@dataclass(frozen=True, slots=True)
class WastedPath:
    """Bytes that ship but that the running container never sees, grouped by directory."""

    path: str
    bytes: int
    files: int
    shipped_by: int  # layer index
    removed_by: int  # layer index
    removal: str  # deleted, hidden, overwritten, replaced


@dataclass(frozen=True, slots=True)
class DirectorySize:
    path: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Evidence:
    paths: tuple[str, ...] = ()  # absolute, the largest first
    layers: tuple[int, ...] = ()
    packages: tuple[str, ...] = ()
    details: tuple[str, ...] = ()  # one-line facts (instructions, breakdowns)
    # Where the build installed the app (`project venv /app/.venv (installed by Poetry)`):
    # estimates that remove a stage or a tool keep what runs there.
    install_layout: str | None = None


@dataclass(frozen=True, slots=True)
class SlimBase:
    """`--slim-base`: the final files of the slimmer base a user proposes, to measure against."""

    reference: str
    paths: frozenset[str]  # regular files of its merged filesystem
    final_bytes: int


@dataclass(frozen=True, slots=True)
class Fix:
    text: str
    dockerfile: str  # the snippet to write instead


@dataclass(frozen=True, slots=True)
class DockerfileLine:
    start: int
    end: int
    instruction: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One of the advisor's catalogue (stable `id`), with what applying its fix saves.

    Savings are bytes a registry stores for the image (uncompressed regular-file bytes of
    all layers): wasted bytes count, since they ship. `savings_basis` says how the figure
    was obtained, or why there is none.
    """

    id: str
    title: str
    severity: Severity
    estimated_savings_bytes: int
    share: float  # of the image's total_bytes
    evidence: Evidence
    fix: Fix
    savings_basis: str
    estimated_savings_compressed_bytes: int | None = None
    dockerfile_lines: tuple[DockerfileLine, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanStep:
    finding_ids: tuple[str, ...]
    title: str
    estimated_savings_bytes: int  # marginal: not counted by an earlier step
    estimated_final_bytes: int  # total_bytes once this and every earlier step is applied
    estimated_savings_compressed_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The fixes in the article's order, over the union of removable files.

    Figures are shipped bytes (`total_bytes`), the same quantity a rebuilt image is measured by.
    """

    steps: tuple[PlanStep, ...]
    estimated_savings_bytes: int
    estimated_final_bytes: int
    estimated_savings_compressed_bytes: int | None = None
    basis: str = "shipped"


class EnvironmentKind(StrEnum):
    VENV = "venv"  # a directory with pyvenv.cfg
    TOOL_VENV = "tool-venv"  # a venv a tool made for itself (Poetry's installer, pipx)
    SYSTEM = "system"  # an interpreter's own site-packages / dist-packages
    USER = "user"  # `pip install --user`: ~/.local/lib/pythonX.Y/site-packages


@dataclass(frozen=True, slots=True)
class Distribution:
    """One installed Python distribution; bytes are its files in the final filesystem."""

    name: str  # PEP 503 normalised
    version: str
    bytes: int
    files: int
    installer: str | None = None
    dev_only: bool = False
    reason: str | None = None  # for a dev-only one: the dev root that pulls it in
    toolchain: bool = False  # pip/Poetry toolchain outside the app's environment


@dataclass(frozen=True, slots=True)
class PythonEnvironment:
    path: str  # absolute: the venv directory, or the site-packages directory
    kind: EnvironmentKind
    python: str | None
    bytes: int  # every file beneath the path, distributions or not
    distributions: tuple[Distribution, ...]  # biggest first


class DevSource(StrEnum):
    POETRY_LOCK = "poetry.lock"
    PYPROJECT = "pyproject.toml"  # declared groups/extras, closed over installed metadata
    REQUIREMENTS = "requirements"
    HEURISTIC = "heuristic"
    UV_LOCK = "uv.lock"
    PDM_LOCK = "pdm.lock"
    PIPFILE_LOCK = "Pipfile.lock"
    PIP_TOOLS = "pip-tools"  # requirements .txt files pip-compile wrote: the whole closure pinned


class Confidence(StrEnum):
    HIGH = "high"  # a lock file's graph
    MEDIUM = "medium"  # declared roots, installed metadata for the graph
    HEURISTIC = "heuristic"  # names of well-known dev tools


@dataclass(frozen=True, slots=True)
class DevDependencies:
    """How dev-only packages were told apart from runtime ones."""

    source: DevSource
    confidence: Confidence
    project: str | None  # where the project files were found (absolute in the image, or a host dir)
    roots: tuple[str, ...] = ()  # the dev roots, `name (group)`
    format: str | None = None  # the project format that decided (classify.projects.registry)


@dataclass(frozen=True, slots=True)
class OsPackage:
    name: str
    version: str
    bytes: int
    files: int
    layer: int | None  # the layer that installed it, when the database says
    in_base: bool
    build_only: bool  # compilers, headers, ... and what only they depend on
    manager: str = "dpkg"  # dpkg or apk


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one audit found; renderers and gates read it, nothing mutates it."""

    image: ImageInfo
    layers: tuple[LayerReport, ...]
    base: BaseImage
    total_bytes: int
    final_bytes: int
    categories: Mapping[Category, int]
    wasted: tuple[WastedPath, ...]
    largest_directories: tuple[DirectorySize, ...]
    warnings: tuple[str, ...] = ()
    duration_seconds: float = 0.0
    findings: tuple[Finding, ...] = ()
    plan: Plan | None = None
    environments: tuple[PythonEnvironment, ...] = ()
    os_packages: tuple[OsPackage, ...] = ()
    dev_dependencies: DevDependencies | None = None

    @property
    def wasted_bytes(self) -> int:
        return self.total_bytes - self.final_bytes

    @property
    def efficiency(self) -> float:
        return self.final_bytes / self.total_bytes if self.total_bytes else 1.0

    @property
    def pull_bytes(self) -> int | None:
        """Registry images: the layer blob bytes a pull transfers, as stored (compressed)."""
        sizes = [layer.descriptor.blob_size for layer in self.layers]
        if self.image.origin.kind != "registry" or any(size is None for size in sizes):
            return None
        return sum(size or 0 for size in sizes)
