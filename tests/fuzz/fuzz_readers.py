"""Coverage-guided fuzzing (atheris, libFuzzer) of everything that reads other people's bytes:
image archives and layouts, their manifests, indexes and configs, layer blobs, stored reports,
TOML project and config files, `.dive-ci`.

The first input byte picks the target; the rest is the hostile part, planted into an
otherwise valid image built from a spec (digests recomputed, so the reader gets past them).
An input passes when the reader returns or raises `ImgauditError` (exit 2 in the CLI);
any other exception is a crash: libFuzzer stops and writes the input to `crash-*`.

    # the short run the test suite does (tests/fuzz/test_fuzz_short.py, 15 s)
    .venv/bin/python tests/fuzz/fuzz_readers.py -max_total_time=15 -rss_limit_mb=1024
    # a long run, with a corpus kept between runs
    mkdir -p /tmp/imgaudit-fuzz && .venv/bin/python tests/fuzz/fuzz_readers.py \
        /tmp/imgaudit-fuzz -max_total_time=1800 -rss_limit_mb=1024 -timeout=20
    # one target only (its name in TARGETS), seeded with all its inputs: every corpus Dockerfile
    IMGAUDIT_FUZZ_TARGET=dockerfile .venv/bin/python tests/fuzz/fuzz_readers.py \
        /tmp/imgaudit-fuzz-dockerfile -max_total_time=300 -rss_limit_mb=1024 -timeout=20
"""

from __future__ import annotations

import bz2
import contextlib
import datetime
import gzip
import hashlib
import io
import json
import lzma
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports():
    from imgaudit.audit import audit
    from imgaudit.classify.lockfiles import parse_poetry_lock
    from imgaudit.classify.project import declared_roots
    from imgaudit.config import load_config
    from imgaudit.dockerfile.commands import run_fix, run_lint
    from imgaudit.dockerfile.parse import DockerfileError, checked, parse_dockerfile
    from imgaudit.errors import ImgauditError
    from imgaudit.inputs import load_json
    from imgaudit.layers.walk import analyze_layer
    from imgaudit.report.loader import check_schema, figures
    from imgaudit.sources.archive import open_path
    from imgaudit.sources.compression import DECOMPRESSION_ERRORS, decompressed

from tests.support.imagespec import (
    File,
    ImageSpec,
    Layer,
    build,
    classic_files,
    file,
    layout_files,
    write_dir,
    write_tar,
)
from tests.support.rawtar import END, data, header

