"""Environment markers of installed requirements, evaluated for the image's interpreter.

`keyring` requires `importlib_metadata; python_version < "3.12"`: on a 3.11 image that edge is
real, on 3.12 it is not. Which extra is asked for is the caller's business (`when_extra`); the
marker is evaluated with that extra so `extra == "x" and python_version < "3.12"` works too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from imgaudit.classify.deps import Dependency

# Image architectures (OCI names) as `platform_machine` reports them on Linux.
_MACHINES = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l", "ppc64le": "ppc64le"}


@dataclass(frozen=True, slots=True)
class Interpreter:
    """What a marker may ask about the interpreter of one environment in the image."""

    python: str  # "3.11" or "3.11.2"
    machine: str | None = None  # `platform_machine`; None: markers on it count as true

    def environment(self) -> dict[str, str]:
        parts = self.python.split(".")
        full = ".".join([*parts, "0"][:3]) if len(parts) < 3 else self.python
        found = {
            "python_version": ".".join(parts[:2]),
            "python_full_version": full,
            "implementation_version": full,
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
        }
        if self.machine:
            found["platform_machine"] = self.machine
        return found


def interpreter(python: str | None, architecture: str | None) -> Interpreter | None:
    """None when the environment's Python version is unknown: every marker then applies."""
    if not python:
        return None
    return Interpreter(python, _MACHINES.get(architecture or "", architecture))


@lru_cache(maxsize=4096)
def _evaluate(marker: str, environment: tuple[tuple[str, str], ...]) -> bool:
    # Loaded on the first marker: packaging's markers and specifiers take about 30 ms to
    # import, and most images hold no lock file whose requirements carry markers.
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName

    try:
        return Marker(marker).evaluate(dict(environment))
    except InvalidMarker:
        return True  # a marker we cannot read keeps the edge: the closure stays a superset
    except (UndefinedComparison, UndefinedEnvironmentName):
        return True  # e.g. platform_machine of an image without an architecture


def applies(dependency: Dependency, where: Interpreter | None) -> bool:
    """Whether the requirement is installed for this interpreter (its extra assumed asked for)."""
    if dependency.marker is None or where is None:
        return True
    environment: Mapping[str, str] = {**where.environment(), "extra": dependency.when_extra or ""}
    return _evaluate(dependency.marker, tuple(sorted(environment.items())))
