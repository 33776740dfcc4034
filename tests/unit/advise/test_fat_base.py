"""`fat-base-image`: estimated from the base's build-only Debian packages, or measured against
the slim base a user names with `--slim-base`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from imgaudit.audit import AuditOptions, audit, measure_slim_base
from imgaudit.model import Finding, Report
from imgaudit.sources.resolve import open_reference
from tests.support.imagespec import File, ImageSpec, Layer, file, write_image
from tests.support.pyimage import dpkg

PASSWD = File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
RUNTIME = [
    ("libc6", "", {"usr/lib/x86_64-linux-gnu/libc.so.6": 2000}),
    ("python3.11", "libc6", {"usr/bin/python3.11": 5000}),
]
BUILD_ONLY = [
    ("gcc-12", "cpp-12, libc6", {"usr/bin/gcc-12": 9000}),
    ("cpp-12", "libmpc3", {"usr/lib/gcc/x86_64-linux-gnu/12/cc1": 20_000}),
    ("libmpc3", "libc6", {"usr/lib/x86_64-linux-gnu/libmpc.so.3": 700}),
    ("libpython3.11-dev", "", {"usr/include/python3.11/Python.h": 300}),
]
BUILD_ONLY_BYTES = 9000 + 20_000 + 700 + 300
APP = {"app/main.py": 450}


def _full_base_image() -> ImageSpec:
    base = Layer([PASSWD, *dpkg(RUNTIME + BUILD_ONLY)], "ADD rootfs.tar /")
    app = Layer([file(p, s) for p, s in APP.items()], "COPY . /app")
    return ImageSpec(
        layers=[base, app],
        history=[(base.created_by, False), ('CMD ["python3"]', True), (app.created_by, False)],
    )


def _slim_base_image(extra: dict[str, int]) -> ImageSpec:
    runtime_files = [PASSWD, *dpkg(RUNTIME)]
    return ImageSpec(
        layers=[Layer([*runtime_files, *(file(p, s) for p, s in extra.items())], "ADD rootfs.tar /")],
        tags=("example/python:3.11-slim",),
    )


def _audit(tmp_path: Path, spec: ImageSpec, options: AuditOptions | None = None) -> Report:
    archive = write_image(spec, tmp_path / "image.tar")
    with open_reference(str(archive), image=None, platform=None, warn=lambda _m: None) as source:
        return audit(source, options)


def _fat_base(report: Report) -> Finding:
    [finding] = [f for f in report.findings if f.id == "fat-base-image"]
    return finding


def test_estimate_is_the_bytes_of_the_base_build_only_packages(tmp_path: Path) -> None:
    finding = _fat_base(_audit(tmp_path, _full_base_image()))
    assert finding.estimated_savings_bytes == BUILD_ONLY_BYTES
    assert set(finding.evidence.packages) == {"gcc-12", "cpp-12", "libmpc3", "libpython3.11-dev"}
    assert finding.savings_basis.startswith("estimated")


def test_slim_base_given_measures_what_the_base_has_beyond_it(tmp_path: Path) -> None:
    slim_archive = write_image(_slim_base_image({"etc/slim-only": 100}), tmp_path / "slim.tar")
    with open_reference(str(slim_archive), image=None, platform=None, warn=lambda _m: None) as slim:
        measured = measure_slim_base(slim)
    assert measured.reference == "example/python:3.11-slim"

    finding = _fat_base(_audit(tmp_path, _full_base_image(), AuditOptions(slim_base=measured)))
    # The build-only packages' files and dpkg lists are absent from the slim base; the files
    # both have (dpkg's status, the runtime packages) are not counted, whatever their size.
    build_lists = sum(len(f"/.\n/{next(iter(files))}\n") for _n, _d, files in BUILD_ONLY)
    full_status = len(dpkg(RUNTIME + BUILD_ONLY)[0].data)
    slim_status = len(dpkg(RUNTIME)[0].data)
    assert finding.estimated_savings_bytes == BUILD_ONLY_BYTES + build_lists
    assert finding.savings_basis.startswith("measured")
    assert "example/python:3.11-slim" in " ".join(finding.evidence.details)
    # The net difference (the slim base has a file the full one lacks) is stated too.
    net = BUILD_ONLY_BYTES + build_lists + full_status - slim_status - 100
    assert f"{net} bytes" in " ".join(finding.evidence.details)


def test_no_finding_when_the_slim_base_is_no_smaller(tmp_path: Path) -> None:
    same = ImageSpec(layers=[Layer([PASSWD, *dpkg(RUNTIME + BUILD_ONLY)], "ADD rootfs.tar /")])
    slim_archive = write_image(same, tmp_path / "same.tar")
    with open_reference(str(slim_archive), image=None, platform=None, warn=lambda _m: None) as slim:
        measured = measure_slim_base(slim)
    report = _audit(tmp_path, _full_base_image(), AuditOptions(slim_base=measured))
    assert not [f for f in report.findings if f.id == "fat-base-image"]


def test_cli_slim_base_reports_a_measured_figure(tmp_path: Path) -> None:
    image = write_image(_full_base_image(), tmp_path / "image.tar")
    slim = write_image(_slim_base_image({}), tmp_path / "slim.tar")
    result = subprocess.run(
        [sys.executable, "-m", "imgaudit", str(image), "--slim-base", str(slim), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [finding] = [f for f in json.loads(result.stdout)["findings"] if f["id"] == "fat-base-image"]
    assert finding["savings_basis"].startswith("measured")

    missing = subprocess.run(
        [sys.executable, "-m", "imgaudit", str(image), "--slim-base", str(tmp_path / "nope.tar")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
