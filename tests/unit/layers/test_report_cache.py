"""The audit result cache: a warm audit is the stored report; any changed input recomputes it."""

from __future__ import annotations

import json
import pickle
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import imgaudit.audit
import imgaudit.report_cache
from imgaudit.audit import AuditOptions, BaseSpec, audit
from imgaudit.classify.project import ProjectFiles
from imgaudit.cli import main
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.layers.cache import active_cache
from imgaudit.model import Category, Report, SlimBase
from imgaudit.report_cache import RECORD_KIND, canonical, load_report
from imgaudit.sources.archive import ArchiveSource, open_path
from tests.support.imagespec import ImageSpec, Layer, file, write_image
from tests.unit.advise.naive import PYPROJECT, naive_spec


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """One item per audit that merged, classified and advised (was not the stored report)."""
    done: list[int] = []
    original = imgaudit.audit._analyse

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        done.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(imgaudit.audit, "_analyse", spy)
    yield done


def run(path: Path, options: AuditOptions | None = None) -> Report:
    with open_path(path, None, None, lambda _m: None) as source:
        return audit(source, options)


def same_but_duration(a: Report, b: Report) -> bool:
    return replace(a, duration_seconds=0.0) == replace(b, duration_seconds=0.0)


@pytest.fixture
def naive_archive(tmp_path: Path) -> Path:
    return write_image(naive_spec(), tmp_path / "naive.tar")


def test_a_warm_audit_is_the_stored_report_and_reads_no_layer(
    naive_archive: Path, layer_cache: Path, analyses: list[int], opened_layers: list[int]
) -> None:
    cold = run(naive_archive)
    layers_read = len(opened_layers)
    warm = run(naive_archive)
    assert analyses == [1]
    assert len(opened_layers) == layers_read  # nothing opened again
    assert same_but_duration(cold, warm)
    assert warm.findings  # the naive image has findings: the stored report holds them all


def _other_dockerfile(_: Report) -> AuditOptions:
    return AuditOptions(dockerfile=parse_dockerfile("FROM python:3.11\nRUN pip install poetry\n"))


CHANGES: dict[str, Callable[[Report], AuditOptions]] = {
    "ignore": lambda _: AuditOptions(ignore=("poetry-cache-in-layer",)),
    "dockerfile": lambda _: AuditOptions(dockerfile=parse_dockerfile("FROM python:3.11\nRUN true\n")),
    "dockerfile text": _other_dockerfile,
    "project": lambda _: AuditOptions(project=ProjectFiles("/host/app", {"pyproject.toml": PYPROJECT})),
    "project contents": lambda _: AuditOptions(
        project=ProjectFiles("/host/app", {"pyproject.toml": PYPROJECT + b"\n# changed\n"})
    ),
    "slim base": lambda _: AuditOptions(
        slim_base=SlimBase("python:3.11-slim", frozenset({"usr/bin/python3.11"}), 6000)
    ),
    "slim base paths": lambda _: AuditOptions(
        slim_base=SlimBase("python:3.11-slim", frozenset({"usr/bin/python3.11", "x"}), 6000)
    ),
    "base": lambda cold: AuditOptions(base=BaseSpec((cold.layers[0].descriptor.diff_id or "",), "python")),
    "base name": lambda cold: AuditOptions(base=BaseSpec((cold.layers[0].descriptor.diff_id or "",), "py")),
}


def test_every_option_is_part_of_the_key(naive_archive: Path, layer_cache: Path, analyses: list[int]) -> None:
    run(naive_archive)
    seen = {"none": run(naive_archive)}
    assert analyses == [1]
    for name, options in CHANGES.items():
        before = len(analyses)
        seen[name] = run(naive_archive, options(seen["none"]))
        assert len(analyses) == before + 1, f"{name}: a changed option must recompute the report"
        again = run(naive_archive, options(seen["none"]))
        assert len(analyses) == before + 1, f"{name}: the same options again are the stored report"
        assert same_but_duration(again, seen[name])
    ignored = seen["ignore"]
    assert "poetry-cache-in-layer" not in {f.id for f in ignored.findings}
    assert "poetry-cache-in-layer" in {f.id for f in seen["none"].findings}


