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
from dataclasses import dataclass, replace
from typing import Any

from imgaudit.dockerfile.bashlex_tables import import_bashlex

bashlex = import_bashlex()

_BACKTICK_COMMENT = re.compile(r"`\s*#[^`]*`")
_SEPARATORS = frozenset({"&&", ";", "||", "|", "&", "(", ")", ";;"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True, slots=True)
class Guard:
    """A test a command runs under: `if TEST; then ... else ... fi`, `TEST && command`,
    `TEST || command`, a `case` arm. `holds`: whether the command runs when the test holds.
    `test` is the test command's words (empty when it is more than one command: then
    `alternatives` holds it as "one of these conjunctions holds", as `if A || B` needs); `text`
    is the test as written, for messages."""

    test: tuple[str, ...]
    holds: bool
    text: str = ""
    alternatives: tuple[tuple[Guard, ...], ...] = ()

    def describe(self) -> str:
        """`[ -f .dev ]` holds / does not hold, as the Dockerfile writes the test."""
        return (
            f"`{as_written(self.text or ' '.join(self.test))}` {'holds' if self.holds else 'does not hold'}"
        )


def as_written(text: str) -> str:
    """A test or substitution as the Dockerfile has it, not as it was said again for bashlex."""
    text = text.replace("'[['", "[[").replace("']]'", "]]")
    if len(text) >= 2 and text[0] == text[-1] == "`":
        return f"$({text[1:-1]})"
    return text


@dataclass(frozen=True, slots=True)
class Substitution:
    """A `$(...)` (or backtick) inside a command's words: its text as the word holds it, and the
    commands it runs (with their guards), whose `echo`/`printf` output replaces it."""

    text: str
    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command: `NAME=value` prefixes apart, then its words (quotes removed)."""

    words: tuple[str, ...]
    assignments: tuple[tuple[str, str], ...] = ()
    # Inside an `if` condition, or a fallback that runs only when a command before it fails.
    branch: bool = False
    # The tests it runs under: the build model evaluates those whose variables it knows
    # (`ARG ENV=dev` ... `if [ "$ENV" != dev ]; then poetry install --no-dev; else poetry install; fi`).
    guards: tuple[Guard, ...] = ()
    outputs: tuple[str, ...] = ()  # `> FILE` / `>> FILE` redirect targets
    substitutions: tuple[Substitution, ...] = ()
    # The substitutions in its words whose output the build model cannot know (`$(cat f)`, a
    # test it cannot decide), as the Dockerfile writes them: messages quote them.
    unresolved: tuple[str, ...] = ()
    # Run in a subshell (`( cd x && make )`, `bash -c "..."`): a `cd` there does not move the
    # RUN's later commands.
    isolated: bool = False

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
        cleaned, trees = _parsed_after_rewrites(cleaned)
        if trees is None:
            return Script(tuple(_split_with_shlex(cleaned)), "shlex")
    reader = _Reader(cleaned)
    commands: list[Command] = []
    for tree in trees:
        commands.extend(reader.walk(tree, conditional=False))
    return Script(tuple(commands), "bashlex")


# --- what bashlex cannot read, said in words it can -----------------------------------------
#
# bashlex 0.18 has no `case` (NotImplementedError), no `[[ ... ]]`, and no `&&`/`||` inside
# `$(...)`; all three are how Dockerfiles choose a dev or production install. When it fails,
# the RUN is said again in the constructs it reads, with the same meaning for the commands and
# tests the build model looks at: `$(A && B)` as a backtick substitution, `[[`/`]]` quoted (a
# plain word, so the test keeps its name and its pattern matching), and `case W in P1|P2) X ;;
# *) Y ;; esac` as `if [[ W == P1 ]] || [[ W == P2 ]]; then X; else Y; fi`.


def _parsed_after_rewrites(text: str) -> tuple[str, list[Any] | None]:
    rewritten = _case_as_if(_quoted_double_brackets(_backtick_substitutions(text)))
    if rewritten is None or rewritten == text:
        return text, None
    try:
        return rewritten, bashlex.parse(rewritten)
    except Exception:
        return text, None


class UnquotedScan:
    """The indexes, from `start`, of the characters the shell reads unquoted: outside '...'
    and "...", and not escaped by a backslash (the quotes themselves are not handed out).
    Once iterated, `open_quote` is the quote left open at the end ("" when none)."""

    def __init__(self, text: str, start: int = 0) -> None:
        self.text, self.start = text, start
        self.open_quote = ""

    def __iter__(self) -> Iterator[int]:
        text, quote, i = self.text, "", self.start
        while i < len(text):
            char = text[i]
            if quote:
                if char == "\\" and quote == '"':
                    i += 1
                elif char == quote:
                    quote = ""
            elif char == "\\":
                i += 1
            elif char in "'\"":
                quote = char
            else:
                yield i
            i += 1
        self.open_quote = quote


def _closing(text: str, start: int, opening: str, closing: str) -> int | None:
    """The index of the `closing` that ends the group opened just before `start`, quotes and
    nesting respected."""
    depth = 1
    for i in UnquotedScan(text, start):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i
    return None


def _backtick_substitutions(text: str) -> str:
    """Each `$(...)` that holds no other substitution and no backslash, as a backtick one."""
    ends = _substitution_ends(text)
    starts = sorted(ends)
    out, position = [], 0
    for index, start in enumerate(starts):
        end = ends[start]
        nested = index + 1 < len(starts) and starts[index + 1] < end
        if start < position or nested or text.startswith("$((", start):
            continue
        if text.find("`", start, end) >= 0 or text.find("\\", start, end) >= 0:
            continue
        out.append(text[position:start] + "`" + text[start + 2 : end] + "`")
        position = end + 1
    return "".join(out) + text[position:]


def _substitution_ends(text: str) -> dict[int, int]:
    """Where each `$(` closes, found in one pass (quotes, backslashes and nesting respected; a
    substitution starts a fresh quoting context, as in the shell)."""
    ends: dict[int, int] = {}
    stack: list[tuple[int, str]] = []  # (index of `$(`, or -1 for a bare `(`; the quote outside)
    quote, i = "", 0
    while i < len(text):
        char = text[i]
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            i += 1
        elif char == '"':
            quote = "" if quote else '"'
        elif char == "'" and not quote:
            quote = "'"
        elif text.startswith("$(", i):
            stack.append((i, quote))
            quote, i = "", i + 2
            continue
        elif char == "(" and not quote:
            stack.append((-1, quote))
        elif char == ")" and not quote and stack:
            opened, quote = stack.pop()
            if opened >= 0:
                ends[opened] = i
        i += 1
    return ends


_DOUBLE_BRACKET = re.compile(r"(?<![^\s;&|(`])(\[\[|\]\])(?=$|[\s;&|)`])")


def _quoted_double_brackets(text: str) -> str:
    return _DOUBLE_BRACKET.sub(lambda m: f"'{m.group(1)}'", text)


_MAX_ARMS = 64
_CASE_HEAD = re.compile(r"(?<![\w-])case\s+(?P<subject>\S+)\s+in(?=\s)")
_CASE_END = re.compile(r"\s*esac(?=$|[\s;&|)])")


def _case_as_if(text: str | None) -> str | None:
    """Every `case` (innermost last: one at a time, left to right) said as an `if` chain; None
    when one cannot be read."""
    for _ in range(text.count("case") if text is not None else 0):
        head = _CASE_HEAD.search(text) if text is not None else None
        if head is None or text is None:
            break
        text = _one_case_as_if(text, head)
    return text


def _one_case_as_if(text: str, head: re.Match[str]) -> str | None:
    subject, i = head["subject"], head.end()
    arms: list[tuple[list[str], str]] = []
    while True:
        end = _CASE_END.match(text, i)
        if end is not None:
            break
        opening = re.compile(r"\s*\(?\s*").match(text, i)
        i = opening.end() if opening else i
        close = _closing(text, i, "\0", ")")
        if close is None:
            return None
        patterns = [p.strip() for p in text[i:close].split("|") if p.strip()]
        body_start = close + 1
        stop = _arm_end(text, body_start)
        if stop is None:
            return None
        body, i = text[body_start : stop[0]].strip().rstrip(";").strip(), stop[1]
        if _CASE_HEAD.search(body):
            return None  # a nested case: left to shlex
        arms.append((patterns, body or ":"))
        if len(arms) > _MAX_ARMS:
            return None  # bashlex would take seconds over the `elif` chain: left to shlex
    chain: list[str] = []
    for index, (patterns, body) in enumerate(arms):
        if patterns == ["*"]:
            chain.append(f"else {body};")
            break
        test = " || ".join(f"'[[' {subject} == {p} ']]'" for p in patterns)
        chain.append(f"{'if' if index == 0 else 'elif'} {test}; then {body};")
    if not chain:
        return text[: head.start()] + ":" + text[end.end() :]
    return text[: head.start()] + " ".join(chain) + " fi" + text[end.end() :]


def _arm_end(text: str, start: int) -> tuple[int, int] | None:
    """(end of an arm's body, where the next arm starts): at `;;` (`;&`, `;;&`) or `esac`."""
    quote, i = "", start
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif text.startswith(";;&", i):
            return i, i + 3
        elif text.startswith(";;", i) or text.startswith(";&", i):
            return i, i + 2
        elif (
            text.startswith("esac", i)
            and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_-"))
            and _CASE_END.match(text, i)
        ):
            return i, i
        i += 1
    return None


# --- the walk over bashlex's tree -----------------------------------------------------------

# The commands whose exit status is a test the build model may decide: outside an `if`
# condition, every other command is taken to succeed (`poetry install || pip install x`: the
# fallback is a maybe, not a branch of a test).
_TESTS = frozenset({"[", "[[", "test", "true", "false", ":"})
# A path through an and-or list: the test outcomes that lead there, and the exit status then.
_Path = tuple[tuple[Guard, ...], bool]
# Paths double with each test in the worst case (`A && B || C && D || ...`): past this many, the
# list so far is taken as one undecided test.
_MAX_PATHS = 32


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def text(self, node: Any) -> str:
        return self.source[node.pos[0] : node.pos[1]] if hasattr(node, "pos") else ""

    def walk(self, node: Any, conditional: bool, guards: tuple[Guard, ...] = ()) -> Iterator[Command]:
        kind = node.kind
        if kind == "if":
            yield from self._walk_if(node, conditional, guards)
            return
        if kind == "command":
            yield from self._command(node, conditional, guards)
            return
        parts = getattr(node, "parts", None) or getattr(node, "list", None) or []
        if kind == "compound" and parts and parts[0].kind == "reservedword" and parts[0].word == "(":
            for part in parts:
                if part.kind not in ("operator", "reservedword", "pipe"):
                    yield from (replace(c, isolated=True) for c in self.walk(part, conditional, guards))
            return
        if any(p.kind == "operator" and p.op in ("&&", "||") for p in parts):
            for pipelines, operators in _and_or_lists(parts):
                commands, _ = self._and_or(pipelines, operators, conditional, guards, in_condition=False)
                yield from commands
            return
        for part in parts:
            if part.kind not in ("operator", "reservedword", "pipe"):
                yield from self.walk(part, conditional, guards)

    def _command(self, node: Any, conditional: bool, guards: tuple[Guard, ...]) -> Iterator[Command]:
        words: list[str] = []
        assignments: list[tuple[str, str]] = []
        outputs: list[str] = []
        substitutions: list[Substitution] = []
        for part in node.parts:
            if part.kind == "assignment" and not words:
                name, _, value = part.word.partition("=")
                assignments.append((name, value))
            elif part.kind == "word":
                words.append(part.word)
            elif part.kind == "redirect" and part.type in (">", ">>") and hasattr(part.output, "word"):
                outputs.append(part.output.word)
            # Command substitutions inside words are commands too.
            for found in self._substitutions(part):
                substitutions.append(Substitution(self.text(found), tuple(self.walk(found.command, False))))
                yield from self.walk(found.command, conditional)
        script = _shell_script(words)
        if script is not None:
            # `bash -c "if ...; then poetry install; else ...; fi"`: the script's own commands.
            for inner in parse_shell(script).commands:
                yield replace(
                    inner, branch=inner.branch or conditional, guards=(*guards, *inner.guards), isolated=True
                )
            return
        if words or assignments:
            yield Command(tuple(words), tuple(assignments), conditional, guards, tuple(outputs),
                          tuple(substitutions))  # fmt: skip

    def _substitutions(self, node: Any) -> Iterator[Any]:
        for part in getattr(node, "parts", None) or []:
            if part.kind in ("commandsubstitution", "processsubstitution"):
                yield part
            else:
                yield from self._substitutions(part)

    def _walk_if(self, node: Any, conditional: bool, guards: tuple[Guard, ...]) -> Iterator[Command]:
        """`if A; then X; elif B; then Y; else Z; fi`: X runs under A, Y under not-A and B, Z under
        neither. The conditions themselves always run (as branch commands)."""
        failed: list[Guard] = []  # the conditions before this branch did not hold
        taken: tuple[Guard, ...] = ()
        section = ""
        for part in node.parts:
            if part.kind == "reservedword":
                section = part.word
                continue
            if section in ("if", "elif"):
                *before, (pipelines, operators) = (
                    _and_or_lists(part.parts) if part.kind == "list" else [([part], [])]
                )
                for earlier_pipelines, earlier_operators in before:
                    commands, _ = self._and_or(
                        earlier_pipelines, earlier_operators, True, (*guards, *failed), False
                    )
                    yield from commands
                commands, paths = self._and_or(
                    pipelines, operators, True, (*guards, *failed), in_condition=True
                )
                yield from commands
                taken = (*guards, *failed, *_disjunction([lits for lits, status in paths if status]))
                failed.extend(_disjunction([lits for lits, status in paths if not status]))
            elif section == "then":
                yield from self.walk(part, conditional, taken)
            elif section == "else":
                yield from self.walk(part, conditional, (*guards, *failed))

    def _and_or(
        self,
        pipelines: list[Any],
        operators: list[str],
        conditional: bool,
        guards: tuple[Guard, ...],
        in_condition: bool,
    ) -> tuple[list[Command], list[_Path]]:
        """`A && B || C`: each pipeline runs on the paths whose exit status its operator wants.
        A test's status is its outcome; any other command succeeds, except in an `if` condition,
        where its status is an (undecided) test too."""
        commands: list[Command] = []
        paths: list[_Path] = [((), True)]
        for index, pipeline in enumerate(pipelines):
            wanted = index == 0 or operators[index - 1] == "&&"
            running = [p for p in paths if p[1] == wanted]
            resting = [p for p in paths if p[1] != wanted]
            if not running:  # it runs only when a command before it fails: a fallback
                commands.extend(self.walk(pipeline, True, guards))
                continue
            under = _disjunction([lits for lits, _ in running])
            commands.extend(self.walk(pipeline, conditional, (*guards, *under)))
            test = self._test(pipeline, in_condition)
            produced: list[_Path] = []
            for literals, _ in running:
                if test is None:
                    produced.append((literals, True))
                    continue
                known = next((g.holds for g in literals if g.text == test.text), None)
                for status in (True, False):
                    if known is None:
                        produced.append(
                            ((*literals, Guard(test.test, test.holds == status, test.text)), status)
                        )
                    elif known == (test.holds == status):
                        produced.append((literals, status))
            paths = resting + produced
            if len(paths) > _MAX_PATHS:  # too many outcomes to follow: the list so far is one test
                so_far = Guard((), True, self.source[pipelines[0].pos[0] : pipeline.pos[1]])
                paths = [((so_far,), True), ((Guard((), False, so_far.text),), False)]
        return commands, paths

    def _test(self, pipeline: Any, in_condition: bool) -> Guard | None:
        """The pipeline's status as a test (holds=True: status 0 when the test holds), or None
        for a command taken to succeed."""
        negated = False
        node = pipeline
        if node.kind == "pipeline" and node.parts and node.parts[0].kind == "reservedword":
            negated = node.parts[0].word == "!"
            rest = [p for p in node.parts[1:] if p.kind != "pipe"]
            node = rest[0] if len(rest) == 1 else node
        if node.kind == "command":
            words = tuple(p.word for p in node.parts if p.kind == "word")
            if words and (words[0] in _TESTS or in_condition):
                return Guard(words, not negated, self.text(node))
            return None
        return Guard((), not negated, self.text(node)) if in_condition else None


_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})
_DASH_C = re.compile(r"^-[a-z]*c[a-z]*$")


