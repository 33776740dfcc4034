"""One exception root, one base per pipeline stage.

The CLI catches :class:`ImgauditError` in one place and prints it as a single line;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ImgauditError(Exception):
    """An expected failure: bad input, unreachable service, unusable configuration."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message


class SourceError(ImgauditError):
    """The image could not be opened: missing manifest, bad JSON, unknown format, ..."""


class LayerError(ImgauditError):
    """A layer blob could not be read: truncated tar, corrupt compression, digest mismatch."""


class ClassifyError(ImgauditError):
    """Project metadata in or beside the image could not be understood (a malformed lock file)."""


class UsageError(ImgauditError):
    """The command line or configuration asks for something impossible."""
