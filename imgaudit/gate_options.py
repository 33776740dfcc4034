"""The audit command's gate options, as one decorator, so cli.py gains one line. Outside the
`gate` package: importing it for `--help` must not load the gate and the model.

Config files feed click's `default_map` from an eager `--config` option: it is processed
before every other option, so a flag on the command line still wins over the file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from imgaudit.errors import UsageError

if TYPE_CHECKING:  # the gate itself loads when a command runs, not for `--help`
    from imgaudit.diff import Comparison
    from imgaudit.gate.rules import Rule
    from imgaudit.gate_result import GateResult
    from imgaudit.report.loader import ReportFigures

F = TypeVar("F", bound=Callable[..., Any])
_KEYED_OPTIONS = ("max_category", "max_category_growth")
_CONFIG_ERROR = "imgaudit.config_error"
_CONFIG_PATH = "imgaudit.config_path"


@dataclass(frozen=True, slots=True)
class GateRequest:
    """What the command line and config asked the gate to do, parsed and loaded up front so
    a bad limit or baseline fails before the image is read."""

    rules: tuple[Rule, ...]
    baseline: ReportFigures | None
    config: Path | None = None  # the config file whose settings (limits, ignores) apply

    def run(self, figures: Callable[[], ReportFigures]) -> tuple[GateResult | None, Comparison | None]:
        """The limits held against the report's figures (made only when asked for), and the
        comparison with the baseline. (None, None) when neither was asked: the gate and the
        comparison do not even load."""
        if not self.rules and self.baseline is None:
            return None, None
        from imgaudit.diff import compare
        from imgaudit.gate import evaluate

        measured = figures()
        comparison = compare(self.baseline, measured) if self.baseline is not None else None
        return evaluate(self.rules, measured, comparison), comparison


def _use_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    del param
    from imgaudit.config import find_config, load_config

    try:
        config = load_config(value) if value is not None else find_config(Path.cwd())
    except UsageError as error:
        # Raised here it would escape the command's error boundary (click is still parsing);
        # kept for `_request`, which runs inside it.
        ctx.meta[_CONFIG_ERROR] = error
        return value
    if config is not None:
        ctx.default_map = {**(ctx.default_map or {}), **config.settings}
        ctx.meta[_CONFIG_PATH] = config.path
    return value


def _merged(ctx: click.Context, name: str, given: Sequence[str]) -> tuple[str, ...]:
    """A CATEGORY=LIMIT flag replaces the file's limit for that category only."""
    if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
        return tuple(given)
    configured = ctx.lookup_default(name) or ()
    named = {item.partition("=")[0].strip().replace("-", "_") for item in given}
    kept = [item for item in configured if item.partition("=")[0].strip().replace("-", "_") not in named]
    return (*kept, *given)


def _from_config(ctx: click.Context, name: str) -> bool:
    try:
        return ctx.get_parameter_source(name) is ParameterSource.DEFAULT_MAP
    except KeyError:
        return False


def _origins(ctx: click.Context, params: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Which values came from the config file, named `key in FILE` for error messages."""
    path = ctx.meta.get(_CONFIG_PATH)
    if path is None:
        return {}
    origins: dict[tuple[str, str], str] = {}
    for name, value in params.items():
        configured = ctx.lookup_default(name) if name in _KEYED_OPTIONS else None
        from_file = _from_config(ctx, name)
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if item is not None and (from_file or (configured and item in configured)):
                origins[(name, str(item))] = f"{name.replace('_', '-')} in {path}"
    return origins


def _request(ctx: click.Context, params: dict[str, Any]) -> GateRequest:
    if _CONFIG_ERROR in ctx.meta:
        raise ctx.meta[_CONFIG_ERROR]
    for name in _KEYED_OPTIONS:
        params[name] = _merged(ctx, name, params[name])
    baseline: str | None = params.pop("baseline")
    params.pop("config_path")
    used = any(_from_config(ctx, name) for name in (*params, "baseline", "ignore"))
    if not baseline and not any(params.values()):  # no limit anywhere: the gate does not load
        return GateRequest((), None, ctx.meta.get(_CONFIG_PATH) if used else None)
    from imgaudit.gate import Thresholds
    from imgaudit.report.loader import load_figures

    thresholds = Thresholds(**params, origins=_origins(ctx, params))
    config = ctx.meta.get(_CONFIG_PATH) if used or thresholds.origins else None
    return GateRequest(thresholds.rules(), load_figures(Path(baseline)) if baseline else None, config)


_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        is_eager=True,
        expose_value=True,
        callback=_use_config,
        help="Read limits from FILE (.imgaudit.toml, pyproject.toml, .dive-ci). Default: the first of "
        "those found from the working directory up. Flags win over the file.",
    ),
    click.option(
        "--max-size", metavar="SIZE", help="Fail if the image (all layers) exceeds SIZE: 300MB, 1.2GiB."
    ),
    click.option(
        "--max-category",
        multiple=True,
        metavar="CATEGORY=SIZE|PCT",
        help="Fail if a category exceeds its limit: pip_cache=0, app=50MB, python_packages=60%. Repeatable.",
    ),
    click.option(
        "--max-wasted",
        multiple=True,
        metavar="SIZE|PCT",
        help="Fail if bytes shipped but deleted or overwritten later exceed SIZE or PCT of the image "
        "(PCT`user`, like 30%user: of the layers above the first, as dive's highestUserWastedPercent).",
    ),
    click.option(
        "--min-efficiency", metavar="RATIO", help="Fail if final/shipped bytes fall below RATIO (0.95)."
    ),
    click.option(
        "--max-removable", metavar="SIZE|PCT", help="Fail if the advisor's plan would remove more than this."
    ),
    click.option(
        "--fail-on",
        multiple=True,
        metavar="SEVERITY|FINDING_ID",
        help="Fail if a finding of this severity or higher (high, medium, low) or this finding is "
        "reported. Repeatable.",
    ),
    click.option(
        "--baseline",
        metavar="REPORT.json",
        help="Compare with a stored report (`--format json` of the main branch's image).",
    ),
    click.option(
        "--max-growth", metavar="SIZE|PCT", help="Fail if the image grew more than this since --baseline."
    ),
    click.option(
        "--max-category-growth",
        multiple=True,
        metavar="CATEGORY=SIZE|PCT",
        help="Fail if a category grew more than this since --baseline. Repeatable.",
    ),
)
_NAMES = (
    "config_path",
    "max_size",
    "max_category",
    "max_wasted",
    "min_efficiency",
    "max_removable",
    "fail_on",
    "baseline",
    "max_growth",
    "max_category_growth",
)


def gate_options(command: F) -> F:
    """Add the gate options; the command receives them as one `gate: Callable[[], GateRequest]`,
    called inside its error boundary (parsing a limit or loading a baseline may fail)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        params = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, gate=lambda: _request(ctx, params), **kwargs)

    decorated: Any = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
