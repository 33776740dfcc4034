"""`imgaudit fix --verify IMAGE`: build the fixed Dockerfile on the engine, start it, measure it.

The same build context as the original; a smoke command (the image's entrypoint, or its
command, with `--help`, or `--smoke CMD` run by /bin/sh) must exit 0; the fixed image must
keep the original's entrypoint (less `poetry run`, `uv run`, `pdm run`, `pipenv run`) and user. Its real size is set beside the
plan's estimate and the original's, all measured by imgaudit's own audit (bytes shipped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from imgaudit.dockerfile.fix import without_tool_run
from imgaudit.errors import ImgauditError

SMOKE_TIMEOUT = 120  # seconds


class VerifyError(ImgauditError):
    """The engine could not build or run the fixed image."""


@dataclass(frozen=True, slots=True)
class Verification:
    tag: str
    original_bytes: int
    estimated_bytes: int | None  # the plan's estimate of the image after its changes
    fixed_bytes: int
    smoke: tuple[str, ...]
    smoke_exit: int
    smoke_output: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self, human: Callable[[int], str]) -> list[str]:
        estimate = (
            f"{human(self.estimated_bytes)}"
            + f"  (fixed is {100 * (self.fixed_bytes - self.estimated_bytes) / self.estimated_bytes:+.1f}%)"
            if self.estimated_bytes
            else "-  (the audit plans no change)"
        )
        saved = self.original_bytes - self.fixed_bytes
        return [
            f"verify: built {self.tag}",
            f"  original image      {human(self.original_bytes)}",
            f"  plan estimate       {estimate}",
            f"  fixed image (real)  {human(self.fixed_bytes)}  ({human(saved)} saved, "
            f"{100 * saved / self.original_bytes:.1f}%)"
            if self.original_bytes
            else "",
            f"  smoke: {' '.join(self.smoke)} -> exit {self.smoke_exit}",
            *(f"  FAILED: {p}" for p in self.problems),
        ]


def build_image(
    client: docker.DockerClient,
    context: Path,
    dockerfile: Path,
    tag: str,
    build_args: Mapping[str, str],
    network: str | None,
) -> None:
    """The classic builder through the engine's API; the last log lines name a failure."""
    log: list[str] = []
    try:
        stream = client.api.build(
            path=str(context),
            dockerfile=str(dockerfile.resolve()),
            tag=tag,
            buildargs=dict(build_args),
            network_mode=network,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                log.extend(str(chunk["stream"]).splitlines())
            if "error" in chunk:
                tail = " | ".join(line.strip() for line in log[-3:] if line.strip())
                raise VerifyError(f"the fixed Dockerfile does not build: {chunk['error'].strip()} ({tail})")
    except docker.errors.APIError as exc:
        raise VerifyError(f"the engine refused the build: {exc.explanation or exc}") from exc


def smoke_command(config: Mapping[str, Any], smoke: str | None) -> tuple[list[str] | None, list[str]]:
    """(entrypoint override, command): `--smoke CMD` through /bin/sh, else the image's own
    entrypoint (or command) with `--help`."""
    if smoke is not None:
        return ["/bin/sh", "-c"], [smoke]
    entrypoint = list(config.get("Entrypoint") or [])
    if entrypoint:
        return None, ["--help"]
    return None, [*(config.get("Cmd") or []), "--help"]


def run_smoke(
    client: docker.DockerClient, tag: str, entrypoint: list[str] | None, command: Sequence[str]
) -> tuple[int, str]:
    try:
        container = client.containers.create(
            tag, command=list(command), entrypoint=entrypoint, network_disabled=True
        )
    except docker.errors.APIError as exc:
        raise VerifyError(f"cannot start the fixed image: {exc.explanation or exc}") from exc
    try:
        container.start()
        result = container.wait(timeout=SMOKE_TIMEOUT)
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return int(result.get("StatusCode", 1)), output
    except docker.errors.APIError as exc:
        return 1, f"the smoke command failed to run: {exc.explanation or exc}"
    finally:
        container.remove(force=True)


def start_problems(original: Mapping[str, Any], fixed: Mapping[str, Any]) -> list[str]:
    """What the fixed image changed in how it starts (entrypoint, command, user)."""
    problems = []
    for key in ("Entrypoint", "Cmd"):
        before = without_tool_run(list(original.get(key) or []))
        after = list(fixed.get(key) or [])
        if before != after:
            problems.append(f"{key} changed: {before} -> {after}")
    if (original.get("User") or "") != (fixed.get("User") or ""):
        problems.append(f"User changed: {original.get('User')!r} -> {fixed.get('User')!r}")
    return problems
