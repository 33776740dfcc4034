"""The report's Python environments, dev-dependency source and OS packages as JSON values."""

from __future__ import annotations

from typing import Any

from imgaudit.model import Report


def packages_to_dict(report: Report) -> dict[str, Any]:
    dev = report.dev_dependencies
    return {
        "environments": [
            {
                "path": env.path,
                "kind": env.kind.value,
                "python": env.python,
                "bytes": env.bytes,
                "distributions": [
                    {
                        "name": d.name,
                        "version": d.version,
                        "bytes": d.bytes,
                        "files": d.files,
                        "installer": d.installer,
                        "dev_only": d.dev_only,
                        "reason": d.reason,
                        "toolchain": d.toolchain,
                    }
                    for d in env.distributions
                ],
            }
            for env in report.environments
        ],
        "dev_dependencies": None
        if dev is None
        else {
            "source": dev.source.value,
            "confidence": dev.confidence.value,
            "project": dev.project,
            "roots": list(dev.roots),
            "format": dev.format,
        },
        "os_packages": [
            {
                "name": p.name,
                "version": p.version,
                "bytes": p.bytes,
                "files": p.files,
                "layer": p.layer,
                "in_base": p.in_base,
                "build_only": p.build_only,
                "manager": p.manager,
            }
            for p in report.os_packages
        ],
    }
