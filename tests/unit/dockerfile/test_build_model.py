"""The model of the build: shell parsing, stages, inheritance, what COPY --from carries."""

from __future__ import annotations

from imgaudit.dockerfile.build import Build, read_build
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject
from imgaudit.dockerfile.shell import parse_shell


def build(text: str, target: str | None = None, project: ContextProject | None = None) -> Build:
    return read_build(parse_dockerfile(text), project or ContextProject(), target)


def test_bashlex_reads_test_commands_and_if_branches() -> None:
    script = parse_shell('[ ! -d x ] && if [ "$E" = dev ]; then poetry install; fi && pip install a')
    assert script.parser == "bashlex"
    assert [c.words[0] for c in script.commands] == ["[", "[", "poetry", "pip"]
    # `pip install a` runs only when the first test holds: `&&` guards it too.
    assert [c.conditional for c in script.commands] == [False, True, True, True]
    assert [g.describe() for g in script.commands[3].guards] == ["`[ ! -d x ]` holds"]


def test_a_backtick_comment_hides_nothing_and_shlex_takes_over_on_arithmetic() -> None:
    commented = parse_shell("pip install a `# why` && poetry install --only main")
    assert [c.words for c in commented.commands] == [
        ("pip", "install", "a"),
        ("poetry", "install", "--only", "main"),
    ]
    arithmetic = parse_shell("echo $((1+2)) && pip install b")
    assert arithmetic.parser == "shlex"
    assert ("pip", "install", "b") in [c.words for c in arithmetic.commands]


def test_python_dash_m_is_read_as_the_module() -> None:
    (command,) = parse_shell("/venv/bin/python -m pip install x").commands
    assert command.argv == ("pip", "install", "x")


def test_a_stage_inherits_env_workdir_and_tools_from_its_parent() -> None:
    model = build(
        "FROM python:3.12-slim AS base\nENV POETRY_VIRTUALENVS_IN_PROJECT=true\nWORKDIR /app\n"
        "RUN pip install poetry==1.8.3\nFROM base AS runtime\nRUN poetry install --only main\n"
    )
    runtime = model.final
    assert runtime.parent == 0 and model.stages[0].ships
    (install,) = runtime.runs[0].installs
    assert install.target == "/app/.venv" and not install.dev
    assert runtime.end.tool("poetry") is not None


def test_only_the_target_chain_ships() -> None:
    text = "FROM python:3.12 AS builder\nRUN true\nFROM python:3.12-slim AS runtime\nFROM builder AS dev\n"
    assert [s.ships for s in build(text).stages] == [True, False, True]
    assert [s.ships for s in build(text, target="runtime").stages] == [False, True, False]


def test_copy_from_carries_poetry_home_and_expands_variables() -> None:
    model = build(
        "FROM python:3.12-slim AS b\nENV POETRY_HOME=/opt/poetry\n"
        "RUN curl -sSL https://install.python-poetry.org | python3 -\n"
        "FROM python:3.12-slim\nARG HOME_DIR=/opt/poetry\nCOPY --from=b $HOME_DIR $HOME_DIR\n"
    )
    tool = model.final.end.tool("poetry")
    assert tool is not None and tool.line == 6


def test_flags_from_an_arg_default_and_a_global_arg_in_from() -> None:
    model = build('ARG PY=3.11\nFROM python:${PY}-slim\nARG FLAGS="--only main"\nRUN poetry install $FLAGS\n')
    assert model.final.base == "python:3.11-slim"
    assert not model.final.runs[0].installs[0].dev


def test_poetry_settings_from_every_place() -> None:
    parent_env = build("FROM x AS a\nENV POETRY_VIRTUALENVS_CREATE=false\nFROM a\nRUN poetry install\n")
    assert parent_env.final.runs[0].installs[0].target == "/usr/local"
    same_run = build("FROM x\nRUN poetry config virtualenvs.in-project true && poetry install\n")
    assert same_run.final.runs[0].installs[0].target == "/.venv"
    committed = build(
        "FROM x\nWORKDIR /app\nCOPY poetry.toml pyproject.toml ./\nRUN poetry install\n",
        project=ContextProject(poetry_toml={"virtualenvs.in-project": True}),
    )
    assert committed.final.runs[0].installs[0].target == "/app/.venv"
    default = build("FROM x\nRUN poetry install\n")
    assert default.final.runs[0].installs[0].target == "/root/.cache/pypoetry/virtualenvs"


