"""Time and peak memory of the CLI on images whose directories are thousands of levels deep
(every name within PATH_MAX), in a child process as a user runs it.

    python benchmarks/deep_directories.py            # every shape
    python benchmarks/deep_directories.py siblings   # the shapes whose name holds a word given

Shapes:
- siblings: 4,000 sibling directories, one file each, under a chain 2,000 levels deep;
- site: the same inside a site-packages holding one distribution (ownership walks up to the
  site, per directory);
- venvs: 20 venvs (past the few roots a path set compares by prefix) beside 100 chains 2,000
  levels deep, one file at each chain's end (a path set's memo of every directory above);
- record: a distribution whose RECORD (600 KB) lists 150 files, each at the end of a chain of
  its own 2,000 levels deep, none of them in the image (what a RECORD claims is walked up);
- linked: the siblings shape behind a symlink the same layer wrote (`l -> /real`, then
  `l/d/d/...`: each name resolved through the layer's own links);
- chain: one file at every level of one chain 2,000 deep (each directory holds a file).

Each shape is the image's second layer (the first, its base, holds one file), so the rules
that skip the base ask about each of its files. Prints one row per shape: exit code, seconds, the child's peak RSS, the final bytes.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cli_process import run_cli
from tests.support.rawtar import classic_archive

DEPTH = 2_000
CHAIN = "d/" * (DEPTH - 1)
RECORD_LINES = 150
SITE = "usr/lib/python3.11/site-packages"


def siblings() -> Iterator[tuple[str, bytes]]:
    for i in range(4_000):
        yield f"{CHAIN}{i}/f", b"x"


def site() -> Iterator[tuple[str, bytes]]:
    info = f"{SITE}/pkg-1.0.dist-info"
    yield f"{info}/METADATA", b"Name: pkg\nVersion: 1.0\n"
    yield f"{info}/RECORD", b"pkg/__init__.py,,\n"
    yield f"{SITE}/pkg/__init__.py", b""
    chain = "d/" * (DEPTH - 20)
    for i in range(4_000):
        yield f"{SITE}/pkg/{chain}{i}/f", b"x"


def venvs() -> Iterator[tuple[str, bytes]]:
    for v in range(20):
        yield f"venv{v}/pyvenv.cfg", b"version = 3.11.4\n"
    for c in range(100):
        yield f"c{c}/{CHAIN}f", b"x"


def record() -> Iterator[tuple[str, bytes]]:
    info = f"{SITE}/pkg-1.0.dist-info"
    yield f"{info}/METADATA", b"Name: pkg\nVersion: 1.0\n"
    yield f"{info}/RECORD", "".join(f"pkg/{i}/{CHAIN[: -2 * 10]}f,,\n" for i in range(RECORD_LINES)).encode()
    yield f"{SITE}/pkg/__init__.py", b"x"


def linked() -> Iterator[tuple[str, bytes]]:
    yield "l", b""  # made a symlink to /real by `layer`
    for i in range(4_000):
        yield f"l/{CHAIN}{i}/f", b"x"


def chain() -> Iterator[tuple[str, bytes]]:
    for level in range(1, DEPTH):
        yield "d/" * level + "f", b"x"


SHAPES: dict[str, Callable[[], Iterator[tuple[str, bytes]]]] = {
    "siblings": siblings,
    "site": site,
    "venvs": venvs,
    "record": record,
    "linked": linked,
    "chain": chain,
}


def layer(entries: Iterator[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if name == "l":
                info.type, info.linkname = tarfile.SYMTYPE, "/real"
                tar.addfile(info)
                continue
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def main(words: list[str]) -> None:
    print(f"{'shape':10} {'exit':>4} {'seconds':>7} {'RSS MB':>7} {'final bytes':>11}")
    for name, shape in SHAPES.items():
        if words and not any(w in name for w in words):
            continue
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            base = layer(iter([("etc/os-release", b"ID=bench\n")]))
            archive = classic_archive([base, layer(shape())], root / f"{name}.tar")
            result = run_cli([str(archive), "--format", "json"], cwd=root, timeout=600)
            final = json.loads(result.stdout)["image"]["final_bytes"] if result.exit_code == 0 else "-"
            print(
                f"{name:10} {result.exit_code:>4} {result.seconds:>7.2f} "
                f"{result.peak_rss_bytes / 2**20:>7.0f} {final:>11}",
                flush=True,
            )
            if result.exit_code:
                print(result.stderr[-2000:])


if __name__ == "__main__":
    main(sys.argv[1:])
