"""conda's package cache (`pkgs/`: every downloaded tarball and its extracted copy) shipped in
a layer: `conda-cache-in-layer`, wherever the image's ENV puts it. conda hard-links the
extracted files into the environment, so those bytes stay with the environment when the cache
goes and are not counted. Every figure is a sum of the spec's sizes."""

from __future__ import annotations

import pytest

from imgaudit.model import Category, Report
from tests.conftest import AuditSpec
from tests.support.imagespec import File, Hardlink, ImageSpec, Layer, Whiteout, file

PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"
BASE = Layer([File("etc/passwd", PASSWD), file("usr/bin/sh", 3000)], "ADD rootfs.tar /")


def _spec(env: dict[str, str], *layers: Layer) -> ImageSpec:
    every = [BASE, *layers]
    return ImageSpec(
        layers=every, history=[(layer.created_by, False) for layer in every], env={"PATH": "/bin", **env}
    )


def _finding(report: Report) -> tuple[int, tuple[str, ...]]:
    found = next(f for f in report.findings if f.id == "conda-cache-in-layer")
    return found.estimated_savings_bytes, found.evidence.details


@pytest.mark.parametrize(
    ("env", "pkgs"),
    [
        ({}, "opt/conda/pkgs"),
        ({}, "root/.conda/pkgs"),
        ({"CONDA_PKGS_DIRS": "/cache/conda-pkgs,/srv/more-pkgs"}, "srv/more-pkgs"),
        ({"MAMBA_ROOT_PREFIX": "/opt/micromamba"}, "opt/micromamba/pkgs"),
        ({"CONDA_DIR": "/opt/miniforge"}, "opt/miniforge/pkgs"),
    ],
)
def test_conda_package_cache_wherever_env_puts_it(
    audit_spec: AuditSpec, env: dict[str, str], pkgs: str
) -> None:
    install = Layer(
        [
            file(f"{pkgs}/numpy-1.26.4-py311h.conda", 7000),
            file(f"{pkgs}/numpy-1.26.4-py311h/info/index.json", 300),
        ],
        "/bin/sh -c conda install -y numpy",
    )
    report = audit_spec(_spec(env, install))
    assert report.categories[Category.CONDA_CACHE] == 7300
    assert sum(report.categories.values()) == report.final_bytes
    assert _finding(report)[0] == 7300


def test_extracted_files_conda_linked_into_the_env_stay_with_it(audit_spec: AuditSpec) -> None:
    pkgs = "opt/conda/pkgs/numpy-1.26.4-py311h"
    install = Layer(
        [
            file(f"{pkgs}.conda", 7000),
            file(f"{pkgs}/lib/python3.11/site-packages/numpy/core.so", 9000),
            Hardlink(
                "opt/conda/lib/python3.11/site-packages/numpy/core.so",
                f"{pkgs}/lib/python3.11/site-packages/numpy/core.so",
            ),
        ],
        "/bin/sh -c conda install -y numpy",
    )
    report = audit_spec(_spec({}, install))
    saved, details = _finding(report)
    assert saved == report.categories[Category.CONDA_CACHE] == 7000
    assert any(d.startswith("9000 more bytes of the cache are hard links into") for d in details)
    assert sum(report.categories.values()) == report.final_bytes


def test_a_cache_cleaned_by_a_later_layer_still_ships(audit_spec: AuditSpec) -> None:
    install = Layer(
        [file("opt/conda/pkgs/numpy-1.26.4-py311h.conda", 7000)], "/bin/sh -c conda install -y numpy"
    )
    clean = Layer([Whiteout("opt/conda/pkgs/numpy-1.26.4-py311h.conda")], "/bin/sh -c conda clean --all -y")
    report = audit_spec(_spec({}, install, clean))
    assert report.categories[Category.CONDA_CACHE] == 0
    assert _finding(report)[0] == 7000
    fix = next(f for f in report.findings if f.id == "conda-cache-in-layer").fix
    assert "conda clean --all" in fix.dockerfile
