"""The audit's progress callbacks: a message before each layer (and before the wait for the
layers' digest checks), and after each one the layers done and the bytes read, which a
progress bar shows."""

from __future__ import annotations

from pathlib import Path

from imgaudit.audit import AuditOptions, audit
from imgaudit.sources.archive import open_path
from tests.support.imagespec import ImageSpec, Layer, file, write_image


def test_each_layer_reports_layers_done_and_bytes_read(tmp_path: Path) -> None:
    spec = ImageSpec(
        layers=[
            Layer([file("bin/sh", 3000)], "ADD rootfs /"),
            Layer([file("app/a", 500), file("app/b", 700)], "COPY app /app"),
            Layer([], "RUN true"),
        ]
    )
    messages: list[str] = []
    steps: list[tuple[int, int, int]] = []
    with open_path(write_image(spec, tmp_path / "image.tar"), None, None, messages.append) as source:
        report = audit(source, AuditOptions(), progress=messages.append, on_layer=lambda *s: steps.append(s))
    assert messages == [
        "reading layer 1 of 3",
        "reading layer 2 of 3",
        "reading layer 3 of 3",
        "checking the layers' digests",  # hashed beside the walk, settled before the report
    ]
    assert steps == [(1, 3, 3000), (2, 3, 4200), (3, 3, 4200)]
    assert steps[-1][2] == report.total_bytes
