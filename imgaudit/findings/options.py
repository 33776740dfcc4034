"""The findings' `audit` options: `--ignore ID` and `--dockerfile PATH` (kept out of the advise
package so that `--help` does not load the advisor)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from imgaudit.findings.catalogue import FINDING_IDS, check_ids

F = TypeVar("F", bound=Callable[..., Any])


def advice_options(command: F) -> F:
    command = click.option(
        "--dockerfile",
        "dockerfile_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The Dockerfile the image was built from: findings name its line numbers.",
    )(command)
    return click.option(
        "--ignore",
        "ignore",
        multiple=True,
        metavar="ID",
        help=f"Leave out a finding (repeatable): {', '.join(FINDING_IDS)}.",
    )(command)


def advice_settings(ignore: tuple[str, ...], dockerfile_path: Path | None) -> dict[str, Any]:
    """AuditOptions fields; an unknown id or a broken Dockerfile is a usage error (exit 2)."""
    check_ids(ignore)
    if dockerfile_path is None:
        return {"ignore": tuple(ignore), "dockerfile": None}
    from imgaudit.dockerfile.parse import load_dockerfile  # BuildKit's parser: only when asked

    return {"ignore": tuple(ignore), "dockerfile": load_dockerfile(dockerfile_path)}
