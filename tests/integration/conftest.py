"""Real Docker engine and real base images for integration tests.

Each fixture skips with a reason when the real thing is absent; with
IMGAUDIT_REQUIRE_INTEGRATION=1 (CI sets it) a missing engine fails the test instead,
so CI proves the real paths.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

REQUIRE = os.environ.get("IMGAUDIT_REQUIRE_INTEGRATION") == "1"
PYTHON_BASE_TAG = "imgaudit-test/python-base:bookworm"
BUSYBOX_BASE_TAG = "imgaudit-test/busybox:latest"
DEBIAN_MIRROR = os.environ.get("IMGAUDIT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Debootstrap is the slow part (minutes); a developer may keep its tarball between runs.
ROOTFS_CACHE = os.environ.get("IMGAUDIT_TEST_ROOTFS_CACHE")


def unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"integration prerequisite missing (IMGAUDIT_REQUIRE_INTEGRATION=1): {reason}")
    pytest.skip(reason)


@dataclass
class Engine:
    client: docker.DockerClient
    host: str

    def build(
        self, context: Path, tag: str, *, network_host: bool = True, build_args: dict[str, str] | None = None
    ) -> None:
        """`docker build` through the CLI: BuildKit-free classic builder works with vfs here."""
        # --force-rm: a failed step's container would otherwise keep a whole rootfs copy on vfs.
        command = ["docker", "-H", self.host, "build", "-q", "--force-rm", "-t", tag]
        if network_host:
            command += ["--network", "host"]
        for name, value in (build_args or {}).items():
            command += ["--build-arg", f"{name}={value}"]
        result = subprocess.run([*command, str(context)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AssertionError(f"docker build failed:\n{result.stdout}\n{result.stderr}")

    def save(self, tag: str, path: Path) -> Path:
        subprocess.run(["docker", "-H", self.host, "save", "-o", str(path), tag], check=True)
        return path

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def remove_images_except(self, kept: set[str]) -> None:
        """Remove every tagged image but `kept`, then what nothing refers to any more."""
        for image in self.client.images.list():
            for tag in image.tags:
                if tag not in kept:
                    # NotFound: already gone with an image removed before it.
                    with contextlib.suppress(docker.errors.NotFound):
                        self.client.images.remove(tag, force=True, noprune=False)
        self.client.containers.prune()
        self.client.images.prune(filters={"dangling": True})


# The engines this session started or reached: the module teardown below cleans them.
_ENGINES: list[Engine] = []


def _ping(host: str) -> bool:
    try:
        docker.DockerClient(base_url=host, timeout=5).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    existing = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if _ping(existing):
        engine = Engine(docker.DockerClient(base_url=existing, timeout=600), existing)
        _ENGINES.append(engine)
        yield engine
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        unavailable("no reachable Docker engine, and dockerd cannot be started here (needs root)")
    # A private engine: its own socket and data root, no networking set-up (none works here).
    root = Path(tempfile.mkdtemp(prefix="imgaudit-dockerd-"))
    host = f"unix://{root}/docker.sock"
    log = (root / "dockerd.log").open("w")
    process = subprocess.Popen(
        [
            dockerd,
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            f"--data-root={root}/data",
            f"--exec-root={root}/exec",
            f"--pidfile={root}/docker.pid",
            f"--host={host}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not _ping(host):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            unavailable(f"dockerd did not start: see {root}/dockerd.log")
        time.sleep(0.5)
    engine = Engine(docker.DockerClient(base_url=host, timeout=600), host)
    _ENGINES.append(engine)
    try:
        yield engine
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


def _import(engine: Engine, rootfs_tar: Path, tag: str) -> None:
    subprocess.run(
        ["docker", "-H", engine.host, "import", "-c", 'CMD ["/bin/sh"]', str(rootfs_tar), tag],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def busybox_base_image(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-layer base from Debian's static busybox: a shell and coreutils, no Python."""
    busybox = shutil.which("busybox")
    if busybox is None:
        unavailable("busybox (Debian's busybox-static) is not installed")
    tar_path = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name in ("bin", "etc", "tmp", "root"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for applet in ("sh", "ls", "rm", "mkdir", "cp", "cat", "echo", "touch", "dd", "mv"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        import io

        tar.addfile(info, io.BytesIO(passwd))
    _import(docker_engine, tar_path, BUSYBOX_BASE_TAG)
    return BUSYBOX_BASE_TAG


def _debootstrap(target: Path) -> None:
    if shutil.which("debootstrap") is None:
        unavailable("debootstrap is not installed (apt-get install debootstrap)")
    result = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,python3-pip,ca-certificates",
            "bookworm",
            str(target),
            DEBIAN_MIRROR,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        unavailable(f"debootstrap failed: {result.stderr[-400:]}")


def _slim_down(rootfs: Path) -> None:
    """Trim the base as Debian's slim images are trimmed: docs, man pages, locales, apt's lists.

    On vfs every build step copies the whole root filesystem, so the base's size is paid on every
    instruction of every test build: this takes it from 241 MB to about 145 MB. Like the slim
    images, dpkg keeps later installs free of them too; `apt-get update` brings the lists back.
    """
    for trimmed in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
        shutil.rmtree(rootfs / trimmed, ignore_errors=True)
        (rootfs / trimmed).mkdir()
    for cached in [*rootfs.glob("var/lib/apt/lists/*"), *rootfs.glob("var/cache/apt/*")]:
        if cached.is_file():
            cached.unlink()
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "etc/dpkg/dpkg.cfg.d/imgaudit-slim").write_text(
        "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\n"
        "path-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n"
    )


@pytest.fixture(scope="session")
def python_base_image(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-layer Debian bookworm minbase with python3, venv and pip, imported locally."""
    try:
        docker_engine.client.images.get(PYTHON_BASE_TAG)
        return PYTHON_BASE_TAG
    except docker.errors.ImageNotFound:
        pass
    cached = Path(ROOTFS_CACHE) if ROOTFS_CACHE else None
    if cached is not None and cached.is_file():
        _import(docker_engine, cached, PYTHON_BASE_TAG)
        return PYTHON_BASE_TAG
    work = tmp_path_factory.mktemp("python-base")
    rootfs = work / "rootfs"
    _debootstrap(rootfs)
    _slim_down(rootfs)
    # Behave like the official python images, where `pip install poetry` works system-wide.
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    tar_path = cached or work / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar_path), "."], check=True)
    _import(docker_engine, tar_path, PYTHON_BASE_TAG)
    shutil.rmtree(rootfs, ignore_errors=True)
    return PYTHON_BASE_TAG


@pytest.fixture(scope="session")
def ca_bundle() -> Path:
    """The host's CA bundle: builds reach the package index only through it."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        unavailable("no CA bundle at /etc/ssl/certs/ca-certificates.crt")
    return bundle


@pytest.fixture(scope="session")
def pypi_simple_url() -> str:
    """The simple index pip uses here, for POETRY_PYPI_MIRROR_URL inside builds.

    Read from pip's configuration at run time (never written into the repository).
    """
    configured = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if configured:
        return configured
    from pip._internal.models.index import PyPI  # pip's own default index

    return str(PyPI.simple_url)


@pytest.fixture(scope="module", autouse=True)
def _module_images_removed() -> Iterator[None]:
    """Each module's images go when the module ends.

    On vfs every layer is a whole copy of the filesystem under it, so one module's builds hold
    gigabytes; kept for the whole run they filled the disk. Only the session's shared bases
    (and the small busybox app the registry tests push) stay.
    """
    yield
    for engine in _ENGINES:
        engine.remove_images_except(SHARED_TAGS)


# The real registries (issue 7) live in their own module; importing makes them fixtures here.
from tests.integration.registry import *  # noqa: E402, F403
from tests.integration.registry import APP_TAG  # noqa: E402

SHARED_TAGS = {PYTHON_BASE_TAG, BUSYBOX_BASE_TAG, APP_TAG}
