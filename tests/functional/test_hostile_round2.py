"""Hostile inputs and odd-but-legal archives, second round: each is read from the user's
side (the CLI in a child process on an archive built here) and either audited with exact
byte figures (checked against tests/support/independent.py where it reads the layer) or
refused with one line and exit 2, in bounded time and memory. Classes that held already
are pinned through the public API (`audit_path`: a child costs 0.8 s)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import zstandard

from imgaudit.errors import LayerError
from tests.conftest import audit_path
from tests.functional.test_hostile_inputs import SPEC, assert_one_line_error
from tests.support.cli_process import run_cli
from tests.support.imagespec import (
    File,
    ImageSpec,
    Layer,
    build,
    classic_files,
    file,
    layout_files,
    write_dir,
    write_tar,
)
from tests.support.independent import figures
from tests.support.rawtar import END, classic_archive, data, header, oci_archive

TAR_EDGE = Path(__file__).resolve().parents[1] / "assets" / "tar-edge"  # GNU tar's sparse files

# `"\"\"\"...`: a string left open, full of escaped quotes. The bracket scan that runs before
# the JSON and TOML parsers (inputs.nesting_depth) retried its string pattern at every quote,
# each try running to the end: 40 KB took 23 s, 200 KB would take hours.
OPEN_STRING = b'"' + b'\\"' * 100_000


def test_a_manifest_json_holding_an_open_string_of_escaped_quotes_is_refused_at_once(tmp_path: Path) -> None:
    files = classic_files([build(SPEC)])
    files["manifest.json"] = OPEN_STRING
    result = run_cli([str(write_tar(files, tmp_path / "open.tar"))], cwd=tmp_path, timeout=30)
    assert_one_line_error(result, "manifest.json is not valid JSON: Unterminated string")
    assert result.seconds < 5


def test_a_poetry_lock_in_the_image_holding_an_open_string_is_a_warning_at_once(tmp_path: Path) -> None:
    spec = ImageSpec(
        layers=[*SPEC.layers, Layer([File("app/poetry.lock", b"a = " + OPEN_STRING + b"\n")], "COPY . .")],
        tags=["hostile/app:1"],
        workdir="/app",
    )
    archive = write_tar(classic_files([build(spec)]), tmp_path / "lock.tar")
    result = run_cli([str(archive), "--format", "json"], cwd=tmp_path, timeout=30)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.seconds < 5
    report = json.loads(result.stdout)
    assert any(w.startswith("poetry.lock is not valid TOML") for w in report["warnings"])
    assert report["image"]["total_bytes"] == sum(layer["size_bytes"] for layer in report["layers"])


def test_a_classic_layer_listed_twice_under_two_diff_ids_is_checked_against_each(tmp_path: Path) -> None:
    """manifest.json may list one `<id>/layer.tar` twice; the config names a diff_id for each
    listing. The blob was read once and the second listing never checked: the audit said
    10,000 bytes with a fresh cache and 8,000 with one holding the second diff_id (the layer
    the config names). `docker load` refuses such an archive; so does imgaudit now."""
    built = build(ImageSpec(layers=[Layer([file("bin/sh", 5_000)]), Layer([file("app/a", 3_000)])]))
    files = classic_files([built])
    entry = json.loads(files["manifest.json"])[0]
    entry["Layers"] = [entry["Layers"][0]] * 2
    files["manifest.json"] = json.dumps([entry]).encode()
    result = run_cli([str(write_tar(files, tmp_path / "twice.tar"))], cwd=tmp_path)
    assert_one_line_error(result, "does not match its digest")


def _report(archive: Path, tmp_path: Path) -> dict[str, Any]:
    result = run_cli([str(archive), "--format", "json"], cwd=tmp_path)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return cast(dict[str, Any], json.loads(result.stdout))


def test_a_size_in_gnu_base_256_is_read_as_engines_and_tarfile_read_it(tmp_path: Path) -> None:
    # GNU tar writes sizes of 8 GiB and more in base-256 (the high bit set): a small one here.
    def base_256(block: bytearray) -> None:
        block[124:136] = b"\x80" + (1_000).to_bytes(11, "big")

    archive = classic_archive([header("big", edit=base_256) + data(b"x" * 1_000) + END], tmp_path / "b.tar")
    report = _report(archive, tmp_path)
    assert [layer["size_bytes"] for layer in report["layers"]] == figures(archive).layer_file_bytes == [1_000]


@pytest.mark.parametrize("sign", [0xFF, 0xC0], ids=["all-ones", "sign-bit-only"])
def test_a_negative_base_256_size_is_a_corrupt_header(tmp_path: Path, sign: int) -> None:
    # The sign is bit 6 of the first byte (Go's archive/tar): 0xC0 0x00... is negative too; it
    # was read as a size of 2^94 bytes and reported as "truncated inside".
    def negative(block: bytearray) -> None:
        block[124:136] = bytes([sign]) + b"\xff" * 11

    layer = header("a", 5) + data(b"hello") + header("b", edit=negative) + END
    result = run_cli([str(classic_archive([layer], tmp_path / "n.tar"))], cwd=tmp_path)
    assert_one_line_error(result, "corrupt tar header at byte 1024")


def test_a_layer_going_on_after_one_end_of_archive_block_is_refused(tmp_path: Path) -> None:
    # Go's archive/tar (every engine's) refuses a zero block followed by anything but a zero
    # block or the end; Python's tarfile stops at it. imgaudit stopped too, so a file after it
    # (here 7,000 bytes) was left out of an image no engine would load.
    layer = header("a", 5) + data(b"hello") + bytes(512) + header("b", 7_000) + data(b"y" * 7_000) + END
    result = run_cli([str(classic_archive([layer], tmp_path / "z.tar"))], cwd=tmp_path)
    assert_one_line_error(result, "layer tar goes on after an end-of-archive block at byte 1024")


def test_data_after_the_two_end_of_archive_blocks_is_not_the_layers(tmp_path: Path) -> None:
    layer = header("a", 5) + data(b"hello") + END + header("b", 7_000) + data(b"y" * 7_000)
    archive = classic_archive([layer], tmp_path / "t.tar")
    assert _report(archive, tmp_path)["image"]["total_bytes"] == sum(figures(archive).layer_file_bytes) == 5


@pytest.mark.parametrize("name", [".wh.", ".wh..", ".wh..."])
def test_a_whiteout_naming_the_directory_or_its_parent_deletes_nothing_with_a_warning(
    tmp_path: Path, name: str
) -> None:
    lower = header("d/", kind=b"5") + header("d/x", 5) + data(b"hello") + END
    upper = header(f"d/{name}") + header("e", 3) + data(b"abc") + END
    report = _report(classic_archive([lower, upper], tmp_path / "w.tar"), tmp_path)
    assert report["image"]["final_bytes"] == 8 and report["image"]["wasted_bytes"] == 0
    assert f"layer 1: ignored whiteout that names no file: 'd/{name}'" in report["warnings"]


@pytest.mark.parametrize("asset", sorted(p.name for p in TAR_EDGE.glob("sparse-*.tar.gz")))
def test_a_sparse_file_counts_its_size_as_extracted_in_every_gnu_format(tmp_path: Path, asset: str) -> None:
    # Engines extract a sparse file whole (Go's reader yields its holes as zeros, written out
    # as data): its size is the file's, not the few KB the archive stores (README: Limits).
    layer = gzip.decompress((TAR_EDGE / asset).read_bytes())
    archive = classic_archive([layer], tmp_path / "sparse.tar")
    expected = figures(archive).layer_file_bytes
    assert [layer.size_bytes for layer in audit_path(archive).layers] == expected
    assert expected[0] - 6 in (10 * 2**20, 20 * 2**20) and len(layer) < 64 * 1024


def _long_names(count: int, length: int, start: int = 0) -> bytes:
    """A layer of `count` empty files whose pax names are `length` bytes (near-repeats: a
    gzip of them is about 1/800 of what their names take in memory)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for number in range(start, start + count):
            tar.addfile(tarfile.TarInfo("d/" + "n" * (length - 20) + f"{number:018d}"))
    return buffer.getvalue()


