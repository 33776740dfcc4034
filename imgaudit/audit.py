"""The pipeline in one function: an opened image in, a `Report` out. No printing, no exits."""

from __future__ import annotations

import hashlib
import io
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO, cast

from imgaudit.classify.base import base_from_diff_ids, decide_base
from imgaudit.classify.directories import bytes_by_directory
from imgaudit.errors import LayerError, SourceError
from imgaudit.inputs import limit
from imgaudit.layers.cache import active_cache
from imgaudit.layers.merge import MergedFilesystem, Merger, Removal
from imgaudit.layers.paths import parent
from imgaudit.layers.walk import analyze_layer
from imgaudit.layers.wanted import ContentBudget
from imgaudit.model import (
    BaseImage,
    DirectorySize,
    ImageInfo,
    LayerAnalysis,
    LayerDescriptor,
    LayerReport,
    Report,
    SlimBase,
    WastedPath,
)
from imgaudit.report_cache import load_report, report_key, store_report
from imgaudit.sources.compression import DECOMPRESSION_ERRORS, decompressed, decompression_problem
from imgaudit.sources.interface import ImageSource

if TYPE_CHECKING:
    from imgaudit.classify.project import ProjectFiles
    from imgaudit.dockerfile.parse import ParsedDockerfile
    from imgaudit.model import DockerfileLine, Finding

Progress = Callable[[str], None]
# After each layer: layers done, layers in all, uncompressed file bytes read so far (a bar).
LayerProgress = Callable[[int, int, int], None]
WASTED_PATHS_SHOWN = 25
# Docker's overlay2 stacks at most 128 layers ("max depth exceeded"). Twice that leaves room for
# runtimes that stack more, and bounds what a manifest listing one small blob over and over
# can cost: 256 listings of a 1.2 MB layer of 2,000 files merge in about a second.
MAX_LAYERS = 256
LARGEST_DIRECTORIES_SHOWN = 12
_DIRECTORY_DEPTH = 4


@dataclass(frozen=True, slots=True)
class BaseSpec:
    """`--base`: the diff IDs of the image this one was built on."""

    diff_ids: tuple[str, ...]
    name: str | None


@dataclass(frozen=True, slots=True)
class AuditOptions:
    base: BaseSpec | None = None
    ignore: tuple[str, ...] = ()  # finding ids (`--ignore`)
    dockerfile: ParsedDockerfile | None = None  # `--dockerfile`: ties findings to lines
    project: ProjectFiles | None = None  # `--project DIR`: the project the image was built from
    slim_base: SlimBase | None = None  # `--slim-base`: the base to measure `fat-base-image` against


class _Hashing(io.RawIOBase):
    """Hashes what the walk reads: a layer whose bytes match its diff_id may be cached."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        self.hash.update(data)
        buffer[: len(data)] = data
        return len(data)


def analyze_source_layer(
    source: ImageSource, descriptor: LayerDescriptor, budget: ContentBudget | None = None
) -> LayerAnalysis:
    """Read one layer blob of a source: decompress, walk, and name the layer in any error;
    its digest checked (`settle`) before the analysis is handed out."""
    analysis, _ = _analyze(source, descriptor, budget, verify=False)
    source.settle()
    return analysis


def _analyze(
    source: ImageSource, descriptor: LayerDescriptor, budget: ContentBudget | None, verify: bool
) -> tuple[LayerAnalysis, bool]:
    """The analysis, and whether the bytes read hash to the layer's diff_id (when `verify`)."""
    label = f"layer {descriptor.index} ({(descriptor.digest or descriptor.diff_id or '?')[:19]})"
    try:
        with source.open_layer(descriptor.index) as raw:
            stream = decompressed(raw)
            if not verify:
                return analyze_layer(stream, budget), False
            hashing = _Hashing(stream)
            analysis = analyze_layer(cast(BinaryIO, io.BufferedReader(hashing, 1 << 20)), budget)
            return analysis, "sha256:" + hashing.hash.hexdigest() == descriptor.diff_id
    except LayerError as exc:
        raise LayerError(f"{label}: {exc.message}", where=source.info.origin.location) from exc
    except DECOMPRESSION_ERRORS as exc:
        raise LayerError(f"{label}: {decompression_problem(exc)}", where=source.info.origin.location) from exc
    except OSError as exc:  # gzip.BadGzipFile is an OSError
        raise LayerError(f"{label}: cannot be read ({exc})", where=source.info.origin.location) from exc


