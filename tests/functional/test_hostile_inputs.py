"""A corpus of broken and hostile inputs, generated here (no committed blobs), each run
through the real CLI in a child process: exit 2, exactly one line on stderr
(`imgaudit: error: ...`), no traceback, bounded peak memory and time.

One case per class the robustness issue lists: deep nesting and long integers in every
JSON/TOML the tool reads, wrong JSON types, text that is not UTF-8, full disks, number
overflow, a hostile registry, huge Dockerfiles, click's usage errors, tampered blobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_process import Finished, run_cli
from tests.support.hostile_registry import hostile_registry
from tests.support.imagespec import File, ImageSpec, Layer, build, classic_files, file, write_tar
from tests.support.pyimage import distribution

MEMORY_BOUND = 300 * 1024 * 1024  # the CLI itself takes about 50 MB
TIME_BOUND = 20.0  # seconds per case; the registry cases run with 2 s deadlines
DEEP_JSON = b"[" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000
DEEP_TOML = b"a = " + b"[" * 100_000
LONG_INTEGER = b"1" + b"0" * 5000
SITE = "app/.venv/lib/python3.11/site-packages"
# A project environment, so that project files (--project, the image's own) are read.
SPEC = ImageSpec(
    layers=[
        Layer([File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")], "ADD rootfs /"),
        Layer(
            [
                file("app/main.py", 300),
                File("app/.venv/pyvenv.cfg", b"version = 3.11.4\n"),
                *distribution(SITE, "six", "1.17.0", {"six.py": 1000}),
            ],
            "RUN poetry install",
        ),
    ],
    tags=["hostile/app:1"],
    workdir="/app",
)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Workspace:
    """A case's directory, its CLI arguments and environment."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def image(self, name: str = "image.tar") -> str:
        return str(write_tar(classic_files([build(SPEC)]), self.root / name))


# -- archives and layouts whose JSON was tampered with, digests kept consistent ----------


def docker_archive(
    ws: Workspace,
    edit_config: Callable[[dict[str, Any]], bytes] | None = None,
    manifest_json: bytes | None = None,
) -> str:
    built = build(SPEC)
    files = classic_files([built])
    config_name = next(n for n in files if n.endswith(".json") and n != "manifest.json")
    if edit_config is not None:
        files[config_name] = edit_config(json.loads(built.config))
    if manifest_json is not None:
        files["manifest.json"] = manifest_json
    return str(write_tar(files, ws.root / "archive.tar"))


def oci_layout(
    ws: Workspace,
    *,
    edit_manifest: Callable[[dict[str, Any]], bytes] | None = None,
    edit_index: Callable[[dict[str, Any]], bytes] | None = None,
    directory: bool = False,
    tamper_layer: bool = False,
) -> str:
    """An OCI archive (or layout directory) whose manifest or index is rewritten; the
    digests that name them are recomputed, so only the content is hostile."""
    built = build(SPEC)
    manifest_obj = json.loads(built.manifest)
    manifest = edit_manifest(manifest_obj) if edit_manifest else built.manifest
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}
    files[f"blobs/sha256/{sha256(built.config)[7:]}"] = built.config
    files[f"blobs/sha256/{sha256(manifest)[7:]}"] = manifest
    for digest, blob in built.layer_blobs:
        # same size (a longer blob is refused by its size first): the end-of-archive padding edited
        files[f"blobs/sha256/{digest[7:]}"] = blob[:-8] + b"tampered" if tamper_layer else blob
    index_obj = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    files["index.json"] = edit_index(index_obj) if edit_index else json.dumps(index_obj).encode()
    if directory:
        for name, data in files.items():
            ws.write(f"layout/{name}", data)
        return str(ws.root / "layout")
    return str(write_tar(files, ws.root / "oci.tar"))


def with_field(key: str, value: Any) -> Callable[[dict[str, Any]], bytes]:
    def edit(document: dict[str, Any]) -> bytes:
        document[key] = value
        return json.dumps(document).encode()

    return edit


