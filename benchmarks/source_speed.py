"""Does reading an image from the engine or a registry cost more than reading its archive?

    python benchmarks/source_speed.py [MB]     # default: a 4-layer, ~200 MB synthetic image

The same synthetic image (gzip layers) is audited three or four ways, each in this process:
the OCI archive on disk; pulled from an in-process registry on 127.0.0.1 (digest checks and
all); and, when a Docker engine answers, loaded into it and audited by name (the streamed
`docker save`), next to `docker save` to a file followed by an archive audit.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgaudit.audit import audit
from imgaudit.model import Report
from imgaudit.sources.archive import open_path
from imgaudit.sources.daemon import connect_engine
from imgaudit.sources.registry import RegistrySource, parse_reference
from imgaudit.sources.registry.client import RegistryClient
from imgaudit.sources.resolve import open_reference
from tests.support.imagespec import File, ImageSpec, Layer, build, write_image
from tests.unit.sources.registry_server import FakeRegistry, serve

TAG = "imgaudit-bench/source-speed:1"


def spec(megabytes: int) -> ImageSpec:
    per_layer = megabytes * 1024 * 1024 // 4
    layers = []
    for index in range(4):
        # A random big file (it does not compress, like wheels and .so files) and many small ones.
        big = File(f"opt/blob{index}.bin", random.Random(index).randbytes(per_layer))
        small = [File(f"usr/lib/pkg{index}/m{n}.py", b"x = 1\n" * (n % 200)) for n in range(2000)]
        layers.append(Layer([big, *small], f"RUN step {index}"))
    return ImageSpec(layers=layers, tags=(TAG,))


def timed(label: str, run: Callable[[], Report], rows: list[tuple[str, float, int]]) -> None:
    start = time.perf_counter()
    report = run()
    rows.append((label, time.perf_counter() - start, report.total_bytes))


def _quiet(_: str) -> None:
    return None


def main(megabytes: int) -> None:
    image_spec = spec(megabytes)
    rows: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="imgaudit-bench-") as scratch:
        archive = write_image(image_spec, Path(scratch) / "image.tar", "oci-archive", "gzip")

        def from_archive(path: Path = archive) -> Report:
            with open_path(path, None, None, _quiet) as source:
                return audit(source)

        timed("OCI archive on disk", from_archive, rows)
        with serve(FakeRegistry()) as registry:
            registry.push("bench/app", "1", build(image_spec, "gzip"))
            reference = f"{registry.host}/bench/app:1"

            def from_registry() -> Report:
                client = RegistryClient(parse_reference(reference))
                with RegistrySource(client, reference, None, _quiet) as source:
                    return audit(source)

            timed("registry on 127.0.0.1", from_registry, rows)
        client = connect_engine()
        if client is not None:
            client.close()
            docker_archive = write_image(image_spec, Path(scratch) / "docker.tar", "docker-classic", "none")
            subprocess.run(
                ["docker", "load", "-q", "-i", str(docker_archive)], check=True, capture_output=True
            )
            try:

                def from_engine() -> Report:
                    with open_reference(TAG, image=None, platform=None, warn=_quiet) as source:
                        return audit(source)

                def save_then_archive() -> Report:
                    saved = Path(scratch) / "saved.tar"
                    subprocess.run(["docker", "save", "-o", str(saved), TAG], check=True)
                    return from_archive(saved)

                timed("engine, streamed save", from_engine, rows)
                timed("docker save + archive", save_then_archive, rows)
            finally:
                subprocess.run(["docker", "rmi", TAG], check=False, capture_output=True)
    print(f"{'source':<24} {'seconds':>8} {'content MB':>11} {'MB/s':>7}")
    for label, seconds, total in rows:
        print(f"{label:<24} {seconds:>8.2f} {total / 1e6:>11.1f} {total / 1e6 / seconds:>7.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
