"""The shell of a `RUN`, parsed into simple commands by a real shell parser.

`bashlex` (a port of bash's own grammar) reads lists, pipelines, `if`/`for`/`while`,
subshells and command substitutions, so `[ ! -d x ] && ...` is a test command and not an
exec form, and a command inside `if ...; then ...; fi` is still found. Measured on the lint
corpus (tests/assets/dockerfiles): it parses every RUN but those with arithmetic expansion
`$((...))` or an empty backtick substitution; those fall back to `shlex` word splitting at
`&&`, `||`, `;` and `|`, which finds the same commands in every such RUN of the corpus.

A backtick comment (`` `# why` ``, the idiom for commenting a continued RUN line) is dropped
before either parser sees it: shlex would take its `#` for the start of a comment and lose the
rest of the RUN.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from imgaudit.dockerfile.bashlex_tables import import_bashlex

bashlex = import_bashlex()

_BACKTICK_COMMENT = re.compile(r"`\s*#[^`]*`")
_SEPARATORS = frozenset({"&&", ";", "||", "|", "&", "(", ")", ";;"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True, slots=True)
class Guard:
    """An `if TEST; then ... else ... fi` around a command: the test's words (empty when the
    condition is more than one simple command) and whether the command runs when it holds."""

    test: tuple[str, ...]
    holds: bool


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command: `NAME=value` prefixes apart, then its words (quotes removed)."""

    words: tuple[str, ...]
    assignments: tuple[tuple[str, str], ...] = ()
    branch: bool = False  # inside a `case` branch or an `if` condition, or after `||`
    # The `if` tests it runs under: the build model evaluates those whose variables it knows
    # (`ARG ENV=dev` ... `if [ "$ENV" != dev ]; then poetry install --no-dev; else poetry install; fi`).
    guards: tuple[Guard, ...] = ()
    outputs: tuple[str, ...] = ()  # `> FILE` / `>> FILE` redirect targets

    @property
    def conditional(self) -> bool:
        """It may or may not run, as far as the Dockerfile says."""
        return self.branch or bool(self.guards)

    @property
    def argv(self) -> tuple[str, ...]:
        """The words with the program as its base name, `python -m X` read as `X`
        (`/venv/bin/python -m pip install` -> `pip install`)."""
        if not self.words:
            return ()
        program = self.words[0].rsplit("/", 1)[-1]
        if program.startswith("python") and self.words[1:2] == ("-m",) and len(self.words) > 2:
            return (self.words[2], *self.words[3:])
        return (program, *self.words[1:])

    @property
    def name(self) -> str:
        return self.argv[0] if self.words else ""


@dataclass(frozen=True, slots=True)
class Script:
    commands: tuple[Command, ...]
    parser: str  # "bashlex" or "shlex": which one read it


def parse_shell(text: str) -> Script:
    cleaned = _BACKTICK_COMMENT.sub(" ", text)
    try:
        trees = bashlex.parse(cleaned)
    except Exception:  # bashlex raises its own errors, NotImplementedError and AttributeError
        return Script(tuple(_split_with_shlex(cleaned)), "shlex")
    commands: list[Command] = []
    for tree in trees:
        commands.extend(_walk(tree, conditional=False))
    return Script(tuple(commands), "bashlex")


def _walk(node: Any, conditional: bool, guards: tuple[Guard, ...] = ()) -> Iterator[Command]:
    kind = node.kind
    if kind == "if":
        yield from _walk_if(node, conditional, guards)
        return
    if kind == "command":
        words: list[str] = []
        assignments: list[tuple[str, str]] = []
        outputs: list[str] = []
        for part in node.parts:
            if part.kind == "assignment" and not words:
                name, _, value = part.word.partition("=")
                assignments.append((name, value))
            elif part.kind == "word":
                words.append(part.word)
            elif part.kind == "redirect" and part.type in (">", ">>") and hasattr(part.output, "word"):
                outputs.append(part.output.word)
            # Command substitutions inside words are commands too.
            yield from _nested(part, conditional)
        if words or assignments:
            yield Command(tuple(words), tuple(assignments), conditional, guards, tuple(outputs))
        return
    if kind == "case":
        conditional = True
    parts = getattr(node, "parts", None) or getattr(node, "list", None) or []
    after_or = False
    for part in parts:
        if part.kind == "operator":
            after_or = part.op == "||"
            continue
        yield from _walk(part, conditional or after_or, guards)


def _walk_if(node: Any, conditional: bool, guards: tuple[Guard, ...]) -> Iterator[Command]:
    """`if A; then X; elif B; then Y; else Z; fi`: X runs under A, Y under not-A and B, Z under
    neither. The conditions themselves always run (as branch commands)."""
    tests: list[tuple[str, ...]] = []
    section = ""
    for part in node.parts:
        if part.kind == "reservedword":
            section = part.word
            continue
        if section in ("if", "elif"):
            condition = list(_walk(part, True, guards))
            tests.append(condition[0].words if len(condition) == 1 and not condition[0].assignments else ())
            yield from condition
        elif section in ("then", "else"):
            previous = [Guard(t, False) for t in (tests[:-1] if section == "then" else tests)]
            current = [Guard(tests[-1], True)] if section == "then" else []
            yield from _walk(part, conditional, (*guards, *previous, *current))


def _nested(node: Any, conditional: bool) -> Iterator[Command]:
    for part in getattr(node, "parts", None) or []:
        if part.kind in ("commandsubstitution", "processsubstitution"):
            yield from _walk(part.command, conditional)
        else:
            yield from _nested(part, conditional)


def _split_with_shlex(text: str) -> Iterator[Command]:
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        words = list(lexer)
    except ValueError:
        words = text.split()
    current: list[str] = []
    after_or = False
    for word in [*words, ";"]:
        if word not in _SEPARATORS:
            current.append(word)
            continue
        if current:
            yield _command(current, after_or)
        current = []
        after_or = word == "||"


def _command(words: list[str], conditional: bool) -> Command:
    assignments: list[tuple[str, str]] = []
    while words and _ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        assignments.append((name, value))
    return Command(tuple(words), tuple(assignments), conditional)
