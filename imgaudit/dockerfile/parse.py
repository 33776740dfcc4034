"""A Dockerfile parsed by BuildKit's own parser (the `dockerfile` package), as stages.

The parser accepts anything line-shaped; what Docker would refuse (an unknown instruction,
no FROM) is checked here, so `--dockerfile` fails early with one line instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dockerfile

from imgaudit.errors import ImgauditError
from imgaudit.inputs import decode_text, limit

KNOWN_INSTRUCTIONS = frozenset(c.upper() for c in dockerfile.all_cmds())
MAX_DOCKERFILE_BYTES = 1024 * 1024  # real Dockerfiles are a few KB
MAX_CONTINUED_LINES = 5000  # BuildKit's parser is quadratic in them: 100k take 10 s


class DockerfileError(ImgauditError):
    """A Dockerfile that cannot be read or that Docker would refuse."""


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    args: tuple[str, ...]  # the parser's values: words, or the one shell string
    flags: tuple[str, ...]
    json: bool  # exec form written as a JSON array
    original: str  # the instruction as written (continuations joined)
    start_line: int
    end_line: int
    heredocs: tuple[str, ...] = ()  # the bodies of `<<EOF` documents, in order


@dataclass(frozen=True, slots=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]  # after FROM
    from_line: int


@dataclass(frozen=True, slots=True)
class ParsedDockerfile:
    path: str
    text: str
    instructions: tuple[Instruction, ...]  # every instruction, unknown ones included
    stages: tuple[Stage, ...]

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    def unknown(self) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword not in KNOWN_INSTRUCTIONS]


def read_dockerfile(path: Path) -> str:
    """The Dockerfile's text, within the limits (README "Limits") checked before BuildKit's parser
    runs: it takes 10 s on 100k continued lines and reads `/dev/zero` until memory runs out."""
    cap = limit("IMGAUDIT_MAX_DOCKERFILE_BYTES", MAX_DOCKERFILE_BYTES)
    try:
        with path.open("rb") as handle:
            data = handle.read(cap + 1)
    except OSError as exc:
        raise DockerfileError(f"cannot read the Dockerfile: {exc.strerror}", where=str(path)) from exc
    if len(data) > cap:
        raise DockerfileError(
            f"the Dockerfile is larger than {cap} bytes (raise it with IMGAUDIT_MAX_DOCKERFILE_BYTES)",
            where=str(path),
        )
    text = decode_text(data, "the Dockerfile", str(path), DockerfileError)
    if _longest_continuation(text) > MAX_CONTINUED_LINES:
        raise DockerfileError(
            f"an instruction continues over more than {MAX_CONTINUED_LINES} lines", where=str(path)
        )
    return text


def _longest_continuation(text: str) -> int:
    longest = run = 0
    for line in text.splitlines():
        run = run + 1 if line.rstrip().endswith(("\\", "`")) else 0
        longest = max(longest, run)
    return longest


def parse_dockerfile(text: str, path: str = "Dockerfile") -> ParsedDockerfile:
    """Every instruction and the stages; unknown instructions are kept for `lint` to explain."""
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise DockerfileError(f"cannot parse the Dockerfile: {exc}", where=path) from exc
    instructions = tuple(
        Instruction(
            keyword=(c.cmd or "").upper(),
            args=tuple(c.value),
            flags=tuple(c.flags),
            json=c.json,
            original=c.original or "",
            start_line=c.start_line,
            end_line=c.end_line,
            heredocs=tuple(h.content for h in c.heredocs),
        )
        for c in commands
    )
    return ParsedDockerfile(path, text, instructions, _stages(instructions))


def checked(parsed: ParsedDockerfile) -> ParsedDockerfile:
    """The Dockerfile as Docker would accept it, or a DockerfileError naming the line."""
    for item in parsed.unknown():
        # The word as written: `\vFROM` is not FROM, and a line of odd whitespace has no word
        # for str.split() (found by the fuzz harness: an IndexError).
        word = item.original.strip(" \t").partition(" ")[0] or "?"
        raise DockerfileError(f"line {item.start_line}: unknown instruction {word!r}", where=parsed.path)
    if not parsed.stages:
        raise DockerfileError("no FROM instruction", where=parsed.path)
    for stage in parsed.stages:
        if not stage.base:
            raise DockerfileError(f"line {stage.from_line}: FROM without an image", where=parsed.path)
    return parsed


def load_dockerfile(path: Path) -> ParsedDockerfile:
    return checked(parse_dockerfile(read_dockerfile(path), str(path)))


def _stages(instructions: tuple[Instruction, ...]) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    current: list[Instruction] = []
    header: Instruction | None = None
    for item in instructions:
        if item.keyword == "FROM":
            if header is not None:
                stages.append(_stage(header, current))
            header, current = item, []
        elif header is not None:
            current.append(item)
    if header is not None:
        stages.append(_stage(header, current))
    return tuple(stages)


def _stage(header: Instruction, body: list[Instruction]) -> Stage:
    words = header.args
    name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
    return Stage(
        base=words[0] if words else "", name=name, instructions=tuple(body), from_line=header.start_line
    )
