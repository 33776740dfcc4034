"""Command line. The only place that prints errors and chooses exit codes:
0 success, 1 a threshold failed, 2 an error (bad input, unreachable source, bad usage)."""

from __future__ import annotations

import datetime
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from imgaudit import __version__, replay
from imgaudit.dockerfile.lint_output import RENDERERS, LintFormat
from imgaudit.errors import ImgauditError, UsageError
from imgaudit.findings.catalogue import Level
from imgaudit.findings.options import advice_options, advice_settings
from imgaudit.gate_options import GateRequest, gate_options
from imgaudit.report.outputs import emit, parse_outputs, printable, safe_console, written_text
from imgaudit.report.registry import AUDIT_FORMATS, DIFF_FORMATS
from imgaudit.report.units import human_bytes
from imgaudit.report.view import AuditView, Section
from imgaudit.sources.pull import PullPolicy

if TYPE_CHECKING:  # the modules themselves load where they are used: `--help` stays fast
    from rich.console import Console
    from rich.progress import Progress

    from imgaudit.audit import BaseSpec
    from imgaudit.dockerfile.verify import Verification
    from imgaudit.gate_result import GateResult
    from imgaudit.model import Report, SlimBase
    from imgaudit.report.loader import ReportFigures
    from imgaudit.sources.resolve import RemoteOptions

EXIT_THRESHOLD = 1
EXIT_ERROR = 2


