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

import pytest
from click.testing import CliRunner, Result

from imgaudit.cli import main
from tests.functional.test_hostile_inputs import MEMORY_BOUND, assert_one_line_error
from tests.support.cli_process import run_cli
from tests.support.complexity import calls_made
from tests.support.imagespec import File, ImageSpec, Layer, build, layout_files, write_tar
from tests.support.rawtar import END, classic_archive, data, header

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


# -- symlinks a layer wrote, then wrote through ------------------------------------------
# containerd (pkg/archive applyNaive) and moby (go-archive UnpackLayer) extract a layer in
# order into a directory holding that layer alone (overlay's upper directory), resolving each
# entry's directory through the symlinks already there, within that root (continuity's
# fs.RootPath: an absolute target from the root, `..` stopping at it, 255 links at most); an
# entry's own name is never followed. A lower layer's symlinks are not in that directory:
# across layers a directory replaces a symlink, as overlayfs shows the two.


def _raw_archive(path: Path, *layers: bytes) -> Path:
    return classic_archive([_layer(BASE), *(layer + END for layer in layers)], path)


def _audit(archive: Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(archive), "--format", "json"], env=env)


def test_an_entry_under_a_symlink_the_same_layer_wrote_lands_where_the_link_points(tmp_path: Path) -> None:
    cfg = b"version = 3.11.4\n"
    layer = (
        header("usr/lib/", kind=tarfile.DIRTYPE)
        + header("usr/lib/libx.so", 3) + data(b"old")
        + header("lib", kind=tarfile.SYMTYPE, linkname="/usr/lib")  # absolute: from the root
        + header("lib/libx.so", 7) + data(b"1234567")  # overwrites usr/lib/libx.so
        + header("app/.venv", kind=tarfile.SYMTYPE, linkname="../opt/venv")  # from app/
        + header("app/.venv/pyvenv.cfg", len(cfg)) + data(cfg)
        + header("app/.venv/lib/python3.11/site-packages/six.py", 10) + data(b"s" * 10)
    )  # fmt: skip
    report = _json(_audit(_raw_archive(tmp_path / "links.tar", layer)))
    assert report["image"]["final_bytes"] == 8 + 7 + len(cfg) + 10
    assert [(w["path"], w["bytes"], w["removal"]) for w in report["wasted"]] == [
        ("/usr/lib", 3, "overwritten")
    ]
    assert [e["path"] for e in report["environments"]] == ["/opt/venv"]
    assert "/app" not in {d["path"] for d in report["largest_directories"]}
    assert report["warnings"] == []


def test_names_through_a_layers_own_symlinks_stop_at_the_root_and_at_255_links(tmp_path: Path) -> None:
    layer = (
        header("up", kind=tarfile.SYMTYPE, linkname="../../..")  # `..` stops at the root
        + header("up/etc/x", 3) + data(b"abc")
        + header("l1", kind=tarfile.SYMTYPE, linkname="l2")
        + header("l2", kind=tarfile.SYMTYPE, linkname="l1")
        + header("l1/f", 5) + data(b"loops")  # containerd: "too many links", the layer refused
        + header("long", kind=tarfile.SYMTYPE, linkname="/" + "t/" * 2_040)
        + header("long/ok", 2) + data(b"ok")  # 4,083 bytes through the link: extracted
        + header("long/" + "n" * 20, 4) + data(b"long")  # 4,101 bytes: ENAMETOOLONG
    )  # fmt: skip
    report = _json(_audit(_raw_archive(tmp_path / "odd.tar", layer)))
    assert report["image"]["final_bytes"] == 8 + 3 + 2
    assert {"/etc", "/t/t/t/t"} <= {d["path"] for d in report["largest_directories"]}
    assert report["warnings"] == [
        "layer 1: ignored tar entry whose directory goes through more than 255 symlinks "
        "(the engines refuse the layer): 'l1/f'",
        "layer 1: ignored tar entry whose name, through the layer's symlinks, is longer than "
        "4095 bytes (engines cannot extract it): 'long/nnnnnnnnnnnnnnnnnnnn'",
    ]


