"""A realistic Poetry-style image made from real files, checked against an independent sum.

The layers are staged as real directories: a real `python -m venv` inside Poetry's default
cache, real installed distributions (copied with their RECORD from this test's own
environment), a Poetry cache, a pip cache in pip's own layout, apt lists, application
sources, and a later layer that deletes a directory. The expected figures are computed by
walking those directories with `os.walk`, not by any imgaudit code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from imgaudit.model import Category
from tests.conftest import audit_path
from tests.support.imagespec import Dir, Entry, File, ImageSpec, Layer, Symlink, Whiteout, write_image

PASSWD = b"root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"
VENV = "root/.cache/pypoetry/virtualenvs/app-Xy12Ab-py3.11"


def copy_distribution(name: str, site_packages: Path) -> None:
    """Copy an installed distribution's files (per its RECORD), as pip laid them out."""
    dist = metadata.distribution(name)
    for entry in dist.files or []:
        source = Path(str(dist.locate_file(entry)))
        if entry.parts[0] == ".." or not source.is_file():
            continue  # console scripts live outside site-packages; not needed here
        target = site_packages / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def entries_of(root: Path) -> list[Entry]:
    entries: list[Entry] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            entries.append(Symlink(relative, str(path.readlink())))
        elif path.is_dir():
            entries.append(Dir(relative))
        else:
            entries.append(File(relative, path.read_bytes()))
    return entries


def sizes_under(root: Path) -> dict[str, int]:
    """path -> bytes of every regular file under `root` (independent of imgaudit)."""
    found: dict[str, int] = {}
    for directory, _, names in os.walk(root):
        for name in names:
            full = Path(directory, name)
            if not full.is_symlink():
                found[full.relative_to(root).as_posix()] = full.stat().st_size
    return found


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    top = tmp_path_factory.mktemp("realistic")
    layers = {name: top / name for name in ("base", "toolchain", "install", "app", "tmpdata")}
    for path in layers.values():
        path.mkdir()
    base = layers["base"]
    (base / "etc").mkdir()
    (base / "etc/passwd").write_bytes(PASSWD)
    (base / "usr/bin").mkdir(parents=True)
    shutil.copyfile(sys.executable, base / "usr/bin/python3.11")
    (base / "usr/lib/python3.11").mkdir(parents=True)
    shutil.copyfile(Path(os.__file__), base / "usr/lib/python3.11/os.py")

    # `pip install poetry` lands in the system interpreter's site-packages.
    copy_distribution("click", layers["toolchain"] / "usr/local/lib/python3.11/site-packages")

    install = layers["install"]
    venv = install / VENV
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    for name in ("humanize", "click"):
        copy_distribution(name, site)
    artifacts = install / "root/.cache/pypoetry/artifacts/3c/9a/11"
    artifacts.mkdir(parents=True)
    (artifacts / "humanize-4.0.0-py3-none-any.whl").write_bytes(os.urandom(40_000))
    repo_cache = install / "root/.cache/pypoetry/cache/repositories/PyPI/_http/1/2"
    repo_cache.mkdir(parents=True)
    (repo_cache / "0f3a").write_bytes(b"x" * 12_345)
    pip_http = install / "root/.cache/pip/http-v2/a/b/c/d/e"
    pip_http.mkdir(parents=True)
    (pip_http / "9b1c2d.body").write_bytes(os.urandom(33_000))
    (pip_http / "9b1c2d").write_bytes(b"\x00" * 250)
    wheels = install / "root/.cache/pip/wheels/ab/cd/ef/0123"
    wheels.mkdir(parents=True)
    (wheels / "sdistonly-1.0-py3-none-any.whl").write_bytes(os.urandom(9_000))
    lists = install / "var/lib/apt/lists"
    lists.mkdir(parents=True)
    (lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4").write_bytes(
        os.urandom(21_000)
    )

    app = layers["app"]
    shutil.copytree(Path(__file__).parents[2] / "imgaudit" / "layers", app / "app" / "src")
    tmpdata = layers["tmpdata"]
    (tmpdata / "tmp/build").mkdir(parents=True)
    (tmpdata / "tmp/build/sdist.tar.gz").write_bytes(os.urandom(77_000))
    (tmpdata / "tmp/build/notes.txt").write_bytes(b"n" * 1000)
    return layers


def test_every_category_matches_an_independent_sum(staged: dict[str, Path], tmp_path: Path) -> None:
    spec = ImageSpec(
        layers=[
            Layer(entries_of(staged["base"]), "ADD rootfs.tar / # buildkit"),
            Layer(entries_of(staged["toolchain"]), "RUN /bin/sh -c pip install poetry # buildkit"),
            Layer(entries_of(staged["tmpdata"]), "RUN /bin/sh -c make-sdist /tmp/build # buildkit"),
            Layer(entries_of(staged["install"]), "RUN /bin/sh -c poetry install # buildkit"),
            Layer(entries_of(staged["app"]), "COPY . . # buildkit"),
            Layer([Whiteout("tmp/build")], "RUN /bin/sh -c rm -rf /tmp/build # buildkit"),
        ],
        history=[
            ("ADD rootfs.tar / # buildkit", False),
            ('CMD ["python3"]', True),
            ("WORKDIR /app", True),
            ("RUN /bin/sh -c pip install poetry # buildkit", False),
            ("RUN /bin/sh -c make-sdist /tmp/build # buildkit", False),
            ("RUN /bin/sh -c poetry install # buildkit", False),
            ("COPY . . # buildkit", False),
            ("RUN /bin/sh -c rm -rf /tmp/build # buildkit", False),
        ],
        workdir="/app",
    )
    report = audit_path(write_image(spec, tmp_path / "realistic.tar", "docker-oci", "gzip"))

    layer_files = {name: sizes_under(path) for name, path in staged.items()}
    install = layer_files["install"]

    def under(files: dict[str, int], prefix: str) -> int:
        return sum(size for path, size in files.items() if path.startswith(prefix))

    expected = {
        Category.BASE_IMAGE: sum(layer_files["base"].values()),
        Category.POETRY_CACHE: under(install, "root/.cache/pypoetry/artifacts")
        + under(install, "root/.cache/pypoetry/cache"),
        Category.PIP_CACHE: under(install, "root/.cache/pip/"),
        Category.APT_CACHE: under(install, "var/lib/apt/lists"),
        Category.APP: sum(layer_files["app"].values()),
    }
    packages = under(install, VENV) + sum(layer_files["toolchain"].values())
    for category, size in expected.items():
        assert report.categories[category] == size, category
    # Issue 4 moves the toolchain and dev-only packages out of python_packages; together they
    # still hold exactly the environment bytes.
    python_side = (
        report.categories[Category.PYTHON_PACKAGES]
        + report.categories.get(Category.PYTHON_TOOLCHAIN, 0)
        + report.categories.get(Category.DEV_PACKAGES, 0)
    )
    assert python_side == packages
    assert report.categories[Category.OTHER] == 0
    assert report.wasted_bytes == sum(layer_files["tmpdata"].values()) == 78_000
    assert report.total_bytes == sum(sum(files.values()) for files in layer_files.values())
    assert sum(report.categories.values()) == report.final_bytes == report.total_bytes - 78_000
    assert report.base.layer_count == 1
