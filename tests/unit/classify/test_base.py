"""Where the base image ends."""

from __future__ import annotations

import pytest

from imgaudit.classify.base import base_from_diff_ids, base_from_history, decide_base
from imgaudit.errors import UsageError
from imgaudit.model import BaseMethod, HistoryEntry

BUILDKIT_PYTHON_SLIM = [
    ("# debian.sh --arch 'amd64' out/ 'bookworm' '@1700000000'", False),
    ("ENV PATH=/usr/local/bin:/usr/bin", True),
    ("RUN /bin/sh -c set -eux; apt-get update # buildkit", False),
    ("ENV PYTHON_VERSION=3.11.9", True),
    ("RUN /bin/sh -c set -eux; wget python.tar.xz # buildkit", False),
    ("RUN /bin/sh -c set -eux; for src in idle3 pydoc3; do ln -svT ...; done # buildkit", False),
    ('CMD ["python3"]', True),
    ("WORKDIR /app", True),
    ("RUN /bin/sh -c pip install poetry # buildkit", False),
    ("COPY . . # buildkit", False),
    ("RUN /bin/sh -c poetry install # buildkit", False),
    ('CMD ["python", "app.py"]', True),
]


def history(steps: list[tuple[str, bool]]) -> list[HistoryEntry]:
    return [HistoryEntry(created_by, empty) for created_by, empty in steps]


def test_the_last_cmd_that_layers_follow_ends_the_base() -> None:
    assert base_from_history(history(BUILDKIT_PYTHON_SLIM)) == 4


def test_classic_builder_nop_instructions_are_recognised() -> None:
    steps = [
        ("/bin/sh -c #(nop) ADD file:abc in / ", False),
        ('/bin/sh -c #(nop)  CMD ["bash"]', True),
        ("/bin/sh -c apt-get install -y gcc", False),
        ('/bin/sh -c #(nop)  ENTRYPOINT ["app"]', True),
    ]
    assert base_from_history(history(steps)) == 1


def test_no_runtime_instruction_means_no_boundary_from_history() -> None:
    assert base_from_history(history([("ADD rootfs /", False), ("RUN make", False)])) is None
    decided = decide_base(2, history([("ADD rootfs /", False), ("RUN make", False)]), {})
    assert (decided.method, decided.layer_count) == (BaseMethod.FIRST_LAYER, 1)


def test_annotations_name_the_base_and_a_resolved_annotation_decides() -> None:
    annotations = {
        "org.opencontainers.image.base.name": "docker.io/library/python:3.11-slim",
        "org.opencontainers.image.base.digest": "sha256:" + "a" * 64,
    }
    decided = decide_base(7, history(BUILDKIT_PYTHON_SLIM), annotations, resolved_annotation_layers=4)
    assert (decided.method, decided.layer_count, decided.name) == (
        BaseMethod.ANNOTATION,
        4,
        "docker.io/library/python:3.11-slim",
    )
    unresolved = decide_base(7, history(BUILDKIT_PYTHON_SLIM), annotations)
    assert (unresolved.method, unresolved.name) == (BaseMethod.HISTORY, "docker.io/library/python:3.11-slim")


def test_the_base_flag_must_be_a_prefix_of_the_image() -> None:
    image = ["sha256:1", "sha256:2", "sha256:3"]
    assert base_from_diff_ids(image, ["sha256:1", "sha256:2"], "base").layer_count == 2
    with pytest.raises(UsageError, match="not built on other"):
        base_from_diff_ids(image, ["sha256:9"], "other")
