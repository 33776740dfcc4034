"""Read a stored JSON report (a baseline, one side of `imgaudit diff`) and the figures the
gates and the diff compare.

Only the schema this imgaudit writes is read: a report of another version is rejected with
a message saying which, never guessed at. Fields that later work added to v1 (`findings`,
`plan`, `environments`) are optional: `None` says "this report does not have them", which is
different from "it has none".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgaudit.errors import ImgauditError
from imgaudit.inputs import MAX_JSON_BYTES, load_json
from imgaudit.report.json import SCHEMA_ID

_SCHEMA_PATTERN = re.compile(r"^imgaudit/report/v(\d+)$")


class ReportFileError(ImgauditError):
    """A stored report cannot be used: not JSON, not an imgaudit report, another schema version."""


@dataclass(frozen=True, slots=True)
class LayerFigure:
    index: int
    instruction: str  # the Dockerfile step, or a stand-in when the history has none
    size_bytes: int
    is_base: bool


@dataclass(frozen=True, slots=True)
class DistributionFigure:
    environment: str
    name: str
    version: str | None
    bytes: int


@dataclass(frozen=True, slots=True)
class FindingFigure:
    id: str
    title: str
    savings_bytes: int
    severity: str = ""  # high, medium, low, info; empty in reports that predate it


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """What gates and diffs read of one report, checked for type on the way in."""

    reference: str
    total_bytes: int
    final_bytes: int
    wasted_bytes: int
    efficiency: float
    categories: Mapping[str, int]
    layers: tuple[LayerFigure, ...]
    distributions: tuple[DistributionFigure, ...] | None  # None: the report has no environments
    findings: tuple[FindingFigure, ...] | None  # None: the report has no findings section
    plan_savings_bytes: int | None  # None: the report has no plan


def is_report_file(path: Path) -> bool:
    """A regular file whose first non-blank byte opens a JSON object (image archives are tars)."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


def load_document(path: Path) -> dict[str, Any]:
    """The JSON object of a report file, its schema version checked."""
    where = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_JSON_BYTES + 1)  # the capped reader names the limit
    except FileNotFoundError as exc:
        raise ReportFileError("report file not found", where=where) from exc
    except OSError as exc:
        raise ReportFileError(f"cannot read the report: {exc.strerror or exc}", where=where) from exc
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportFileError(
            "not a JSON report (an image archive? write its report with "
            "`imgaudit IMAGE --format json=report.json`)",
            where=where,
        ) from None
    document = load_json(data, "the report", where, ReportFileError)
    return check_schema(document, where)


def check_schema(document: object, where: str) -> dict[str, Any]:
    """The document, if it is an imgaudit report of the schema this version reads."""
    if not isinstance(document, dict) or "schema" not in document:
        raise ReportFileError(
            'not an imgaudit report (no "schema" field); write one with `imgaudit IMAGE --format json`',
            where=where,
        )
    schema = document["schema"]
    if schema == SCHEMA_ID:
        return document
    match = _SCHEMA_PATTERN.match(str(schema))
    if str(schema).startswith("imgaudit/diff/"):
        raise ReportFileError("this is the output of `imgaudit diff`, not a report", where=where)
    if match is None:
        raise ReportFileError(f"not an imgaudit report (schema {schema!r})", where=where)
    ours = int(SCHEMA_ID.rpartition("/v")[2])
    age = "a newer imgaudit; upgrade imgaudit" if int(match.group(1)) > ours else "an older imgaudit"
    raise ReportFileError(
        f"report schema {schema} was written by {age}; this imgaudit reads {SCHEMA_ID} only: "
        "regenerate the report with this version",
        where=where,
    )


def load_figures(path: Path) -> ReportFigures:
    return figures(load_document(path), str(path))


def figures(document: Mapping[str, Any], where: str) -> ReportFigures:
    """The typed figures of a report document; a field of the wrong type is an error, never a 0."""
    check_schema(dict(document), where)
    reader = _Reader(where)
    image = reader.mapping(document, "image")
    categories = reader.mapping(document, "categories")
    return ReportFigures(
        reference=reader.text(image, "reference", "image"),
        total_bytes=reader.count(image, "total_bytes", "image"),
        final_bytes=reader.count(image, "final_bytes", "image"),
        wasted_bytes=reader.count(image, "wasted_bytes", "image"),
        efficiency=reader.number(image, "efficiency", "image"),
        categories={str(name): reader.count(categories, name, "categories") for name in categories},
        layers=tuple(_layer(reader, item) for item in reader.items(document, "layers")),
        distributions=_distributions(reader, document),
        findings=_findings(reader, document),
        plan_savings_bytes=_plan_savings(reader, document),
    )


def _layer(reader: _Reader, item: Mapping[str, Any]) -> LayerFigure:
    index = reader.count(item, "index", "layers[]")
    step = item.get("instruction") or item.get("created_by") or f"(layer {index}, no history)"
    return LayerFigure(
        index=index,
        instruction=str(step),
        size_bytes=reader.count(item, "size_bytes", "layers[]"),
        is_base=bool(item.get("is_base", False)),
    )


def _distributions(reader: _Reader, document: Mapping[str, Any]) -> tuple[DistributionFigure, ...] | None:
    if "environments" not in document:
        return None
    found = []
    for environment in reader.items(document, "environments"):
        path = reader.text(environment, "path", "environments[]")
        for dist in reader.items(environment, "distributions", "environments[]"):
            version = dist.get("version")
            found.append(
                DistributionFigure(
                    environment=path,
                    name=reader.text(dist, "name", "distributions[]"),
                    version=str(version) if version is not None else None,
                    bytes=reader.count(dist, "bytes", "distributions[]"),
                )
            )
    return tuple(found)


def _findings(reader: _Reader, document: Mapping[str, Any]) -> tuple[FindingFigure, ...] | None:
    if "findings" not in document:
        return None
    return tuple(
        FindingFigure(
            id=reader.text(item, "id", "findings[]"),
            title=str(item.get("title") or item["id"]),
            severity=str(item.get("severity") or ""),
            savings_bytes=reader.count(item, "estimated_savings_bytes", "findings[]")
            if item.get("estimated_savings_bytes") is not None
            else 0,
        )
        for item in reader.items(document, "findings")
    )


def _plan_savings(reader: _Reader, document: Mapping[str, Any]) -> int | None:
    plan = document.get("plan")
    if plan is None:
        return None
    return reader.count(reader.mapping(document, "plan"), "estimated_savings_bytes", "plan")


@dataclass(frozen=True, slots=True)
class _Reader:
    """Typed access that names the file and the field when a report is not what v1 says."""

    where: str

    def _bad(self, field: str, expected: str) -> ReportFileError:
        return ReportFileError(f"malformed report: {field} should be {expected}", where=self.where)

    def mapping(self, parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if not isinstance(value, dict):
            raise self._bad(key, "an object")
        return value

    def items(self, parent: Mapping[str, Any], key: str, context: str = "") -> list[Mapping[str, Any]]:
        value = parent.get(key)
        field = f"{context}.{key}" if context else key
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self._bad(field, "a list of objects")
        return value

    def count(self, parent: Mapping[str, Any], key: str, context: str) -> int:
        value = parent.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self._bad(f"{context}.{key}", "a non-negative integer")
        return value

    def number(self, parent: Mapping[str, Any], key: str, context: str) -> float:
        value = parent.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise self._bad(f"{context}.{key}", "a finite number")
        return float(value)

    def text(self, parent: Mapping[str, Any], key: str, context: str) -> str:
        value = parent.get(key)
        if not isinstance(value, str):
            raise self._bad(f"{context}.{key}", "a string")
        return value