def test_a_layer_of_long_names_past_the_name_budget_is_refused(tmp_path: Path) -> None:
    # 1,000 names of 1 MiB in a 1 MB gzip layer took 2 GB of memory (200 of them: 411 MB peak);
    # the names an image holds are now bounded (README: Limits). The budget is lowered here.
    archive = classic_archive([_long_names(300, 4_000)], tmp_path / "long.tar")
    lowered = {"IMGAUDIT_MAX_NAME_BYTES": "1000000"}
    result = run_cli([str(archive)], cwd=tmp_path, env=lowered)
    assert_one_line_error(result, "names of more than 1000000 bytes (raise it with IMGAUDIT_MAX_NAME_BYTES)")
    allowed = run_cli([str(archive)], cwd=tmp_path, env={"IMGAUDIT_MAX_NAME_BYTES": "2000000"})
    assert allowed.exit_code == 0, allowed.stderr


def test_layers_each_within_the_name_budget_are_refused_past_it_together(tmp_path: Path) -> None:
    layers = [_long_names(150, 4_000, start) for start in (0, 150)]
    archive = classic_archive(layers, tmp_path / "long.tar")
    result = run_cli([str(archive)], cwd=tmp_path, env={"IMGAUDIT_MAX_NAME_BYTES": "1000000"})
    assert_one_line_error(result, "names of more than 1000000 bytes (raise it with IMGAUDIT_MAX_NAME_BYTES)")


