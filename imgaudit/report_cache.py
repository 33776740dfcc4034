"""The audit result cache: a whole `Report`, keyed by everything that decides it.

The layer cache saves reading layers; merging, classifying and advising still cost seconds
on a big image. A `Report` is a pure function of: the analysis code, the image (its config,
history, annotations, origin and reference; the ordered layer descriptors, diff_ids naming
the layers' bytes), the base the source knows, and the audit options (`--base`, `--ignore`,
`--dockerfile` text, `--project` files, `--slim-base` paths). The key is a sha256 over a
canonical form of all of them, so any input that changes the report changes the key.

Entries live beside the layer analyses (same directory, header, digest, atomic writes and
least-recently-used bound; `--no-cache` bypasses both). A report is only stored when every
layer's analysis was trusted under its diff_id (the same rule as the layer cache), so a
report is reused exactly when its layers would have been.

The payload is a pickle read back by an unpickler that builds only imgaudit's own model
types and plain containers: an entry cannot make the loader run anything else.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import json
import pickle
import zlib
from collections.abc import Mapping, Sequence, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imgaudit.audit import AuditOptions
    from imgaudit.layers.cache import LayerCache
    from imgaudit.model import BaseImage, Report
    from imgaudit.sources.interface import ImageSource

RECORD_KIND = "report"
_PACKAGE = Path(__file__).parent
_code_version: str | None = None


def code_version() -> str:
    """A hash of every source file of the package: any code change is a new report."""
    global _code_version
    if _code_version is None:
        digest = hashlib.blake2b(b"imgaudit-report-cache 1", digest_size=16)
        for path in sorted(_PACKAGE.rglob("*")):
            if path.suffix in (".py", ".json", ".toml") and path.is_file():
                digest.update(str(path.relative_to(_PACKAGE)).encode() + b"\0")
                digest.update(path.read_bytes())
        _code_version = digest.hexdigest()
    return _code_version


class _NotCanonical(Exception):
    """A value the key cannot describe exactly: no caching for this audit."""


def canonical(value: Any) -> Any:
    """A JSON value that two equal inputs always map to and unequal inputs never share."""
    # Every compound form starts with its own tag: no two kinds of value share a form. Enums
    # first: a StrEnum is also a str.
    if isinstance(value, enum.Enum):
        return ["enum", type(value).__qualname__, canonical(value.value)]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, bytes):
        return ["bytes", hashlib.sha256(value).hexdigest()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return ["dataclass", type(value).__qualname__, fields]
    if isinstance(value, Mapping):
        items = [[canonical(k), canonical(v)] for k, v in value.items()]
        return ["map", sorted(items, key=_sort_key)]
    if isinstance(value, Set):
        return ["set", sorted((canonical(v) for v in value), key=_sort_key)]
    if isinstance(value, Sequence):  # tuples, lists, named tuples
        return ["seq", [canonical(v) for v in value]]
    raise _NotCanonical(type(value).__qualname__)


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def report_key(source: ImageSource, base_hint: BaseImage | None, options: AuditOptions) -> str | None:
    """The digest naming this audit's report, or None when it cannot be named exactly (a
    layer without a well-formed diff_id, an input the canonical form does not know)."""
    descriptors = list(source.layers)
    if not descriptors or not all(_is_sha256(d.diff_id) for d in descriptors):
        return None
    try:
        fingerprint = [
            code_version(),
            type(source).__module__ + "." + type(source).__qualname__,
            source.trusts_diff_ids,
            canonical(source.info),
            canonical(descriptors),
            canonical(base_hint),
            canonical(options),
        ]
    except _NotCanonical:
        return None
    return "sha256:" + hashlib.sha256(_sort_key(fingerprint).encode()).hexdigest()


def _is_sha256(digest: str | None) -> bool:
    return bool(digest) and digest is not None and digest.startswith("sha256:") and len(digest) == 71


class _ModelUnpickler(pickle.Unpickler):
    """Builds imgaudit's own types and plain containers, nothing else."""

    _BUILTINS = frozenset({"frozenset", "set", "tuple", "list", "dict", "bytes", "bytearray", "complex"})

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("imgaudit.") or (module == "builtins" and name in self._BUILTINS):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a report type")


def load_report(cache: LayerCache, key: str) -> Report | None:
    payload = cache.get_blob(RECORD_KIND, key)
    if payload is None:
        return None
    from imgaudit.model import Report

    try:
        report = _ModelUnpickler(io.BytesIO(zlib.decompress(payload))).load()
    except Exception:  # any broken entry is a miss; the next audit rewrites it
        return None
    return report if isinstance(report, Report) else None


def store_report(cache: LayerCache, key: str, report: Report) -> None:
    try:
        payload = pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return  # a value pickle cannot hold: the report is simply not cached
    cache.put_blob(RECORD_KIND, key, zlib.compress(payload, 1))
