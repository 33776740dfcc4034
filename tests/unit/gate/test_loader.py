from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imgaudit.report.loader import ReportFileError, figures, is_report_file, load_figures

MINIMAL: dict[str, Any] = {
    "schema": "imgaudit/report/v1",
    "image": {"reference": "a", "total_bytes": 10, "final_bytes": 8, "wasted_bytes": 2, "efficiency": 0.8},
    "categories": {"app": 8},
    "layers": [{"index": 0, "size_bytes": 10, "instruction": None, "created_by": None, "is_base": False}],
}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_minimal_v1_report_reads_without_optional_sections(tmp_path: Path) -> None:
    read = load_figures(write(tmp_path, MINIMAL))
    assert read.total_bytes == 10
    assert read.layers[0].instruction == "(layer 0, no history)"
    assert read.distributions is None and read.findings is None and read.plan_savings_bytes is None


def test_optional_sections_are_read_when_present() -> None:
    document = {
        **MINIMAL,
        "environments": [{"path": "/venv", "distributions": [{"name": "rich", "version": "13", "bytes": 5}]}],
        "findings": [{"id": "pip-cache-in-layer", "title": "pip cache", "estimated_savings_bytes": 3}],
        "plan": {"estimated_savings_bytes": 4, "steps": []},
    }
    read = figures(document, "x")
    assert read.distributions is not None and read.distributions[0].name == "rich"
    assert read.findings is not None and read.findings[0].savings_bytes == 3
    assert read.plan_savings_bytes == 4


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "the report is not valid JSON: .* at line 1"),
        ([], "not an imgaudit report"),
        ({"image": {}}, "not an imgaudit report"),
        ({**MINIMAL, "schema": "imgaudit/report/v2"}, "written by a newer imgaudit"),
        ({**MINIMAL, "schema": "imgaudit/report/v0"}, "written by an older imgaudit"),
        ({**MINIMAL, "schema": "dive/v1"}, "not an imgaudit report"),
        ({"schema": "imgaudit/diff/v1"}, "output of `imgaudit diff`, not a report"),
        ({**MINIMAL, "image": {**MINIMAL["image"], "total_bytes": "10"}}, "image.total_bytes should be"),
        ({**MINIMAL, "layers": {}}, "layers should be a list"),
        ({**MINIMAL, "environments": [{"path": "/v", "distributions": [{"name": "x"}]}]}, "bytes"),
    ],
)
def test_unusable_reports_are_rejected_with_a_clear_message(
    tmp_path: Path, document: object, message: str
) -> None:
    with pytest.raises(ReportFileError, match=message):
        load_figures(write(tmp_path, document))


def test_missing_report_file(tmp_path: Path) -> None:
    with pytest.raises(ReportFileError, match="not found"):
        load_figures(tmp_path / "nope.json")


def test_report_files_are_told_from_image_archives(tmp_path: Path) -> None:
    assert is_report_file(write(tmp_path, MINIMAL))
    (tmp_path / "image.tar").write_bytes(b"manifest.json\0\0\0")
    assert not is_report_file(tmp_path / "image.tar")
    assert not is_report_file(tmp_path)


def test_an_image_archive_given_as_a_report_says_how_to_make_one(tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    archive.write_bytes(b"manifest.json" + bytes(range(256)))
    with pytest.raises(ReportFileError, match="an image archive\\? write its report with"):
        load_figures(archive)
