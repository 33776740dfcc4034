"""Which Dockerfile instruction made each layer of the image.

The image's history lists the final stage's instructions in order (BuildKit and the classic
builder both record them), so the history's tail is aligned with the final stage backwards,
instruction keyword by keyword. A base image's own history sits before it and is never reached.
"""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.classify.context import instruction
from imgaudit.dockerfile.parse import ParsedDockerfile
from imgaudit.model import DockerfileLine, HistoryEntry


def layer_lines(parsed: ParsedDockerfile, history: Sequence[HistoryEntry]) -> dict[int, DockerfileLine]:
    """Layer index -> the lines of the instruction that made it (layers that map)."""
    layer_of: list[int | None] = []
    layers = 0
    for entry in history:
        layer_of.append(None if entry.empty_layer else layers)
        layers += 0 if entry.empty_layer else 1
    steps = [i for i in parsed.final_stage.instructions if i.keyword not in ("ARG", "ONBUILD")]
    result: dict[int, DockerfileLine] = {}
    cursor = len(steps) - 1
    for position in range(len(history) - 1, -1, -1):
        if cursor < 0:
            break
        keyword = _keyword(history[position].created_by)
        if keyword is None:
            continue
        match = next((k for k in range(cursor, -1, -1) if steps[k].keyword == keyword), None)
        if match is None:
            continue
        cursor = match - 1
        layer = layer_of[position]
        if layer is not None:
            step = steps[match]
            result[layer] = DockerfileLine(step.start_line, step.end_line, step.original)
    return result


def _keyword(created_by: str) -> str | None:
    text = instruction(created_by)
    word = text.split(" ", 1)[0].upper() if text else ""
    return word or None
