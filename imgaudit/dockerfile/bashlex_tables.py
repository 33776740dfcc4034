"""bashlex, with its LALR parse tables read from imgaudit's cache instead of rebuilt per process.

bashlex 0.18 calls its bundled PLY's `yacc.yacc()` when `bashlex.parser` is imported, and that
PLY never reads a parse table back: every process that parses a shell command (a cold audit's
history, every `lint` and `fix`) spent 0.1-0.2 s of CPU building the same tables. PLY's table
construction is deterministic (same states, same numbers, whatever the hash seed), so tables
built once serve every later process. For the duration of that one import, `yacc.LRTable` (the
table builder, the only costly step of `yacc()`) is replaced by a subclass that looks in the
cache first:

- key: a digest of the grammar as PLY collected it (productions with their actions and
  precedence, the precedence table, start symbol, terminals), of the table builder's own source
  (bashlex's yacc.py: another bashlex is another key) and of the interpreter (marshal's format),
  so tables made for another grammar or bashlex are never read;
- stored as a record of the layer cache (header, blake2b digest, atomic rename, size bound):
  a corrupt or truncated file, or tables that do not fit the grammar, read as a miss, and the
  tables are built and written again; a cache that cannot be written means building them each
  time, as before.

The tables are a function of installed code, not of any image (like Python's bytecode cache),
so `--no-cache`, which is about what was read from images, does not turn them off.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from imgaudit.cachedir import cache_directory
from imgaudit.layers.cache import LayerCache

_RECORD_KIND = "bashlex-tables"
_FORMAT = b"imgaudit-bashlex-tables 1"

Table = dict[int, dict[str, int]]


def import_bashlex() -> ModuleType:
    """The `bashlex` package, imported with its parse tables from the cache when they are there."""
    if "bashlex" in sys.modules:
        return sys.modules["bashlex"]
    spec = importlib.util.find_spec("bashlex")
    if spec is None or spec.loader is None:
        return importlib.import_module("bashlex")  # raises the ordinary ImportError
    # The package's __init__ imports the parser, which builds the tables: create the package
    # without running it, so that `bashlex.yacc` can be patched before the parser runs.
    package = importlib.util.module_from_spec(spec)
    sys.modules["bashlex"] = package
    try:
        yacc: Any = importlib.import_module("bashlex.yacc")
        builder = yacc.LRTable
        yacc.LRTable = _cached_table_builder(builder)
        try:
            spec.loader.exec_module(package)
        finally:
            yacc.LRTable = builder
    except BaseException:
        for name in [name for name in sys.modules if name == "bashlex" or name.startswith("bashlex.")]:
            del sys.modules[name]
        raise
    return package


def _cached_table_builder(builder: type) -> type:
    """A subclass of PLY's `LRTable` that reads the finished tables from the cache when it can,
    and otherwise builds them as PLY does and stores them."""

    class CachedLRTable(builder):  # type: ignore[misc]
        lr_action: Table
        lr_goto: Table

        def __init__(self, grammar: Any, log: Any = None) -> None:
            cache = _cache()
            key = _key(grammar, builder)
            stored = _read(cache, key, len(grammar.Productions))
            if stored is None:
                super().__init__(grammar, log)
                # Stored before bashlex's parser patches a few of these states in place.
                cache.put_record(_RECORD_KIND, key, {"action": self.lr_action, "goto": self.lr_goto})
                return
            # What `yacc()` and `LRParser` read of a built table; the rest is construction state.
            self.grammar = grammar
            self.lr_productions = grammar.Productions
            self.lr_action, self.lr_goto = stored
            self.sr_conflicts: list[Any] = []
            self.rr_conflicts: list[Any] = []

    return CachedLRTable


def _cache() -> LayerCache:
    # The layer cache's directory, whether or not this run reads layers from it (see above).
    return LayerCache(Path(cache_directory()))


def _key(grammar: Any, builder: type) -> str:
    digest = hashlib.sha256(_FORMAT)
    digest.update(sys.version.encode())
    digest.update(Path(sys.modules[builder.__module__].__file__ or "").read_bytes())
    productions = [(p.name, p.prod, p.prec, p.func) for p in grammar.Productions]
    digest.update(repr(productions).encode())
    digest.update(repr(sorted(grammar.Precedence.items())).encode())
    digest.update(repr((grammar.Start, sorted(grammar.Terminals))).encode())
    return f"sha256:{digest.hexdigest()}"


def _read(cache: LayerCache, key: str, production_count: int) -> tuple[Table, Table] | None:
    record = cache.get_record(_RECORD_KIND, key)
    if not isinstance(record, dict):
        return None
    action, goto = record.get("action"), record.get("goto")
    if not (isinstance(action, dict) and isinstance(goto, dict)):
        return None
    try:
        fits = _fits(action, goto, production_count)
    except (TypeError, AttributeError):  # a row or a number of the wrong type
        return None
    return (action, goto) if fits else None


def _fits(action: Table, goto: Table, production_count: int) -> bool:
    """Every state has a row, and every shift or goto names a state and every reduction (a
    negative number) a production: tables that do not fit this grammar are never used."""
    states = len(action)
    if set(action) != set(range(states)) or not set(goto) <= set(action):
        return False
    return all(
        -production_count < min(row.values(), default=0) and max(row.values(), default=0) < states
        for row in action.values()
    ) and all(
        min(row.values(), default=0) >= 0 and max(row.values(), default=0) < states for row in goto.values()
    )