class DefaultGroup(click.Group):
    """`imgaudit IMAGE` means `imgaudit audit IMAGE`; other first words name subcommands."""

    default_command = "audit"

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Click's own errors (an unknown option, a missing argument) as the one line every
        other error is, instead of usage, hint and message on three lines."""
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.ClickException as error:
            click.echo(f"imgaudit: error: {printable(error.format_message())}", err=True)
            sys.exit(EXIT_ERROR)
        except click.Abort:
            click.echo("imgaudit: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # `imgaudit IMAGE | head`: the reader left; say nothing more (as click does).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit flush
            sys.exit(1)
        if isinstance(result, int) and result:  # `ctx.exit(n)` returns n without standalone mode
            sys.exit(result)
        return result

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        elif not args:
            args = [self.default_command, "--help"]
        return super().parse_args(ctx, args)


def _fail(error: ImgauditError, debug: bool) -> NoReturn:
    if debug:
        raise error
    click.echo(f"imgaudit: error: {printable(str(error))}", err=True)
    sys.exit(EXIT_ERROR)


@contextmanager
def error_boundary(debug: bool) -> Iterator[None]:
    """Expected failures become one line on stderr and exit 2; `--debug` keeps the traceback."""
    try:
        yield
    except ImgauditError as error:
        _fail(error, debug)
    except KeyboardInterrupt:
        click.echo("imgaudit: interrupted", err=True)
        sys.exit(130)


def _stderr_console() -> Console:
    return safe_console(sys.stderr, no_color="NO_COLOR" in os.environ)


def _warn(console: Console, quiet: bool = False, forget_replay: bool = False) -> Callable[[str], None]:
    def warn(message: str) -> None:
        if forget_replay:
            replay.forget()  # a replay would not say it again
        if quiet:
            return
        console.print(f"imgaudit: warning: {message}", style="yellow", highlight=False, soft_wrap=True)

    return warn


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="imgaudit")
def main() -> None:
    """Why is this container image big, and what exactly should change?

    imgaudit reads every layer of an image, attributes each byte (base image, Poetry and pip
    caches, Python packages, your app, bytes wasted by later deletions) and reports it.

    \b
    Examples:
      imgaudit myapp:latest                   an image in the local Docker engine
      imgaudit localhost:5000/team/app:1.4    an image in a registry (no engine needed)
      imgaudit image.tar                      a `docker save` archive
      imgaudit oci-layout-dir/                an OCI image layout
      imgaudit image.tar --format json        the machine-readable report
      imgaudit myapp:latest --max-size 300MB  fail (exit 1) when the image is too big
    """


@main.command("audit")
@click.argument("reference")
@click.option(
    "--image", "image_name", metavar="NAME:TAG", help="Which image of an archive that holds several."
)
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Which platform of a multi-platform image.")
@click.option(
    "--base",
    "base_reference",
    metavar="REF_OR_ARCHIVE",
    help="The base image this one was built FROM; its layers are reported as base_image.",
)
@click.option(
    "--slim-base",
    "slim_base_reference",
    metavar="REF_OR_ARCHIVE",
    help="A slimmer base to run on (e.g. python:3.11-slim): `fat-base-image` measures what this "
    "image's base has beyond it instead of estimating from build-only packages.",
)
@click.option("--format", "output_formats", multiple=True, metavar="FORMAT[=FILE]", help=AUDIT_FORMATS.help())
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to FILE."
)
@click.option(
    "--details", is_flag=True, help="Terminal: every section after the summary (same as --show for each)."
)
@click.option(
    "--show",
    "show_sections",
    multiple=True,
    type=click.Choice([s.value for s in Section]),
    help="Terminal: also show this section (repeatable): image and base details, layers, wasted "
    "paths, largest directories, Python environments, OS packages, full fixes with snippets.",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress and no warnings on stderr (errors still show)."
)
@click.option(
    "--pull",
    type=click.Choice([p.value for p in PullPolicy]),
    default=PullPolicy.MISSING.value,
    is_flag=False,
    flag_value=PullPolicy.ALWAYS.value,
    show_default=True,
    help="Engine images: pull first (`--pull` alone: always), only when missing, or never.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Registries: accept a TLS certificate that does not verify (plain HTTP is only ever "
    "used for localhost/127.0.0.1/::1 registries, automatically).",
)
@click.option("--username", metavar="USER", help="Registry user name; the password is read from stdin.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the registry password from stdin (needs --username)."
)
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="The project the image was built from (pyproject.toml, poetry.lock, requirements*.txt): "
    "tells dev-only packages apart when the image does not hold these files.",
)
@click.option(
    "--packages",
    "show_packages",
    type=click.Choice(["os"]),
    multiple=True,
    help="Also list these packages in the terminal report: os = the image's OS packages "
    "(the same as --show packages).",
)
@advice_options
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.option(
    "--no-cache",
    is_flag=True,
    help="Read every layer, neither using nor filling the analysis cache (layer analyses, stored reports) "
    "(IMGAUDIT_CACHE_DIR, else the user cache directory).",
)
@gate_options
def audit_command(
    reference: str,
    image_name: str | None,
    platform: str | None,
    base_reference: str | None,
    slim_base_reference: str | None,
    output_formats: tuple[str, ...],
    output: Path | None,
    debug: bool,
    gate: Callable[[], GateRequest],
    pull: str = PullPolicy.MISSING.value,
    insecure: bool = False,
    username: str | None = None,
    password_stdin: bool = False,
    project_dir: Path | None = None,
    show_packages: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    dockerfile_path: Path | None = None,
    details: bool = False,
    show_sections: tuple[str, ...] = (),
    quiet: bool = False,
    no_cache: bool = False,
) -> None:
    """Audit REFERENCE and say what to change.

    \b
    REFERENCE is one of:
      path/to/image.tar      a `docker save` archive or an OCI archive (skopeo oci-archive:)
      path/to/layout/        an OCI image layout directory
      NAME[:TAG|@DIGEST]     the Docker engine's image when an engine is reachable, else the registry's
      docker://NAME          always the Docker engine (DOCKER_HOST, the current context)
      registry://NAME        always the registry, over the distribution API, no daemon

    Exit codes: 0 success, 1 a limit failed, 2 an error (one line on stderr).
    """
    from imgaudit.audit import AuditOptions, audit
    from imgaudit.projectdir import read_project_dir
    from imgaudit.sources.resolve import open_reference

    errors = _stderr_console()
    warn = _warn(errors, quiet, forget_replay=True)
    if no_cache:
        from imgaudit.layers.cache import disable

        disable()
    else:
        _warn_if_cache_unusable(warn)
    with error_boundary(debug):
        outputs, request = parse_outputs(AUDIT_FORMATS, output_formats, output), gate()
        remote = _remote_options(pull, insecure, username, password_stdin)
        options = AuditOptions(
            base=_base_spec(base_reference, platform, warn, remote),
            project=read_project_dir(project_dir) if project_dir else None,
            slim_base=_slim_base(slim_base_reference, platform, warn, remote),
        )
        options = replace(options, **advice_settings(ignore, dockerfile_path))
        with (
            _progress(errors, quiet) as progress,  # first: an engine image is read while it opens
            open_reference(
                reference, image=image_name, platform=platform, warn=warn, remote=remote, progress=progress
            ) as source,
        ):
            report = audit(source, options, progress=progress, on_layer=progress.layer if progress else None)

        def measured() -> ReportFigures:
            # The gate reads the figures of the report's JSON, so that a fresh audit and a
            # stored baseline are measured the same way; renderers read the Report itself.
            from imgaudit.report import json as json_report
            from imgaudit.report.loader import figures

            return figures(json_report.to_dict(report), reference)

        result, comparison = request.run(measured)
        sections = {Section(s) for s in show_sections} | ({Section.PACKAGES} if show_packages else set())
        view = AuditView(
            report,
            gate=result if result and result.results else None,
            comparison=comparison,
            limits_from=request.config,
            dockerfile=dockerfile_path,
            sections=frozenset(Section) if details else frozenset(sections),
        )
        emit(outputs, view)
        if request.baseline is not None:
            replay.forget()  # a baseline named by a config file: a file the replay key misses

        def texts(duration: float) -> list[str | None]:
            timed = replace(view, report=replace(report, duration_seconds=duration))
            return [written_text(spec, timed) for spec in outputs]

        replay.record(texts, 0 if result is None or result.passed else EXIT_THRESHOLD)
    _exit_for(result)


@main.command("diff")
@click.argument("before")
@click.argument("after")
@click.option("--format", "output_formats", multiple=True, metavar="FORMAT[=FILE]", help=DIFF_FORMATS.help())
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the comparison to FILE."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress and no warnings on stderr.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def diff_command(
    before: str, after: str, output_formats: tuple[str, ...], output: Path | None, quiet: bool, debug: bool
) -> None:
    """Compare BEFORE with AFTER: what grew, shrank, appeared or disappeared, per category,
    per layer instruction and per Python package, largest first.

    Each of BEFORE and AFTER is an image (as `imgaudit audit` takes) or a JSON report written
    by `imgaudit IMAGE --format json`; two reports need neither image.
    """
    errors = _stderr_console()
    from imgaudit.diff import compare

    with error_boundary(debug):
        outputs = parse_outputs(DIFF_FORMATS, output_formats, output)
        comparison = compare(_figures_of(before, errors, quiet), _figures_of(after, errors, quiet))
        emit(outputs, comparison)


def _figures_of(reference: str, errors: Console, quiet: bool = False) -> ReportFigures:
    from imgaudit.audit import audit
    from imgaudit.report import json as json_report
    from imgaudit.report.loader import figures, is_report_file, load_figures
    from imgaudit.sources.resolve import open_reference

    if is_report_file(Path(reference)):
        return load_figures(Path(reference))
    with (
        open_reference(reference, image=None, platform=None, warn=_warn(errors, quiet)) as source,
        _progress(errors, quiet) as progress,
    ):
        report = audit(source, progress=progress, on_layer=progress.layer if progress else None)
    return figures(json_report.to_dict(report), reference)


def _warn_if_cache_unusable(warn: Callable[[str], None]) -> None:
    from imgaudit.cachedir import CACHE_DIR_ENV, cache_root, unusable

    root = cache_root()
    reason = unusable(root) if root is not None else None
    if reason is not None:
        warn(
            f"the cache directory {root} cannot be used ({reason}): every layer is read every time; "
            f"point {CACHE_DIR_ENV} at a writable directory, or pass --no-cache"
        )


def _exit_for(result: GateResult | None) -> None:
    if result is not None and not result.passed:
        sys.exit(EXIT_THRESHOLD)


def _remote_options(pull: str, insecure: bool, username: str | None, password_stdin: bool) -> RemoteOptions:
    """Engine and registry settings; the password comes from stdin only, never from argv."""
    from imgaudit.sources.resolve import RemoteOptions

    credentials = None
    if password_stdin and not username:
        raise UsageError("--password-stdin needs --username")
    if username:
        if not password_stdin:
            raise UsageError("--username needs --password-stdin (a password on the command line would leak)")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: stdin held no password")
        from imgaudit.sources.registry import Credentials  # the registry client: only when needed

        credentials = Credentials(username, password)
    return RemoteOptions(PullPolicy(pull), insecure, credentials)


def _base_spec(
    reference: str | None,
    platform: str | None,
    warn: Callable[[str], None],
    remote: RemoteOptions | None = None,
) -> BaseSpec | None:
    from imgaudit.audit import BaseSpec
    from imgaudit.sources.resolve import open_reference

    if reference is None:
        return None
    with open_reference(reference, image=None, platform=platform, warn=warn, remote=remote) as base:
        diff_ids = tuple(d.diff_id or "" for d in base.layers)
        return BaseSpec(diff_ids, base.info.reference)


def _slim_base(
    reference: str | None, platform: str | None, warn: Callable[[str], None], remote: RemoteOptions
) -> SlimBase | None:
    from imgaudit.audit import measure_slim_base
    from imgaudit.sources.resolve import open_reference

    if reference is None:
        return None
    with open_reference(reference, image=None, platform=platform, warn=warn, remote=remote) as slim:
        return measure_slim_base(slim)


class _ProgressBar:
    """The stderr progress display: what is being read, a bar of layers done and the bytes
    read so far. Called with messages (the engine's save, each layer) and per layer done."""

    def __init__(self, display: Progress) -> None:
        self._display = display
        self._task = display.add_task("reading image", total=None, read="")

    def __call__(self, message: str) -> None:
        self._display.update(self._task, description=message)

    def layer(self, done: int, total: int, read: int) -> None:
        self._display.update(self._task, total=total, completed=done, read=human_bytes(read))


@contextmanager
def _progress(console: Console, quiet: bool = False) -> Iterator[_ProgressBar | None]:
    """A progress bar on stderr while the image is read (layers and bytes done); none when
    stderr is not a terminal (CI logs) or with --quiet."""
    if quiet or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("layers · {task.fields[read]}"),
    )
    with Progress(*columns, console=console, transient=True) as display:
        yield _ProgressBar(display)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ImgauditError(f"cannot write the report: {exc.strerror}", where=str(path)) from exc


