# imgaudit's own image, written the way imgaudit recommends (README, "The reference
# practices"): a build stage with Poetry pinned that installs the main dependencies only,
# dependencies before code, and deletes Poetry's cache in the same RUN; a runtime stage on the
# same slim base that copies the project's venv and package, with no Poetry, no pip cache and
# no dev dependencies. Few instructions: each one is a layer to store and, on some storage
# drivers, a copy to make. CI builds it and audits it against imgaudit-image.toml
# (tests/integration/test_own_image.py).
#
#   docker build -t imgaudit .
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock imgaudit myimage:latest
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache
RUN pip install poetry==2.5.1
WORKDIR /app
COPY pyproject.toml poetry.lock README.md ./
RUN poetry install --only main --no-root && rm -rf "$POETRY_CACHE_DIR"
COPY imgaudit ./imgaudit
RUN poetry install --only main && rm -rf "$POETRY_CACHE_DIR"

FROM ${PYTHON_IMAGE} AS runtime
ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"
COPY --from=builder /app /app
ENTRYPOINT ["imgaudit"]
