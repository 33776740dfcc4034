from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.config import find_config, load_config
from imgaudit.errors import UsageError


def test_imgaudit_toml_maps_to_the_audit_options(tmp_path: Path) -> None:
    (tmp_path / ".imgaudit.toml").write_text(
        'max-size = "300MB"\nmin-efficiency = 0.95\nfail-on = ["pip-cache-in-layer"]\n'
        'baseline = "reports/main.json"\n'
        '[max-category]\npip_cache = 0\napp = "50MB"\n'
    )
    config = find_config(tmp_path)
    assert config is not None
    assert config.settings == {
        "max_size": "300MB",
        "min_efficiency": "0.95",
        "fail_on": ("pip-cache-in-layer",),
        "baseline": str((tmp_path / "reports/main.json").resolve()),
        "max_category": ("pip_cache=0", "app=50MB"),
    }


def test_pyproject_tool_table_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.imgaudit]\nmax_wasted = "5%"\n')
    (tmp_path / "src").mkdir()
    config = find_config(tmp_path / "src")
    assert config is not None and config.path == tmp_path / "pyproject.toml"
    assert config.settings == {"max_wasted": ("5%",)}


def test_a_pyproject_without_the_table_is_the_project_root_and_no_config(tmp_path: Path) -> None:
    (tmp_path / ".imgaudit.toml").write_text('max-size = "1MB"\n')
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path / "project") is None


def test_imgaudit_toml_wins_over_pyproject_and_dive_ci(tmp_path: Path) -> None:
    (tmp_path / ".imgaudit.toml").write_text('max-size = "1MB"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.imgaudit]\nmax-size = "2MB"\n')
    (tmp_path / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.9\n")
    config = find_config(tmp_path)
    assert config is not None and config.settings == {"max_size": "1MB"}


def test_dive_ci_rule_names_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / ".dive-ci"
    path.write_text(
        "# dive's CI config\nrules:\n  lowestEfficiency: 0.95  # below fails\n"
        "  highestWastedBytes: 20MB\n  highestUserWastedPercent: '0.10'\n"
    )
    assert load_config(path).settings == {"min_efficiency": "0.95", "max_wasted": ("20MB", "10%user")}


def test_dive_ci_disabled_rules_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / ".dive-ci"
    path.write_text("rules:\n  lowestEfficiency: disabled\n  highestWastedBytes: 1MB\n")
    assert load_config(path).settings == {"max_wasted": ("1MB",)}


def test_dive_ci_is_read_as_dive_reads_it(tmp_path: Path) -> None:
    """A YAML document marker, other top-level sections (lists included) and rule names dive
    does not know (`plugin1/rule1`) are ignored by dive's viper lookup, so here too."""
    path = tmp_path / ".dive-ci"
    path.write_text(
        "---\nplugins:\n  - plugin1\nrules:\n  lowestEfficiency: 0.9\n  plugin1/rule1: error\n"
        "  highestWastedBytes: 2M\n  highestUserWastedPercent: 0.25 # of the user bytes\n...\n"
    )
    assert load_config(path).settings == {"min_efficiency": "0.9", "max_wasted": ("2000000", "25%user")}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (".imgaudit.toml", "max-size = ", "the config file is not valid TOML"),
        (".imgaudit.toml", 'max-sise = "1MB"\n', "unknown setting 'max-sise'"),
        (".imgaudit.toml", "max-size = true\n", "must be a string or a number"),
        (".dive-ci", "rules:\n  highestWastedBytes: lots\n", "expected a size like 20MB"),
        (".dive-ci", "rules: {lowestEfficiency: 0.9}\n", "each rule on its own line"),
        (".dive-ci", b"rules:\n  lowestEfficiency: \xff\n", "not UTF-8"),
        (".imgaudit.toml", "a = " + "[" * 100_000, "nests deeper than"),
        (".imgaudit.toml", "max-size = 1" + "0" * 5000, "not usable TOML"),
    ],
)
def test_a_bad_config_file_is_a_usage_error(
    tmp_path: Path, name: str, text: str | bytes, message: str
) -> None:
    data = text if isinstance(text, bytes) else text.encode()
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UsageError, match=message):
        load_config(tmp_path / name)
