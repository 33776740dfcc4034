"""Image paths as words of a suggested `RUN` line. A path comes from the image, so it may hold
spaces, `$(...)`, quotes or a newline: pasted unquoted, `rm -rf /data/my dir` deletes `/data/my`
and `./dir`, and `$(...)` runs."""

from __future__ import annotations

import re
import shlex

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shell_path(path: str) -> str:
    """One shell word naming `path`: quoted where the shell would read it otherwise. A
    control character becomes `?` outside the quotes (the one-character glob): a newline,
    even quoted, would end the Dockerfile instruction."""
    return "?".join(shlex.quote(piece) if piece else "" for piece in _CONTROL.split(path))
