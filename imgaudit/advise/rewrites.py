"""`files-rewritten-later`: bytes a layer shipped that a later layer wrote again at the same paths.

The commonest case is a `RUN chown -R app:app /app` (or `chmod -R`) after the venv or the app
was written: the overlay filesystem copies every file it touches into the new layer, so the
first copy ships for nothing. A reinstall or a second COPY of the same files does the same.
The saving is exact: the earlier copies' bytes, per (shipping layer, rewriting layer) pair.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from collections.abc import Iterable, Sequence

from imgaudit.advise.build_context import DEPENDENCY_FILES
from imgaudit.advise.interface import AdviceContext, Candidate, Unit, top_paths, wasted_unit
from imgaudit.advise.ownership import ownership_commands
from imgaudit.advise.shellwords import shell_path
from imgaudit.classify.projects.registry import is_project_file
from imgaudit.findings.catalogue import entry
from imgaudit.layers.merge import Removal
from imgaudit.layers.paths import basename
from imgaudit.model import Evidence, Fix
from imgaudit.severity import Severity

# Only OVERWRITTEN: the later layer wrote a file at the very path of the earlier one, so the
# image holds the same file twice and "write it once" is the fix. REPLACED (a file put where a
# directory was, or a directory where a file was: `ln -sfn /opt/x /app/lib` over a directory)
# does not write those files again; it removes them, as a deletion does, and what stands there
# now is something else: neither "set the owner where they are written" nor "write them once"
# applies.
REWRITES = (Removal.OVERWRITTEN,)
_OCTAL = re.compile(r"^[0-7]{3,4}$")
_SHOWN = 5


# A rewrite below this (an entrypoint's `chmod +x`, a config file edited in place) costs under 1 %
# of the smallest Python base image (python:3.X-slim, about 120 MB): it is reported at low
# severity, so that a `--fail-on high` pipeline does not fail over it.
NOTABLE_REWRITE = 1 << 20


def rewritten_files(ctx: AdviceContext) -> Sequence[Candidate]:
    """One finding per (shipping layer, rewriting layer) pair, both above the base (a base's
    files are the base's: the fix cannot write them once)."""
    pairs: dict[tuple[int, int], set[Unit]] = defaultdict(set)
    for j, item in enumerate(ctx.merged.wasted):
        if (
            item.removal in REWRITES
            and item.size
            and ctx.above_base(item.shipped_by)
            and ctx.above_base(item.removed_by)
        ):
            pairs[(item.shipped_by, item.removed_by)].add(wasted_unit(j))
    candidates = []
    for (shipped, rewritten), units in sorted(pairs.items(), key=lambda kv: (-ctx.bytes_of(kv[1]), kv[0])):
        made_by, rewritten_by = ctx.step_text(shipped), ctx.step_text(rewritten)
        paths = ["/" + ctx.unit_path(u) for u in units]
        if _only_project_files(paths):
            continue
        roots = _roots(paths)
        ownership = ownership_commands(rewritten_by, paths)
        details = (
            f"written by: {made_by}",
            f"written again by: {rewritten_by}",
            f"rewritten: {' '.join(shell_path(r) for r in roots[:_SHOWN])}"
            + (f" and {len(roots) - _SHOWN} more" if len(roots) > _SHOWN else "")
            + f" ({len(paths)} files)",
        )
        if ownership:
            fix = Fix(
                entry("files-rewritten-later").text(
                    "fix.ownership", rewritten=rewritten, step=rewritten_by or "RUN ...", shipped=shipped
                ),
                _ownership_snippet(made_by, ownership),
            )
        else:
            fix = Fix(
                entry("files-rewritten-later").text(
                    "fix.write-once", rewritten=rewritten, step=rewritten_by or "...", shipped=shipped
                ),
                "",
            )
        candidates.append(
            Candidate(
                id="files-rewritten-later",
                title=entry("files-rewritten-later").text("title", rewritten=rewritten, shipped=shipped),
                units=frozenset(units),
                evidence=Evidence(paths=top_paths(ctx, units), layers=(shipped, rewritten), details=details),
                fix=fix,
                savings_basis="bytes of the first copies, shipped by the earlier layer, of the files the "
                "later layer wrote again at the same paths",
                severity=None if ctx.bytes_of(units) >= NOTABLE_REWRITE else Severity.LOW,
            )
        )
    return candidates


def _only_project_files(paths: Sequence[str]) -> bool:
    """Only the project's dependency files (pyproject.toml, locks, requirements, README): a few
    kB copied twice on purpose (`COPY pyproject.toml poetry.lock ./`, install, then `COPY . .`:
    the order cache-unfriendly-order recommends, so the install stays cached when only code
    changes) or rewritten by the tool (`poetry lock`). A finding would be noise beside the
    layers it keeps cached, so none (the bytes still show as wasted in the report)."""
    return all((name := basename(p)) in DEPENDENCY_FILES or is_project_file(name) for p in paths)


def _roots(paths: Iterable[str]) -> list[str]:
    """The directories the rewrite covers: per top-level directory, the deepest directory
    holding all of its rewritten files (a lone file stands for itself)."""
    groups: dict[str, list[list[str]]] = defaultdict(list)
    for path in paths:
        parts = path.strip("/").split("/")
        groups[parts[0]].append(parts)
    roots = []
    for members in groups.values():
        if len(members) == 1:
            roots.append("/" + "/".join(members[0]))
            continue
        common: list[str] = []
        for column in zip(*(m[:-1] for m in members), strict=False):
            if len(set(column)) != 1:
                break
            common.append(column[0])
        roots.append("/" + "/".join(common))
    return sorted(roots)


def _ownership_snippet(made_by: str, commands: Sequence[list[str]]) -> str:
    """Owner and mode set where the files are written: flags of the COPY/ADD that wrote them,
    or the same commands at the end of the RUN that wrote them."""
    if made_by.startswith(("COPY ", "ADD ")):
        flags = []
        for words in commands:
            operands = [w for w in words[1:] if not w.startswith("-")]
            if not operands:
                continue
            name = basename(words[0])
            if name == "chown":
                flags.append(f"--chown={operands[0]}")
            elif name == "chgrp":
                flags.append(f"--chown=:{operands[0]}")
            elif _OCTAL.match(operands[0]):
                flags.append(f"--chmod={operands[0]}")
            else:  # a symbolic mode (`g+w`): not every builder's `COPY --chmod` takes one
                return ""
        keyword, _, rest = made_by.partition(" ")
        return f"{keyword} {' '.join(dict.fromkeys(flags))} {rest}"
    if made_by.startswith("RUN "):
        return made_by + "".join(f" \\\n    && {shlex.join(c)}" for c in commands)
    return ""
