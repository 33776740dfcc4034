#!/bin/sh
# Regenerates the lock fixtures with real Poetry releases (one venv each, outside the repo).
# Needs POETRY_PYPI_MIRROR_URL set in the shell to the simple index (never committed) and
# poetry-plugin-pypi-mirror for Poetry >= 1.2; Poetry 1.1 predates plugins, so it gets the
# index as a project source that is stripped from the written files afterwards.
#   usage: make_locks.sh /path/to/poetry-1.1 /path/to/poetry-1.8 /path/to/poetry-2.x
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
project() {  # $1: dir, $2: dev-table header
    mkdir -p "$1"
    cat > "$1/pyproject.toml" <<TOML
[tool.poetry]
name = "lockdemo"
version = "0.1.0"
description = ""
authors = ["imgaudit <dev@example.invalid>"]

[tool.poetry.dependencies]
python = ">=3.9"
six = "*"
idna = "*"
packaging = "*"

$2
pytest = "*"
TOML
}
lock() {  # $1: poetry bin dir, $2: name, $3: dev-table header
    project "$work/$2" "$3"
    (cd "$work/$2" && "$1/poetry" lock --no-interaction)
    mkdir -p "$here/$2"
    cp "$work/$2/pyproject.toml" "$work/$2/poetry.lock" "$here/$2/"
}
# Poetry 1.1: lock-version 1.1, `category = "dev"`, the old dev-dependencies table.
project "$work/poetry-1.1" "[tool.poetry.dev-dependencies]"
printf '\n[[tool.poetry.source]]\nname = "index"\nurl = "%s"\ndefault = true\n' "$POETRY_PYPI_MIRROR_URL" >> "$work/poetry-1.1/pyproject.toml"
(cd "$work/poetry-1.1" && "$1/poetry" lock --no-interaction)
mkdir -p "$here/poetry-1.1"
sed '/^\[\[tool.poetry.source\]\]/,$d' "$work/poetry-1.1/pyproject.toml" > "$here/poetry-1.1/pyproject.toml"
python3 - "$work/poetry-1.1/poetry.lock" "$here/poetry-1.1/poetry.lock" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'\n\[package\.source\]\n(?:[a-z]+ = .*\n)+', '\n', text)  # the index URL
open(sys.argv[2], "w").write(text)
PY
# Poetry 1.8: lock-version 2.0, no categories, no groups: only the graph tells.
lock "$2" poetry-1.8 "[tool.poetry.group.dev.dependencies]"
# Poetry 2.x: lock-version 2.1, `groups = [...]` and markers per group.
lock "$3" poetry-2 "[tool.poetry.group.dev.dependencies]"
rm -rf "$work"