def test_hard_links_and_whiteouts_go_through_the_layers_own_symlinks(tmp_path: Path) -> None:
    lower = header("b/x", 4) + data(b"four")
    upper = (
        header("real/f", 6) + data(b"sixsix")
        + header("d", kind=tarfile.SYMTYPE, linkname="real")
        + header("h", kind=tarfile.LNKTYPE, linkname="d/f")  # real/f's bytes, not a missing file
        + header("a", kind=tarfile.SYMTYPE, linkname="b")
        + header("a/.wh.x", 0)  # deletes b/x
    )  # fmt: skip
    report = _json(_audit(_raw_archive(tmp_path / "through.tar", lower, upper)))
    assert report["warnings"] == []
    assert report["image"]["final_bytes"] == 8 + 6
    assert [(w["path"], w["bytes"], w["removed_by"], w["removal"]) for w in report["wasted"]] == [
        ("/b/x", 4, 2, "deleted")
    ]


def test_a_symlink_replaced_in_its_layer_or_written_in_a_lower_one_is_not_followed(tmp_path: Path) -> None:
    lower = header("a", kind=tarfile.SYMTYPE, linkname="b")
    upper = (
        header("a/f", 5) + data(b"under")  # overlay: the upper directory a hides the lower link
        + header("c", kind=tarfile.SYMTYPE, linkname="b")
        + header("c/", kind=tarfile.DIRTYPE)  # a directory replaces the link in this layer
        + header("c/g", 3) + data(b"cgc")
    )  # fmt: skip
    report = _json(_audit(_raw_archive(tmp_path / "replaced.tar", lower, upper)))
    assert {d["path"]: d["bytes"] for d in report["largest_directories"]} == {"/a": 5, "/c": 3, "/etc": 8}


def test_names_grown_through_symlinks_count_against_the_name_budget(tmp_path: Path) -> None:
    # A 4,000-byte target makes each short name under the link 4 KB: 200 of them are 800 KB
    # of names from a layer whose own names are 2 KB.
    layer = header("l", kind=tarfile.SYMTYPE, linkname="/" + "t/" * 2_000) + b"".join(
        header(f"l/{i}", 1) + data(b"x") for i in range(200)
    )
    archive = _raw_archive(tmp_path / "grown.tar", layer)
    result = run_cli([str(archive)], cwd=tmp_path, env={"IMGAUDIT_MAX_NAME_BYTES": "500000"})
    assert_one_line_error(
        result,
        "layer tar's entries, through its symlinks, have names of more than 500000 bytes "
        "(raise it with IMGAUDIT_MAX_NAME_BYTES)",
    )
    assert _json(_audit(archive))["image"]["final_bytes"] == 8 + 200


def test_resolving_names_through_symlinks_is_bounded_in_steps(tmp_path: Path) -> None:
    # An entry under a chain of 200 links, each target 1,600 names that cancel out, takes
    # 320,000 steps to resolve; a new link between two entries voids what was resolved, so 5
    # such entries take 1.6 million: past the 1 million a layer may take.
    chain = b"".join(
        header(f"c{i}", kind=tarfile.SYMTYPE, linkname="/" + "s/" * 800 + "../" * 800 + f"c{i + 1}")
        for i in range(200)
    )
    entries = b"".join(
        header(f"z{i}", kind=tarfile.SYMTYPE, linkname="t") + header(f"c0/f{i}", 1) + data(b"x")
        for i in range(5)
    )
    archive = _raw_archive(tmp_path / "steps.tar", chain + entries)
    result = run_cli([str(archive)], cwd=tmp_path)
    assert_one_line_error(
        result,
        "layer tar's entries go through its symlinks in more than 1000000 steps "
        "(raise it with IMGAUDIT_MAX_LINK_STEPS)",
    )
    raised = _json(_audit(archive, env={"IMGAUDIT_MAX_LINK_STEPS": "3000000"}))
    assert raised["image"]["final_bytes"] == 8 + 5
    assert {d["path"]: d["bytes"] for d in raised["largest_directories"]}["/c200"] == 5