def test_without_other_groups_still_installs_dev() -> None:
    project = ContextProject(known=True, default_groups=frozenset({"dev", "evaluation"}))
    model = build("FROM x\nRUN poetry install --without evaluation,llama-index\n", project=project)
    assert model.final.runs[0].installs[0].dev
    no_dev_group = ContextProject(known=True, default_groups=frozenset())
    assert not build("FROM x\nRUN poetry install\n", project=no_dev_group).final.runs[0].installs[0].dev


def test_a_copied_tool_is_found_where_the_copy_put_it() -> None:
    model = build(
        "FROM ghcr.io/astral-sh/uv:0.8 AS uv\n"
        "FROM python:3.13-slim AS builder\nCOPY --from=uv /uv /usr/local/bin/uv\n"
        "FROM python:3.13-slim AS poetry\nRUN python -m venv /opt/poetry && /opt/poetry/bin/pip install poetry\n"
        "FROM python:3.13-slim\nCOPY --from=poetry /opt/poetry/ /tools/poetry/\n"
        "COPY --from=builder /usr/local/bin /usr/local/bin\n"
    )
    builder_uv = model.stages[1].end.tool("uv")
    assert builder_uv is not None and builder_uv.locations == ("/usr/local/bin/uv",)
    final = model.final.end
    assert final.tool("uv") is not None and final.tool("uv").line == 8  # type: ignore[union-attr]
    assert final.tool("poetry") is not None
    assert "/tools/poetry/bin/poetry" in final.tool("poetry").locations  # type: ignore[union-attr]


def test_dev_groups_named_on_the_command_line_are_development_installs() -> None:
    project = ContextProject(known=True, default_groups=frozenset(), standard_dev=True)
    model = build(
        "FROM python:3.13-slim\nRUN uv sync --only-group dev\nRUN uv sync --only-group web\n"
        "RUN uv pip install -r pyproject.toml --group test\nRUN uv pip install -r pyproject.toml --group web\n",
        project=project,
    )
    assert [r.installs[0].dev for r in model.final.runs] == [True, False, True, False]


def test_an_if_decided_by_arg_defaults_keeps_only_the_branch_taken() -> None:
    script = 'if [ "$ENV" != dev ]; then poetry install --only main; else poetry install; fi'
    known = build(f"FROM python:3.12-slim\nARG ENV=dev\nRUN {script}\n").final.runs[0]
    assert [(c.words, c.conditional) for c in known.commands if c.name == "poetry"] == [
        (("poetry", "install"), False)
    ]
    # An ARG without a default is empty in a plain `docker build`: "" != dev.
    empty = build(f"FROM python:3.12-slim\nARG ENV\nRUN {script}\n").final.runs[0]
    assert [c.words for c in empty.commands if c.name == "poetry"] == [
        ("poetry", "install", "--only", "main")
    ]
    # A variable the file never declares may come from the base image: undecided.
    unknown = build(f"FROM python:3.12-slim\nRUN {script}\n").final.runs[0]
    assert [c.conditional for c in unknown.commands if c.name == "poetry"] == [True, True]


def test_condition_holds_reads_simple_tests_only() -> None:
    from imgaudit.dockerfile.build import condition_holds

    env = {"E": "prod", "EMPTY": ""}
    assert condition_holds(("[", "$E", "=", "prod", "]"), env) is True
    assert condition_holds(("[", "!", "$E", "==", "prod", "]"), env) is False
    assert condition_holds(("test", "-z", "$EMPTY"), env) is True
    assert condition_holds(("[[", "-n", "${E}", "]]"), env) is True
    assert condition_holds(("[", "$UNSET", "=", "x", "]"), env) is None
    assert condition_holds(("[", "-f", "/x", "]"), env) is None
    assert condition_holds(("grep", "-q", "x", "f"), env) is None


def test_pdm_use_venv_from_env_sends_packages_to_pypackages() -> None:
    model = build("FROM python:3.13-slim\nENV PDM_USE_VENV=false\nWORKDIR /app\nRUN pdm install --prod\n")
    (install,) = model.final.runs[0].installs
    assert install.target == "/app/__pypackages__" and not install.dev