GZIP_TYPE, TAR_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar"
PLAIN = (
    header("etc/os-release", 700)
    + data(b"a" * 700)
    + header("usr/bin/tool", 5_000)
    + data(b"b" * 5_000)
    + END
)


@pytest.mark.parametrize(
    ("blob", "media_type"),
    [
        pytest.param(PLAIN, GZIP_TYPE, id="plain-tar-said-gzip"),
        pytest.param(gzip.compress(PLAIN), TAR_TYPE, id="gzip-said-plain-tar"),
    ],
)
def test_a_layer_is_read_by_its_bytes_whatever_its_media_type_says(
    tmp_path: Path, blob: bytes, media_type: str
) -> None:
    # The engines (moby's and containerd's DecompressStream) detect the compression by its
    # magic bytes, not by the descriptor.
    diff_id = "sha256:" + hashlib.sha256(PLAIN).hexdigest()
    archive = oci_archive([blob], [diff_id], [media_type], tmp_path / "oci.tar")
    assert audit_path(archive).total_bytes == 5_700


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, zstandard.ZstdCompressor().compress, lzma.compress, bz2.compress],
    ids=["gzip", "zstd", "xz", "bzip2"],
)
def test_garbage_after_the_end_of_a_compressed_layer_is_one_line_and_exit_2(
    tmp_path: Path, compress: Callable[[bytes], bytes]
) -> None:
    # containerd's applier (docker pull) reads a layer to its end and fails on what is not a
    # further member or frame; so does imgaudit, in every compression (the blob's digest
    # covers the garbage, so only the decompressor can tell).
    diff_id = "sha256:" + hashlib.sha256(PLAIN).hexdigest()
    blob = compress(PLAIN) + b"trailing garbage"
    with pytest.raises(LayerError, match=rf"layer 0 \(sha256:{hashlib.sha256(blob).hexdigest()[:12]}\): c"):
        audit_path(oci_archive([blob], [diff_id], [GZIP_TYPE], tmp_path / "oci.tar"))


def _one_file_layer(*files: tuple[str, int]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, size in files:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"x" * size))
    return buffer.getvalue()