def test_deep_names_behind_a_layers_symlink_cost_steps_per_link_not_per_name(tmp_path: Path) -> None:
    # 600 directories 2,000 levels deep behind `l -> /real`: each name's rest, off the tree
    # of links, is joined as it is; walked a name at a time it took 1.2 million steps, past
    # what a layer may take.
    chain = "d/" * 1_999
    layer = header("l", kind=tarfile.SYMTYPE, linkname="/real") + b"".join(
        header(f"l/{chain}{i}/f", 1) + data(b"x") for i in range(600)
    )
    report = _json(_audit(_raw_archive(tmp_path / "deep-link.tar", layer)))
    assert {d["path"]: d["bytes"] for d in report["largest_directories"]}["/real/d/d/d"] == 600
    assert report["warnings"] == []


# -- archives: odd members --------------------------------------------------------------


def test_a_zero_byte_layer_tar_under_a_cached_diff_id_is_read_and_refused(
    tmp_path: Path, layer_cache: Path
) -> None:
    # With the analysis cache on, a layer whose diff_id was seen before is not read: the
    # archive's bytes were taken on trust. A 0-byte layer.tar can be no layer but the empty
    # one (sha256 of nothing), so the audit said 10 bytes for an archive `docker load`
    # refuses; it is now read, and refused as without the cache.
    genuine = _raw_archive(tmp_path / "genuine.tar", header("app/a", 5) + data(b"hello"))
    assert _json(_audit(genuine))["image"]["total_bytes"] == 8 + 5  # the cache now holds it
    files = {}
    with tarfile.open(genuine) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member)
            assert extracted is not None
            files[member.name] = extracted.read()
    layer_name = json.loads(files["manifest.json"])[0]["Layers"][1]
    files[layer_name] = b""
    result = _audit(write_tar(files, tmp_path / "emptied.tar"))
    assert result.exit_code == 2, result.output
    assert f"{layer_name} (diff_id sha256:" in result.output
    assert "does not match its digest" in result.output


