"""The shell parser's tables: built by the first process, read back by every later one, and a
cache that is corrupt, holds tables of another shape or cannot be written never changes a parse.

Each case runs a fresh interpreter (the tables are made when bashlex is first imported) that
reports the tables it parses with, a parse, and whether it built them (PLY's LR items exist
only on productions the table builder worked on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from imgaudit.layers.cache import LayerCache

_CHILD = """
import hashlib, json, sys
from imgaudit.dockerfile.shell import bashlex, parse_shell
parser = bashlex.parser.yaccparser
tables = repr([sorted((state, sorted(row.items())) for state, row in t.items()) for t in (parser.action, parser.goto)])
script = parse_shell('if [ -f x ]; then pip install -r x; fi && rm -rf "$(pip cache dir)" | tee log')
json.dump({
    "tables": hashlib.sha256(tables.encode()).hexdigest(),
    "parse": repr(script),
    "built": any(production.lr_items for production in parser.productions),
}, sys.stdout)
"""


def _parse_in_new_process(cache_dir: Path) -> dict[str, object]:
    env = {**os.environ, "IMGAUDIT_CACHE_DIR": str(cache_dir)}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
    )
    assert result.stderr == ""
    outcome: dict[str, object] = json.loads(result.stdout)
    return outcome


def _records(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*/bashlex-tables-*.record"))


def test_the_first_process_stores_the_tables_and_the_next_reads_the_same_tables(tmp_path: Path) -> None:
    first = _parse_in_new_process(tmp_path)
    assert first["built"] is True
    assert len(_records(tmp_path)) == 1
    second = _parse_in_new_process(tmp_path)
    assert second["built"] is False
    assert second["tables"] == first["tables"]
    assert second["parse"] == first["parse"]
    assert "bashlex" in str(first["parse"])


def test_a_corrupt_record_is_ignored_and_rewritten(tmp_path: Path) -> None:
    reference = _parse_in_new_process(tmp_path)
    (record,) = _records(tmp_path)
    record.write_bytes(record.read_bytes()[:-100])
    rebuilt = _parse_in_new_process(tmp_path)
    assert rebuilt["built"] is True
    assert (rebuilt["tables"], rebuilt["parse"]) == (reference["tables"], reference["parse"])
    assert _parse_in_new_process(tmp_path)["built"] is False


def test_tables_that_do_not_fit_the_grammar_are_not_used(tmp_path: Path) -> None:
    reference = _parse_in_new_process(tmp_path)
    (record,) = _records(tmp_path)
    key = "sha256:" + record.stem.removeprefix("bashlex-tables-")
    cache = LayerCache(tmp_path)
    assert record.parent == cache.directory
    cache.put_record("bashlex-tables", key, {"action": {0: {"WORD": 999}}, "goto": {}})
    rebuilt = _parse_in_new_process(tmp_path)
    assert rebuilt["built"] is True
    assert (rebuilt["tables"], rebuilt["parse"]) == (reference["tables"], reference["parse"])


def test_a_cache_that_cannot_be_written_only_means_building_the_tables(tmp_path: Path) -> None:
    reference = _parse_in_new_process(tmp_path / "writable")
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    for _ in range(2):
        outcome = _parse_in_new_process(not_a_directory)
        assert outcome["built"] is True
        assert (outcome["tables"], outcome["parse"]) == (reference["tables"], reference["parse"])
