#!/bin/sh
# Starts the web app; `--help` checks that the code and its dependencies load.
set -e
if [ "$1" = "--help" ]; then
    echo "usage: docker-entrypoint.sh [serve]"
    exec python -c "import web.app, idna; print(idna.encode('bücher.example').decode())"
fi
exec python -m web.app
