"""A small Python project image in versions that differ by a package, a cache and a layer:
the before/after pair that gate, baseline and diff tests compare."""

from __future__ import annotations

from pathlib import Path

from tests.support.imagespec import File, ImageSpec, Layer, Whiteout, file, write_image

SITE = "opt/venv/lib/python3.11/site-packages"
PASSWD = File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")


def distribution(name: str, version: str, size: int) -> list[File]:
    """An installed distribution: its package directory plus a dist-info with a RECORD."""
    module = f"{SITE}/{name}/__init__.py"
    info = f"{SITE}/{name}-{version}.dist-info"
    record = f"{name}/__init__.py,,{size}\n{name}-{version}.dist-info/METADATA,,\n{name}-{version}.dist-info/RECORD,,\n"
    return [
        file(module, size, seed=len(name)),
        File(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()),
        File(f"{info}/RECORD", record.encode()),
        File(f"{info}/INSTALLER", b"pip\n"),
    ]


def project_spec(*, grown: bool = False) -> ImageSpec:
    """`grown` adds one package (`extra`, 300 kB), a pip cache (200 kB) and a layer."""
    packages = distribution("requests", "2.31.0", 400_000)
    if grown:
        packages += distribution("extra", "1.0", 300_000)
    layers = [
        Layer(
            [PASSWD, file("bin/sh", 1_000_000), File("opt/venv/pyvenv.cfg", b"home = /usr/bin\n")],
            "ADD rootfs.tar /",
        ),
        Layer(packages, "RUN pip install -r requirements.txt"),
        Layer([file("app/main.py", 50_000)], "COPY . /app"),
    ]
    if grown:
        layers.insert(2, Layer([file("root/.cache/pip/http/a/b/blob", 200_000)], "RUN pip install extra"))
        layers.append(Layer([file("tmp/build/scratch", 100_000)], "RUN make scratch"))
        layers.append(Layer([Whiteout("tmp/build")], "RUN rm -rf /tmp/build"))
    return ImageSpec(layers=layers, tags=("example/project:latest",))


def write_project(path: Path, *, grown: bool = False) -> Path:
    return write_image(project_spec(grown=grown), path)