SPEC = ImageSpec(
    layers=[
        Layer([File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"), file("bin/sh", 400)], "ADD rootfs /"),
        Layer([file("app/main.py", 120), File("app/poetry.lock", b"")], "COPY . /app"),
    ],
    tags=["fuzz/app:1"],
    workdir="/app",
)
BUILT = build(SPEC)
WORK = Path(tempfile.mkdtemp(prefix="imgaudit-fuzz-"))


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _audit_archive(path: Path) -> None:
    with open_path(path, None, None, lambda _: None) as source:
        audit(source)


def raw_archive(data: bytes) -> None:
    path = WORK / "raw.tar"
    path.write_bytes(data)
    _audit_archive(path)


def docker_manifest(data: bytes) -> None:
    files = classic_files([BUILT])
    files["manifest.json"] = data
    _audit_archive(write_tar(files, WORK / "manifest.tar"))


def image_config(data: bytes) -> None:
    files = classic_files([BUILT])
    config_name = next(n for n in files if n.endswith(".json") and n != "manifest.json")
    files[config_name] = data
    _audit_archive(write_tar(files, WORK / "config.tar"))


def oci_index(data: bytes) -> None:
    files = layout_files([BUILT], docker_manifest=False)
    files["index.json"] = data
    _audit_archive(write_tar(files, WORK / "index.tar"))


def oci_manifest(data: bytes) -> None:
    """The manifest blob replaced, and the index naming it by its new digest."""
    files = layout_files([BUILT], docker_manifest=False)
    del files["blobs/sha256/" + BUILT.manifest_digest[7:]]
    files["blobs/sha256/" + _sha(data)[7:]] = data
    index = json.loads(files["index.json"])
    index["manifests"][0].update(digest=_sha(data), size=len(data))
    files["index.json"] = json.dumps(index).encode()
    root = WORK / "layout"
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    _audit_archive(write_dir(files, root))


def layer_blob(data: bytes) -> None:
    try:
        analyze_layer(decompressed(io.BytesIO(data)))
    except (*DECOMPRESSION_ERRORS, OSError) as exc:
        # what audit.analyze_source_layer turns into LayerError (xz and bzip2 included)
        raise ImgauditError(str(exc)) from exc


def stored_report(data: bytes) -> None:
    document = load_json(data, "the report", "fuzz", ImgauditError)
    figures(check_schema(document, "fuzz"), "fuzz")


def project_toml(data: bytes) -> None:
    parse_poetry_lock(data, "/app/poetry.lock")
    declared_roots(data, "/app/pyproject.toml")


def config_file(data: bytes) -> None:
    for name in (".imgaudit.toml", ".dive-ci"):
        path = WORK / name
        path.write_bytes(data)
        load_config(path)


DOCKERFILES = Path(__file__).resolve().parents[1] / "assets" / "dockerfiles"


def dockerfile(data: bytes) -> None:
    """A Dockerfile given to `lint` and `fix` (a shell in every RUN, quotes, heredocs): one line
    and exit 2 at worst, never a traceback."""
    path = WORK / "Dockerfile"
    path.write_bytes(data)
    (WORK / "pyproject.toml").write_text('[tool.poetry.group.dev.dependencies]\npytest = "*"\n')
    today = datetime.date(2026, 12, 1)
    run_lint(path, today, WORK)
    fixed = run_fix(path, WORK, None, today).result.text
    try:  # what fix writes, BuildKit's parser reads as the input was read: known instructions
        checked(parse_dockerfile(fixed))
    except DockerfileError as exc:
        raise AssertionError(f"fix wrote a Dockerfile BuildKit refuses: {exc}\n{fixed}") from exc


def lock_in_image(data: bytes) -> None:
    """A poetry.lock inside the image: never an error, at most a warning."""
    spec = ImageSpec(
        layers=[
            SPEC.layers[0],
            Layer([file("app/main.py", 120), File("app/poetry.lock", data)], "COPY . /app"),
        ],
        tags=["fuzz/app:1"],
        workdir="/app",
    )
    _audit_archive(write_tar(classic_files([build(spec)]), WORK / "lock.tar"))


# Names the readers look up: a structured document built from them reaches the type checks
# that byte mutations of JSON or TOML text rarely get past the parser to.
KEYS = [
    "schemaVersion",
    "mediaType",
    "config",
    "layers",
    "manifests",
    "digest",
    "size",
    "annotations",
    "platform",
    "os",
    "architecture",
    "variant",
    "rootfs",
    "diff_ids",
    "history",
    "created_by",
    "empty_layer",
    "created",
    "comment",
    "Env",
    "User",
    "WorkingDir",
    "Config",
    "RepoTags",
    "Layers",
    "schema",
    "image",
    "reference",
    "total_bytes",
    "final_bytes",
    "wasted_bytes",
    "efficiency",
    "categories",
    "index",
    "size_bytes",
    "instruction",
    "environments",
    "path",
    "distributions",
    "name",
    "version",
    "bytes",
    "findings",
    "id",
    "estimated_savings_bytes",
    "plan",
    "package",
    "metadata",
    "lock-version",
    "dependencies",
    "extras",
    "groups",
    "category",
    "optional",
    "tool",
    "poetry",
    "project",
    "group",
    "dev-dependencies",
    "optional-dependencies",
    "dependency-groups",
    "include-group",
    "imgaudit",
    "max-size",
    "max-category",
    "fail-on",
    "baseline",
    "io.containerd.image.name",
    "org.opencontainers.image.ref.name",
    "vnd.docker.reference.type",
    "artifactType",
]


def _value(fdp: atheris.FuzzedDataProvider, depth: int) -> object:
    kind = fdp.ConsumeIntInRange(0, 7 if depth < 6 else 4)
    if kind == 0:
        return fdp.ConsumeInt(4)
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 12))
    if kind == 3:
        return fdp.PickValueInList(KEYS)
    if kind == 4:
        return "sha256:" + hashlib.sha256(fdp.ConsumeBytes(2)).hexdigest()
    if kind == 5:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    return {fdp.PickValueInList(KEYS): _value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 5))}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def structured(data: bytes) -> None:
    """A document of the right names and random types, as JSON into every JSON reader or
    as TOML into every TOML reader."""
    fdp = atheris.FuzzedDataProvider(data)
    target = fdp.ConsumeIntInRange(0, 6)
    document = {fdp.PickValueInList(KEYS): _value(fdp, 0) for _ in range(fdp.ConsumeIntInRange(1, 6))}
    if target == 6:
        text = "\n".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in document.items()).encode()
        project_toml(text)
        config_file(text)
        return
    encoded = json.dumps(document if target != 1 else [document]).encode()
    (image_config, docker_manifest, oci_index, oci_manifest, stored_report, stored_report)[target](encoded)


TARGETS: list[Callable[[bytes], None]] = [
    raw_archive,
    docker_manifest,
    image_config,
    oci_index,
    oci_manifest,
    layer_blob,
    stored_report,
    project_toml,
    config_file,
    lock_in_image,
    structured,
    dockerfile,
]


# IMGAUDIT_FUZZ_TARGET=NAME: every input goes to that target (its first byte still skipped,
# so the seeds and crash files are the same either way).
ONLY = next((t for t in TARGETS if t.__name__ == os.environ.get("IMGAUDIT_FUZZ_TARGET")), None)


def one_input(data: bytes) -> None:
    if not data:
        return
    target = ONLY or TARGETS[data[0] % len(TARGETS)]
    with contextlib.suppress(ImgauditError):  # the one expected failure: a line and exit 2
        target(data[1:])