@main.command("fix")
@click.argument("reference", required=False)
@click.option(
    "--dockerfile",
    "dockerfile_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Dockerfile to edit.",
)
@click.option(
    "--context",
    "context_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The build context (pyproject.toml): the Dockerfile's directory by default.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new Dockerfile [default: DOCKERFILE.imgaudit].",
)
@click.option(
    "--verify",
    "verify_image",
    metavar="IMAGE",
    help="Build the fixed Dockerfile on the engine (same context), run a smoke command, and set its "
    "real size beside the plan's estimate for IMAGE (the original image) and IMAGE's own.",
)
@click.option(
    "--smoke", metavar="CMD", help="The smoke command (/bin/sh -c) [default: the entrypoint with --help]."
)
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="The build's ARG values: they decide the Dockerfile's shell tests, and --verify builds with them.",
)
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="ID",
    help="Leave the lines this finding id's edit would change as they are (repeatable).",
)
@click.option("--network", metavar="MODE", help="For --verify's build (e.g. host).")
@click.option(
    "--tag", "verify_tag", metavar="NAME", help="Tag of --verify's image [default: imgaudit-fixed/NAME]."
)
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def fix_command(
    reference: str | None,
    dockerfile_path: Path,
    context_dir: Path | None,
    output: Path | None,
    verify_image: str | None,
    smoke: str | None,
    build_args: tuple[str, ...],
    ignore: tuple[str, ...],
    network: str | None,
    verify_tag: str | None,
    debug: bool,
) -> None:
    """Edit DOCKERFILE into the article's multi-stage shape and show the diff.

    It keeps every instruction it has no reason to change; what it cannot fix safely it
    refuses in one line (exit 2). With REFERENCE (the image built from it), the facts come
    from the image too. With --verify IMAGE, the result is built and started: exit 1 if the
    build or the smoke command fails, or the start command or user changed.
    """
    from imgaudit.audit import audit
    from imgaudit.dockerfile.commands import image_facts, run_fix, write_dockerfile
    from imgaudit.sources.resolve import open_reference

    errors = _stderr_console()
    verification: Verification | None = None
    with error_boundary(debug):
        reference = reference or verify_image
        facts = None
        original: Report | None = None
        if reference is not None:
            with open_reference(reference, image=None, platform=None, warn=_warn(errors)) as source:
                facts = image_facts(source)
                if verify_image is not None:
                    original = audit(source)
        context = context_dir or dockerfile_path.parent
        outcome = run_fix(
            dockerfile_path, context, facts, datetime.date.today(), _build_args(build_args), ignore
        )
        if not outcome.changed:
            # Rewriting would only drop comments and blank lines: nothing to write, build or verify.
            errors.print(f"imgaudit: nothing to fix in {dockerfile_path}", highlight=False, markup=False)
            return
        target = output or dockerfile_path.with_name(dockerfile_path.name + ".imgaudit")
        write_dockerfile(target, outcome.result.text)
        click.echo(printable(outcome.diff), nl=False)
        for note in outcome.result.notes:
            errors.print(f"imgaudit: {note}", highlight=False, markup=False)
        errors.print(f"imgaudit: wrote {target}", highlight=False, markup=False)
        if original is None or verify_image is None:
            return
        verification = verify_fix(
            original,
            verify_image,
            context,
            target,
            smoke,
            _build_args(build_args),
            network,
            verify_tag,
            errors,
        )
        for line in verification.lines(human_bytes):
            if line:
                click.echo(line)
    if verification is not None and not verification.ok:
        sys.exit(EXIT_THRESHOLD)


