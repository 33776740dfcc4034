"""The CI integrations as shipped: the GitHub Action's audit step, the GitLab template's script
and the pre-commit hook's entry are read out of their files and run with a shell, so they
cannot drift from what the CLI accepts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import xmlschema

from tests.unit.advise.naive import NAIVE_DOCKERFILE

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "samples" / "naive-poetry.tar"
ASSETS = ROOT / "tests" / "assets"
BIN = str(Path(sys.executable).parent)


def _shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"], **env},
        check=False,
    )


def _block(text: str, start: str) -> str:
    """The indented block under the line matching `start` (a YAML `run: |` or `- >-`)."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if re.search(start, line))
    indent = len(lines[first + 1]) - len(lines[first + 1].lstrip())
    block = []
    for line in lines[first + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        block.append(line[indent:])
    return "\n".join(block)


def test_the_actions_audit_step_annotates_summarises_and_writes_sarif(tmp_path: Path) -> None:
    action = (ROOT / "action.yml").read_text()
    script = _block(action[action.index("- name: Audit") :], r"^\s+run: \|$")
    (tmp_path / ".git").mkdir()
    env = {
        "IMAGE": str(SAMPLE),
        "DOCKERFILE": "",
        "ARGS": "--fail-on high",
        "SARIF": "imgaudit.sarif",
        "REPORT": str(tmp_path / "report.json"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    result = _shell(script, tmp_path, env)
    assert result.returncode == 1, result.stderr  # the naive sample has high findings
    assert result.stderr == ""  # --quiet
    assert all(line.startswith("::") for line in result.stdout.splitlines())
    assert "::error title=imgaudit%3A fail-on high failed::" in result.stdout
    sarif = json.loads((tmp_path / "imgaudit.sarif").read_text())
    jsonschema.validate(sarif, json.loads((ASSETS / "sarif" / "sarif-schema-2.1.0.json").read_text()))
    assert (tmp_path / "summary.md").read_text().startswith("### ❌ imgaudit: 1 of 1 rule failed")
    assert (tmp_path / "output").read_text() == f"report-file={tmp_path / 'report.json'}\n"
    assert json.loads((tmp_path / "report.json").read_text())["gate"]["passed"] is False


def test_the_gitlab_templates_script_writes_its_artifacts(tmp_path: Path) -> None:
    template = (ROOT / "ci" / "imgaudit.gitlab-ci.yml").read_text()
    script = " ".join(_block(template, r"^\s+- >-$").split())
    (tmp_path / ".git").mkdir()
    env = {"IMGAUDIT_IMAGE": str(SAMPLE), "IMGAUDIT_DOCKERFILE": "", "IMGAUDIT_ARGS": "--fail-on high"}
    result = _shell(script, tmp_path, env)
    assert result.returncode == 1, result.stderr
    assert "Gate: 1 of 1 rule failed" in result.stdout
    xmlschema.XMLSchema(ASSETS / "junit.xsd").validate(tmp_path / "imgaudit.xml")
    for artifact in ("imgaudit.json", "imgaudit.md", "imgaudit.sarif"):
        assert (tmp_path / artifact).stat().st_size > 0


def test_the_pre_commit_hook_lints_each_file(tmp_path: Path) -> None:
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    entry = re.search(r"^\s+entry: (.*)$", hooks, re.MULTILINE)
    assert entry is not None
    (tmp_path / "Dockerfile").write_text(NAIVE_DOCKERFILE)
    (tmp_path / "Containerfile").write_text(NAIVE_DOCKERFILE)
    result = _shell(f"{entry.group(1)} Dockerfile Containerfile", tmp_path, {})
    # Both files are linted, and their warnings fail the commit (lint exits 1 on a warning).
    assert result.returncode == 1, result.stderr
    assert "Dockerfile:" in result.stdout and "Containerfile:" in result.stdout
