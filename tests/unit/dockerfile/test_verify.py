"""What `fix --verify` runs and what it counts as a changed start."""

from __future__ import annotations

from imgaudit.dockerfile.verify import Verification, smoke_command, start_problems


def test_the_smoke_command_is_the_entrypoint_with_help_or_the_users_command() -> None:
    assert smoke_command({"Entrypoint": ["greet"], "Cmd": ["x"]}, None) == (None, ["--help"])
    assert smoke_command({"Cmd": ["python", "-m", "app"]}, None) == (None, ["python", "-m", "app", "--help"])
    assert smoke_command({"Cmd": ["serve"]}, "python -c 'import app'") == (
        ["/bin/sh", "-c"],
        ["python -c 'import app'"],
    )


def test_dropping_poetry_run_is_not_a_change_but_a_lost_user_is() -> None:
    original = {"Entrypoint": ["poetry", "run", "greet"], "User": "greeter"}
    assert start_problems(original, {"Entrypoint": ["greet"], "User": "greeter"}) == []
    assert start_problems(original, {"Entrypoint": ["greet"]}) == ["User changed: 'greeter' -> None"]


def test_a_failed_verification_is_not_ok_and_says_why() -> None:
    failed = Verification("t", 100, 80, 90, ("x", "--help"), 1, "boom", ("the smoke command exited 1: boom",))
    assert not failed.ok
    lines = failed.lines(lambda n: f"{n} B")
    assert "  fixed image (real)  90 B  (10 B saved, 10.0%)" in lines
    assert "  FAILED: the smoke command exited 1: boom" in lines
