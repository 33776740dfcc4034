"""`cache-unfriendly-order`, `unneeded-files-copied`: what comes in from the build context."""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.advise.facts import is_pip_install, layer_instructions, project_facts, run_commands
from imgaudit.advise.interface import AdviceContext, Candidate, layers_of, top_paths
from imgaudit.classify.context import is_copy_step
from imgaudit.classify.projects.registry import advising_format, installs_dependencies, is_project_file
from imgaudit.findings.catalogue import entry
from imgaudit.model import Category, Evidence, Fix
from imgaudit.report.units import human_bytes

# Directory names (and file suffixes) a runtime never needs from the build context.
UNNEEDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "tests",
        "test",
        "__pycache__",
        ".venv",
        "venv",
        "node_modules",
        "docs",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".idea",
        ".vscode",
        ".github",
    }
)
UNNEEDED_SUFFIXES = (".pyc", ".pyo")
# Files a dependency install needs: copying only these first keeps its layer cached.
DEPENDENCY_FILES = frozenset({"pyproject.toml", "poetry.lock", "README.md", "README.rst", "README"})


def unneeded_files(ctx: AdviceContext) -> Sequence[Candidate]:
    matched: dict[str, None] = {}

    def unneeded(i: int, _category: Category) -> bool:
        parts = ctx.merged.files[i].path.split("/")
        for part in parts[1:-1]:
            if part in UNNEEDED_DIRS:
                matched[part + "/"] = None
                return True
        if parts[-1].endswith(UNNEEDED_SUFFIXES):
            matched["*" + parts[-1][parts[-1].rfind(".") :]] = None
            return True
        return False

    units = ctx.final_units(unneeded, categories=(Category.APP,))
    if not units:
        return ()
    entries = sorted(matched)
    return (
        Candidate(
            id="unneeded-files-copied",
            title=entry("unneeded-files-copied").text("title"),
            units=units,
            evidence=Evidence(
                paths=top_paths(ctx, units), layers=layers_of(ctx, units), details=tuple(entries)
            ),
            fix=Fix(
                entry("unneeded-files-copied").text("fix"),
                "# .dockerignore\n" + "\n".join(e.rstrip("/") for e in entries),
            ),
            savings_basis="bytes of copied files under " + ", ".join(entries),
        ),
    )


def cache_unfriendly_order(ctx: AdviceContext) -> Sequence[Candidate]:
    texts = layer_instructions(ctx.layers)
    install = next((i for i, t in enumerate(texts) if ctx.above_base(i) and _installs_dependencies(t)), None)
    if install is None:
        return ()
    facts = project_facts(ctx.merged, ctx.info, ctx.base_layer_count, ctx.project)
    code_copies = [
        i
        for i in range(ctx.base_layer_count, install)
        if is_copy_step(ctx.layers[i].created_by) and _copies_code(ctx, i)
    ]
    if not code_copies:
        return ()
    first = code_copies[0]
    rebuilt = sum(ctx.merged.layers[i].size_bytes for i in range(first, len(ctx.layers)))
    code = " ".join(f"{p}/" for p in facts.package_dirs) or "SOURCE/"
    ordered = advising_format(ctx.project_format, ctx.project).install_advice(ctx.project).ordered
    return (
        Candidate(
            id="cache-unfriendly-order",
            title=entry("cache-unfriendly-order").text("title", rebuilt=human_bytes(rebuilt)),
            units=frozenset(),
            evidence=Evidence(
                layers=(first, install),
                details=(
                    f"per code change: {human_bytes(rebuilt)} ({rebuilt} bytes) rebuilt and re-pushed "
                    f"(layers {first}-{len(ctx.layers) - 1})",
                    f"copy: {texts[first]}",
                    f"install: {texts[install]}",
                ),
            ),
            fix=Fix(entry("cache-unfriendly-order").text("fix"), ordered.format(code=code)),
            savings_basis=f"no bytes of the image; {rebuilt} bytes rebuilt and re-pushed per code change",
        ),
    )


def _installs_dependencies(text: str) -> bool:
    for words in run_commands(text):
        if installs_dependencies(words):  # poetry, uv, pdm, pipenv, pip-sync (classify.projects)
            return True
        if is_pip_install(words) and any(
            w in ("-r", ".", "-e") or w.startswith("--requirement") for w in words
        ):
            return True
    return False


def _copies_code(ctx: AdviceContext, layer: int) -> bool:
    """A COPY layer that brought more than the dependency files (source code)."""
    names = [f.path.rsplit("/", 1)[-1] for f in ctx.merged.files if f.layer == layer and f.size]
    return any(name.endswith(".py") for name in names) and any(
        n in DEPENDENCY_FILES or is_project_file(n) for n in names
    )