def _build_args(pairs: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--build-arg wants KEY=VALUE, not {pair!r}")
        parsed[name] = value
    return parsed


def verify_fix(
    original: Report,
    image: str,
    context: Path,
    dockerfile: Path,
    smoke: str | None,
    build_args: dict[str, str],
    network: str | None,
    tag: str | None,
    errors: Console,
) -> Verification:
    """Build, audit and start the fixed image (the engine must answer)."""
    from imgaudit.audit import audit
    from imgaudit.dockerfile.verify import (
        Verification,
        VerifyError,
        build_image,
        run_smoke,
        smoke_command,
        start_problems,
    )
    from imgaudit.sources.daemon import connect_engine
    from imgaudit.sources.resolve import open_reference

    client = connect_engine()
    if client is None:
        raise UsageError("--verify needs a Docker engine, and none answers")
    name = re.sub(r"[^a-z0-9._-]+", "-", image.rsplit("/", 1)[-1].split(":")[0].lower()) or "image"
    tag = tag or f"imgaudit-fixed/{name}:latest"
    problems: list[str] = []
    try:
        build_image(client, context, dockerfile, tag, build_args, network)
    except VerifyError as failed:
        return Verification(tag, original.total_bytes, _estimate(original), 0, (), 1, "", (str(failed),))
    with open_reference(tag, image=None, platform=None, warn=_warn(errors)) as source:
        fixed = audit(source)
        config = dict(source.info.config)
    entrypoint, command = smoke_command(config, smoke)
    code, output = run_smoke(client, tag, entrypoint, command)
    if code != 0:
        tail = " | ".join(output.strip().splitlines()[-3:])
        problems.append(f"the smoke command exited {code}: {tail}")
    problems.extend(start_problems(original.image.config, config))
    shown = tuple(entrypoint or config.get("Entrypoint") or ()) + tuple(command)
    return Verification(
        tag,
        original.total_bytes,
        _estimate(original),
        fixed.total_bytes,
        shown,
        code,
        output,
        tuple(problems),
    )


def _estimate(report: Report) -> int | None:
    return report.plan.estimated_final_bytes if report.plan is not None else None


@main.command("lint")
@click.argument("dockerfile_path", metavar="DOCKERFILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--context",
    "context_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The build context (pyproject.toml, poetry.toml): the Dockerfile's directory by default.",
)
@click.option("--target", metavar="STAGE", help="The stage that is built (docker build --target).")
@click.option(
    "--format",
    "lint_format",
    type=click.Choice([f.value for f in LintFormat]),
    default=LintFormat.TEXT.value,
    show_default=True,
    help="text, json, sarif (SARIF 2.1.0) or github (workflow annotations).",
)
@click.option(
    "--failure-threshold",
    type=click.Choice([level.value for level in Level]),
    default=Level.WARNING.value,
    show_default=True,
    help="Exit 1 when a finding at or above this level is present.",
)
@click.option(
    "--ignore", "ignore", multiple=True, metavar="ID", help="Leave out this finding id (repeatable)."
)
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="An ARG value as `docker build --build-arg` gives it (repeatable): it decides the shell tests "
    "that choose an install.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def lint_command(
    dockerfile_path: Path,
    context_dir: Path | None,
    target: str | None,
    lint_format: str,
    failure_threshold: str,
    ignore: tuple[str, ...],
    build_args: tuple[str, ...],
    debug: bool,
) -> None:
    """Findings for DOCKERFILE without an image, stage-aware: the catalogue's ids, no byte figures.

    Exit 1 when a finding at or above --failure-threshold is present, 0 otherwise, 2 on error.
    `# imgaudit ignore=ID[,ID]` above an instruction and `ignore = [...]` in [tool.imgaudit]
    silence findings.
    """
    from imgaudit.dockerfile.commands import run_lint

    with error_boundary(debug):
        hints = run_lint(
            dockerfile_path, datetime.date.today(), context_dir, target, ignore, _build_args(build_args)
        )
        click.echo(RENDERERS[LintFormat(lint_format)](hints, str(dockerfile_path)), nl=False)
    threshold = Level(failure_threshold)
    if any(h.level.at_least(threshold) for h in hints):
        sys.exit(EXIT_THRESHOLD)