TAR_EDGE = Path(__file__).resolve().parents[1] / "assets" / "tar-edge"


def seeds() -> list[bytes]:
    """Valid inputs for every target, so mutations start from what the readers accept."""
    files = classic_files([BUILT])
    config_name = next(n for n in files if n.endswith(".json") and n != "manifest.json")
    oci = layout_files([BUILT], docker_manifest=False)
    report = json.dumps(
        {
            "schema": "imgaudit/report/v1",
            "image": {
                "reference": "x",
                "total_bytes": 5,
                "final_bytes": 4,
                "wasted_bytes": 1,
                "efficiency": 0.8,
            },
            "categories": {"app": 4},
            "layers": [{"index": 0, "size_bytes": 5, "instruction": "COPY"}],
        }
    ).encode()
    lock = b'[[package]]\nname = "six"\nversion = "1.0"\n[metadata]\nlock-version = "2.0"\n'
    archive = write_tar(files, WORK / "seed.tar").read_bytes()
    return [
        bytes([TARGETS.index(raw_archive)]) + archive,
        bytes([TARGETS.index(docker_manifest)]) + files["manifest.json"],
        bytes([TARGETS.index(image_config)]) + files[config_name],
        bytes([TARGETS.index(oci_index)]) + oci["index.json"],
        bytes([TARGETS.index(oci_manifest)]) + BUILT.manifest,
        bytes([TARGETS.index(layer_blob)]) + BUILT.layer_blobs[1][1],
        # the compressions engines load, and GNU tar's sparse files (tests/assets/tar-edge)
        bytes([TARGETS.index(layer_blob)]) + lzma.compress(BUILT.layer_blobs[1][1]),
        bytes([TARGETS.index(layer_blob)]) + bz2.compress(BUILT.layer_blobs[1][1]),
        *(
            bytes([TARGETS.index(layer_blob)]) + gzip.decompress(path.read_bytes())
            for path in sorted(TAR_EDGE.glob("sparse-*.tar.gz"))
        ),
        # headers no tar writer makes (tests/functional/test_hostile_round2.py)
        *(bytes([TARGETS.index(layer_blob)]) + layer for layer in RAW_LAYERS),
        bytes([TARGETS.index(stored_report)]) + report,
        bytes([TARGETS.index(project_toml)]) + lock,
        bytes([TARGETS.index(config_file)]) + b"---\nrules:\n  lowestEfficiency: 0.9\n",
        bytes([TARGETS.index(lock_in_image)]) + lock,
        *(
            bytes([TARGETS.index(dockerfile)]) + path.read_bytes()
            for path in sorted(DOCKERFILES.glob("poetry-*/Dockerfile"))[: None if ONLY is dockerfile else 4]
        ),
        *(
            bytes([TARGETS.index(dockerfile)]) + path.read_bytes()
            for path in sorted(DOCKERFILES.glob("*/Dockerfile"))
            if ONLY is dockerfile and not path.parent.name.startswith("poetry-")
        ),
        *(bytes([TARGETS.index(dockerfile)]) + text for text in HEREDOC_SEEDS),
    ]


def _base_256_size(block: bytearray) -> None:
    block[124:136] = b"\x80" + (5).to_bytes(11, "big")


RAW_LAYERS = [
    header("a", edit=_base_256_size) + data(b"hello") + END,
    header("a", 5) + data(b"hello") + bytes(512) + header("b", 3) + data(b"abc") + END,
    header("d/", kind=b"5") + header("d/.wh...") + header(".wh.x", 7) + data(b"1234567") + END,
    header("a", 5)
    + data(b"hello")
    + header("a", kind=b"1", linkname="a")
    + header("l", kind=b"1", linkname="d")
    + END,
]


# RUNs written as heredocs, in the runtime part `fix` edits (apt's and apk's clean-ups, an
# install in the script): the corpus has one heredoc only.
HEREDOC_SEEDS = [
    b"FROM python:3.12-alpine\nRUN apk add --no-cache postgresql-dev gcc musl-dev\n"
    b"RUN pip install --no-cache-dir poetry==1.8.3\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
    b"RUN <<-EOF\n\tapk update\n\tapk info -a curl\n\tEOF\nRUN rm -rf /tmp/x\n"
    b"RUN cat <<EOF > /etc/motd && apt-get update && apt-get install -y curl\nhi\nEOF\n"
    b'CMD ["python", "-m", "app"]\n',
    b"FROM python:3.12-slim\nRUN pip install --no-cache-dir uv==0.5.4\nWORKDIR /app\nCOPY . .\n"
    b"RUN bash <<'EOF'\nset -e\nuv sync\nEOF\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n"
    b'CMD ["python", "-m", "app"]\n',
]


def main() -> None:
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if corpus:  # seed a corpus directory the first time
        directory = Path(corpus[0])
        directory.mkdir(parents=True, exist_ok=True)
        for number, seed in enumerate(s for s in seeds() if ONLY is None or TARGETS[s[0]] is ONLY):
            (directory / f"seed-{number}").write_bytes(seed)
    sys.setrecursionlimit(3000)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
