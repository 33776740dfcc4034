"""`imgaudit --help` loads only what it prints: the renderers, the Docker SDK, the layer
readers and the advisor load when a command uses them (issue 10: `--help` stays fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "rich",
    "docker",
    "requests",
    "imgaudit.audit",
    "imgaudit.advise",
    "imgaudit.layers",
    "imgaudit.classify",
)

_PROBE = """
import json, sys
sys.argv = ["imgaudit", *sys.argv[1:]]
from imgaudit.entry import main
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("arguments", [["--help"], ["audit", "--help"], ["lint", "--help"], ["--version"]])
def test_help_loads_no_heavy_module(arguments: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *arguments], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip(), "the help text is printed"
    loaded = json.loads(result.stderr.strip().splitlines()[-1])
    heavy = [name for name in loaded if name.split(".")[0] in HEAVY or name.startswith(HEAVY)]
    assert heavy == []