def test_a_name_longer_than_path_max_is_left_out_with_a_warning_in_bounded_time(tmp_path: Path) -> None:
    # No engine extracts a name longer than PATH_MAX (4,096 bytes with its NUL: open(2) and
    # mkdir(2) answer ENAMETOOLONG). One file 400,000 directories deep (an 800 KB pax name)
    # took 112 s to audit (walking up its directories, each a new string) and over 120 s to
    # print; such an entry is now left out, with a warning, as one escaping the root is.
    deepest = "d/" * 2_046 + "ok"  # 4,094 bytes: extracted, so counted
    layer = _one_file_layer(("etc/os-release", 5), (deepest, 3), ("a/" * 400_000 + "f", 7_000))
    archive = classic_archive([layer], tmp_path / "deep.tar")
    started = time.monotonic()
    report = _report(archive, tmp_path)
    assert time.monotonic() - started < 15
    assert report["image"]["total_bytes"] == 8
    assert [w[:80] for w in report["warnings"]] == [
        "layer 0: ignored tar entry whose name is longer than 4095 bytes (engines cannot "
    ]


def test_names_implying_more_directories_than_the_budget_are_refused(tmp_path: Path) -> None:
    # 1,000 files each 2,000 directories deep on a chain of its own: a 25 KB gzip layer made
    # 2 million directories, 406 MB. Their number is now bounded (README: Limits); lowered here.
    layer = _one_file_layer(*((f"{i}/" + "a/" * 100 + "f", 1) for i in range(20)))
    archive = classic_archive([layer], tmp_path / "dirs.tar")
    result = run_cli([str(archive)], cwd=tmp_path, env={"IMGAUDIT_MAX_DIRECTORIES": "1000"})
    assert_one_line_error(
        result, "the image's entries make more than 1000 directories (raise it with IMGAUDIT_MAX_DIRECTORIES)"
    )
    assert _report(archive, tmp_path)["image"]["final_bytes"] == 20


def test_hard_links_to_no_file_say_what_they_point_at(tmp_path: Path) -> None:
    # Each of these makes the engines' applier fail; the report keeps what tarfile reads
    # (tests/support/independent.py) and says why the link shares no file's bytes.
    link = tarfile.LNKTYPE
    layer = (
        header("a", 5) + data(b"hello") + header("a", kind=link, linkname="a")  # itself
        + header("d/", kind=tarfile.DIRTYPE) + header("to-dir", kind=link, linkname="d")
        + header("s", kind=tarfile.SYMTYPE, linkname="a") + header("to-symlink", kind=link, linkname="s")
        + header("early", kind=link, linkname="late") + header("late", 3) + data(b"abc")
        + END
    )  # fmt: skip
    archive = classic_archive([layer], tmp_path / "links.tar")
    report = _report(archive, tmp_path)
    assert report["image"]["final_bytes"] == figures(archive).final_bytes == 8
    assert report["warnings"] == [
        "layer 0: hard link 'a' points at itself",
        "layer 0: hard link 'to-dir' points at directory 'd'",
        "layer 0: hard link 'to-symlink' points at symlink 's', not a file",
        "layer 0: hard link 'early' points at missing 'late'",
    ]


def test_one_path_written_again_within_a_layer_wastes_what_it_replaced(tmp_path: Path) -> None:
    # The last entry of a path wins, as the engines extract in order; what it replaced was
    # shipped in the layer and reaches no path: waste, charged to that layer.
    layer = (
        header("dup", 5) + data(b"hello") + header("dup", 7) + data(b"1234567")
        + header("swap", 11) + data(b"x" * 11)  # a file, then a directory holding one, then a file
        + header("swap/", kind=tarfile.DIRTYPE) + header("swap/inner", 3) + data(b"abc")
        + header("swap", 13) + data(b"y" * 13)
        + END
    )  # fmt: skip
    archive = classic_archive([layer], tmp_path / "dup.tar")
    report, expected = _report(archive, tmp_path), figures(archive)
    assert report["image"]["final_bytes"] == expected.final_bytes == 7 + 13
    assert [layer["wasted_bytes"] for layer in report["layers"]] == expected.wasted_bytes == [5 + 11 + 3]