def spliced(key: str, raw: bytes) -> Callable[[dict[str, Any]], bytes]:
    """The document with `key` set to raw (not necessarily valid) JSON text."""

    def edit(document: dict[str, Any]) -> bytes:
        document[key] = "@@@"
        return json.dumps(document).encode().replace(b'"@@@"', raw)

    return edit


def report(ws: Workspace, name: str, body: bytes) -> str:
    return str(ws.write(name, body))


def credential_helper(ws: Workspace, output: bytes) -> None:
    """A `docker-credential-hostile` on PATH answering `output`, named by the Docker config."""
    ws.write("out.bin", output)
    helper = ws.write("bin/docker-credential-hostile", f"#!/bin/sh\ncat '{ws.root}/out.bin'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    ws.write("docker/config.json", json.dumps({"credsStore": "hostile"}))
    ws.env.update(
        {"PATH": f"{ws.root / 'bin'}:{os.environ['PATH']}", "DOCKER_CONFIG": str(ws.root / "docker")}
    )


# -- the corpus ---------------------------------------------------------------------------

Setup = Callable[[Workspace], list[str]]


def _report_with_total(total: bytes) -> bytes:
    return b'{"schema": "imgaudit/report/v1", "image": {"reference": "x", "total_bytes": ' + total + b"}}"


def _dockerfile_of_size(ws: Workspace, size: int) -> str:
    path = ws.write("Dockerfile", b"FROM scratch\n")
    os.truncate(path, size)  # a sparse 50 MB file: the size check must come before any read
    return str(path)


CASES: dict[str, tuple[Setup, str]] = {
    # Deeply nested JSON and TOML in every document read
    "deep manifest.json": (lambda ws: [docker_archive(ws, manifest_json=DEEP_JSON)], "nests deeper than"),
    "deep image config": (lambda ws: [docker_archive(ws, spliced("config", DEEP_JSON))], "nests deeper than"),
    "deep index.json": (lambda ws: [oci_layout(ws, edit_index=lambda _: DEEP_OBJECT)], "nests deeper than"),
    "deep manifest blob": (
        lambda ws: [oci_layout(ws, edit_manifest=lambda _: DEEP_JSON)],
        "nests deeper than",
    ),
    "deep baseline": (
        lambda ws: [ws.image(), "--baseline", report(ws, "base.json", DEEP_OBJECT)],
        "nests deeper than",
    ),
    "deep report in diff": (
        lambda ws: ["diff", report(ws, "a.json", DEEP_OBJECT), report(ws, "b.json", DEEP_OBJECT)],
        "nests deeper than",
    ),
    "deep docker config": (
        lambda ws: (
            (
                ws.write("docker/config.json", DEEP_OBJECT),
                ws.env.update(DOCKER_CONFIG=str(ws.root / "docker")),
            )
            and ["registry://127.0.0.1:9/team/app:1"]
        ),
        "nests deeper than",
    ),
    "deep credential helper answer": (
        lambda ws: credential_helper(ws, DEEP_OBJECT) or ["registry://127.0.0.1:9/team/app:1"],
        "gave no credentials",
    ),
    "deep pyproject in --project": (
        lambda ws: (
            ws.write("project/pyproject.toml", DEEP_TOML),
            [ws.image(), "--project", str(ws.root / "project")],
        )[1],
        "nests deeper than",
    ),
    "deep poetry.lock in --project": (
        lambda ws: (
            ws.write("project/poetry.lock", DEEP_TOML),
            [ws.image(), "--project", str(ws.root / "project")],
        )[1],
        "nests deeper than",
    ),
    "deep [tool.imgaudit]": (
        lambda ws: (ws.write("pyproject.toml", b"[tool.imgaudit]\n" + DEEP_TOML), [ws.image()])[1],
        "nests deeper than",
    ),
    "deep .imgaudit.toml": (
        lambda ws: (ws.write(".imgaudit.toml", DEEP_TOML), [ws.image()])[1],
        "nests deeper than",
    ),
    "deep fix --context pyproject": (
        lambda ws: (
            ws.write("ctx/pyproject.toml", DEEP_TOML),
            ws.write("ctx/Dockerfile", "FROM python:3.11\nCOPY . .\n"),
            ["fix", "--dockerfile", str(ws.root / "ctx/Dockerfile")],
        )[2],
        "nests deeper than",
    ),
    # 5000-digit integers
    "long integer in the config": (
        lambda ws: [docker_archive(ws, spliced("architecture", LONG_INTEGER))],
        "an integer of 5001 digits",
    ),
    "long integer in a report": (
        lambda ws: [
            "diff",
            report(ws, "a.json", _report_with_total(LONG_INTEGER)),
            report(ws, "b.json", b"{}"),
        ],
        "an integer of 5001 digits",
    ),
    "long integer in .imgaudit.toml": (
        lambda ws: (ws.write(".imgaudit.toml", b"max-size = " + LONG_INTEGER), [ws.image()])[1],
        "not usable TOML",
    ),
    # Wrong JSON types
    "history an int": (lambda ws: [docker_archive(ws, with_field("history", 7))], "history should be a list"),
    "os a list": (lambda ws: [docker_archive(ws, with_field("os", ["linux"]))], "os should be a string"),
    "architecture a list": (
        lambda ws: [docker_archive(ws, with_field("architecture", ["amd64"]))],
        "architecture should be a string",
    ),
    "history entry created_by a list": (
        lambda ws: [docker_archive(ws, with_field("history", [{"created_by": ["RUN x"]}]))],
        "created_by should be a string",
    ),
    "RepoTags an int": (
        lambda ws: [docker_archive(ws, manifest_json=b'[{"Config": "c.json", "RepoTags": 3, "Layers": []}]')],
        "RepoTags should be a list",
    ),
    "manifest annotations a list": (
        lambda ws: [oci_layout(ws, edit_manifest=with_field("annotations", ["a"]))],
        "annotations should be an object",
    ),
    "index platform a string": (
        lambda ws: [
            oci_layout(
                ws,
                edit_index=lambda i: json.dumps(
                    {**i, "manifests": [{**i["manifests"][0], "platform": "linux/amd64"}]}
                ).encode(),
            )
        ],
        "a platform should be a JSON object",
    ),
    "layout index platform a string": (
        lambda ws: [
            oci_layout(
                ws,
                directory=True,
                edit_index=lambda i: json.dumps(
                    {**i, "manifests": [{**i["manifests"][0], "platform": "linux"}]}
                ).encode(),
            )
        ],
        "a platform should be a JSON object",
    ),
    "layer size a string": (
        lambda ws: [
            oci_layout(
                ws,
                edit_manifest=lambda m: json.dumps(
                    {**m, "layers": [{**m["layers"][0], "size": "9"}]}
                ).encode(),
            )
        ],
        "size should be a non-negative integer",
    ),
    # Text that is not UTF-8
    "config not UTF-8": (
        lambda ws: (ws.write(".imgaudit.toml", b"max-size = '\xff'\n"), [ws.image()])[1],
        "not UTF-8",
    ),
    ".dive-ci not UTF-8": (
        lambda ws: (ws.write(".dive-ci", b"rules:\n  lowestEfficiency: \xff\n"), [ws.image()])[1],
        "not UTF-8",
    ),
    "docker config not UTF-8": (
        lambda ws: (
            (
                ws.write("docker/config.json", b'{"auths": "\xff"}'),
                ws.env.update(DOCKER_CONFIG=str(ws.root / "docker")),
            )
            and ["registry://127.0.0.1:9/team/app:1"]
        ),
        "not UTF-8",
    ),
    "credential helper output not UTF-8": (
        lambda ws: (
            credential_helper(ws, b'{"Username": "\xff\xfe"}') or ["registry://127.0.0.1:9/team/app:1"]
        ),
        "not UTF-8",
    ),
    "image config not UTF-8": (lambda ws: [docker_archive(ws, lambda _: b'{"os": "\xff"}')], "not UTF-8"),
    # Full disk
    "-o /dev/full": (lambda ws: [ws.image(), "-o", "/dev/full"], "cannot write the report: No space left"),
    "--format json=/dev/full": (
        lambda ws: [ws.image(), "--format", "json=/dev/full"],
        "cannot write the report: No space left",
    ),
    "step summary on a full disk": (
        lambda ws: ws.env.update(GITHUB_STEP_SUMMARY="/dev/full") or [ws.image(), "--format", "github"],
        "cannot write the report: No space left",
    ),
    "report into a missing directory": (
        lambda ws: [ws.image(), "--format", f"json={ws.root}/missing/r.json"],
        "cannot write the report: No such file",
    ),
    "diff of JSON that is no report": (
        lambda ws: ["diff", report(ws, "a.json", b"{}"), report(ws, "b.json", b"{}")],
        "not an imgaudit report",
    ),
    # Number overflow
    "--max-size with 400 digits": (
        lambda ws: [ws.image(), "--max-size", "9" * 400],
        "--max-size: invalid size",
    ),
    "--max-wasted percentage with 400 digits": (
        lambda ws: [ws.image(), "--max-wasted", "9" * 400 + "%"],
        "--max-wasted: invalid percentage",
    ),
    "400-digit total_bytes in a report": (
        lambda ws: [
            "diff",
            report(ws, "a.json", _report_with_total(b"9" * 400)),
            report(ws, "b.json", b"{}"),
        ],
        "an integer of 400 digits",
    ),
    # Huge Dockerfiles
    "lint /dev/zero": (lambda ws: ["lint", "/dev/zero"], "larger than 1048576 bytes"),
    "lint a 50 MB Dockerfile": (
        lambda ws: ["lint", _dockerfile_of_size(ws, 50 * 1024 * 1024)],
        "larger than 1048576 bytes",
    ),
    "lint 100k line continuations": (
        lambda ws: ["lint", str(ws.write("Dockerfile", "FROM x\nRUN a" + " \\\n b" * 100_000 + "\n"))],
        "continues over more than 5000 lines",
    ),
    # Click usage errors, missing directories
    "unknown option": (lambda ws: ["audit", "--bogus", "x"], "No such option '--bogus'"),
    "missing argument": (lambda ws: ["diff", "a"], "Missing argument 'AFTER'"),
    "bad choice": (lambda ws: ["audit", "x", "--pull", "sometimes"], "Invalid value for '--pull'"),
    "fix --context missing": (
        lambda ws: [
            "fix",
            "--dockerfile",
            str(ws.write("Dockerfile", "FROM x\n")),
            "--context",
            str(ws.root / "nope"),
        ],
        "Invalid value for '--context'",
    ),
    # Tampered blobs
    "layout layer not matching its digest": (
        lambda ws: [oci_layout(ws, directory=True, tamper_layer=True)],
        "does not match its digest",
    ),
    "archive layer not matching its digest": (
        lambda ws: [oci_layout(ws, tamper_layer=True)],
        "does not match its digest",
    ),
    "limit from the environment not a number": (
        lambda ws: ws.env.update(IMGAUDIT_MAX_NESTING="lots") or [ws.image()],
        "IMGAUDIT_MAX_NESTING='lots': expected a positive integer",
    ),
}

REGISTRY_CASES: dict[str, str] = {
    "helm-chart": "this is an OCI artifact (application/vnd.cncf.helm.config.v1+json), not an image",
    "lying-length": "was cut short by the registry",
    "ftp-redirect": "a URL imgaudit cannot follow",
    "silent": "cannot reach the registry",
    "trickle": "took longer than the request deadline",
    "endless-token": "the token service's answer is larger than",
    "deep-manifest": "nests deeper than",
    "long-integer": "an integer of 5001 digits",
    "platform-string": "a platform should be a JSON object",
    "annotations-list": "annotations should be an object",
}


def assert_one_line_error(result: Finished, expected: str) -> None:
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("imgaudit: error: ")
    assert expected in lines[0]
    assert result.peak_rss_bytes < MEMORY_BOUND, f"{result.peak_rss_bytes / 2**20:.0f} MB"
    assert result.seconds < TIME_BOUND


@pytest.fixture(scope="module")
def registry_host() -> Any:
    with hostile_registry() as host:
        yield host


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, registry_host: str) -> dict[str, Finished]:
    """Every case's run, four children at a time: most of a child's time is interpreter start
    and the registry cases' deadlines, so the corpus costs a quarter of running it in a row."""
    registry_env = {"IMGAUDIT_REQUEST_DEADLINE": "2", "IMGAUDIT_READ_TIMEOUT": "1"}
    jobs: dict[str, tuple[list[str], Path, dict[str, str]]] = {}
    for name, (setup, _) in CASES.items():
        workspace = Workspace(tmp_path_factory.mktemp("case"))
        jobs[name] = (setup(workspace), workspace.root, workspace.env)
    for behaviour in REGISTRY_CASES:
        jobs[f"registry: {behaviour}"] = (
            [f"registry://{registry_host}/{behaviour}/app:1"],
            tmp_path_factory.mktemp("registry"),
            registry_env,
        )
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(run_cli, args, cwd=cwd, env=env) for name, (args, cwd, env) in jobs.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_one_line_and_exit_2(outcomes: dict[str, Finished], case: str) -> None:
    assert_one_line_error(outcomes[case], CASES[case][1])


