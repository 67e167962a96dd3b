"""`pixwave webhooks verify`, as a merchant testing a receiver would run it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from app.domain.webhooks import signature_header

SECRET = "whsec_0123"
BODY = b'{"id":"evt_1","type":"refund.succeeded"}'
SIGNED_AT = 1_763_700_000


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["webhooks", "verify", *args], input=stdin)
    return result.exit_code, result.output


def test_a_good_signature_from_a_file(tmp_path: Path) -> None:
    payload = tmp_path / "body.json"
    payload.write_bytes(BODY)
    header = signature_header([SECRET], SIGNED_AT, BODY)
    code, output = run(
        "--secret", SECRET, "--header", header, "--payload", str(payload), "--at", "1763700010"
    )
    assert code == 0, output
    assert "valid: signed at 1763700000, 10 s ago" in output


def test_a_tampered_body_from_stdin_fails() -> None:
    header = signature_header([SECRET], SIGNED_AT, BODY)
    code, output = run(
        "--secret", SECRET, "--header", header, "--at", str(SIGNED_AT), stdin=BODY + b"x"
    )
    assert code == 1
    assert "invalid: No v1 signature matches" in output


def test_an_old_timestamp_fails_unless_the_tolerance_allows_it() -> None:
    header = signature_header([SECRET], SIGNED_AT, BODY)
    late = str(SIGNED_AT + 301)
    assert run("--secret", SECRET, "--header", header, "--at", late, stdin=BODY)[0] == 1
    args = ("--secret", SECRET, "--header", header, "--at", late, "--tolerance", "400")
    assert run(*args, stdin=BODY)[0] == 0


def test_a_missing_payload_file_is_exit_2(tmp_path: Path) -> None:
    code, output = run(
        "--secret", SECRET, "--header", "t=1,v1=00", "--payload", str(tmp_path / "none")
    )
    assert code == 2
    assert "cannot read" in output