def test_names_with_doubled_slashes_or_a_trailing_slash_on_a_file_are_cleaned(tmp_path: Path) -> None:
    # A regular file written `etc/conf/` is extracted as `etc/conf` (filepath.Join cleans it);
    # `usr//bin/./tool` is `usr/bin/tool`: the second write of that path replaces the first.
    layer = (
        header("etc/conf/", 5) + data(b"hello")
        + header("usr/bin/tool", 7) + data(b"1234567") + header("usr//bin/./tool", 3) + data(b"abc")
        + END
    )  # fmt: skip
    archive = classic_archive([layer], tmp_path / "names.tar")
    report, expected = _report(archive, tmp_path), figures(archive)
    assert report["image"]["final_bytes"] == expected.final_bytes == 8
    assert report["image"]["wasted_bytes"] == sum(expected.wasted_bytes) == 7


TWO_LAYERS = ImageSpec(
    layers=[Layer([file("bin/sh", 5_000)]), Layer([file("app/a", 3_000)])], tags=["team/app:1"]
)


def _edited_save(
    tmp_path: Path, manifest: Callable[[list[Any]], Any] | None = None, config: Any = None
) -> Path:
    """TWO_LAYERS as `docker save` writes it, its manifest.json entries or its config edited
    (the config keeps its file name: a classic archive's is not checked against its bytes)."""
    files = classic_files([build(TWO_LAYERS)])
    if manifest is not None:
        files["manifest.json"] = json.dumps(manifest(json.loads(files["manifest.json"]))).encode()
    if config is not None:
        name = json.loads(files["manifest.json"])[0]["Config"]
        files[name] = config(files[name])
    return write_tar(files, tmp_path / "edited.tar")