def _outer_tar(path: Path, members: Iterable[tuple[str, bytes | tuple[bytes, str]]]) -> Path:
    """An archive of these members: bytes, or (tar type, link target) for a link."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            if isinstance(payload, tuple):
                info.type, info.linkname = payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return path


def _classic_members(tmp_path: Path, *layers: bytes) -> tuple[dict[str, bytes], list[str]]:
    """The members of a classic save of these layers (base first), and its layer names."""
    archive = _raw_archive(tmp_path / "source.tar", *layers)
    with tarfile.open(archive) as tar:
        files = {m.name: cast(io.BufferedReader, tar.extractfile(m)).read() for m in tar.getmembers()}
    return files, json.loads(files["manifest.json"])[0]["Layers"]


def _relisted(files: dict[str, bytes], layers: list[str]) -> dict[str, bytes]:
    manifest = json.loads(files["manifest.json"])
    manifest[0]["Layers"] = layers
    return {**files, "manifest.json": json.dumps(manifest).encode()}


def test_a_layer_listed_again_as_a_hard_link_in_the_archive_is_that_layer(tmp_path: Path) -> None:
    # A tool that stores a repeated layer once may link the second listing's member to the
    # first's (a hard link, or a symlink as docker save writes): read as the member it names.
    hello = header("app/a", 5) + data(b"hello")
    files, names = _classic_members(tmp_path, hello, header("app/b", 2) + data(b"12"), hello)
    assert files[names[1]] == files[names[3]]  # one layer listed twice
    del files[names[3]]
    for link, target in [(tarfile.LNKTYPE, names[1]), (tarfile.SYMTYPE, f"../{names[1]}")]:
        members = [*files.items(), (names[3], (link, target))]
        report = _json(_audit(_outer_tar(tmp_path / "linked.tar", members)))
        assert (report["image"]["total_bytes"], report["image"]["final_bytes"]) == (8 + 12, 8 + 7)
    for target, error in [
        (names[2], f"{names[3]} (diff_id sha256:"),  # another layer's bytes: not its diff_id
        ("manifest.json", "layer tar is truncated in a header"),
        (names[3], f"{names[3]} is missing"),  # itself
        ("nowhere/layer.tar", f"{names[3]} is missing"),
    ]:
        members = [*files.items(), (names[3], (tarfile.LNKTYPE, target))]
        result = _audit(_outer_tar(tmp_path / "odd-link.tar", members))
        assert result.exit_code == 2 and error in result.output, (target, result.output)
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_manifest_listing_its_config_or_itself_as_a_layer_is_one_line(tmp_path: Path) -> None:
    files, (base, _layer_name) = _classic_members(tmp_path, header("app/a", 5) + data(b"hello"))
    config = json.loads(files["manifest.json"])[0]["Config"]
    for listed in (config, "manifest.json"):  # JSON where a tar should be
        result = _audit(write_tar(_relisted(files, [base, listed]), tmp_path / "odd.tar"))
        assert result.exit_code == 2 and "imgaudit: error: layer 1 (sha256:" in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_an_archives_repositories_file_is_not_read(tmp_path: Path) -> None:
    # `docker load` reads `repositories` only for the pre-1.10 layout without manifest.json,
    # which imgaudit does not read: a malformed one changes nothing, and alone it is one line.
    files, _ = _classic_members(tmp_path, header("app/a", 5) + data(b"hello"))
    report = _json(_audit(write_tar({**files, "repositories": b"{not json"}, tmp_path / "r.tar")))
    assert report["image"]["total_bytes"] == 8 + 5
    legacy = {name: data_ for name, data_ in files.items() if name != "manifest.json"}
    result = _audit(write_tar({**legacy, "repositories": b'{"raw/layers": {"1": "00"}}'}, tmp_path / "l.tar"))
    assert result.exit_code == 2
    assert "no manifest.json or index.json: not a docker save archive or OCI layout" in result.output


@pytest.mark.parametrize(
    ("field", "at"), [("mode", 100), ("uid", 108), ("gid", 116), ("mtime", 136), ("devmajor", 329)]
)
def test_a_numeric_header_field_that_is_not_octal_is_a_corrupt_header(
    tmp_path: Path, field: str, at: int
) -> None:
    # Go's archive/tar (readHeader: parseNumeric of mode, uid, gid, mtime, devmajor and
    # devminor, then `return hdr, &tr.blk, p.err`) answers ErrHeader: the engines refuse the
    # layer; imgaudit read it as if the field were right.
    def garble(block: bytearray) -> None:
        block[at : at + 8] = b"zz!?9q\0\0"

    layer = header("ok", 2) + data(b"ok") + header("a", 5, edit=garble) + data(b"hello") + END
    result = _audit(classic_archive([_layer(BASE), layer], tmp_path / f"{field}.tar"))
    assert result.exit_code == 2, result.output[-300:]
    assert "layer 1 (sha256:" in result.output and "corrupt tar header at byte 1024" in result.output


def test_an_index_naming_itself_is_refused_by_its_digest(tmp_path: Path) -> None:
    # An index can only list itself under a digest that is not its own (a blob cannot hold its
    # own hash): the blob is checked against the name it is read by before it is followed.
    image = build(ImageSpec(layers=[Layer([File("app/a", b"hello")])], tags=["t/x:1"]))
    files = layout_files([image], docker_manifest=False)
    loop = "sha256:" + "ab" * 32
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
    listing = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": loop}
    itself = json.dumps({**index, "manifests": [{**listing, "size": 200}]}).encode()
    files[f"blobs/sha256/{'ab' * 32}"] = itself
    files["index.json"] = json.dumps({**index, "manifests": [{**listing, "size": len(itself)}]}).encode()
    result = _audit(write_tar(files, tmp_path / "loop.tar"))
    assert result.exit_code == 2 and f"blob {loop} does not match its digest" in result.output
    assert len(result.output.strip().splitlines()) == 1
