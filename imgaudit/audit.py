"""The pipeline in one function: an opened image in, a `Report` out. No printing, no exits."""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import zstandard

from imgaudit.advise import advise
from imgaudit.advise.interface import AdviceContext
from imgaudit.classify.attribution import attribute
from imgaudit.classify.base import base_from_diff_ids, decide_base
from imgaudit.classify.categories import build_rules, classify
from imgaudit.classify.project import ProjectFiles
from imgaudit.dockerfile.lint import pragma_silenced
from imgaudit.dockerfile.mapping import layer_lines
from imgaudit.dockerfile.parse import ParsedDockerfile
from imgaudit.errors import LayerError
from imgaudit.layers.merge import MergedFilesystem, Removal, merge_layers
from imgaudit.layers.paths import parent
from imgaudit.layers.walk import analyze_layer
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
from imgaudit.sources.compression import decompressed
from imgaudit.sources.interface import ImageSource

Progress = Callable[[str], None]
WASTED_PATHS_SHOWN = 25
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


def analyze_source_layer(source: ImageSource, descriptor: LayerDescriptor) -> LayerAnalysis:
    """Read one layer blob of a source: decompress, walk, and name the layer in any error."""
    label = f"layer {descriptor.index} ({(descriptor.digest or descriptor.diff_id or '?')[:19]})"
    try:
        with source.open_layer(descriptor.index) as raw:
            return analyze_layer(decompressed(raw))
    except LayerError as exc:
        raise LayerError(f"{label}: {exc.message}", where=source.info.origin.location) from exc
    except (EOFError, zlib.error, zstandard.ZstdError) as exc:
        raise LayerError(
            f"{label}: compressed data is corrupt or truncated ({exc})", where=source.info.origin.location
        ) from exc
    except OSError as exc:  # gzip.BadGzipFile is an OSError
        raise LayerError(f"{label}: cannot be read ({exc})", where=source.info.origin.location) from exc


def read_layers(source: ImageSource, progress: Progress | None = None) -> MergedFilesystem:
    analyses = []
    for descriptor in source.layers:
        if progress:
            progress(f"reading layer {descriptor.index + 1}/{len(source.layers)}")
        analyses.append(source.analysis(descriptor.index) or analyze_source_layer(source, descriptor))
    return merge_layers(analyses)


def measure_slim_base(source: ImageSource) -> SlimBase:
    merged = read_layers(source)
    return SlimBase(
        reference=source.info.reference or source.info.origin.location,
        paths=frozenset(f.path for f in merged.files),
        final_bytes=merged.final_bytes,
    )


def audit(
    source: ImageSource, options: AuditOptions | None = None, progress: Progress | None = None
) -> Report:
    """Walk every layer of the image, merge them and attribute each byte."""
    options = options or AuditOptions()
    started = time.perf_counter()
    info, descriptors = source.info, list(source.layers)
    merged = read_layers(source, progress)
    base = (None if options.base else source.base_hint()) or _base(options, descriptors, info)
    attribution = attribute(merged, info, base.layer_count, options.project)
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
        layer_lines(options.dockerfile, info.history) if options.dockerfile else {},
        os_packages=attribution.os_packages,
        build_paths=attribution.build_paths,
        slim_base=options.slim_base,
    )
    findings, plan = advise(context, options.ignore)
    # `# imgaudit ignore=ID` above the instructions a finding points at silences it here too.
    silenced = pragma_silenced(findings, options.dockerfile) if options.dockerfile else ()
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
        largest_directories=largest_directories(merged),
        warnings=merged.warnings,
        duration_seconds=time.perf_counter() - started,
        findings=findings,
        plan=plan,
        environments=attribution.environments,
        os_packages=attribution.os_packages,
        dev_dependencies=attribution.dev_dependencies,
    )


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
    merged: MergedFilesystem, limit: int = LARGEST_DIRECTORIES_SHOWN
) -> tuple[DirectorySize, ...]:
    """The biggest directories (up to four levels deep) of the final filesystem. A directory
    that is almost all one child is left out: the child says more."""
    sizes: dict[str, int] = defaultdict(int)
    for final in merged.files:
        if not final.size:
            continue
        parts = final.path.split("/")[:-1]
        for depth in range(1, min(len(parts), _DIRECTORY_DEPTH) + 1):
            sizes["/".join(parts[:depth])] += final.size
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
