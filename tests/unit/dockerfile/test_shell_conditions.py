"""Shell control flow that picks the dev or the production install: `[ test ] && A || B`,
`case`, `$(...)` that prints flags, `[[ ]]`, `${VAR:+...}`: the build model keeps the branch the
Dockerfile's values (ARG defaults, ENV, build args) choose, and says which condition an install
depends on when the Dockerfile cannot decide it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pytest

from imgaudit.dockerfile.build import Build, condition_holds, read_build
from imgaudit.dockerfile.commands import run_lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject
from imgaudit.dockerfile.shell import parse_shell

POETRY = ContextProject(known=True, default_groups=frozenset({"dev"}))
TODAY = dt.date(2026, 12, 1)


def build(text: str, build_args: Mapping[str, str] | None = None) -> Build:
    return read_build(parse_dockerfile(text), POETRY, None, build_args or {})


def installs(run: str, arg: str = "ARG ENVIRONMENT=production", **build_args: str) -> list[tuple[str, bool]]:
    """(the install's words, whether it takes dev) for each install the build runs."""
    model = build(f"FROM python:3.12-slim\n{arg}\nRUN {run}\n", build_args)
    return [(" ".join(i.command.words), i.dev) for i in model.final.runs[0].installs]


AND_OR = (
    '[ "$ENVIRONMENT" = "development" ] && poetry install --no-root || poetry install --only main --no-root'
)


@pytest.mark.parametrize(
    ("run", "arg", "expected"),
    [
        (AND_OR, "ARG ENVIRONMENT=production", [("poetry install --only main --no-root", False)]),
        (AND_OR, "ARG ENVIRONMENT=development", [("poetry install --no-root", True)]),
        (AND_OR, "ENV ENVIRONMENT=development", [("poetry install --no-root", True)]),
        (
            'case "$ENVIRONMENT" in dev|development) poetry install ;; *) poetry install --only main ;; esac',
            "ARG ENVIRONMENT=production",
            [("poetry install --only main", False)],
        ),
        (
            'case "$ENVIRONMENT" in dev*) poetry install ;; *) poetry install --only main ;; esac',
            "ARG ENVIRONMENT=development",
            [("poetry install", True)],
        ),
        (
            'poetry install $(if [ "$ENVIRONMENT" = "production" ]; then echo "--only main"; fi) --no-root',
            "ARG ENVIRONMENT=production",
            [("poetry install --only main --no-root", False)],
        ),
        (
            'poetry install $(test "$ENVIRONMENT" == production && echo "--only=main") --no-ansi',
            "ARG ENVIRONMENT=production",
            [("poetry install --only=main --no-ansi", False)],
        ),
        (
            'poetry install $(test "$ENVIRONMENT" == production && echo "--only=main") --no-ansi',
            "ARG ENVIRONMENT",  # no default: empty in a plain `docker build`
            [("poetry install --no-ansi", True)],
        ),
        (
            "[[ $ENVIRONMENT != prod* ]] && poetry install || poetry install --without dev",
            "ARG ENVIRONMENT=production",
            [("poetry install --without dev", False)],
        ),
        (
            "poetry install ${INSTALL_DEV:+--with dev} --only main",
            "ARG INSTALL_DEV",
            [("poetry install --only main", False)],
        ),
        (
            '! [ "$ENVIRONMENT" = production ] && poetry install || poetry install --only main',
            "ARG ENVIRONMENT=production",
            [("poetry install --only main", False)],
        ),
        (
            'if [ "$ENVIRONMENT" = dev ]; then poetry install; elif [ "$ENVIRONMENT" = ci ]; then '
            "poetry install --with test; else poetry install --only main; fi",
            "ARG ENVIRONMENT=production",
            [("poetry install --only main", False)],
        ),
        (
            'if [ "$ENVIRONMENT" = dev ]; then poetry install --only main; elif [ "$ENVIRONMENT" = ci ]; then '
            "poetry install; fi",
            "ARG ENVIRONMENT=ci",
            [("poetry install", True)],
        ),
        (
            'if [ "$X" = "true" ] || [ -n "$Y" ]; then poetry install; else poetry install --only main; fi',
            "ARG X=false\nARG Y",
            [("poetry install --only main", False)],
        ),
    ],
)
def test_the_branch_the_dockerfile_chooses_is_the_one_that_runs(
    run: str, arg: str, expected: list[tuple[str, bool]]
) -> None:
    assert installs(run, arg) == expected


def test_a_script_given_to_bash_c_is_read_as_shell() -> None:
    run = "bash -c \"if [ $INSTALL_DEV == 'true' ] ; then poetry install --no-root ; else poetry install --no-root --only main ; fi\""
    assert installs(run, "ARG INSTALL_DEV=false") == [("poetry install --no-root --only main", False)]
    assert installs(run, "ARG INSTALL_DEV=true") == [("poetry install --no-root", True)]
    assert installs("sh -ec 'poetry install --only main'") == [("poetry install --only main", False)]


def test_a_build_arg_overrides_the_default() -> None:
    assert installs(AND_OR, "ARG ENVIRONMENT=production", ENVIRONMENT="development") == [
        ("poetry install --no-root", True)
    ]


def test_uv_pip_pdm_and_pipenv_choices() -> None:
    uv = ContextProject(known=True, standard_dev=True)
    model = read_build(
        parse_dockerfile(
            'FROM python:3.12-slim\nARG ENV=prod\nRUN uv sync $([ "$ENV" = dev ] || echo --no-dev)\n'
            'RUN pip install -r requirements$([ "$ENV" = dev ] && echo -dev).txt\n'
            "RUN [[ $ENV == dev ]] && pdm install || pdm install --prod\n"
            'RUN if [ "$ENV" != "prod" ]; then pipenv install --dev; else pipenv install; fi\n'
        ),
        uv,
    )
    assert [(" ".join(i.command.words), i.dev) for r in model.final.runs for i in r.installs] == [
        ("uv sync --no-dev", False),
        ("pip install -r requirements.txt", False),
        ("pdm install --prod", False),
        ("pipenv install", False),
    ]


def test_a_fallback_after_a_command_that_fails_is_still_a_maybe() -> None:
    # `||` after a command (not a test): the fallback runs only if the install fails.
    (first, fallback) = installs("poetry install --only main || poetry install --no-dev")
    assert first == ("poetry install --only main", False) and fallback[1] is False
    script = parse_shell("poetry install --only main || poetry install")
    assert [c.conditional for c in script.commands] == [False, True]


def test_and_or_lists_guard_each_command_by_the_tests_before_it() -> None:
    script = parse_shell('[ "$E" = dev ] && poetry install || poetry install --only main; rm -rf /tmp/c')
    by_name = [(c.words[:3], [(g.test[1:4], g.holds) for g in c.guards]) for c in script.commands]
    assert by_name == [
        (("[", "$E", "="), []),
        (("poetry", "install"), [(("$E", "=", "dev"), True)]),
        (("poetry", "install", "--only"), [(("$E", "=", "dev"), False)]),
        (("rm", "-rf", "/tmp/c"), []),
    ]


def test_conditions_read_the_usual_test_operators() -> None:
    env = {"E": "prod", "EMPTY": "", "N": "1"}
    assert condition_holds(("[[", "$E", "==", "pro*", "]]"), env) is True
    assert condition_holds(("[", "$N", "-eq", "1", "]"), env) is True
    assert condition_holds(("[", "$N", "-ne", "1", "]"), env) is False
    assert condition_holds(("true",), env) is True
    assert condition_holds(("false",), env) is False
    assert condition_holds(("[", "-f", "x", "]"), env) is None


def lint_text(tmp_path: Path, dockerfile: str) -> list[str]:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "a"\nversion = "1"\ndescription = ""\nauthors = ["a"]\n'
        '[tool.poetry.dependencies]\npython = "^3.12"\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
    )
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    return [f"{h.id}:{h.line}: {h.message}" for h in run_lint(path, TODAY, tmp_path)]


