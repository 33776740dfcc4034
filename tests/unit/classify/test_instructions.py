"""History `created_by` strings, as the classic builder and BuildKit write them, read as the
Dockerfile instruction they came from."""

from __future__ import annotations

import pytest

from imgaudit.classify.context import instruction, is_copy_step, recorded_build_arguments
from imgaudit.report import json as json_report
from tests.conftest import AuditSpec
from tests.support.imagespec import File, ImageSpec, Layer


@pytest.mark.parametrize(
    ("created_by", "expected"),
    [
        ("/bin/sh -c pip install poetry", "RUN pip install poetry"),
        ('/bin/sh -c #(nop)  CMD ["python3"]', 'CMD ["python3"]'),
        ("/bin/sh -c #(nop) COPY dir:0123 in /app ", "COPY dir:0123 in /app"),
        ("RUN /bin/sh -c pip install poetry # buildkit", "RUN pip install poetry"),
        ("COPY . . # buildkit", "COPY . ."),
        # Build arguments in scope prefix a RUN: `|N NAME=value ...` (classic builder, BuildKit)
        (
            "|1 POETRY_VERSION=1.8.5 /bin/sh -c pip install poetry==$POETRY_VERSION",
            "RUN pip install poetry==$POETRY_VERSION",
        ),
        ("|2 A=1 B= /bin/sh -c poetry install", "RUN poetry install"),
        ("RUN |2 A=1 B=two /bin/sh -c apt-get install -y gcc # buildkit", "RUN apt-get install -y gcc"),
        ("|1 A=1 python -m pip install x", "RUN python -m pip install x"),
        ("", ""),
        (None, ""),
    ],
)
def test_instruction(created_by: str | None, expected: str) -> None:
    assert instruction(created_by) == expected


def test_build_arguments_never_reach_the_instruction() -> None:
    # Their values may be URLs with credentials; the report shows instructions.
    assert "secret" not in instruction("|1 INDEX_URL=https://u:secret@host/simple /bin/sh -c pip install x")


def test_copy_steps() -> None:
    assert is_copy_step("COPY . . # buildkit")
    assert is_copy_step("/bin/sh -c #(nop) ADD file:abc in / ")
    assert not is_copy_step("|1 A=1 /bin/sh -c cp -r /src /app")


def test_credentials_in_urls_are_redacted() -> None:
    text = instruction("/bin/sh -c pip install --index-url https://ci:s3cret@pypi.example/simple x")
    assert text == "RUN pip install --index-url https://***@pypi.example/simple x"


def test_reports_never_show_url_credentials_from_history(audit_spec: AuditSpec) -> None:
    run = "|1 INDEX=https://ci:s3cret@pypi.example/simple /bin/sh -c pip install --index-url $INDEX x"
    report = audit_spec(ImageSpec(layers=[Layer([File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")], run)]))
    assert "s3cret" not in json_report.render(report)


def test_the_build_arguments_a_run_step_recorded() -> None:
    classic = "|2 ENVIRONMENT=production DEV=0 /bin/sh -c poetry install $(test ...)"
    buildkit = "RUN |1 ENVIRONMENT=production /bin/sh -c poetry install # buildkit"
    assert recorded_build_arguments(classic) == {"ENVIRONMENT": "production", "DEV": "0"}
    assert recorded_build_arguments(buildkit) == {"ENVIRONMENT": "production"}
    assert recorded_build_arguments("/bin/sh -c poetry install") == {}
    assert recorded_build_arguments(None) == {}
