"""Overlay semantics and byte accounting of the merge."""

from __future__ import annotations

import io
import random
import time

from imgaudit.layers.merge import Removal, merge_layers
from imgaudit.layers.walk import analyze_layer
from imgaudit.model import EntryKind, LayerAnalysis, LayerEntry
from tests.support.imagespec import (
    Dir,
    Entry,
    File,
    Hardlink,
    Layer,
    Opaque,
    Symlink,
    Whiteout,
    file,
    layer_tar,
)


def merged(*layers: list[Entry]):  # type: ignore[no-untyped-def]
    return merge_layers([analyze_layer(io.BytesIO(layer_tar(Layer(entries)))) for entries in layers])


def final_sizes(result) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {f.path: f.size for f in result.files}


def test_an_overwritten_file_is_wasted_and_charged_to_the_layer_that_shipped_it() -> None:
    result = merged([file("app/data", 1000)], [file("app/data", 300, seed=1)])
    assert final_sizes(result) == {"app/data": 300}
    assert [(w.path, w.size, w.shipped_by, w.removed_by, w.removal) for w in result.wasted] == [
        ("app/data", 1000, 0, 1, Removal.OVERWRITTEN)
    ]
    assert [layer.wasted_bytes for layer in result.layers] == [1000, 0]


def test_deleting_a_directory_in_a_later_layer_wastes_every_byte_beneath_it() -> None:
    result = merged(
        [
            file("root/.cache/pip/http/a", 4000),
            file("root/.cache/pip/wheels/b/c.whl", 6000),
            file("keep", 10),
        ],
        [Whiteout("root/.cache")],
    )
    assert final_sizes(result) == {"keep": 10}
    assert result.wasted_bytes == 10_000
    assert {w.root for w in result.wasted} == {"root/.cache"}
    assert result.total_bytes == result.final_bytes + result.wasted_bytes


def test_an_opaque_directory_hides_lower_contents_but_keeps_its_own_layer() -> None:
    result = merged(
        [file("opt/app/old.py", 500), file("opt/other", 7)],
        [Opaque("opt/app"), file("opt/app/new.py", 200)],
    )
    assert final_sizes(result) == {"opt/app/new.py": 200, "opt/other": 7}
    assert [(w.path, w.removal) for w in result.wasted] == [("opt/app/old.py", Removal.HIDDEN)]


def test_whiteouts_apply_to_lower_layers_only() -> None:
    # Tar order puts the new file before the whiteout; the file must survive.
    result = merged([file("etc/conf", 100)], [file("etc/conf.d/x", 5), Whiteout("etc/conf")])
    assert final_sizes(result) == {"etc/conf.d/x": 5}


def test_a_file_replaced_by_a_directory_and_a_directory_by_a_file() -> None:
    result = merged(
        [file("srv/thing", 900), file("var/tree/a", 40), file("var/tree/b/c", 60)],
        [file("srv/thing/inside", 10), file("var/tree", 3)],
    )
    assert final_sizes(result) == {"srv/thing/inside": 10, "var/tree": 3}
    assert result.wasted_bytes == 1000
    assert {w.removal for w in result.wasted} == {Removal.REPLACED}


def test_hard_links_count_their_bytes_once_while_any_link_remains() -> None:
    result = merged([file("usr/bin/python3.11", 5000), Hardlink("usr/bin/python3", "usr/bin/python3.11")])
    assert result.total_bytes == 5000 == result.final_bytes
    assert sorted(final_sizes(result).values()) == [0, 5000]

    result = merged(
        [file("usr/bin/python3.11", 5000), Hardlink("usr/bin/python3", "usr/bin/python3.11")],
        [Whiteout("usr/bin/python3.11")],
    )
    assert final_sizes(result) == {"usr/bin/python3": 5000}  # the surviving link carries the bytes
    assert result.wasted_bytes == 0

    result = merged(
        [file("usr/bin/python3.11", 5000), Hardlink("usr/bin/python3", "usr/bin/python3.11")],
        [Whiteout("usr/bin")],
    )
    assert result.wasted_bytes == 5000 and result.final_bytes == 0


def test_symlinks_are_zero_bytes_and_never_followed() -> None:
    result = merged(
        [file("data/real", 100), Symlink("data/link", "/data/real"), Symlink("evil", "../../etc")]
    )
    assert final_sizes(result) == {"data/link": 0, "data/real": 100, "evil": 0}


def test_deleting_a_missing_path_changes_nothing() -> None:
    result = merged([file("a/b", 10)], [Whiteout("x/y/z"), Whiteout("a/nothing")])
    assert final_sizes(result) == {"a/b": 10}
    assert {f.path for f in result.files} == {"a/b"}


# -- an independent model of the overlay rules, to compare on random layer stacks ----------


