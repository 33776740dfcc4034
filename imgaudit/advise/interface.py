"""What every finding family receives and returns.

A finding claims *units*: files of the final filesystem and wasted files (bytes that ship but
that no final path reaches). Savings are sums over units, so the plan can take unions of
them and never count a byte twice, however much findings overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from imgaudit.advise.ownership import FirstWriters
from imgaudit.advise.unit_table import Unit as Unit
from imgaudit.advise.unit_table import UnitTable
from imgaudit.advise.unit_table import wasted_unit as wasted_unit
from imgaudit.classify.categories import Classification
from imgaudit.classify.context import instruction
from imgaudit.classify.projects.interface import ProjectFiles
from imgaudit.classify.runtime import RuntimeSet
from imgaudit.layers.merge import MergedFilesystem
from imgaudit.model import (
    Category,
    DockerfileLine,
    Evidence,
    Fix,
    ImageInfo,
    LayerDescriptor,
    OsPackage,
    PythonEnvironment,
    SlimBase,
)

# Unit and wasted_unit are part of this interface; their home is the table that indexes units.
from imgaudit.severity import Severity

EVIDENCE_PATHS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class AdviceContext:
    """Everything the advisor may look at. Pure data: the advise stage does no I/O."""

    merged: MergedFilesystem
    classification: Classification
    info: ImageInfo
    layers: tuple[LayerDescriptor, ...]
    base_layer_count: int
    # Lines of the Dockerfile instruction that made each layer (when `--dockerfile` is given).
    layer_lines: dict[int, DockerfileLine] = field(default_factory=dict)
    os_packages: tuple[OsPackage, ...] = ()
    # Final paths owned by build-only OS packages (compilers, headers, what only they need).
    build_paths: frozenset[str] = frozenset()
    # Final paths of OS packages above the base that the runtime stage installs again (classify).
    runtime_os_paths: frozenset[str] = frozenset()
    slim_base: SlimBase | None = None  # `--slim-base`: measure the base against it
    # Where the app was installed and the final files it runs on (classify.runtime).
    runtime: RuntimeSet | None = None
    # Tool name (`poetry`) -> the distribution names running it uses (classify.toolchain).
    tool_needs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # From the attribution (classify.projects): the project found, the format that decided dev
    # from main, and the dev-only distributions (`name==version`). The advisor never re-derives them.
    project: ProjectFiles | None = None
    project_format: str | None = None
    dev_distributions: tuple[str, ...] = ()
    # The Python environments of the final filesystem with their distributions (classify).
    environments: tuple[PythonEnvironment, ...] = ()

    # Built on first use and shared by every finding of the audit (see advise.unit_table).
    _table: UnitTable | None = field(default=None, init=False, repr=False, compare=False)
    # The layers that first wrote units' bytes (see advise.ownership): built on first use.
    _first_writers: FirstWriters | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def table(self) -> UnitTable:
        table = self._table
        if table is None:
            table = UnitTable.of(self.merged, self.classification, self.base_layer_count)
            object.__setattr__(self, "_table", table)  # frozen: a cache of derived data, set once
        return table

    @property
    def total_bytes(self) -> int:
        return self.merged.total_bytes

    def unit_size(self, unit: Unit) -> int:
        return self.table.sizes[unit]

    def unit_path(self, unit: Unit) -> str:
        return self.table.paths[unit]

    def unit_layer(self, unit: Unit) -> int:
        return self.table.layers[unit]

    def bytes_of(self, units: Iterable[Unit]) -> int:
        return self.table.bytes_of(units)

    def compressed_bytes_of(self, units: Iterable[Unit]) -> int | None:
        """Scaled by each shipping layer's blob/uncompressed ratio; None when no layer of the
        source is compressed (the figure would only repeat the uncompressed one)."""
        ratios = self.compression_ratios()
        if ratios is None:
            return None
        # Summed per layer first: whole bytes, then one product per layer, not one per unit.
        by_layer = self.table.bytes_by_layer(units)
        return round(sum(size * ratios.get(layer, 1.0) for layer, size in sorted(by_layer.items())))

    def compression_ratios(self) -> dict[int, float] | None:
        ratios: dict[int, float] = {}
        for descriptor in self.layers:
            shipped = self.merged.layers[descriptor.index].size_bytes
            if descriptor.blob_size is None or not shipped:
                continue
            media = descriptor.media_type or ""
            # A plain tar is never smaller than the file bytes it holds, so a smaller blob
            # without a media type (docker save's layer.tar) is a compressed one.
            compressed = any(kind in media for kind in ("gzip", "zstd")) or (
                not media and descriptor.blob_size < shipped
            )
            if compressed:
                ratios[descriptor.index] = descriptor.blob_size / shipped
        return ratios or None

    def final_units(
        self,
        keep: Callable[[int, Category], bool] | None = None,
        *,
        categories: Iterable[Category] | None = None,
        above_base: bool | None = None,
        at_paths: Collection[str] | None = None,
    ) -> frozenset[Unit]:
        """Final files with bytes that `keep(i, category)` accepts (all when None), among those
        of `categories` (all when None), above the base (True), in it (False) or either (None),
        at one of `at_paths` (anywhere when None). Only the files of those categories and that
        side of the base are looked at, and the paths are tested without a call per file."""
        groups = self.table.final(categories, above_base, at_paths)
        if keep is None:
            return frozenset(unit for _, units in groups for unit in units)
        return frozenset(unit for category, units in groups for unit in units if keep(unit, category))

    def category_units(self, *categories: Category, above_base: bool | None = None) -> frozenset[Unit]:
        return self.final_units(categories=categories, above_base=above_base)

    def written_by(self, units: Iterable[Unit]) -> set[int]:
        """The layers that first wrote the units' bytes: each unit's own layer, unless that
        layer only gave the files another owner or mode (`chown -R` over what an install or a
        COPY wrote: its layer ships the copies the image keeps, the instruction that made them
        is the earlier one)."""
        firsts = self._first_writers
        if firsts is None:
            firsts = FirstWriters(self.merged, self.table, self.step_text)
            object.__setattr__(self, "_first_writers", firsts)  # frozen: derived data, set once
        return firsts.layers(units)

    def step_text(self, layer: int) -> str:
        """The instruction that made the layer: from the history, else from `--dockerfile`."""
        text = instruction(self.layers[layer].created_by) if layer < len(self.layers) else ""
        if not text and layer in self.layer_lines:
            keyword, _, rest = " ".join(
                self.layer_lines[layer].instruction.replace("\\\n", " ").split()
            ).partition(" ")
            text = f"{keyword.upper()} {rest}".strip()
        return text

    def above_base(self, layer: int) -> bool:
        return layer >= self.base_layer_count

    def instruction_lines(self, layers: Iterable[int]) -> tuple[DockerfileLine, ...]:
        found = {self.layer_lines[i] for i in layers if i in self.layer_lines}
        return tuple(sorted(found, key=lambda line: line.start))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A finding before the catalogue turns it into a `Finding` (share, lines, compression)."""

    id: str
    title: str  # the catalogue's text for the id, filled with what was measured
    units: frozenset[Unit]
    evidence: Evidence
    fix: Fix
    savings_basis: str
    # Some findings save bytes that are not units (a rebuild cost, a base swap).
    extra_savings_bytes: int = 0
    # False: the fix cannot be applied as a step of its own (a deletion a later step needs);
    # the plan leaves its bytes to the steps that do remove them.
    in_plan: bool = True
    # Below the catalogue's severity when the bytes at stake are too few to fail a
    # `--fail-on high` pipeline over (a `chmod +x` of one script); None: the catalogue's.
    severity: Severity | None = None


Detector = Callable[[AdviceContext], Sequence[Candidate]]


def top_paths(
    ctx: AdviceContext, units: Iterable[Unit], limit: int = EVIDENCE_PATHS_SHOWN
) -> tuple[str, ...]:
    """The biggest paths among units (by size, then path)."""
    return tuple("/" + ctx.unit_path(u) for u in ctx.table.largest(units, limit))


def layers_of(ctx: AdviceContext, units: Iterable[Unit]) -> tuple[int, ...]:
    """The layers a finding about `units` names: those that wrote them (`written_by`), so that
    its Dockerfile lines are the instructions to change; its bytes stay where they ship."""
    return tuple(sorted(ctx.written_by(units)))
