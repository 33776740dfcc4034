"""`late-deletion`: bytes created by one layer and deleted by a later one still ship.

The fix (delete in the RUN that creates them) must not break a later step: when an
instruction between the creating and the deleting one uses what is deleted (runs Poetry whose
dependencies these are, names the path, runs a deleted executable), the deletion moves to the
end of one RUN that creates, uses and deletes, or, when a COPY/ADD stands in between, it is
dropped from the plan: only a multi-stage build leaves those files behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imgaudit.advise.facts import run_commands
from imgaudit.advise.interface import AdviceContext, Candidate, Unit, top_paths, wasted_unit
from imgaudit.advise.shellwords import shell_path
from imgaudit.classify.distributions import site_dir_of
from imgaudit.classify.names import canonical
from imgaudit.findings.catalogue import entry
from imgaudit.layers.merge import Removal, WastedFile
from imgaudit.layers.paths import basename, parent
from imgaudit.model import Evidence, Fix

# What a later layer does to a file that is late-deletion's (an overwrite is not: the new copy
# is what the image runs on).
DELETIONS = (Removal.DELETED, Removal.HIDDEN)
# Commands that only delete: the deleting instruction made of these alone uses nothing.
_DELETING = frozenset({"rm", "rmdir", "unlink", "find", "true", ":"})
_METADATA_DIRS = (".dist-info", ".egg-info")
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Use:
    layer: int
    text: str
    why: str


def late_deletions(ctx: AdviceContext) -> Sequence[Candidate]:
    """One finding per (shipping layer, deleting layer) pair: each pair is one edit."""
    pairs: dict[tuple[int, int], set[Unit]] = defaultdict(set)
    for j, item in enumerate(ctx.merged.wasted):
        if item.removal in DELETIONS and ctx.above_base(item.removed_by) and item.size:
            pairs[(item.shipped_by, item.removed_by)].add(wasted_unit(j))
    candidates = []
    for (shipped, removed), units in sorted(pairs.items(), key=lambda kv: -ctx.bytes_of(kv[1])):
        made_by, removed_with = ctx.step_text(shipped), ctx.step_text(removed)
        items = [ctx.merged.wasted[-u - 1] for u in units]
        roots = sorted({"/" + item.root for item in items})
        where = " ".join(shell_path(root) for root in roots[:_SHOWN])
        uses = _later_uses(ctx, shipped, removed, items, roots)
        details: tuple[str, ...] = (
            f"created by: {made_by}",
            f"deleted by: {removed_with}",
            f"deleted: {where}",
        )
        fix, in_plan = _fix(ctx, shipped, removed, made_by, where, uses)
        if uses:
            details += tuple(f"used by layer {u.layer} ({u.text}): {u.why}" for u in uses)
        candidates.append(
            Candidate(
                id="late-deletion",
                title=entry("late-deletion").text("title", removed=removed, shipped=shipped),
                units=frozenset(units),
                evidence=Evidence(paths=top_paths(ctx, units), layers=(shipped, removed), details=details),
                fix=fix,
                savings_basis="bytes shipped by the creating layer that the deleting layer hides",
                in_plan=in_plan,
            )
        )
    return candidates


def _fix(
    ctx: AdviceContext, shipped: int, removed: int, made_by: str, where: str, uses: Sequence[Use]
) -> tuple[Fix, bool]:
    """The edit, and whether the plan may count it (False: no same-RUN edit is safe)."""
    if not uses:
        return (
            Fix(
                entry("late-deletion").text("fix"),
                f"{made_by or 'RUN ...'} \\\n    && rm -rf {where}",
            ),
            True,
        )
    last = max(u.layer for u in uses)
    between = [ctx.step_text(k) for k in range(shipped, last + 1)]
    blocking = [text for text in between if not text.startswith("RUN ")]
    if blocking or not made_by.startswith("RUN "):
        return (
            Fix(
                entry("late-deletion").text(
                    "fix.blocked",
                    last=last,
                    last_step=ctx.step_text(last),
                    between=", ".join(blocking) or made_by,
                ),
                "",
            ),
            False,
        )
    # One RUN that creates, uses and deletes: the files never land in a layer.
    commands = [text[len("RUN ") :] for text in between]
    if last != removed:
        commands.append(f"rm -rf {where}")
    snippet = "RUN " + " \\\n    && ".join(commands)
    return (
        Fix(
            entry("late-deletion").text("fix.one-run", last=last, last_step=ctx.step_text(last)),
            snippet,
        ),
        True,
    )


def _later_uses(
    ctx: AdviceContext, shipped: int, removed: int, items: Sequence[WastedFile], roots: Sequence[str]
) -> list[Use]:
    """Instructions after the creating one, up to the deleting one, that use the deleted files
    (`roots`: the paths the deleting layer acted on)."""
    dists = _deleted_distributions(item.path for item in items)
    # "bin/" in the path first: a C-level test that most paths fail, then the exact one.
    executables = {
        basename(item.path) for item in items if "bin/" in item.path and basename(parent(item.path)) == "bin"
    }
    needs = ctx.tool_needs
    uses: list[Use] = []
    for layer in range(shipped + 1, removed + 1):
        text = ctx.step_text(layer)
        commands = run_commands(text)
        if layer == removed:
            commands = [c for c in commands if _head(c) not in _DELETING and not _uninstalls(c)]
            if not commands:
                continue
        words = " ".join(w for c in commands for w in c) if commands else text
        heads = {_head(c) for c in commands}
        if mentioned := [r for r in roots if r in words]:
            uses.append(Use(layer, text, f"names {mentioned[0]}"))
        elif ran := sorted(heads & executables):
            uses.append(Use(layer, text, f"runs the deleted {ran[0]}"))
        elif tool := next((t for t in sorted(heads) if dists & needs.get(t, frozenset())), None):
            needed = sorted(dists & needs[tool])
            uses.append(Use(layer, text, f"runs {tool}, which needs {', '.join(needed[:_SHOWN])}"))
    return uses


def _head(words: list[str]) -> str:
    """The command a simple command runs: `python -m pip` is pip, `/usr/local/bin/poetry` is poetry."""
    rest = [w for w in words if "=" not in w or w.startswith(("-", "/"))]
    if not rest:
        return ""
    name = basename(rest[0])
    if name.startswith("python") and "-m" in rest[:-1]:
        name = rest[rest.index("-m") + 1]
    if name.startswith("pip3") or name == "pip":
        return "pip"
    return name


def _uninstalls(words: list[str]) -> bool:
    return _head(words) in ("pip", "poetry", "pipx") and any(w in ("uninstall", "remove") for w in words)


def _deleted_distributions(paths: Iterable[str]) -> set[str]:
    """Names of the Python distributions whose metadata directory the deletion removes."""
    found = set()
    for path in paths:
        # Only a path naming a metadata directory can add a name: test that (in C) first.
        if (".dist-info" not in path and ".egg-info" not in path) or site_dir_of(path) is None:
            continue
        for part in path.split("/"):
            if part.endswith(_METADATA_DIRS):
                found.add(canonical(part.rsplit(".", 1)[0].partition("-")[0]))
    return found
