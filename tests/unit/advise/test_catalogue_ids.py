"""One catalogue, one meaning per id: the image advisor and lint report only ids of the
findings catalogue, and every text the advisor shows is a catalogue text filled with what it
measured. Read from the sources, so a new id or text on either side fails here first."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import imgaudit.advise
import imgaudit.dockerfile.lint
from imgaudit.advise import CATALOGUE as ADVISOR_DETECTORS
from imgaudit.advise.caches import TOOL_CACHE_ADVICE
from imgaudit.findings.catalogue import CATALOGUE, entry
from imgaudit.report.json import schema

# Ids only lint (and fix) report, and why the image advisor cannot.
LINT_ONLY = {
    # The wheels a COPY brought are ordinary files of the image: nothing but the Dockerfile
    # says they were a builder's `pip wheel` output rather than data the app reads.
    "wheels-left-in-image",
    # Mistakes in the Dockerfile's text that the built image does not record.
    "env-missing-continuation",
    "exec-form-not-json",
    "runtime-stage-without-workdir",
    "nonexistent-poetry-version",
    # The image's history does not name the base's tag, so not its Debian codename.
    "end-of-life-base",
    # The final command calls a Poetry (uv, PDM, Pipenv) the runtime lacks: a start-up failure,
    # not about size; the advisor audits images that were built and (presumably) run.
    "poetry-run-without-poetry",
    "uv-run-without-uv",
    "pdm-run-without-pdm",
    "pipenv-run-without-pipenv",
}
# Ids only the image advisor reports, and why lint cannot.
IMAGE_ONLY = {
    # Which copied files are tests, docs or .git shows only in the image (and .dockerignore).
    "unneeded-files-copied",
}


def _lint_ids() -> set[str]:
    """First arguments of lint's `hint(...)` calls: literal ids, and the ids of the catalogue an
    f-string id such as `f"{manager}-cache-in-layer"` can spell."""
    tree = ast.parse(Path(imgaudit.dockerfile.lint.__file__).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "hint"):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant):
            found.add(first.value)
        elif isinstance(first, ast.JoinedStr):
            pattern = "".join(
                re.escape(p.value) if isinstance(p, ast.Constant) else "[a-z]+" for p in first.values
            )
            spelled = {i for i in CATALOGUE if re.fullmatch(pattern, i)}
            assert spelled, f"lint spells ids {pattern} that no catalogue entry has"
            found |= spelled
        else:
            pytest.fail(f"lint passes an id the test cannot read: {ast.unparse(first)}")
    return found


def test_every_id_the_advisor_reports_is_in_the_catalogue_and_vice_versa() -> None:
    image_entries = {e.id for e in CATALOGUE.values() if e.image}
    assert set(ADVISOR_DETECTORS) == image_entries
    assert {e.id for e in CATALOGUE.values() if not e.image} == LINT_ONLY


def test_the_report_schema_names_every_id_the_advisor_reports() -> None:
    finding = schema()["properties"]["findings"]["items"]["properties"]["id"]
    assert set(finding["enum"]) == set(ADVISOR_DETECTORS)


def test_lint_and_the_advisor_share_every_id_but_the_listed_ones() -> None:
    lint_ids = _lint_ids()
    assert lint_ids <= set(CATALOGUE)
    assert lint_ids - set(ADVISOR_DETECTORS) == LINT_ONLY
    assert set(ADVISOR_DETECTORS) - lint_ids == IMAGE_ONLY


def _text_calls() -> list[tuple[str, str, ast.Call]]:
    """Every `entry("ID").text("NAME", ...)` in the advisor's modules."""
    calls = []
    for module in sorted(Path(imgaudit.advise.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "text"
                and isinstance(node.func.value, ast.Call)
                and getattr(node.func.value.func, "id", None) == "entry"
            ):
                continue
            finding_id = node.func.value.args[0]
            name = node.args[0]
            if isinstance(finding_id, ast.Constant):
                ids = [finding_id.value]
            else:  # one detector for uv's, PDM's and Pipenv's caches
                assert ast.unparse(finding_id) == "advice.finding_id", f"{module.name}: {ast.unparse(node)}"
                ids = [a.finding_id for a in TOOL_CACHE_ADVICE.values()]
            assert isinstance(name, (ast.Constant, ast.IfExp)), f"{module.name}: {ast.unparse(node)}"
            names = [name] if isinstance(name, ast.Constant) else [name.body, name.orelse]
            for n in names:
                assert isinstance(n, ast.Constant)
                calls += [(i, n.value, node) for i in ids]
    return calls


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_the_advisor_fills_every_field_of_the_catalogue_texts_it_uses() -> None:
    calls = _text_calls()
    assert calls
    used = set()
    for finding_id, name, call in calls:
        item = entry(finding_id)
        template = item.image_texts.get(name) or {"title": item.title, "fix": item.fix}.get(name)
        assert template is not None, f"{finding_id} has no text {name!r}"
        assert {k.arg for k in call.keywords} == _fields(template), f"{finding_id} {name}"
        used.add((finding_id, name))
    # Every image text of the catalogue is used by the advisor (no dead wording).
    assert {(e.id, n) for e in CATALOGUE.values() for n in e.image_texts} <= used


# An environment assignment in running text (`PIP_NO_CACHE_DIR=1`) is a setting, not a figure.
_SETTING = re.compile(r"\b[A-Z_]+=\d+\b")


def test_no_catalogue_text_carries_a_number_the_advisor_did_not_measure() -> None:
    for item in CATALOGUE.values():
        for text in (item.title, item.fix, *item.image_texts.values()):
            literal = "".join(part for part, _, _, _ in string.Formatter().parse(text))
            literal = re.sub(r"`[^`]*`", "", _SETTING.sub("", literal))
            if item.id == "nonexistent-poetry-version":
                continue  # lint only: it names the last 1.x release, a fact, not a measurement
            assert not re.search(r"\d", literal), f"{item.id}: {text!r}"


def test_lint_states_the_catalogue_fix_of_each_id() -> None:
    hint = imgaudit.dockerfile.lint.hint("pip-cache-in-layer", 3, "pip keeps its cache")
    assert hint.fix == entry("pip-cache-in-layer").text("fix")