def read_layers(
    source: ImageSource, progress: Progress | None = None, on_layer: LayerProgress | None = None
) -> MergedFilesystem:
    """Analyse and merge the layers, bottom-up, each dropped once merged.

    A layer in the analysis cache (by diff_id) is not read at all: a registry does not send
    it, an archive seeks past it. A layer read here is cached when its analysis is a pure
    function of its bytes (the kept-content budget held) and its diff_id is trusted: the
    source vouches for it, or the bytes read hash to it.
    """
    layers = _read_layers(source, progress, on_layer)
    layers.settle(source)
    return layers.merged


@dataclass(slots=True)
class _ReadLayers:
    merged: MergedFilesystem
    # Whether every layer's analysis is trusted under its diff_id (a cache hit, or cached at
    # settling): only then may the report be cached under the diff_ids.
    trusted: bool
    to_cache: list[tuple[str | None, LayerAnalysis]]

    def settle(self, source: ImageSource) -> None:
        """Wait for the source's integrity checks (LayerError on a mismatch), then cache."""
        source.settle()
        cache = active_cache()
        if cache:
            for diff_id, analysis in self.to_cache:
                cache.put(diff_id, analysis)


# The diff_id of the one layer a blob of no bytes can be (the empty stream, whatever the
# compression: layers.walk reads it as a layer with no entries).
_NO_BYTES_DIFF_ID = "sha256:" + hashlib.sha256(b"").hexdigest()


def _may_be_cached(descriptor: LayerDescriptor) -> bool:
    """Whether the analysis cached under the layer's diff_id may stand for its blob unread.
    A layer whose diff_id was seen is otherwise taken on trust (README: Limits); a blob of no
    bytes is no other layer than the empty one, so under another diff_id it is read, and the
    source's check refuses it as `docker load` does."""
    return descriptor.blob_size != 0 or descriptor.diff_id == _NO_BYTES_DIFF_ID


def _read_layers(
    source: ImageSource, progress: Progress | None, on_layer: LayerProgress | None
) -> _ReadLayers:
    cache = active_cache()
    budget = ContentBudget()
    merger = Merger()
    trusted = cache is not None
    to_cache: list[tuple[str | None, LayerAnalysis]] = []
    # A blob the manifest lists more than once is one set of bytes: read it once, merge it as
    # often as it is listed (an outsider's manifest may list one small layer thousands of times).
    # Only such a blob's analysis is kept past its merge, and only until its last listing.
    # A listing is the same read only under the same diff_id: each listing's blob is checked
    # against its own (a classic `<id>/layer.tar` listed twice under two diff_ids is refused,
    # as `docker load` refuses it, instead of the second listing going unchecked).
    _check_layer_count(source)
    identities = [
        None if identity is None else (identity, d.diff_id)
        for d in source.layers
        for identity in (source.layer_identity(d.index),)
    ]
    listings_left = Counter(i for i in identities if i is not None)
    read_before: dict[tuple[str, str | None], tuple[LayerAnalysis, bool]] = {}
    read = 0  # uncompressed file bytes of the layers done, for the progress line
    try:
        for done, descriptor in enumerate(source.layers, start=1):
            if progress:
                progress(f"reading layer {descriptor.index + 1} of {len(source.layers)}")
            identity = identities[descriptor.index]
            if identity is not None:
                listings_left[identity] -= 1
            analysis = cache.get(descriptor.diff_id) if cache and _may_be_cached(descriptor) else None
            if analysis is None and identity in read_before:
                analysis, verified = (
                    read_before.pop(identity) if not listings_left[identity] else read_before[identity]
                )
                trusted = trusted and verified
            elif analysis is None:
                analysis = source.analysis(descriptor.index)
                verified = source.trusts_diff_ids
                if analysis is None:
                    refused = budget.refused
                    analysis, hashed = _analyze(
                        source, descriptor, budget, verify=bool(cache) and not verified
                    )
                    verified = (verified or hashed) and budget.refused == refused
                if cache and verified:
                    to_cache.append((descriptor.diff_id, analysis))
                trusted = trusted and verified
                if identity is not None and listings_left[identity]:
                    read_before[identity] = (analysis, verified)
            merger.add(analysis)
            if on_layer:  # the bytes read are summed for the progress line only
                read += analysis.file_bytes
                on_layer(done, len(source.layers), read)
    except LayerError:
        source.settle()  # a lower layer whose bytes lie is the error to report, as it came first
        raise
    return _ReadLayers(merger.result(), trusted, to_cache)