def _shell_script(words: list[str]) -> str | None:
    """The script of `sh -c SCRIPT` / `bash -ec SCRIPT` (the outer shell has expanded its
    variables already, as the build model does)."""
    if len(words) >= 3 and words[0].rsplit("/", 1)[-1] in _SHELLS and _DASH_C.match(words[1]):
        return words[2]
    return None


def _and_or_lists(parts: list[Any]) -> Iterator[tuple[list[Any], list[str]]]:
    """A list's parts split at `;`, `&` and newlines into and-or lists (pipelines, operators)."""
    pipelines: list[Any] = []
    operators: list[str] = []
    for part in parts:
        if part.kind == "operator" and part.op in ("&&", "||"):
            operators.append(part.op)
        elif part.kind == "operator":
            if pipelines:
                yield pipelines, operators
            pipelines, operators = [], []
        elif part.kind not in ("reservedword", "pipe"):
            pipelines.append(part)
    if pipelines:
        yield pipelines, operators


def _disjunction(alternatives: list[tuple[Guard, ...]]) -> tuple[Guard, ...]:
    """The guards of "one of these conjunctions holds": the conjunction itself when there is one,
    nothing when they cover every outcome of their tests, else the literals they share and one
    guard holding the rest."""
    unique = list(dict.fromkeys(alternatives))
    if len(unique) == 1:
        return unique[0]
    if not unique:
        return (Guard((), True, "false"),)  # never: `if false`
    common = tuple(g for g in unique[0] if all(g in other for other in unique[1:]))
    rest = [tuple(g for g in alt if g not in common) for alt in unique]
    if any(not alt for alt in rest) or _covers_everything(rest):
        return common
    text = " || ".join(" && ".join(("" if g.holds else "! ") + g.text for g in alt) for alt in rest)
    return (*common, Guard((), True, text, tuple(rest)))


def _covers_everything(alternatives: list[tuple[Guard, ...]]) -> bool:
    tests = sorted({g.text for alt in alternatives for g in alt})
    if len(tests) > 8 or any(g.alternatives for alt in alternatives for g in alt):
        return False
    for bits in range(1 << len(tests)):
        outcome = {t: bool(bits >> i & 1) for i, t in enumerate(tests)}
        if not any(all(outcome[g.text] == g.holds for g in alt) for alt in alternatives):
            return False
    return True


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
