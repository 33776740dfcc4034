"""`imgaudit diff A B` end to end: images or stored JSON reports, any mix."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from imgaudit.cli import main
from tests.support.gate_images import write_project

DIFF_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "imgaudit" / "report" / "schema" / "diff-v1.json").read_text(
        encoding="utf-8"
    )
)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["diff", *(str(a) for a in args)])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two versions of one project: the second has one more package (extra, 300 kB), a pip cache
    (200 kB) and more layers; and the JSON report of each."""
    root = tmp_path_factory.mktemp("pair")
    paths = {
        "before": write_project(root / "before.tar"),
        "after": write_project(root / "after.tar", grown=True),
    }
    for name in ("before", "after"):
        report = root / f"{name}.json"
        result = CliRunner().invoke(main, [str(paths[name]), "--format", f"json={report}"])
        assert result.exit_code == 0, result.output
        paths[f"{name}-json"] = report
    return paths


def diff_json(before: Path, after: Path) -> dict[str, object]:
    result = run(before, after, "--format", "json")
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    jsonschema.validate(document, DIFF_SCHEMA)
    return document


def test_two_images_differing_by_a_package_a_cache_and_a_layer(pair: dict[str, Path]) -> None:
    document = diff_json(pair["before"], pair["after"])
    assert document["schema"] == "imgaudit/diff/v1"
    assert document["total"] == {
        "name": "image (all layers)",
        "change": "grew",
        "before_bytes": 1_450_204,
        "after_bytes": 2_050_341,
        "delta_bytes": 600_137,
    }
    categories = {c["name"]: (c["change"], c["delta_bytes"]) for c in document["categories"]}  # type: ignore[attr-defined]
    assert categories == {"python_packages": ("grew", 300_137), "pip_cache": ("appeared", 200_000)}
    layers = [(c["name"], c["change"], c["delta_bytes"]) for c in document["layers"]]  # type: ignore[attr-defined]
    assert layers == [
        ("RUN pip install -r requirements.txt", "grew", 300_137),
        ("RUN pip install extra", "appeared", 200_000),
        ("RUN make scratch", "appeared", 100_000),
        ("RUN rm -rf /tmp/build", "appeared", 0),
    ]
    packages = [(p["name"], p["change"], p["delta_bytes"], p["detail"]) for p in document["packages"]]  # type: ignore[attr-defined]
    assert packages == [("extra", "appeared", 300_137, "1.0")]


def test_reports_alone_give_the_same_answer_without_either_image(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    before, after = tmp_path / "a.json", tmp_path / "b.json"
    before.write_bytes(pair["before-json"].read_bytes())
    after.write_bytes(pair["after-json"].read_bytes())
    from_reports = diff_json(before, after)
    assert from_reports == diff_json(pair["before"], pair["after"])
    mixed = diff_json(pair["before"], after)
    assert mixed == from_reports


def test_reversed_the_growth_is_a_shrink_and_appearances_disappear(pair: dict[str, Path]) -> None:
    document = diff_json(pair["after-json"], pair["before-json"])
    categories = {c["name"]: (c["change"], c["delta_bytes"]) for c in document["categories"]}  # type: ignore[attr-defined]
    assert categories == {"python_packages": ("shrank", -300_137), "pip_cache": ("disappeared", -200_000)}


def test_the_terminal_lists_changes_largest_first(pair: dict[str, Path]) -> None:
    result = run(pair["before-json"], pair["after-json"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["change"])
    rows = lines[header + 2 :]  # after the header and its rule
    kinds = [row.split()[0] for row in rows if row[:2].strip()]  # not continuation lines
    assert kinds[:3] == ["grew", "grew", "appeared"]
    assert "+600.1 kB" in result.stdout


def test_markdown_diff(pair: dict[str, Path]) -> None:
    result = run(pair["before-json"], pair["after-json"], "--format", "markdown")
    assert result.exit_code == 0
    assert "| category: pip cache | - | 200.0 kB | +200.0 kB (appeared) |" in result.stdout


def test_packages_compared_per_distribution_with_versions(tmp_path: Path) -> None:
    def report(distributions: list[tuple[str, str, int]]) -> Path:
        path = tmp_path / f"r{len(list(tmp_path.iterdir()))}.json"
        path.write_text(
            json.dumps(
                {
                    "schema": "imgaudit/report/v1",
                    "image": {
                        "reference": "app",
                        "total_bytes": 100,
                        "final_bytes": 100,
                        "wasted_bytes": 0,
                        "efficiency": 1.0,
                    },
                    "categories": {"python_packages": 100},
                    "layers": [],
                    "environments": [
                        {
                            "path": "/app/.venv",
                            "distributions": [
                                {"name": n, "version": v, "bytes": b} for n, v, b in distributions
                            ],
                        }
                    ],
                }
            )
        )
        return path

    before = report([("requests", "2.31.0", 400), ("six", "1.16", 20), ("urllib3", "2.0", 100)])
    after = report([("requests", "2.32.0", 450), ("urllib3", "2.0", 100), ("rich", "13", 900)])
    packages = diff_json(before, after)["packages"]
    assert [(p["name"], p["change"], p["delta_bytes"], p.get("detail")) for p in packages] == [  # type: ignore[attr-defined]
        ("rich", "appeared", 900, "13"),
        ("requests", "grew", 50, "2.31.0 -> 2.32.0"),
        ("six", "disappeared", -20, "1.16"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "imgaudit/report/v7", "image": {}}', "written by a newer imgaudit"),
        ('{"schema": "imgaudit/report/v1"}', "malformed report: image should be an object"),
        ('{"schema": "imgaudit/report/v1",\n "image": ', "the report is not valid JSON"),
    ],
)
def test_a_report_of_another_version_or_malformed_is_refused(
    pair: dict[str, Path], tmp_path: Path, content: str, message: str
) -> None:
    other = tmp_path / "other.json"
    other.write_text(content)
    result = run(pair["before-json"], other)
    assert result.exit_code == 2
    assert result.stderr.startswith("imgaudit: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_missing_side_exits_2(tmp_path: Path, pair: dict[str, Path]) -> None:
    result = run(pair["before-json"], tmp_path / "nothing.tar")
    assert result.exit_code == 2
    assert result.stderr.startswith("imgaudit: error: ")
