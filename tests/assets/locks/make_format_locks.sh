#!/bin/sh
# Regenerates the uv, PDM, Pipenv and pip-tools lock fixtures with the real tools, in a scratch
# directory outside the repository. Every URL the tools write (the index, file URLs) becomes
# https://index.invalid/ before the files are committed: the readers never look at URLs.
#   usage: make_format_locks.sh /path/to/venv-with-uv-pdm-pipenv-pip-tools/bin
# The tools resolve against the index pip is configured with (UV_DEFAULT_INDEX,
# PDM_PYPI_URL and PIPENV_PYPI_MIRROR may point them elsewhere; never commit those values).
set -eu
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
scrub() {  # $1: file written by a tool -> $2: committed copy, with URLs replaced
    sed -E 's#https?://[^"'"'"' ]+#https://index.invalid/#g' "$1" > "$2"
}
pep621() {  # $1: dir; a project with main, an extra, a dev group and a lint group
    mkdir -p "$1"
    cat > "$1/pyproject.toml" <<TOML
[project]
name = "lockdemo"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["click", "idna"]

[project.optional-dependencies]
socks = ["pysocks"]

[dependency-groups]
dev = ["pytest", {include-group = "lint"}]
lint = ["mypy"]
TOML
}
# uv: uv.lock (version 1), groups under [package.dev-dependencies], extras under
# [package.optional-dependencies].
pep621 "$work/uv"
(cd "$work/uv" && "$bin/uv" lock --quiet)
mkdir -p "$here/uv"
cp "$work/uv/pyproject.toml" "$here/uv/"
scrub "$work/uv/uv.lock" "$here/uv/uv.lock"
# PDM: pdm.lock (lock_version 4.x), groups per package.
pep621 "$work/pdm"
(cd "$work/pdm" && "$bin/pdm" lock --quiet -G :all)
mkdir -p "$here/pdm"
cp "$work/pdm/pyproject.toml" "$here/pdm/"
scrub "$work/pdm/pdm.lock" "$here/pdm/pdm.lock"
# Pipenv: Pipfile.lock (pipfile-spec 6), `default` and `develop`.
mkdir -p "$work/pipenv"
cat > "$work/pipenv/Pipfile" <<TOML
[packages]
click = "*"
idna = "*"

[dev-packages]
pytest = "*"
mypy = "*"
TOML
(cd "$work/pipenv" && PIPENV_VENV_IN_PROJECT=1 "$bin/pipenv" lock >/dev/null 2>&1)
mkdir -p "$here/pipenv"
cp "$work/pipenv/Pipfile" "$here/pipenv/"
scrub "$work/pipenv/Pipfile.lock" "$here/pipenv/Pipfile.lock"
# pip-tools: requirements.in -> .txt, dev.in constrained by the main .txt (-c), and a
# test file that includes the main one (-r).
mkdir -p "$work/pip-tools"
printf 'click\nidna\n' > "$work/pip-tools/requirements.in"
printf -- '-c requirements.txt\npytest\nmypy\n' > "$work/pip-tools/requirements-dev.in"
(cd "$work/pip-tools" && "$bin/pip-compile" --quiet --no-emit-index-url --no-emit-find-links --strip-extras requirements.in \
    && "$bin/pip-compile" --quiet --no-emit-index-url --no-emit-find-links --strip-extras requirements-dev.in)
mkdir -p "$here/pip-tools"
for f in requirements.in requirements.txt requirements-dev.in requirements-dev.txt; do
    scrub "$work/pip-tools/$f" "$here/pip-tools/$f"
done
rm -rf "$work"
