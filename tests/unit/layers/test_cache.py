"""The per-layer analysis cache: correct reuse, never a wrong or broken entry."""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.audit import audit
from imgaudit.cli import main
from imgaudit.layers.cache import LayerCache, active_cache, disable
from imgaudit.layers.walk import analyze_layer
from imgaudit.model import LayerAnalysis, Report
from imgaudit.sources.archive import open_path
from tests.support.imagespec import (
    File,
    Hardlink,
    ImageSpec,
    Layer,
    Opaque,
    Symlink,
    Whiteout,
    file,
    layer_tar,
    write_image,
)

DIFF_ID = "sha256:" + "ab" * 32


def sample_analysis() -> LayerAnalysis:
    layer = Layer(
        [
            file("usr/lib/libx.so", 3000),
            Hardlink("usr/lib/libx.so.1", "usr/lib/libx.so"),
            Symlink("usr/lib/liby.so", "libx.so"),
            File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
            Whiteout("var/cache/old"),
            Opaque("opt/app"),
        ]
    )
    return analyze_layer(io.BytesIO(layer_tar(layer)))


@pytest.fixture
def cache(tmp_path: Path) -> LayerCache:
    return LayerCache(tmp_path / "cache")


def entry_files(cache: LayerCache) -> list[Path]:
    return sorted(cache.directory.glob("*.layer")) if cache.directory.exists() else []


def test_an_analysis_comes_back_equal(cache: LayerCache) -> None:
    analysis = sample_analysis()
    cache.put(DIFF_ID, analysis)
    assert cache.get(DIFF_ID) == analysis
    assert cache.get("sha256:" + "cd" * 32) is None


def test_only_well_formed_digests_name_entries(cache: LayerCache) -> None:
    for bad in ("sha256:../../etc", "md5:" + "ab" * 16, "sha256:" + "AB" * 32, ""):
        cache.put(bad, sample_analysis())
        assert cache.get(bad) is None
    assert entry_files(cache) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-10] + b"x" * 10,  # corrupt payload
        lambda data: b"",  # empty
        lambda data: data.replace(b"IMGAUDIT-LAYER\n", b"IMGAUDIT-LAYER\n0", 1),  # another version
    ],
    ids=["truncated", "corrupt", "empty", "old-version"],
)
def test_a_broken_entry_is_a_miss_and_the_next_run_rewrites_it(
    tmp_path: Path, layer_cache: Path, damage: object
) -> None:
    archive = write_image(ImageSpec(layers=[Layer([file("app/data", 5000)])]), tmp_path / "image.tar")
    first = audit_archive(archive)
    cache = active_cache()
    assert cache is not None
    (entry,) = entry_files(cache)
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    for report in cache.directory.glob("report-*.record"):
        report.unlink()  # else the stored report answers and no layer is read (test_report_cache)
    diff_id = first.layers[0].descriptor.diff_id
    assert cache.get(diff_id) is None
    assert audit_archive(archive).total_bytes == first.total_bytes == 5000
    assert cache.get(diff_id) is not None  # rewritten whole


def audit_archive(path: Path) -> Report:
    with open_path(path, None, None, lambda _m: None) as source:
        return audit(source)


def test_cached_layers_are_not_read_and_a_changed_layer_is(
    tmp_path: Path, layer_cache: Path, opened_layers: list[int]
) -> None:
    base = Layer([file("usr/lib/libbase.so", 7000)])
    before = write_image(ImageSpec(layers=[base, Layer([file("app/main.py", 100)])]), tmp_path / "a.tar")
    after = write_image(
        ImageSpec(layers=[base, Layer([file("app/main.py", 250, seed=1)])]), tmp_path / "b.tar"
    )
    cold = audit_archive(before)
    assert opened_layers == [0, 1]
    warm = audit_archive(before)
    assert opened_layers == [0, 1]  # nothing read again
    assert warm == cold_without_duration(cold, warm)
    changed = audit_archive(after)
    assert opened_layers == [0, 1, 1]  # the shared base layer came from the cache
    assert changed.total_bytes == 7250
    assert {f.path for f in changed.largest_directories} >= {"/app"}


def cold_without_duration(cold: Report, warm: Report) -> Report:
    from dataclasses import replace

    return replace(cold, duration_seconds=warm.duration_seconds)