def reference_model(analyses: list[LayerAnalysis]) -> tuple[int, int, dict[str, int]]:
    """A deliberately naive overlay: a flat dict of path -> (kind, inode) and prefix scans."""
    state: dict[str, tuple[str, int | None]] = {}
    inode_size: dict[int, int] = {}
    next_inode = 0
    total = 0

    def remove_tree(path: str) -> None:
        for key in [k for k in state if k == path or k.startswith(path + "/")]:
            del state[key]

    for analysis in analyses:
        for entry in analysis.entries:
            if entry.kind is EntryKind.WHITEOUT:
                remove_tree(entry.path)
            elif entry.kind is EntryKind.OPAQUE:
                for key in [k for k in state if k.startswith(entry.path + "/")]:
                    del state[key]
        for entry in analysis.entries:
            if entry.kind in (EntryKind.WHITEOUT, EntryKind.OPAQUE):
                continue
            parts = entry.path.split("/")
            for depth in range(1, len(parts)):
                ancestor = "/".join(parts[:depth])
                if ancestor in state and state[ancestor][0] != "dir":
                    del state[ancestor]
                state.setdefault(ancestor, ("dir", None))
            existing = state.get(entry.path)
            if entry.kind is EntryKind.DIR:
                if existing is not None and existing[0] != "dir":
                    del state[entry.path]
                state.setdefault(entry.path, ("dir", None))
                continue
            if existing is not None:
                remove_tree(entry.path)
            if entry.kind is EntryKind.FILE:
                total += entry.size
                inode_size[next_inode] = entry.size
                state[entry.path] = ("file", next_inode)
                next_inode += 1
            elif entry.kind is EntryKind.HARDLINK:
                target = state.get(entry.link or "")
                state[entry.path] = ("file", target[1] if target else None)
            else:
                state[entry.path] = ("other", None)
    live = {inode for kind, inode in state.values() if inode is not None}
    final = sum(inode_size[i] for i in live)
    files = {p for p, (kind, _) in state.items() if kind != "dir"}
    return total, final, dict.fromkeys(files, 0)


def random_layers(rng: random.Random) -> list[list[Entry]]:
    names = ["a", "b", "c"]
    layers: list[list[Entry]] = []
    shipped: list[str] = []
    for _ in range(rng.randint(1, 5)):
        entries: list[Entry] = []
        for _ in range(rng.randint(1, 8)):
            path = "/".join(rng.choice(names) for _ in range(rng.randint(1, 3)))
            roll = rng.random()
            if roll < 0.5:
                entries.append(file(path, rng.randint(0, 3000), seed=rng.randint(0, 99)))
                shipped.append(path)
            elif roll < 0.65:
                entries.append(Whiteout(path))
            elif roll < 0.75:
                entries.append(Opaque(path))
            elif roll < 0.85:
                entries.append(Dir(path))
            elif roll < 0.95 and shipped:
                entries.append(Hardlink(path, rng.choice(shipped)))
            else:
                entries.append(Symlink(path, "a"))
        layers.append(entries)
    return layers


def test_random_layer_stacks_agree_with_the_reference_model() -> None:
    rng = random.Random(20261125)
    for _ in range(400):
        layers = random_layers(rng)
        try:
            analyses = [analyze_layer(io.BytesIO(layer_tar(Layer(entries)))) for entries in layers]
        except ValueError:
            continue
        analyses = [LayerAnalysis(tuple(_drop_conflicts(a.entries))) for a in analyses]
        result = merge_layers(analyses)
        total, final, files = reference_model(analyses)
        assert result.total_bytes == total
        assert result.final_bytes == final, layers
        assert result.total_bytes == result.final_bytes + result.wasted_bytes
        assert {f.path for f in result.files} == set(files), layers


def _drop_conflicts(entries: tuple[LayerEntry, ...]) -> list[LayerEntry]:
    """Keep only the last entry per path: a real layer never ships a path twice, and
    hard links to paths the same layer later replaces are ill-defined."""
    last = {e.path: i for i, e in enumerate(entries) if e.kind not in (EntryKind.WHITEOUT, EntryKind.OPAQUE)}
    kept = []
    for i, e in enumerate(entries):
        if e.kind in (EntryKind.WHITEOUT, EntryKind.OPAQUE) or last[e.path] == i:
            kept.append(e)
    paths = {e.path for e in kept}
    return [e for e in kept if e.kind is not EntryKind.HARDLINK or (e.link not in paths)]


def test_kept_contents_are_those_of_the_versions_the_final_filesystem_holds() -> None:
    metadata = "usr/lib/python3.11/site-packages/x-1.0.dist-info/METADATA"
    result = merged(
        [File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"), File(metadata, b"Name: x\n")],
        [File("etc/passwd", b"app:x:1000:1000::/app:/bin/sh\n"), Whiteout("usr/lib/python3.11")],
        [File("etc/group", b"app:x:1000:\n")],
    )
    assert list(result.contents.items()) == [
        ("etc/group", b"app:x:1000:\n"),
        ("etc/passwd", b"app:x:1000:1000::/app:/bin/sh\n"),
    ]
    replaced = merged([File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")], [Symlink("etc/passwd", "x")])
    assert dict(replaced.contents) == {}


def test_a_hard_link_whose_bytes_another_path_carries_names_that_path() -> None:
    shipped = [file("usr/bin/python3.11", 5000), Hardlink("usr/bin/python3", "usr/bin/python3.11")]
    assert merged(shipped).links == {"usr/bin/python3": "usr/bin/python3.11"}  # where it shipped
    two_links = [*shipped, Hardlink("usr/bin/python", "usr/bin/python3.11")]
    after_delete = merged(two_links, [Whiteout("usr/bin/python3.11")])
    assert after_delete.links == {"usr/bin/python3": "usr/bin/python"}  # else the first by name
    assert final_sizes(after_delete) == {"usr/bin/python": 5000, "usr/bin/python3": 0}
    assert merged([file("a", 10), file("b", 20)]).links == {}


def test_new_directories_beside_each_other_deep_down_cost_one_step_each() -> None:
    """4,000 files, each in its own directory under one chain 2,000 levels deep (names within
    PATH_MAX): every new directory walked down from the root building each prefix string,
    4.5 s here; its parent, known by its path, is now one step away (0.2 s)."""
    chain = "a/" * 2_000
    entries = tuple(LayerEntry(f"{chain}{i}/f", EntryKind.FILE, 1, None) for i in range(4_000))
    started = time.perf_counter()
    merged = merge_layers([LayerAnalysis(entries, {}, ())])
    assert time.perf_counter() - started < 1.5
    assert merged.final_bytes == 4_000
