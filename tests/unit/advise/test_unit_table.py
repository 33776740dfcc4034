"""The unit table answers each finding's questions as the per-file scans it replaced did:
directory membership as `PathSet` says, the biggest paths as a full sort says."""

from __future__ import annotations

from imgaudit.advise.unit_table import UnitTable, wasted_unit
from imgaudit.classify.categories import Classification
from imgaudit.classify.context import PathSet
from imgaudit.layers.merge import FinalFile, LayerStats, MergedFilesystem, Removal, WastedFile
from imgaudit.model import Category, EntryKind

BASE_LAYERS = 1
# Paths around a cache root's edges: the root itself, siblings that share its prefix
# (`-` and `.` sort before `/`, `0` right after it), its subtree, and duplicates.
WASTED = (
    ("root/.cache/pip", 5, 1),
    ("root/.cache/pip-tools/x", 7, 1),
    ("root/.cache/pip.d", 11, 2),
    ("root/.cache/pip/http/a", 13, 1),
    ("root/.cache/pip/http/a", 17, 2),
    ("root/.cache/pip0", 19, 1),
    ("root/.cache/pip/wheels/b", 23, 0),
    ("root/.cache/pipx/c", 29, 2),
    ("root/.cache/pip/z", 0, 2),
    ("opt/conda/pkgs/d", 31, 1),
)
FINAL = (
    ("app/a.py", 40, 2, Category.APP),
    ("app/big.bin", 100, 2, Category.APP),
    ("app/empty", 0, 2, Category.APP),
    ("usr/bin/gcc", 100, 0, Category.BUILD_TOOLCHAIN),
    ("usr/lib/x.so", 60, 0, Category.BASE_IMAGE),
    ("venv/lib/y.py", 100, 1, Category.PYTHON_PACKAGES),
)


def _table(final: tuple[tuple[str, int, int, Category], ...] = FINAL) -> UnitTable:
    files = tuple(FinalFile(path, EntryKind.FILE, size, layer) for path, size, layer, _ in final)
    wasted = tuple(
        WastedFile(path, size, shipped, 3, Removal.DELETED, path) for path, size, shipped in WASTED
    )
    layers = tuple(LayerStats(i, 0, 0, 0) for i in range(4))
    merged = MergedFilesystem(files, {}, layers, wasted, ())
    classification = Classification({}, tuple(category for *_, category in final))
    return UnitTable.of(merged, classification, BASE_LAYERS)


def test_wasted_files_under_roots_are_those_pathset_finds_above_the_base() -> None:
    table = _table()
    for roots in (
        ["root/.cache/pip"],
        ["root/.cache"],
        ["root/.cache/pip", "root/.cache/pip/http"],
        ["opt/conda/pkgs", "root/.cache/pipx", "nowhere"],
        [""],
        [],
    ):
        inside = PathSet(roots)
        expected = {
            wasted_unit(j)
            for j, (path, _, shipped) in enumerate(WASTED)
            if shipped >= BASE_LAYERS and path in inside
        }
        assert table.wasted_above_under(roots) == expected, roots


# Final files (sorted by path, as the merge lists them) around a root's edges, as WASTED has them.
FINAL_AROUND_A_ROOT = tuple(
    (path, size, layer, Category.OTHER)
    for path, size, layer in sorted(
        [
            ("etc/apk/cache", 0, 1),
            ("etc/apk/cache/gcc.apk", 30, 1),
            ("var/cache/apk", 3, 1),
            ("var/cache/apk-tools/x", 5, 1),
            ("var/cache/apk.d", 7, 2),
            ("var/cache/apk/APKINDEX.a.tar.gz", 11, 0),
            ("var/cache/apk/APKINDEX.b.tar.gz", 13, 2),
            ("var/cache/apk/empty", 0, 2),
            ("var/cache/apk0", 17, 1),
            ("var/cache/apt/x", 19, 1),
        ]
    )
)


def test_final_files_under_roots_are_those_with_bytes_pathset_finds() -> None:
    table = _table(FINAL_AROUND_A_ROOT)
    for roots in (
        ["var/cache/apk"],
        ["var/cache/apk", "etc/apk/cache"],
        ["var/cache"],
        ["var/cache/apk", "var/cache/apk/APKINDEX.a.tar.gz"],
        ["nowhere", ""],
        [],
    ):
        inside = PathSet(roots)
        expected = {i for i, (path, size, *_) in enumerate(FINAL_AROUND_A_ROOT) if size and path in inside}
        assert table.final_under(roots) == expected, roots


def test_units_index_their_columns_whether_final_or_wasted() -> None:
    table = _table()
    for i, (path, size, layer, _) in enumerate(FINAL):
        assert (table.paths[i], table.sizes[i], table.layers[i]) == (path, size, layer)
    for j, (path, size, shipped) in enumerate(WASTED):
        unit = wasted_unit(j)
        assert (table.paths[unit], table.sizes[unit], table.layers[unit]) == (path, size, shipped)


def test_final_groups_hold_the_files_with_bytes_by_category_and_side_of_the_base() -> None:
    table = _table()
    above_app = dict(table.final([Category.APP], True, None))
    assert above_app == {Category.APP: [0, 1]}  # app/empty has no bytes
    in_base = {unit for _, units in table.final(None, False, None) for unit in units}
    assert in_base == {3, 4}
    at_paths = {unit for _, units in table.final(None, None, {"usr/bin/gcc", "app/a.py"}) for unit in units}
    assert at_paths == {0, 3}


def test_largest_is_the_full_sort_by_size_then_path_cut_to_the_limit() -> None:
    table = _table()
    units = [*range(len(FINAL)), *(wasted_unit(j) for j in range(len(WASTED)))]
    full = sorted(units, key=lambda u: (-table.sizes[u], table.paths[u]))
    for limit in range(len(units) + 2):
        assert [table.paths[u] for u in table.largest(units, limit)] == [table.paths[u] for u in full[:limit]]
