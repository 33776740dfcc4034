"""Hostile inputs, third round, from the user's side: the CLI on archives built here, audited
with exact figures or refused with one line and exit 2. Time is never asserted: where the
fix is about work, the calls the CLI makes are counted (tests/support/complexity.py) at two
sizes, and a linear walk is told from a quadratic one by how that count grows;
benchmarks/deep_directories.py prints the seconds."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from click.testing import CliRunner, Result

from imgaudit.cli import main
from tests.functional.test_hostile_inputs import MEMORY_BOUND
from tests.support.cli_process import run_cli
from tests.support.complexity import calls_made
from tests.support.rawtar import classic_archive

SITE = "usr/lib/python3.11/site-packages"
BASE = [("etc/os-release", b"ID=test\n")]  # the base layer: the rules skip its files


def _layer(entries: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _archive(path: Path, entries: Iterable[tuple[str, bytes]]) -> Path:
    return classic_archive([_layer(BASE), _layer(entries)], path)


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output[-2000:]
    return cast(dict[str, Any], json.loads(result.stdout))


def _counted_audit(archive: Path) -> tuple[int, Result]:
    """The JSON audit of `archive` through the CLI, and the calls it made."""
    results: list[Result] = []
    count = calls_made(lambda: results.append(CliRunner().invoke(main, [str(archive), "--format", "json"])))
    return count, results[0]


def _deep_siblings(levels: int) -> list[tuple[str, bytes]]:
    """`levels` sibling directories, a file each, under a chain `levels` deep; the same again
    inside a site-packages whose one distribution's RECORD lists none of them."""
    chain = "d/" * levels
    meta = f"{SITE}/pkg-1.0.dist-info"
    entries = [
        (f"{meta}/METADATA", b"Name: pkg\nVersion: 1.0\n"),
        (f"{meta}/RECORD", b"pkg/__init__.py,,\n"),
        (f"{SITE}/pkg/__init__.py", b""),
    ]
    for i in range(levels):
        entries += [(f"{chain}{i}/f", b"x"), (f"{SITE}/pkg/{chain}{i}/f", b"xy")]
    return entries


def test_directories_under_a_deep_chain_cost_work_linear_in_their_names(tmp_path: Path) -> None:
    # 4,000 sibling directories under a chain 2,000 levels deep (names within PATH_MAX) took
    # 11-16 s: the environment each directory's bytes count in was found by walking up its
    # path, a new string per level, and the owner of each directory inside a site-packages
    # too (23-29 s). Twice the levels and twice the directories now cost about twice the calls
    # (97,000 at 400, 179,000 at 800); a walk up per directory cost four times (1.4 million,
    # 5.3 million).
    _counted_audit(_archive(tmp_path / "warm.tar", _deep_siblings(2)))  # the modules' imports
    counts = []
    for levels in (400, 800):
        archive = _archive(tmp_path / f"deep-{levels}.tar", _deep_siblings(levels))
        count, result = _counted_audit(archive)
        counts.append(count)
        report = _json(result)
        assert report["image"]["final_bytes"] == 8 + 3 * levels + len("Name: pkg\nVersion: 1.0\n") + 18
        [site] = report["environments"]
        assert (site["path"], site["bytes"]) == (f"/{SITE}", 2 * levels + 23 + 18)
        [pkg] = site["distributions"]
        # Files no RECORD lists belong to the distribution that alone claims their directory.
        assert (pkg["name"], pkg["files"], pkg["bytes"]) == ("pkg", levels + 3, 2 * levels + 23 + 18)
    assert counts[1] < 2.6 * counts[0], counts


def test_files_at_the_ends_of_deep_chains_beside_many_venvs_stay_within_memory(tmp_path: Path) -> None:
    # Past 16 roots a path set remembered, for every directory it was asked about, each one
    # above it: 100 files at the ends of chains 2,000 levels deep, beside 20 venvs, took the
    # audit to 430 MB (a file's path is 4 KB, its 2,000 directories' paths 4 MB).
    chain = "d/" * 1_999
    entries = [(f"venv{v}/pyvenv.cfg", b"version = 3.11.4\n") for v in range(20)]
    entries += [(f"c{c}/{chain}f", b"x") for c in range(100)]
    result = run_cli([str(_archive(tmp_path / "venvs.tar", entries)), "--format", "json"], cwd=tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    categories = json.loads(result.stdout)["categories"]
    assert (categories["python_packages"], categories["other"]) == (20 * 17, 100)
    assert result.peak_rss_bytes < MEMORY_BOUND, f"{result.peak_rss_bytes / 2**20:.0f} MB"


def test_a_record_listing_files_at_the_ends_of_deep_chains_stays_within_memory(tmp_path: Path) -> None:
    # A RECORD's every directory, and each one above it up to the site, was remembered by its
    # path: 150 lines naming files 1,980 levels deep on chains of their own (a 600 KB RECORD,
    # none of the files in the image) took the audit to 631 MB, and 800 lines (3 MB) past
    # 2 GB, a MemoryError. What a RECORD claims now counts only where the image has a file.
    meta = f"{SITE}/pkg-1.0.dist-info"
    record = "".join(f"pkg/{i}/{'d/' * 1_980}f,,\n" for i in range(150)).encode()
    entries = [
        (f"{meta}/METADATA", b"Name: pkg\nVersion: 1.0\n"),
        (f"{meta}/RECORD", record),
        (f"{SITE}/pkg/__init__.py", b"x"),
        (f"{SITE}/pkg/data/extra.bin", b"12345"),  # no RECORD line: owned through its directory
    ]
    result = run_cli([str(_archive(tmp_path / "record.tar", entries)), "--format", "json"], cwd=tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    [site] = json.loads(result.stdout)["environments"]
    [pkg] = site["distributions"]
    assert (pkg["files"], pkg["bytes"]) == (4, 23 + len(record) + 1 + 5)
    assert result.peak_rss_bytes < MEMORY_BOUND, f"{result.peak_rss_bytes / 2**20:.0f} MB"
