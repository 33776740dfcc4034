"""A small naive Poetry image as a spec: every figure a test asserts is a sum of these sizes."""

from __future__ import annotations

from pathlib import Path

from imgaudit.audit import AuditOptions, audit
from imgaudit.model import Report
from imgaudit.sources.resolve import open_reference
from tests.support.imagespec import File, ImageSpec, Layer, Whiteout, file, write_image

VENV = "root/.cache/pypoetry/virtualenvs/greeter-Ab12Cd34-py3.11"
SITE = f"{VENV}/lib/python3.11/site-packages"
POETRY_SITE = "usr/local/lib/python3.11/dist-packages"
PYPROJECT = b"""[project]
name = "greeter"
version = "0.1.0"
dependencies = ["click"]

[tool.poetry]
packages = [{ include = "greeter" }]
"""

# path -> size, per layer
BASE = {"usr/bin/python3.11": 6000, "usr/lib/python3.11/os.py": 4000}
TOOLCHAIN = {
    f"{POETRY_SITE}/poetry/__init__.py": 3000,
    f"{POETRY_SITE}/poetry/console/application.py": 9000,
    f"{POETRY_SITE}/poetry-2.1.3.dist-info/METADATA": 500,
    "usr/local/bin/poetry": 200,
}
APP_CODE = {"app/greeter/__init__.py": 700, "app/greeter/__main__.py": 300}
APP_EXTRA = {"app/tests/test_greeter.py": 400, "app/.git/objects/ab/cdef": 1500}
VENV_FILES = {
    f"{VENV}/pyvenv.cfg": 0,  # written with real content below
    f"{SITE}/click/core.py": 8000,
    f"{SITE}/click-8.1.7.dist-info/METADATA": 300,
}
CACHE = {"root/.cache/pypoetry/cache/repositories/PyPI/_http/a/b": 1200}
ARTIFACTS = {"root/.cache/pypoetry/artifacts/aa/bb/click-8.1.7-py3-none-any.whl": 2500}
PYVENV_CFG = b"home = /usr/bin\nversion = 3.11.2\n"


def files(sizes: dict[str, int]) -> list[File]:
    return [file(path, size) for path, size in sizes.items() if not path.endswith("pyvenv.cfg")]


def naive_spec(pip_install: str = "pip install poetry") -> ImageSpec:
    return ImageSpec(
        layers=[
            Layer([*files(BASE), File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")], "ADD rootfs.tar /"),
            Layer(files(TOOLCHAIN), f"/bin/sh -c {pip_install}"),
            Layer(
                [*files(APP_CODE), *files(APP_EXTRA), File("app/pyproject.toml", PYPROJECT)],
                "/bin/sh -c #(nop) COPY dir:0123 in /app ",
            ),
            Layer(
                [
                    *files(VENV_FILES),
                    File(f"{VENV}/pyvenv.cfg", PYVENV_CFG),
                    *files(CACHE),
                    *files(ARTIFACTS),
                ],
                "/bin/sh -c poetry install",
            ),
            Layer(
                [Whiteout("root/.cache/pypoetry/artifacts")],
                "/bin/sh -c rm -rf /root/.cache/pypoetry/artifacts",
            ),
        ],
        workdir="/app",
        history=[
            ("ADD rootfs.tar /", False),
            ('/bin/sh -c #(nop)  CMD ["python3"]', True),
            (f"/bin/sh -c {pip_install}", False),
            ("/bin/sh -c #(nop) WORKDIR /app", True),
            ("/bin/sh -c #(nop) COPY dir:0123 in /app ", False),
            ("/bin/sh -c poetry install", False),
            ("/bin/sh -c rm -rf /root/.cache/pypoetry/artifacts", False),
            ('/bin/sh -c #(nop)  CMD ["poetry" "run" "python" "-m" "greeter"]', True),
        ],
    )


NAIVE_DOCKERFILE = """\
FROM python-base
RUN pip install poetry
WORKDIR /app
COPY . .
RUN poetry install
RUN rm -rf /root/.cache/pypoetry/artifacts
CMD ["poetry", "run", "python", "-m", "greeter"]
"""


def audit_spec(
    tmp_path: Path, spec: ImageSpec, compression: str = "none", options: AuditOptions | None = None
) -> Report:
    archive = write_image(spec, tmp_path / "image.tar", compression=compression)
    with open_reference(str(archive), image=None, platform=None, warn=lambda _m: None) as source:
        return audit(source, options)