def _check_layer_count(source: ImageSource) -> None:
    """Refuse an image listing more layers than engines stack: each listing is merged in turn,
    so their number bounds the audit's time and memory, whatever the archive's size."""
    cap = limit("IMGAUDIT_MAX_LAYERS", MAX_LAYERS)
    if len(source.layers) > cap:
        raise SourceError(
            f"the image lists {len(source.layers)} layers; more than {cap} are refused "
            "(raise it with IMGAUDIT_MAX_LAYERS)",
            where=source.info.origin.location,
        )


def measure_slim_base(source: ImageSource) -> SlimBase:
    merged = read_layers(source)
    return SlimBase(
        reference=source.info.reference or source.info.origin.location,
        paths=frozenset(f.path for f in merged.files),
        final_bytes=merged.final_bytes,
    )


def audit(
    source: ImageSource,
    options: AuditOptions | None = None,
    progress: Progress | None = None,
    on_layer: LayerProgress | None = None,
) -> Report:
    """Walk every layer of the image, merge them and attribute each byte.

    With the cache on, an audit whose inputs were all seen before (`report_cache`) is the
    stored report, read back without reading a layer."""
    options = options or AuditOptions()
    started = time.perf_counter()
    cache = active_cache()
    base_hint = None if options.base else source.base_hint()
    key = report_key(source, base_hint, options) if cache else None
    cached = load_report(cache, key) if cache and key else None
    if cached is not None:
        return replace(cached, duration_seconds=time.perf_counter() - started)
    layers = _read_layers(source, progress, on_layer)
    # The layers' digests are still being checked on a second thread while this classifies
    # and advises; the report exists only once they have passed.
    report = _analyse(source, options, layers.merged, base_hint, started)
    if progress:
        progress("checking the layers' digests")  # a hash may still be running on a big layer
    layers.settle(source)
    if cache and key and layers.trusted:
        store_report(cache, key, report)
    return replace(report, duration_seconds=time.perf_counter() - started)


def _analyse(
    source: ImageSource,
    options: AuditOptions,
    merged: MergedFilesystem,
    base_hint: BaseImage | None,
    started: float,
) -> Report:
    """Classify and advise over the merged layers. The stages load here, not at import: a
    cached report needs none of them."""
    from imgaudit.advise import advise
    from imgaudit.advise.interface import AdviceContext
    from imgaudit.classify.attribution import attribute
    from imgaudit.classify.categories import build_rules, classify
    from imgaudit.classify.links import charge_links_outside_caches

    info, descriptors = source.info, list(source.layers)
    merged = charge_links_outside_caches(merged, info)
    base = base_hint or _base(options, descriptors, info)
    # Files share directories: what depends only on a file's directory is summed once.
    directory_bytes = bytes_by_directory(merged.files)
    attribution = attribute(merged, info, base.layer_count, options.project, directory_bytes)
    classification = classify(merged, build_rules(info, descriptors, base.layer_count, merged, attribution))
    layers = tuple(
        LayerReport(
            descriptor=d,
            size_bytes=merged.layers[d.index].size_bytes,
            wasted_bytes=merged.layers[d.index].wasted_bytes,
            files=merged.layers[d.index].files,
            is_base=d.index < base.layer_count,
        )
        for d in descriptors
    )
    context = AdviceContext(
        merged,
        classification,
        info,
        tuple(descriptors),
        base.layer_count,
        _dockerfile_lines(options.dockerfile, info),
        os_packages=attribution.os_packages,
        build_paths=attribution.build_paths,
        runtime_os_paths=attribution.runtime_os_paths,
        slim_base=options.slim_base,
        runtime=attribution.runtime,
        tool_needs=attribution.tool_needs,
        project=attribution.project,
        project_format=attribution.project_format,
        dev_distributions=attribution.dev_distributions,
        environments=attribution.environments,
    )
    findings, plan = advise(context, options.ignore)
    # `# imgaudit ignore=ID` above the instructions a finding points at silences it here too.
    silenced = _pragma_silenced(findings, options.dockerfile)
    if silenced:
        findings, plan = advise(context, (*options.ignore, *silenced))
    return Report(
        image=info,
        layers=layers,
        base=base,
        total_bytes=merged.total_bytes,
        final_bytes=merged.final_bytes,
        categories=classification.categories,
        wasted=wasted_paths(merged),
        largest_directories=largest_directories(merged, directory_bytes=directory_bytes),
        warnings=(*merged.warnings, *attribution.warnings),
        duration_seconds=time.perf_counter() - started,
        findings=findings,
        plan=plan,
        environments=attribution.environments,
        os_packages=attribution.os_packages,
        dev_dependencies=attribution.dev_dependencies,
    )