def test_a_changed_image_config_or_layer_recomputes(
    tmp_path: Path, layer_cache: Path, analyses: list[int]
) -> None:
    layers = [Layer([file("usr/lib/libbase.so", 7000)]), Layer([file("app/main.py", 100)])]
    first = write_image(ImageSpec(layers=layers), tmp_path / "a.tar")
    run(first)
    run(first)
    assert analyses == [1]
    other_env = write_image(ImageSpec(layers=layers, env={"PATH": "/opt/bin"}), tmp_path / "a.tar")
    assert run(other_env).image.config["Env"] == ["PATH=/opt/bin"]
    assert analyses == [1, 1]
    changed_layer = [layers[0], Layer([file("app/main.py", 250, seed=1)])]
    write_image(ImageSpec(layers=changed_layer), tmp_path / "a.tar")
    assert run(first).total_bytes == 7250
    assert analyses == [1, 1, 1]
    moved = write_image(ImageSpec(layers=layers), tmp_path / "b.tar")
    assert run(moved).image.origin.location.endswith("b.tar")  # the report names where it came from
    assert analyses == [1, 1, 1, 1]


def test_other_analysis_code_recomputes(
    naive_archive: Path, layer_cache: Path, analyses: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(naive_archive)
    monkeypatch.setattr(imgaudit.report_cache, "_code_version", "another version of the code")
    run(naive_archive)
    assert analyses == [1, 1]


def report_entries(layer_cache: Path) -> list[Path]:
    return sorted(layer_cache.glob(f"layers-*/{RECORD_KIND}-*.record"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:-10] + b"x" * 10,
        lambda data: b"",
    ],
    ids=["truncated", "corrupt", "empty"],
)
def test_a_broken_report_entry_is_a_miss_and_is_rewritten(
    naive_archive: Path, layer_cache: Path, analyses: list[int], damage: Callable[[bytes], bytes]
) -> None:
    cold = run(naive_archive)
    (entry,) = report_entries(layer_cache)
    entry.write_bytes(damage(entry.read_bytes()))
    assert same_but_duration(run(naive_archive), cold)
    assert analyses == [1, 1]
    assert same_but_duration(run(naive_archive), cold)
    assert analyses == [1, 1]  # rewritten whole by the second run


def test_an_entry_that_would_build_other_types_is_refused(naive_archive: Path, layer_cache: Path) -> None:
    run(naive_archive)
    cache = active_cache()
    assert cache is not None
    (entry,) = report_entries(layer_cache)
    key = "sha256:" + entry.name.removeprefix(f"{RECORD_KIND}-").removesuffix(".record")
    cache.put_blob(RECORD_KIND, key, zlib.compress(pickle.dumps(Path("/etc/passwd"))))
    assert load_report(cache, key) is None


def test_no_cache_stores_no_report(
    naive_archive: Path, layer_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imgaudit.layers.cache._disabled", False)
    result = CliRunner().invoke(main, ["audit", str(naive_archive), "--no-cache", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert report_entries(layer_cache) == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (1, True),
        (1, 1.0),
        ("1", 1),
        (b"x", "x"),
        (("a", "b"), frozenset({"a", "b"})),
        ({"a": 1}, (("a", 1),)),
        (Category.APP, "app"),
        (1.0, ("float", "1.0")),
    ],
)
def test_unequal_inputs_have_unequal_canonical_forms(one: object, other: object) -> None:
    assert json.dumps(canonical(one)) != json.dumps(canonical(other))  # the key hashes this JSON
    assert canonical(frozenset({"b", "a"})) == canonical(frozenset({"a", "b"}))


class _Unvouched(ArchiveSource):
    """An archive whose diff_ids are checked by hashing the bytes read, as a registry's are."""

    @property
    def trusts_diff_ids(self) -> bool:
        return False


def run_unvouched(path: Path, wrong_diff_id: bool) -> Report:
    with open_path(path, None, None, lambda _m: None) as source:
        source.__class__ = _Unvouched
        if wrong_diff_id:  # the config names other bytes than the layer holds
            source._layers = [replace(d, diff_id="sha256:" + "0" * 64) for d in source._layers]  # type: ignore[attr-defined]
        return audit(source)


def test_a_report_is_stored_only_when_every_layer_matched_its_diff_id(
    tmp_path: Path, layer_cache: Path, analyses: list[int]
) -> None:
    # An OCI layout of gzip layers: each blob is checked against its (compressed) digest; only the audit's
    # hash of the inflated bytes can tell the diff_id is wrong (an uncompressed layer.tar whose
    # diff_id lies is refused outright by the archive reader).
    naive_archive = write_image(naive_spec(), tmp_path / "naive-layout", "oci-layout", "gzip")
    run_unvouched(naive_archive, wrong_diff_id=True)
    run_unvouched(naive_archive, wrong_diff_id=True)
    assert analyses == [1, 1]  # never stored: the bytes read did not hash to the diff_ids
    assert report_entries(layer_cache) == []
    run_unvouched(naive_archive, wrong_diff_id=False)
    run_unvouched(naive_archive, wrong_diff_id=False)
    assert analyses == [1, 1, 1]  # hashed, matched, stored, reused
