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

from imgaudit.audit import audit
from imgaudit.model import Report
from imgaudit.sources.resolve import open_reference

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

    def audit(self, tag: str) -> Report:
        """Audit an engine image as `imgaudit TAG` does: the save streams, nothing is written
        to disk (a saved archive per build was gigabytes of writes on a slow shared disk)."""
        previous = os.environ.get("DOCKER_HOST")
        os.environ["DOCKER_HOST"] = self.host
        try:
            with open_reference(f"docker://{tag}", image=None, platform=None, warn=lambda _m: None) as source:
                return audit(source)
        finally:
            if previous is None:
                del os.environ["DOCKER_HOST"]
            else:
                os.environ["DOCKER_HOST"] = previous

    def keep_untagged(self, tag: str, *, for_session: bool = False) -> str:
        """Keep the image under `tag` for the build cache, but by a container that never runs,
        not by its tag: imgaudit takes the longest *tagged* local image under an engine image for
        its base, and the images that reuse these layers were not built FROM it. The module's
        clean-up lets it go, unless it is kept `for_session`."""
        image = self.client.images.get(tag)
        scope = "session" if for_session else "module"
        holder = f"imgaudit-test-keep-{scope}-{image.short_id[7:]}"
        try:  # a run killed before its clean-up left it: it holds the same image
            self.client.containers.get(holder)
        except docker.errors.NotFound:
            self.client.containers.create(image.id, name=holder)
        self.client.images.remove(tag, force=True)
        return str(image.id)

    def remove_images_except(self, kept: set[str]) -> None:
        """Remove every tagged image but `kept`, then what nothing refers to any more."""
        for holder in self.client.containers.list(all=True, filters={"name": "imgaudit-test-keep-module-"}):
            holder.remove(force=True)
        for image in self.client.images.list():
            for tag in image.tags:
                if tag not in kept:
                    # NotFound: already gone with an image removed before it.
                    with contextlib.suppress(docker.errors.NotFound):
                        self.client.images.remove(tag, force=True, noprune=False)
        # Images a container holds stay (the shared Poetry prelude); builds leave no container.
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


def _import(engine: Engine, rootfs_tar: Path, tag: str, *changes: str) -> None:
    options = [item for change in ('CMD ["/bin/sh"]', *changes) for item in ("-c", change)]
    subprocess.run(
        ["docker", "-H", engine.host, "import", *options, str(rootfs_tar), tag],
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


# Where the base keeps the host's CA bundle, and the variables that make pip, Poetry, uv, PDM
# and Pipenv trust it: builds reach the package index only through it. In the base, not in
# every test Dockerfile: on vfs each instruction copies the whole root filesystem, and these
# two instructions were in some 30 builds.
BUILD_CA = "/usr/local/share/build-ca.crt"
BUILD_ENV = (
    f"ENV PIP_CERT={BUILD_CA} REQUESTS_CA_BUNDLE={BUILD_CA} SSL_CERT_FILE={BUILD_CA} "
    "PIP_DISABLE_PIP_VERSION_CHECK=1"
)


def _with_build_ca(rootfs_tar: Path, ca_bundle: Path, work: Path) -> Path:
    """The rootfs tarball with the CA bundle added (a copy: a cached tarball stays as it was)."""
    combined = work / "rootfs-with-ca.tar"
    shutil.copyfile(rootfs_tar, combined)
    with tarfile.open(combined, "a") as tar:
        tar.add(ca_bundle, "." + BUILD_CA)
    return combined


@pytest.fixture(scope="session")
def python_base_image(
    docker_engine: Engine, ca_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A one-layer Debian bookworm minbase with python3, venv and pip, imported locally, with
    the host's CA bundle and the variables that point the Python tools at it."""
    try:
        docker_engine.client.images.get(PYTHON_BASE_TAG)
        return PYTHON_BASE_TAG
    except docker.errors.ImageNotFound:
        pass
    work = tmp_path_factory.mktemp("python-base")
    cached = Path(ROOTFS_CACHE) if ROOTFS_CACHE else None
    if cached is None or not cached.is_file():
        rootfs = work / "rootfs"
        _debootstrap(rootfs)
        _slim_down(rootfs)
        # Behave like the official python images, where `pip install poetry` works system-wide.
        for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        cached = cached or work / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(cached), "."], check=True)
        shutil.rmtree(rootfs, ignore_errors=True)
    _import(docker_engine, _with_build_ca(cached, ca_bundle, work), PYTHON_BASE_TAG, BUILD_ENV)
    return PYTHON_BASE_TAG


POETRY_PRELUDE_TAG = "imgaudit-test/poetry-prelude:latest"
# The first steps of every unpinned naive Poetry build in the tests (advisor, attribution, the
# fix samples): built once and kept all session, so the engine's build cache gives each of those
# modules its Poetry install for free.
POETRY_PRELUDE = "FROM {base}\nARG POETRY_PYPI_MIRROR_URL\nRUN pip install poetry poetry-plugin-pypi-mirror\n"


@pytest.fixture(scope="session")
def poetry_prelude(
    docker_engine: Engine,
    python_base_image: str,
    pypi_simple_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The id of the image POETRY_PRELUDE builds; Dockerfiles starting with the same lines reuse it."""
    context = tmp_path_factory.mktemp("poetry-prelude")
    (context / "Dockerfile").write_text(POETRY_PRELUDE.format(base=python_base_image))
    docker_engine.build(context, POETRY_PRELUDE_TAG, build_args={"POETRY_PYPI_MIRROR_URL": pypi_simple_url})
    return docker_engine.keep_untagged(POETRY_PRELUDE_TAG, for_session=True)


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
