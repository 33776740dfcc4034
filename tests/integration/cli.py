"""Run the installed `imgaudit` command as a user would, and compare reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMGAUDIT = [str(Path(sys.executable).parent / "imgaudit")]
# Where an image came from, and how long it took, differ by design between sources; so do
# the blobs' names and sizes (an archive stores layers uncompressed, a registry gzipped).
_SOURCE_FIELDS = ("source", "reference", "digest", "compressed_bytes")
_LAYER_SOURCE_FIELDS = ("digest", "media_type", "blob_bytes")
# Estimates in compressed bytes follow the blobs as stored, so they differ by source too.
_COMPRESSED_ESTIMATES = "estimated_savings_compressed_bytes"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.stdout)
        return loaded

    @property
    def error_line(self) -> str:
        """An expected failure is exactly one line on stderr, never a traceback."""
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("imgaudit: error: "), self.stderr
        assert "Traceback" not in self.stderr
        return lines[0]


def run_imgaudit(args: list[str], env: dict[str, str], stdin: str = "", expect: int = 0) -> Result:
    command = [*IMGAUDIT, "audit", *args]
    if expect == 0:
        command += ["--format", "json"]
    completed = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
        check=False,
    )
    result = Result(completed.returncode, completed.stdout, completed.stderr)
    assert completed.returncode == expect, f"exit {completed.returncode}:\n{completed.stderr[-3000:]}"
    return result


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what legitimately differs between sources of the same image."""
    image = {k: v for k, v in report["image"].items() if k not in _SOURCE_FIELDS}
    layers = [{k: v for k, v in layer.items() if k not in _LAYER_SOURCE_FIELDS} for layer in report["layers"]]
    rest = {k: v for k, v in report.items() if k not in ("image", "layers", "duration_seconds")}
    return _without_compressed_estimates({**rest, "image": image, "layers": layers})


def _without_compressed_estimates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_compressed_estimates(v) for k, v in value.items() if k != _COMPRESSED_ESTIMATES}
    if isinstance(value, list):
        return [_without_compressed_estimates(v) for v in value]
    return value
