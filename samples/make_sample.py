"""Regenerate `samples/naive-poetry.tar`, the small image the README audits.

The image is what a naive Poetry Dockerfile produces, made from real files: real Poetry
(`poetry install`, dev group included, default cache and virtualenv location) installs the
real wheels of `samples/project/poetry.lock` into a real virtualenv inside a real Poetry
cache, and a later layer deletes virtualenv's seed cache (the bytes still ship). The base layer is
Debian's static busybox. The layers are packed as a `docker save` archive (Docker 25+
layout, gzip layers) by the same spec builder the tests use.

Needs network access to the package index, a Poetry 2 on PATH (or POETRY=/path/to/poetry)
and, where the index needs it, POETRY_PYPI_MIRROR_URL in the environment. Run:

    python samples/make_sample.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.support.imagespec import (  # noqa: E402
    Dir,
    Entry,
    File,
    ImageSpec,
    Layer,
    Symlink,
    Whiteout,
    write_image,
)

OUTPUT = HERE / "naive-poetry.tar"
PROJECT = HERE / "project"
BUSYBOX = Path("/bin/busybox")
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
DOCKERFILE = """\
FROM busybox-python
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry lock && poetry install --no-root
COPY app ./app
RUN rm -rf /root/.cache/virtualenv
CMD ["python", "app/main.py"]
"""


def tree(root: Path, inside: str) -> list[Entry]:
    """The files under `root` as spec entries at `inside`, symlinks kept as symlinks."""
    entries: list[Entry] = []
    for path in sorted(root.rglob("*")):
        target = f"{inside}/{path.relative_to(root).as_posix()}"
        if path.is_symlink():
            entries.append(Symlink(target, str(path.readlink())))
        elif path.is_dir():
            entries.append(Dir(target))
        else:
            entries.append(File(target, path.read_bytes(), path.stat().st_mode & 0o777))
    return entries


def poetry_install(home: Path, workdir: Path) -> None:
    env = {
        **os.environ,
        "HOME": str(home),
        "POETRY_CACHE_DIR": str(home / ".cache/pypoetry"),
        "POETRY_VIRTUALENVS_IN_PROJECT": "false",
        "POETRY_NO_INTERACTION": "1",
    }
    poetry = os.environ.get("POETRY") or shutil.which("poetry")
    if poetry is None:
        raise SystemExit("make_sample: Poetry 2 is needed (PATH or POETRY=...)")
    # `poetry lock` keeps the locked versions (the sample stays reproducible) but resolves,
    # which fills the cache's repository metadata the way an in-image resolution does.
    for command in (["lock"], ["install", "--no-root"]):
        subprocess.run([poetry, *command], cwd=workdir / "app", env=env, check=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="imgaudit-sample-") as scratch:
        work = Path(scratch)
        home = work / "root"
        app = work / "app"
        app.mkdir()
        for name in ("pyproject.toml", "poetry.lock"):
            shutil.copy(PROJECT / name, app / name)
        poetry_install(home, work)
        shutil.copytree(PROJECT / "app", app / "app")

        base = Layer(
            [
                File("bin/busybox", BUSYBOX.read_bytes(), 0o755),
                Symlink("bin/sh", "busybox"),
                File("etc/passwd", PASSWD),
                Dir("root"),
                Dir("tmp"),
            ],
            created_by="ADD busybox-rootfs.tar / # buildkit",
        )
        manifests = Layer(
            [
                File("app/pyproject.toml", (app / "pyproject.toml").read_bytes()),
                File("app/poetry.lock", (app / "poetry.lock").read_bytes()),
            ],
            created_by="COPY pyproject.toml poetry.lock ./ # buildkit",
        )
        install = Layer(
            [
                *tree(home / ".cache", "root/.cache"),
                File("app/poetry.lock", (app / "poetry.lock").read_bytes()),
            ],
            created_by="RUN /bin/sh -c poetry lock && poetry install --no-root # buildkit",
        )
        code = Layer(tree(app / "app", "app/app"), created_by="COPY app ./app # buildkit")
        cleanup = Layer(
            [Whiteout("root/.cache/virtualenv")],
            created_by="RUN /bin/sh -c rm -rf /root/.cache/virtualenv # buildkit",
        )
        spec = ImageSpec(
            layers=[base, manifests, install, code, cleanup],
            tags=["imgaudit-sample/naive-poetry:latest"],
            env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
            workdir="/app",
            history=[
                ("ADD busybox-rootfs.tar / # buildkit", False),
                ('CMD ["sh"]', True),
                ("WORKDIR /app", True),
                (manifests.created_by, False),
                (install.created_by, False),
                (code.created_by, False),
                (cleanup.created_by, False),
                ('CMD ["python", "app/main.py"]', True),
            ],
        )
        write_image(spec, OUTPUT, layout="docker-oci", compression="gzip")
    (HERE / "naive-poetry.Dockerfile").write_text(DOCKERFILE)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