HEAD = "FROM python:3.12-slim\nWORKDIR /app\nENV POETRY_VIRTUALENVS_IN_PROJECT=1 POETRY_CACHE_DIR=/tmp/c\n"


def test_an_undecided_condition_is_named_in_the_hint(tmp_path: Path) -> None:
    hints = lint_text(
        tmp_path,
        HEAD
        + "RUN [ -f .dev ] && poetry install --no-root || poetry install --only main --no-root; rm -rf /tmp/c\n",
    )
    dev = [h for h in hints if h.startswith("dev-dependencies-installed")]
    assert dev == [
        "dev-dependencies-installed:4: poetry install: installs the group(s) dev "
        "when `[ -f .dev ]` holds (the Dockerfile does not decide it)"
    ]


def test_an_undecided_substitution_is_named_in_the_hint(tmp_path: Path) -> None:
    hints = lint_text(
        tmp_path,
        HEAD + 'RUN poetry install $(test "$YOUR_ENV" == production && echo --only=main) && rm -rf /tmp/c\n',
    )
    dev = [h for h in hints if h.startswith("dev-dependencies-installed")]
    assert dev == [
        "dev-dependencies-installed:4: poetry install: installs the group(s) dev "
        'unless `$(test "$YOUR_ENV" == production && echo --only=main)` prints other flags '
        "(the Dockerfile does not decide it)"
    ]


def test_a_decided_production_branch_gives_no_hint(tmp_path: Path) -> None:
    hints = lint_text(tmp_path, HEAD + "ARG ENVIRONMENT=production\nRUN " + AND_OR + " && rm -rf /tmp/c\n")
    assert not [h for h in hints if h.startswith("dev-dependencies-installed")]


def test_fix_leaves_an_install_chosen_by_a_shell_test_to_the_user(tmp_path: Path) -> None:
    from imgaudit.dockerfile.commands import run_fix
    from imgaudit.dockerfile.fix import FixRefused

    lint_text(tmp_path, HEAD + "ARG ENVIRONMENT=development\nRUN " + AND_OR + "\n")
    with pytest.raises(
        FixRefused, match=r'chosen by a shell condition \(`\[ "\$ENVIRONMENT" = "development" \]`\)'
    ):
        run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY)


def test_a_long_chain_of_tests_is_cut_short_not_followed_outcome_by_outcome() -> None:
    # Outcomes double with each `A && B ||` pair: past a bound, the list so far is one test.
    chain = " || ".join(f"[ -f x{i} ] && [ -f y{i} ]" for i in range(40)) + " && poetry install"
    install = parse_shell(chain).commands[-1]
    assert install.words == ("poetry", "install")
    assert install.conditional and len(install.guards) <= 2
    # A `case` with more arms than bashlex reads in good time is left to the word splitter.
    many_arms = "case $E in " + " ".join(f"a{i}) poetry install ;;" for i in range(100)) + " esac"
    assert parse_shell(many_arms).parser == "shlex"
