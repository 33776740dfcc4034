"""The versioned machine-readable report (`--format json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from imgaudit import __version__
from imgaudit.model import Report
from imgaudit.report.advice import advice_to_dict
from imgaudit.report.packages import packages_to_dict

SCHEMA_ID = "imgaudit/report/v1"


def schema() -> dict[str, Any]:
    """The JSON Schema shipped with the package."""
    text = resources.files("imgaudit.report").joinpath("schema/report-v1.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def to_dict(report: Report) -> dict[str, Any]:
    # History is read where the report is written: `--help` and `diff` never load classify/.
    from imgaudit.classify.context import instruction, redact_credentials

    info = report.image
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "imgaudit", "version": __version__},
        "image": {
            "reference": info.reference,
            "id": info.image_id,
            "digest": info.manifest_digest,
            "os": info.os,
            "architecture": info.architecture,
            "variant": info.variant,
            "created": info.created,
            "source": {"kind": info.origin.kind, "location": info.origin.location, **info.origin.details},
            "total_bytes": report.total_bytes,
            "final_bytes": report.final_bytes,
            "wasted_bytes": report.wasted_bytes,
            "efficiency": round(report.efficiency, 6),
            "compressed_bytes": report.pull_bytes,
        },
        "layers": [
            {
                "index": layer.index,
                "digest": layer.descriptor.digest,
                "diff_id": layer.descriptor.diff_id,
                "size_bytes": layer.size_bytes,
                "wasted_bytes": layer.wasted_bytes,
                "blob_bytes": layer.descriptor.blob_size,
                "media_type": layer.descriptor.media_type,
                "files": layer.files,
                "created_by": redact_credentials(layer.descriptor.created_by)
                if layer.descriptor.created_by
                else layer.descriptor.created_by,
                "instruction": instruction(layer.descriptor.created_by) or None,
                "is_base": layer.is_base,
            }
            for layer in report.layers
        ],
        "base": {
            "method": report.base.method.value,
            "layer_count": report.base.layer_count,
            "name": report.base.name,
            "digest": report.base.digest,
        },
        "categories": {category.value: size for category, size in report.categories.items()},
        "wasted": [
            {
                "path": item.path,
                "bytes": item.bytes,
                "files": item.files,
                "shipped_by": item.shipped_by,
                "removed_by": item.removed_by,
                "removal": item.removal,
            }
            for item in report.wasted
        ],
        "largest_directories": [{"path": d.path, "bytes": d.bytes} for d in report.largest_directories],
        "warnings": list(report.warnings),
        "duration_seconds": round(report.duration_seconds, 3),
        **advice_to_dict(report),
        **packages_to_dict(report),
    }


def render(report: Report) -> str:
    return render_document(to_dict(report))


def render_document(document: Mapping[str, Any]) -> str:
    """A report dict (possibly with sections other stages added, like `gate`) as JSON text."""
    return json.dumps(document, indent=2) + "\n"