@pytest.mark.parametrize("behaviour", list(REGISTRY_CASES))
def test_hostile_registry_is_one_line_and_exit_2(outcomes: dict[str, Finished], behaviour: str) -> None:
    assert_one_line_error(outcomes[f"registry: {behaviour}"], REGISTRY_CASES[behaviour])


def test_lone_surrogates_in_tags_and_history_are_printed_escaped(tmp_path: Path) -> None:
    """A tag or history line holding a lone surrogate (a JSON `\\udcff`) is valid input: the
    terminal report and `diff` print it escaped instead of dying in UnicodeEncodeError."""
    manifest = [{"Config": "@", "RepoTags": ["odd/\udcff:1"], "Layers": []}]
    built = build(SPEC)
    files = classic_files([built])
    entry = json.loads(files["manifest.json"])[0]
    manifest[0].update(Config=entry["Config"], Layers=entry["Layers"])
    files["manifest.json"] = json.dumps(manifest).encode()  # ensure_ascii keeps `\udcff` escaped
    config = json.loads(built.config)
    config["history"][0]["created_by"] = "RUN echo \udcfe\x1b[31m"
    files[entry["Config"]] = json.dumps(config).encode()
    archive = str(write_tar(files, tmp_path / "odd.tar"))
    terminal = run_cli([archive], cwd=tmp_path)
    assert terminal.exit_code == 0, terminal.stderr
    assert "\\udcff" in terminal.stdout and "Traceback" not in terminal.stderr
    assert "\x1b[31m" not in terminal.stdout  # control sequences from the image never reach the terminal
    saved = run_cli([archive, "--format", f"json={tmp_path / 'r.json'}"], cwd=tmp_path)
    assert saved.exit_code == 0, saved.stderr
    compared = run_cli(["diff", str(tmp_path / "r.json"), archive], cwd=tmp_path)
    assert compared.exit_code == 0, compared.stderr
    assert "Traceback" not in compared.stderr


def test_full_disk_leaves_an_existing_report_whole(tmp_path: Path) -> None:
    """Reports are written beside their place and renamed: a failed write never leaves a
    truncated file where the last good report was."""
    ws = Workspace(tmp_path)
    target = ws.write("report.json", b'{"previous": true}')
    result = run_cli([ws.image(), "--format", f"json={target}"], cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(target.read_text())["schema"] == "imgaudit/report/v1"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.json.")]
