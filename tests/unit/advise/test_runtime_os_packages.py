"""The multi-stage plan keeps the OS packages the runtime stage installs again.

`imgaudit fix` gives its runtime stage a `-dev` package's runtime library (and what it depends
on) and every package the RUN installed that is no build tool; the plan's final size must
count the same files. Measured on a real build before this: the plan dropped libmagic1 and
libmagic-mgc (8.8 MB) and said 151.0 MB for a fixed image of 159.8 MB.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from imgaudit.model import Report
from tests.support.imagespec import Layer
from tests.support.pyimage import dpkg
from tests.unit.advise import naive

APT = "/bin/sh -c apt-get update && apt-get install -y libmagic-dev make curl"
PACKAGES = [
    ("libmagic-dev", "libmagic1 (= 1:5.44-3)", {"usr/include/magic.h": 300}),
    ("libmagic1", "libmagic-mgc (= 1:5.44-3)", {"usr/lib/x86_64-linux-gnu/libmagic.so.1": 800}),
    ("libmagic-mgc", "", {"usr/lib/file/magic.mgc": 7000}),
    ("make", "", {"usr/bin/make": 600}),
    ("curl", "libcurl4", {"usr/bin/curl": 500}),
    ("libcurl4", "", {"usr/lib/x86_64-linux-gnu/libcurl.so.4": 900}),
]
# What a runtime stage installs again: libmagic1 and its dependency, curl and its library.
KEPT = 800 + 7000 + 500 + 900


def _with_apt(tmp_path: Path) -> Report:
    spec = naive.naive_spec()
    layers = [*spec.layers[:2], Layer(dpkg(PACKAGES), APT), *spec.layers[2:]]
    history = [*spec.history[:3], (APT, False), *spec.history[3:]]
    return naive.audit_spec(tmp_path, replace(spec, layers=layers, history=history))


def test_the_plan_keeps_the_libraries_and_tools_the_runtime_installs_again(tmp_path: Path) -> None:
    (tmp_path / "without").mkdir()
    without = naive.audit_spec(tmp_path / "without", naive.naive_spec())
    assert without.plan is not None
    report = _with_apt(tmp_path)
    assert report.plan is not None
    assert report.plan.estimated_final_bytes == without.plan.estimated_final_bytes + KEPT
    build = next(f for f in report.findings if f.id == "build-toolchain-at-runtime")
    assert build.estimated_savings_bytes == 300 + 600  # the header and make, not the libraries
