"""What checking a classic `docker save` layer against its diff_id costs.

    python benchmarks/classic_layer_check.py [MiB per layer, default 256] [none|gzip|zstd]

Writes a classic archive of one layer (files of 4 MiB, as a site-packages or a base image
holds; uncompressed as `docker save` writes it, or compressed as crane's tarballs hold it),
then walks the layer three times each way: without the check (uncompressed: seeking past file
contents, what imgaudit did before) and hashing every inflated byte as it is read (the check).
Prints the best time of each and the hashing throughput. The archive is in the page cache
after the first pass, so this is the CPU cost; a cold disk read costs the same both ways
once the layer is read whole, and the unchecked walk reads only the headers.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgaudit.layers.walk import analyze_layer
from imgaudit.sources.archive import open_path
from imgaudit.sources.compression import decompressed
from imgaudit.sources.store import DigestCheckingReader, TarArchiveStore
from tests.support.imagespec import ImageSpec, Layer, build, classic_files, file, write_tar


def _walk(store: TarArchiveStore, name: str, diff_id: str | None) -> float:
    started = time.perf_counter()
    blob = store.open_checked(name, diff_id)
    with blob:
        if isinstance(blob, DigestCheckingReader):
            buffered = io.BufferedReader(blob, 1 << 20)  # held: collecting it would close `blob`
            analyze_layer(cast(BinaryIO, buffered))
            blob.finish()
        else:
            analyze_layer(decompressed(blob))
    return time.perf_counter() - started


def main(mib: int, compression: str) -> None:
    spec = ImageSpec(layers=[Layer([file(f"data/f{i}", 4 << 20, seed=i) for i in range(mib // 4)])])
    with tempfile.TemporaryDirectory() as directory:
        path = write_tar(classic_files([build(spec, compression)]), Path(directory) / "saved.tar")
        with open_path(path, None, None, lambda _: None) as source:
            name = source._chosen.layers[0].name  # the member the manifest names
            diff_id = source.layers[0].diff_id
        store = TarArchiveStore(path)
        unchecked = min(_walk(store, name, None) for _ in range(3))
        checked = min(_walk(store, name, diff_id) for _ in range(3))
    print(f"layer: {mib} MiB in {mib // 4} files, compression: {compression}")
    print(f"{'walk without the check':44} {unchecked:7.3f} s")
    print(f"{'walk, hashing every byte (diff_id check)':44} {checked:7.3f} s  ({mib / checked:.0f} MiB/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 256, sys.argv[2] if len(sys.argv) > 2 else "none")