def test_one_image_listed_twice_in_manifest_json_is_one_image(tmp_path: Path) -> None:
    # Two identical entries (or one config under two entries, each with its own tags) are one
    # image: it was "2 images; choose one with --image: team/app:1; team/app:1", and --image
    # team/app:1 gave the same error, so no choice could open it.
    twice = _edited_save(tmp_path, lambda entries: entries * 2)
    assert _report(twice, tmp_path)["image"]["total_bytes"] == 8_000
    retagged = _edited_save(tmp_path, lambda e: [e[0], {**e[0], "RepoTags": ["team/app:2"]}])
    result = run_cli([str(retagged), "--image", "team/app:2", "--format", "json"], cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["image"]["reference"] == "team/app:2"
    assert _report(retagged, tmp_path)["image"]["total_bytes"] == 8_000


@pytest.mark.parametrize(
    ("manifest", "config", "total"),
    [
        pytest.param(None, lambda c: b"\xef\xbb\xbf" + c, 8_000, id="config-with-a-utf8-bom"),
        pytest.param(  # Go's encoding/json (the engine's) keeps the last of duplicate keys
            None,
            lambda c: c.replace(b'"rootfs"', b'"rootfs": {"diff_ids": []}, "rootfs"', 1),
            8_000,
            id="duplicate-keys-the-last-wins",
        ),
        pytest.param(lambda e: [{**e[0], "RepoTags": None}], None, 8_000, id="repotags-null"),
        pytest.param(  # an image of no layers: `FROM scratch` with only metadata
            lambda e: [{**e[0], "Layers": []}],
            lambda c: json.dumps({**json.loads(c), "rootfs": {"type": "layers", "diff_ids": []}}).encode(),
            0,
            id="no-layers",
        ),
    ],
)
def test_odd_but_valid_json_is_read_as_the_engine_reads_it(
    tmp_path: Path, manifest: Callable[[list[Any]], Any] | None, config: Any, total: int
) -> None:
    assert audit_path(_edited_save(tmp_path, manifest, config)).total_bytes == total


COMPRESSIONS = {
    "gzip": gzip.compress,
    "zstd-two-frames": lambda b: (
        zstandard.ZstdCompressor().compress(b[:1000]) + zstandard.ZstdCompressor().compress(b[1000:])
    ),
    "xz": lzma.compress,
    "bzip2": bz2.compress,
}


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
def test_a_docker_save_whose_layers_another_tool_compressed_is_read_and_checked(
    tmp_path: Path, compression: str
) -> None:
    # `docker load` takes `<id>/layer.tar` in any compression it detects (moby's
    # DecompressStream): each is read and checked against its diff_id as it is inflated.
    files = classic_files([build(TWO_LAYERS)])
    layers = [name for name in files if name.endswith("/layer.tar")]
    for name in layers:
        files[name] = COMPRESSIONS[compression](files[name])
    assert audit_path(write_tar(files, tmp_path / "ok.tar")).total_bytes == 8_000
    files[layers[1]] = COMPRESSIONS[compression](PLAIN)  # a layer the config does not name
    with pytest.raises(LayerError, match="does not match its digest"):
        audit_path(write_tar(files, tmp_path / "swapped.tar"))


def test_data_carried_by_a_whiteout_or_the_root_is_named_in_a_warning(tmp_path: Path) -> None:
    # A whiteout (or an entry naming the root) may carry data: it ships in the layer, no
    # engine extracts it, so it is no file's bytes; the report now says it is there.
    lower = header("gone", 5) + data(b"hello") + END
    upper = header(".wh.gone", 70_000) + data(b"z" * 70_000) + header("./", 9) + data(b"r" * 9) + END
    archive = classic_archive([lower, upper], tmp_path / "wh.tar")
    report = _report(archive, tmp_path)
    assert [layer["size_bytes"] for layer in report["layers"]] == figures(archive).layer_file_bytes == [5, 0]
    assert report["warnings"] == [
        "layer 1: ignored 70000 bytes carried by whiteout '.wh.gone' (not extracted)",
        "layer 1: ignored 9 bytes carried by './', the image root (not extracted)",
    ]


def _zstd_long(window_log: int) -> bytes:
    """A frame as `zstd --long=N` writes it: its header asks for a 2^N-byte window. Compressed
    with a small window and the header's Window_Descriptor (after magic and descriptor, no
    content size) made to ask for more: compressing with 2^29 took this process to 2 GB, which
    a child's libFuzzer then counts as its own (ru_maxrss survives exec)."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=20)
    buffer = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(buffer, closefd=False) as writer:
        writer.write(PLAIN)
    frame = bytearray(buffer.getvalue())
    assert frame[4] & 0x20 == 0  # no single segment: a window descriptor follows
    frame[5] = (window_log - 10) << 3
    return bytes(frame)


def test_a_compressed_layer_asking_for_more_memory_than_allowed_says_so(tmp_path: Path) -> None:
    # `zstd --long=28` asks for a 256 MiB window: it was refused as 'corrupt or truncated' (zstd's
    # default cap is 128 MiB); an xz dictionary or zstd window past 256 MiB is refused as
    # what it is. The engines' zstd reader (klauspost's) allows 512 MiB.
    diff_id = "sha256:" + hashlib.sha256(PLAIN).hexdigest()
    said = [GZIP_TYPE]
    accepted = oci_archive([_zstd_long(28)], [diff_id], said, tmp_path / "long28.tar")
    assert _report(accepted, tmp_path)["image"]["total_bytes"] == 5_700
    # xz's compressor takes 2 GB for a 1.5 GiB dictionary: in a child, not in this process
    huge = "import lzma, sys; sys.stdout.buffer.write(lzma.compress(sys.stdin.buffer.read(), "
    huge += "filters=[{'id': lzma.FILTER_LZMA2, 'dict_size': 1536 * 2**20}]))"
    xz = subprocess.run([sys.executable, "-c", huge], input=PLAIN, capture_output=True, check=True).stdout
    for name, blob in [("long29", _zstd_long(29)), ("xz", xz)]:
        fresh = tmp_path / name  # a cache of its own: the same diff_id was cached above
        fresh.mkdir()
        result = run_cli([str(oci_archive([blob], [diff_id], said, fresh / "image.tar"))], cwd=fresh)
        assert_one_line_error(result, "asks for more than 268435456 bytes of memory to decompress (refused)")


def test_devices_and_fifos_carry_no_data_whatever_their_size_field_says(tmp_path: Path) -> None:
    # Go's reader (isHeaderOnlyType) and tarfile read no data after a device or a FIFO, so a
    # size field there is not skipped: the next header follows at once.
    def sized(block: bytearray) -> None:
        block[124:136] = b"%011o\0" % 512

    layer = b"".join(
        header(name, kind=kind, edit=sized)
        for name, kind in [("dev/null", b"3"), ("dev/sda", b"4"), ("fifo", b"6")]
    )
    layer += header("after", 3) + data(b"abc") + END
    archive = classic_archive([layer], tmp_path / "dev.tar")
    assert _report(archive, tmp_path)["image"]["total_bytes"] == sum(figures(archive).layer_file_bytes) == 3


def test_a_config_naming_more_diff_ids_than_the_manifest_lists_layers_is_refused(tmp_path: Path) -> None:
    def extra(config: bytes) -> bytes:
        document = json.loads(config)
        document["rootfs"]["diff_ids"].append(document["rootfs"]["diff_ids"][0])
        return json.dumps(document).encode()

    result = run_cli([str(_edited_save(tmp_path, config=extra))], cwd=tmp_path)
    assert_one_line_error(result, "the manifest lists 2 layers but the config 3 diff_ids")


def _old_gnu_sparse(name: str, content: bytes) -> bytes:
    """`content` as GNU tar --sparse stores it: its all-zero 512-byte blocks are holes; the
    runs of data are mapped in the header (4) and in extension blocks (21 each)."""
    runs: list[tuple[int, int]] = []
    for at in range(0, len(content), 512):
        length = len(content[at : at + 512])
        if not content[at : at + 512].strip(b"\0"):
            continue
        if runs and sum(runs[-1]) == at:
            runs[-1] = (runs[-1][0], runs[-1][1] + length)
        else:
            runs.append((at, length))
    runs.append((len(content), 0))  # GNU tar ends the map on the file's size
    fields = [b"%011o\0" % offset + b"%011o\0" % length for offset, length in runs]
    stored = b"".join(content[offset : offset + length] for offset, length in runs)

    def sparse_map(block: bytearray) -> None:
        block[386 : 386 + 24 * min(4, len(fields))] = b"".join(fields[:4])
        block[482] = 1 if len(fields) > 4 else 0
        block[483:495] = b"%011o\0" % len(content)

    extensions = b""
    for first in range(4, len(fields), 21):
        block = bytearray(512)
        chunk = b"".join(fields[first : first + 21])
        block[: len(chunk)] = chunk
        block[504] = 1 if first + 21 < len(fields) else 0
        extensions += bytes(block)
    return header(name, len(stored), kind=tarfile.GNUTYPE_SPARSE, edit=sparse_map) + extensions + data(stored)


def _sparse_save(tmp_path: Path, pax: bool) -> tuple[Path, str, bytes]:
    """A save whose layer.tar (files of zeros among others) is stored as `tar --sparse` stores
    it, first in the archive, so that other members' bytes follow its stored data."""
    entries = [entry for i in range(8) for entry in (file(f"bin/f{i}", 700), File(f"zeros{i}", bytes(3_000)))]
    files = classic_files([build(ImageSpec(layers=[Layer(entries)], tags=["team/sparse:1"]))])
    name = next(n for n in files if n.endswith("/layer.tar"))
    layer = files.pop(name)
    if pax:  # GNU's pax format 0.1: the map in pax records, the name behind GNUSparseFile.0/
        stored = len(layer) - 1024  # its end-of-archive blocks a hole
        records = {
            "GNU.sparse.name": name,
            "GNU.sparse.realsize": str(len(layer)),
            "GNU.sparse.map": f"0,{stored}",
        }
        info = tarfile.TarInfo(f"GNUSparseFile.0/{name}")
        info.size, info.pax_headers = stored, records
        sparse = info.tobuf(tarfile.PAX_FORMAT) + data(layer[:stored])
    else:  # the old GNU format, GNU tar's default: 8 holes and more, so extension blocks too
        sparse = _old_gnu_sparse(name, layer)
    outer = sparse + b"".join(header(n, len(d)) + data(d) for n, d in files.items()) + END
    archive = tmp_path / "sparse.tar"
    archive.write_bytes(outer)
    return archive, name, layer


def test_a_save_whose_layer_tar_sparse_stored_is_read_as_the_file(tmp_path: Path) -> None:
    # `tar --sparse` over a `docker save` directory stores a layer.tar with zero runs without
    # them. Read in place as if whole, the layer was "does not match its digest" (or right by
    # chance, when the bytes after it were zeros); docker load (Go's reader) expands it.
    archive, name, layer = _sparse_save(tmp_path, pax=False)
    with tarfile.open(archive) as independent:  # Python's reader agrees it holds the layer whole
        assert independent.extractfile(name).read() == layer  # type: ignore[union-attr]
    assert _report(archive, tmp_path)["image"]["total_bytes"] == 8 * 3_700


def test_a_save_whose_layer_tar_is_sparse_in_a_pax_format_is_refused_as_what_it_is(tmp_path: Path) -> None:
    archive, name, _ = _sparse_save(tmp_path, pax=True)
    assert_one_line_error(
        run_cli([str(archive)], cwd=tmp_path),
        f"{name} is stored as a sparse file in a pax format (tar --sparse --format=posix); "
        "re-create the archive without --sparse",
    )


def test_a_device_or_a_fifo_given_as_the_archive_is_named_for_what_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "image.tar"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        assert_one_line_error(run_cli([path], cwd=tmp_path), f"not a regular file or a directory ({path})")


@pytest.mark.parametrize("record", ["path", "linkpath"])
def test_a_nul_in_a_pax_path_is_a_corrupt_header_as_go_reads_it(tmp_path: Path, record: str) -> None:
    # Go's archive/tar refuses a pax path or linkpath holding a NUL (validPAXRecord): no
    # engine loads the layer. imgaudit reported a file named 'app/a\x00b'.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("app/ab")
        info.type = tarfile.SYMTYPE if record == "linkpath" else tarfile.REGTYPE
        info.pax_headers = {record: "app/a\0b"}
        tar.addfile(info)
    result = run_cli([str(classic_archive([buffer.getvalue()], tmp_path / "nul.tar"))], cwd=tmp_path)
    assert_one_line_error(result, f"layer tar has a NUL in a pax {record}")


INDEX = "application/vnd.oci.image.index.v1+json"


def _fanned_out_layout(tmp_path: Path, fanout: int, depth: int, named: bool) -> Path:
    """An OCI layout whose index lists one inner index `fanout` times, `depth` levels down, to
    one image; `named`: each listing has a name of its own."""
    files = layout_files([build(TWO_LAYERS)], docker_manifest=False)
    descriptor = json.loads(files["index.json"])["manifests"][0]
    for level in range(depth):
        listed = [
            {**descriptor, "annotations": {"org.opencontainers.image.ref.name": f"{level}-{i}"}}
            if named
            else descriptor
            for i in range(fanout)
        ]
        body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": listed}).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        files[f"blobs/sha256/{digest[7:]}"] = body
        descriptor = {"mediaType": INDEX, "digest": digest, "size": len(body)}
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [descriptor]}).encode()
    return write_dir(files, tmp_path / "layout")


def test_an_index_listing_one_inner_index_many_times_is_read_once_per_blob(tmp_path: Path) -> None:
    # 20 listings of one inner index, 4 levels deep: 160,000 paths to one image, each read and
    # parsed again: 147 s and 253 MB (a fan-out of 100 would take days). One listing of a blob
    # under one name and platform is read once; the image is found in a blink.
    result = run_cli(
        [str(_fanned_out_layout(tmp_path, 20, 4, named=False)), "--format", "json"], cwd=tmp_path
    )
    assert result.exit_code == 0, result.stderr
    assert result.seconds < 10
    assert json.loads(result.stdout)["image"]["total_bytes"] == 8_000


def test_an_index_naming_each_of_many_listings_is_refused_past_the_entry_limit(tmp_path: Path) -> None:
    # Listings that differ (a name each) are not the same: 12 per level, 4 deep, are 20,736
    # images to tell apart. Past 10,000 entries the index is refused (README: Limits).
    result = run_cli([str(_fanned_out_layout(tmp_path, 12, 4, named=True))], cwd=tmp_path)
    assert_one_line_error(result, "the image index lists more than 10000 entries, nested indexes included")
    assert result.seconds < 10