def test_no_cache_neither_reads_nor_writes(
    tmp_path: Path, layer_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = write_image(ImageSpec(layers=[Layer([file("app/data", 100)])]), tmp_path / "image.tar")
    monkeypatch.setattr("imgaudit.layers.cache._disabled", False)
    result = CliRunner().invoke(main, ["audit", str(archive), "--no-cache", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert not layer_cache.exists()
    monkeypatch.setattr("imgaudit.layers.cache._disabled", False)  # `--no-cache` is per process
    assert CliRunner().invoke(main, ["audit", str(archive), "--format", "json"]).exit_code == 0
    assert layer_cache.exists()


def test_disable_turns_the_cache_off(layer_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("imgaudit.layers.cache._disabled", False)
    assert active_cache() is not None
    disable()
    assert active_cache() is None


def test_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    analysis = sample_analysis()
    probe = LayerCache(tmp_path / "probe")
    probe.put(DIFF_ID, analysis)
    size = entry_files(probe)[0].stat().st_size
    cache = LayerCache(tmp_path / "cache", max_bytes=3 * size)
    ids = [f"sha256:{n:064x}" for n in range(4)]
    for age, diff_id in enumerate(ids[:3]):
        cache.put(diff_id, analysis)
        os.utime(cache._path(diff_id), (1000 + age, 1000 + age))  # type: ignore[arg-type]
    assert cache.get(ids[0]) is not None  # a hit makes the oldest the most recent
    cache.put(ids[3], analysis)
    assert [cache.has(d) for d in ids] == [True, False, True, True]


def _write_many(root: str, seed: int) -> None:
    cache = LayerCache(Path(root))
    analysis = sample_analysis()
    analysis = LayerAnalysis(analysis.entries, analysis.contents, (f"writer {seed}",))
    for _ in range(40):
        cache.put(DIFF_ID, analysis)


def test_two_concurrent_writers_leave_one_valid_entry(tmp_path: Path) -> None:
    root = str(tmp_path / "cache")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(root, seed)) for seed in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
        assert writer.exitcode == 0
    cache = LayerCache(Path(root))
    assert len(entry_files(cache)) == 1  # no temporary file left behind
    analysis = cache.get(DIFF_ID)
    assert analysis is not None
    assert analysis.warnings in (("writer 1",), ("writer 2",))
    assert analysis.entries == sample_analysis().entries


def entry_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.glob("layers-*/*"))


def test_writes_under_the_bound_scan_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = LayerCache(tmp_path / "cache")
    cache.put(DIFF_ID, sample_analysis())  # a new cache: one scan finds where the ledger starts
    scans: list[str] = []
    scandir = os.scandir

    def counted_scandir(path: str) -> Iterator[os.DirEntry[str]]:
        scans.append(str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counted_scandir)
    for n in range(5):
        cache.put(f"sha256:{n:064x}", sample_analysis())
    assert scans == []
    assert len(entry_files(cache)) == 6


def test_the_bound_holds_across_runs_that_share_the_cache(tmp_path: Path) -> None:
    size = entry_size(tmp_path)
    runs = [LayerCache(tmp_path / "cache", max_bytes=4 * size) for _ in range(2)]
    for n in range(12):
        runs[n % 2].put(f"sha256:{n:064x}", sample_analysis())
        assert entry_bytes(tmp_path / "cache") <= 4 * size
    assert [runs[0].has(f"sha256:{n:064x}") for n in range(12)] == [False] * 8 + [True] * 4


@pytest.mark.parametrize(
    "ledger", [None, b"\x01\x02\x03", b"\x00" * 8], ids=["missing", "damaged", "saying-empty"]
)
def test_a_cache_over_its_bound_is_evicted_whatever_its_ledger_says(
    tmp_path: Path, ledger: bytes | None
) -> None:
    """Entries written by older code, or a ledger that lost count: the next scan finds them."""
    size = entry_size(tmp_path)
    for n in range(6):
        LayerCache(tmp_path / "cache").put(f"sha256:{n:064x}", sample_analysis())
    ledger_path = tmp_path / "cache" / "ledger"
    if ledger is None:
        ledger_path.unlink()
    else:
        ledger_path.write_bytes(ledger)
    small = LayerCache(tmp_path / "cache", max_bytes=3 * size)
    for n in range(6, 12):
        small.put(f"sha256:{n:064x}", sample_analysis())
    assert entry_bytes(tmp_path / "cache") <= 3 * size
    assert small.has(f"sha256:{11:064x}")


def entry_size(tmp_path: Path) -> int:
    probe = LayerCache(tmp_path / "probe")
    probe.put(DIFF_ID, sample_analysis())
    return entry_files(probe)[0].stat().st_size


@pytest.mark.parametrize("damage", ["directory", "huge"])
def test_a_ledger_that_cannot_be_read_means_a_scan_and_the_bound_still_holds(
    tmp_path: Path, damage: str
) -> None:
    size = entry_size(tmp_path)
    ledger = tmp_path / "cache" / "ledger"
    ledger.parent.mkdir(parents=True)
    if damage == "directory":
        ledger.mkdir()
    else:
        with ledger.open("wb") as stream:
            stream.truncate(1 << 30)  # sparse: reading it whole would cost a GiB
    cache = LayerCache(tmp_path / "cache", max_bytes=2 * size)
    for n in range(5):
        cache.put(f"sha256:{n:064x}", sample_analysis())
        assert entry_bytes(tmp_path / "cache") <= 2 * size
    assert cache.has(f"sha256:{4:064x}")
