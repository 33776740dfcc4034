"""The hardened reader: depth, size and digit caps, text decoding, typed fields."""

from __future__ import annotations

import json
import time

import pytest

from imgaudit.errors import LayerError, SourceError, UsageError
from imgaudit.inputs import TOML_SKIPPED, Fields, load_json, load_toml, nesting_depth
from imgaudit.sources.registry.client import RegistryClient
from imgaudit.sources.registry.reference import parse_reference
from tests.support.hostile_registry import hostile_registry


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [[1], {"b": []}]}', 4),
        (b'{"a": "[[[[[[", "b": "\\\\\\"[[["}', 1),  # brackets inside strings open nothing
        (b"[" * 300 + b"]" * 300, 300),
        (b"", 0),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(data: bytes, depth: int) -> None:
    assert nesting_depth(data) == depth


def test_the_depth_scan_agrees_with_the_parser_on_real_documents() -> None:
    document = {"a": [{"b": [1, "[{", {"c": []}]}], "d": 'x\\"]'}
    assert nesting_depth(json.dumps(document).encode()) == 6


def test_toml_strings_and_comments_open_nothing() -> None:
    text = b'a = "[[["\nb = \'{{{\'\nc = """\n[[[\n"""\n# [[[[\nd = [[1], [2]]\n'
    assert load_toml(text, "t", "w", SourceError)["d"] == [[1], [2]]
    assert nesting_depth(text, TOML_SKIPPED) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 100_000, "nests deeper than 256 levels"),
        (b"[1" + b"0" * 5000 + b"]", "an integer of 5001 digits"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": "\xff"}', r"not UTF-8 text \(byte 0xff at offset 7\)"),
        (b'{"a": ', "is not valid JSON: Expecting value at line 1 column 7"),
    ],
)
def test_hostile_json_is_the_callers_error(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        load_json(data, "the doc", "here", SourceError)


def test_limits_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGAUDIT_MAX_NESTING", "3")
    with pytest.raises(SourceError, match="deeper than 3 levels"):
        load_json(b"[[[[1]]]]", "d", "w", SourceError)
    monkeypatch.setenv("IMGAUDIT_MAX_JSON_BYTES", "4")
    with pytest.raises(SourceError, match="larger than 4 bytes"):
        load_json(b"[1, 2]", "d", "w", SourceError)
    monkeypatch.setenv("IMGAUDIT_MAX_JSON_BYTES", "-1")
    with pytest.raises(UsageError, match="expected a positive integer"):
        load_json(b"[]", "d", "w", SourceError)


def test_fields_name_the_document_and_the_field() -> None:
    fields = Fields(
        {"os": ["linux"], "size": -1, "labels": {"a": 1}}, "the image config", "here", SourceError
    )
    with pytest.raises(SourceError, match="the image config: os should be a string, not a list"):
        fields.text("os")
    with pytest.raises(SourceError, match="size should be a non-negative integer, not a number"):
        fields.count("size")
    with pytest.raises(SourceError, match=r"labels\['a'\] should be a string"):
        fields.strings("labels")
    assert fields.items("missing") == [] and fields.mapping("missing") == {}


def test_a_trickling_blob_meets_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """One byte every 0.2 s never trips the read timeout; the blob deadline stops it."""
    monkeypatch.setenv("IMGAUDIT_BLOB_DEADLINE", "1")
    with hostile_registry() as host:
        client = RegistryClient(parse_reference(f"{host}/trickle-blob/app:1"))
        started = time.monotonic()
        with pytest.raises(LayerError, match="took longer than 1 s"):
            blob = client.open_blob("sha256:" + "e" * 64, 100_000)
            while blob.read(65536):
                pass
        client.close()
    assert time.monotonic() - started < 5
