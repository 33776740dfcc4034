"""How fast is an audit, and how much memory does it take? Prints a table.

    python benchmarks/audit_speed.py                    # synthetic images, every compression
    python benchmarks/audit_speed.py image.tar other/   # real archives or layouts

Each measurement runs in a fresh subprocess so that peak RSS belongs to that audit alone.
Synthetic images have many small files and a few large ones, like Python images do.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.imagespec import File, ImageSpec, Layer, Whiteout, write_image

BIG_FILE = 8 * 1024 * 1024


def synthetic_spec(files: int) -> ImageSpec:
    per_layer = files // 4
    layers = []
    for index in range(4):
        entries = [
            File(f"usr/lib/python3.11/site-packages/pkg{index}/mod{n // 50}/f{n}.py", b"x" * (n % 4096))
            for n in range(per_layer)
        ]
        entries.append(File(f"opt/blob{index}.bin", b"\0" * BIG_FILE))
        layers.append(Layer(entries, f"RUN step {index}"))
    layers.append(Layer([Whiteout("usr/lib/python3.11/site-packages/pkg1")], "RUN rm -rf pkg1"))
    return ImageSpec(layers=layers)


def measure(path: Path) -> dict[str, float]:
    """Audit `path` in a child process; wall time and the child's peak RSS.

    Peak RSS is VmHWM: `ru_maxrss` would include what the parent held when it forked.
    """
    code = (
        "import json, sys, time\n"
        "from imgaudit.audit import audit\n"
        "from imgaudit.sources.archive import open_path\n"
        "from pathlib import Path\n"
        "start = time.perf_counter()\n"
        "with open_path(Path(sys.argv[1]), None, None, lambda m: None) as source:\n"
        "    report = audit(source)\n"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(json.dumps({'seconds': time.perf_counter() - start,"
        " 'rss_mb': int(hwm.split()[1]) / 1024,"
        " 'files': sum(layer.files for layer in report.layers), 'total': report.total_bytes}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def main(arguments: list[str]) -> None:
    rows: list[tuple[str, int, float, float, float, float]] = []
    if arguments:
        for argument in arguments:
            path = Path(argument)
            figures = measure(path)
            rows.append(
                (
                    path.name,
                    int(figures["files"]),
                    size_of(path) / 1e6,
                    figures["total"] / 1e6,
                    figures["seconds"],
                    figures["rss_mb"],
                )
            )
    else:
        with tempfile.TemporaryDirectory(prefix="imgaudit-bench-") as scratch:
            for files in (20_000, 100_000):
                for compression in ("none", "gzip", "zstd"):
                    path = write_image(
                        synthetic_spec(files),
                        Path(scratch) / f"{files}-{compression}.tar",
                        "docker-oci",
                        compression,
                    )
                    figures = measure(path)
                    rows.append(
                        (
                            f"{files} files, {compression}",
                            int(figures["files"]),
                            size_of(path) / 1e6,
                            figures["total"] / 1e6,
                            figures["seconds"],
                            figures["rss_mb"],
                        )
                    )
                    path.unlink()
    print(
        f"{'image':<24} {'files':>8} {'archive MB':>11} {'content MB':>11} {'seconds':>8} {'peak RSS MB':>12}"
    )
    for name, files, archive_mb, content_mb, seconds, rss in rows:
        print(f"{name:<24} {files:>8} {archive_mb:>11.1f} {content_mb:>11.1f} {seconds:>8.2f} {rss:>12.0f}")
    print(
        f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; time {time.strftime('%Y-%m-%d')})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
