"""The README's CI examples, run: the `imgaudit` commands are read out of README.md so the
documentation cannot drift from what the tool accepts."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner

from imgaudit.cli import main
from tests.support.gate_images import write_project

README = Path(__file__).parents[2] / "README.md"
ASSETS = Path(__file__).parents[1] / "assets"
# A command line, alone or after a YAML `run:` / list dash.
_COMMAND = re.compile(r"^[ \t]*(?:run:[ \t]+|-[ \t]+)?(imgaudit .*)$", re.MULTILINE)
_EXAMPLE = re.compile(r"<!-- ci-example: (\w+) -->\n```\w*\n(.*?)```\n<!-- /ci-example -->", re.DOTALL)


def examples() -> dict[str, list[list[str]]]:
    """Per example, its imgaudit command lines (continuations joined) as argument lists."""
    found = {}
    for name, block in _EXAMPLE.findall(README.read_text(encoding="utf-8")):
        joined = re.sub(r"\\\n\s*", " ", block)
        found[name] = [shlex.split(command) for command in _COMMAND.findall(joined)]
    return found


def test_the_readme_has_both_examples_each_with_a_main_and_a_review_command() -> None:
    found = examples()
    assert set(found) == {"github", "gitlab"}
    for commands in found.values():
        assert [("--baseline" in c) for c in commands] == [False, True]


def run(command: list[str]) -> tuple[int, str]:
    assert command[0] == "imgaudit"
    result = CliRunner().invoke(main, command[1:])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_the_example_gates_a_pull_request_on_the_main_branch_report(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    on_main, on_review = examples()[name]

    write_project(tmp_path / "image.tar")
    assert run(on_main)[0] == 0
    shutil.move(tmp_path / "report.json", tmp_path / "main-report.json")

    # The same image again: nothing grew, the gate passes.
    code, _ = run(on_review)
    assert code == 0
    assert (tmp_path / "comment.md").read_text().startswith("### ✅ imgaudit: all 2 rules passed")

    # The pull request adds a package, a pip cache and a layer: +41%, and pip_cache > 0.
    write_project(tmp_path / "image.tar", grown=True)
    code, stdout = run(on_review)
    assert code == 1
    comment = (tmp_path / "comment.md").read_text()
    assert comment.startswith("### ❌ imgaudit: 2 of 2 rules failed")
    assert "+600.1 kB" in comment
    assert "| category: pip cache | - | 200.0 kB | +200.0 kB (appeared) |" in comment
    assert "layer: `RUN pip install extra`" in comment
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["gate"]["passed"] is False
    assert report["comparison"]["total"]["delta_bytes"] == 600_137
    if name == "github":
        assert "::error title=imgaudit%3A max-growth failed::" in stdout
    else:
        xmlschema.XMLSchema(ASSETS / "junit.xsd").validate(tmp_path / "imgaudit.xml")