def _dockerfile_lines(dockerfile: ParsedDockerfile | None, info: ImageInfo) -> dict[int, DockerfileLine]:
    """Which Dockerfile line made each layer (`--dockerfile`); the linter's modules (and its
    shell parser) load only then."""
    if dockerfile is None:
        return {}
    from imgaudit.dockerfile.mapping import layer_lines

    return layer_lines(dockerfile, info.history)


def _pragma_silenced(findings: Sequence[Finding], dockerfile: ParsedDockerfile | None) -> tuple[str, ...]:
    if dockerfile is None:
        return ()
    from imgaudit.dockerfile.lint import pragma_silenced

    return pragma_silenced(findings, dockerfile)


def _base(options: AuditOptions, descriptors: Sequence[LayerDescriptor], info: ImageInfo) -> BaseImage:
    if options.base is not None:
        return base_from_diff_ids([d.diff_id for d in descriptors], options.base.diff_ids, options.base.name)
    return decide_base(len(descriptors), info.history, info.annotations)


def wasted_paths(merged: MergedFilesystem, limit: int = WASTED_PATHS_SHOWN) -> tuple[WastedPath, ...]:
    """Wasted files grouped by what the removing layer acted on: a deleted directory is one
    line; files overwritten one by one are grouped by their directory."""
    groups: dict[tuple[str, int, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in merged.wasted:
        path = parent(item.path) if item.removal is Removal.OVERWRITTEN else item.root
        group = groups[(path, item.shipped_by, item.removed_by, item.removal.value)]
        group[0] += item.size
        group[1] += 1
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return tuple(
        WastedPath("/" + path, size, files, shipped, removed, removal)
        for (path, shipped, removed, removal), (size, files) in ranked[:limit]
    )


def largest_directories(
    merged: MergedFilesystem,
    limit: int = LARGEST_DIRECTORIES_SHOWN,
    directory_bytes: Mapping[str, int] | None = None,
) -> tuple[DirectorySize, ...]:
    """The biggest directories (up to four levels deep) of the final filesystem. A directory
    that is almost all one child is left out: the child says more. `directory_bytes`:
    `bytes_by_directory(merged.files)`, when the caller has it."""
    sizes: dict[str, int] = defaultdict(int)
    if directory_bytes is None:
        directory_bytes = bytes_by_directory(merged.files)
    for directory, size in directory_bytes.items():
        # Split no further than shown: a path 2,000 levels deep is not 2,000 strings.
        parts = directory.split("/", _DIRECTORY_DEPTH) if directory else []
        for depth in range(1, min(len(parts), _DIRECTORY_DEPTH) + 1):
            sizes["/".join(parts[:depth])] += size
    biggest_child: dict[str, int] = defaultdict(int)
    for path, size in sizes.items():
        if "/" in path:
            up = parent(path)
            biggest_child[up] = max(biggest_child[up], size)
    shown = [
        DirectorySize("/" + path, size)
        for path, size in sizes.items()
        if biggest_child.get(path, 0) < 0.9 * size
    ]
    shown.sort(key=lambda d: (-d.bytes, d.path))
    return tuple(shown[:limit])
