"""How long Python/OS-package attribution takes on a big merged filesystem. Prints a table.

    python benchmarks/attribution_speed.py [FILES ...]     # default: 20000 100000

Synthetic: one venv with 400 distributions (RECORD lists 90 % of their files, the rest is
bytecode compiled later), a poetry.lock + pyproject in /app, and a dpkg database of 300
packages. Times `attribute()` alone: the layers are already merged.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgaudit.classify.attribution import attribute
from imgaudit.layers.merge import FinalFile, MergedFilesystem
from imgaudit.model import EntryKind, ImageInfo, Origin

SITE = "app/.venv/lib/python3.11/site-packages"
DISTS = 400
OS_PACKAGES = 300


def synthetic(files: int) -> MergedFilesystem:
    final: list[FinalFile] = []
    contents: dict[str, bytes] = {"app/.venv/pyvenv.cfg": b"version = 3.11.4\n"}
    per_dist = files // 2 // DISTS
    lock = ['[metadata]\nlock-version = "2.1"\n']
    for d in range(DISTS):
        name = f"pkg{d}"
        info = f"{SITE}/{name}-1.0.dist-info"
        paths = [f"{SITE}/{name}/m{i // 20}/f{i}.py" for i in range(per_dist)]
        record = [p[len(SITE) + 1 :] for p in paths[: per_dist * 9 // 10]]
        contents[f"{info}/RECORD"] = "".join(f"{r},sha256=x,1\n" for r in record).encode()
        contents[f"{info}/METADATA"] = (
            f"Name: {name}\nVersion: 1.0\nRequires-Dist: pkg{(d + 1) % DISTS}\n".encode()
        )
        final += [
            FinalFile(p, EntryKind.FILE, 1000, 1) for p in (*paths, f"{info}/RECORD", f"{info}/METADATA")
        ]
        lock.append(
            f'[[package]]\nname = "{name}"\nversion = "1.0"\n[package.dependencies]\npkg{(d + 1) % DISTS} = "*"\n'
        )
    contents["app/poetry.lock"] = "\n".join(lock).encode()
    contents["app/pyproject.toml"] = (
        b'[tool.poetry.dependencies]\npkg0 = "*"\n[tool.poetry.group.dev.dependencies]\npkg200 = "*"\n'
    )
    status = []
    per_package = (files - len(final)) // OS_PACKAGES
    for p in range(OS_PACKAGES):
        paths = [f"usr/lib/os{p}/f{i}" for i in range(per_package)]
        contents[f"var/lib/dpkg/info/os{p}.list"] = "".join(f"/{x}\n" for x in paths).encode()
        status.append(
            f"Package: os{p}\nStatus: install ok installed\nVersion: 1\nDepends: os{(p + 1) % OS_PACKAGES}\n"
        )
        final += [FinalFile(x, EntryKind.FILE, 500, 0) for x in paths]
    contents["var/lib/dpkg/status"] = "\n".join(status).encode()
    final.sort(key=lambda f: f.path)
    return MergedFilesystem(tuple(final), contents, (), (), ())


def main(sizes: list[int]) -> None:
    info = ImageInfo(
        "bench", None, None, "linux", "amd64", None, None, Origin("bench", "-"), {"WorkingDir": "/app"}, ()
    )
    print(f"{'files':>8}  {'attribute() s':>13}  {'environments':>12}  {'os packages':>11}")
    for size in sizes:
        merged = synthetic(size)
        started = time.perf_counter()
        found = attribute(merged, info, 1)
        elapsed = time.perf_counter() - started
        print(
            f"{len(merged.files):>8}  {elapsed:>13.2f}  {len(found.environments):>12}  {len(found.os_packages):>11}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [20_000, 100_000])
