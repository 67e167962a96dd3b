"""The console's sessions and CSRF tokens (app/console/sessions.py) and its money text."""

from __future__ import annotations

from pydantic import SecretStr

from app.console.pages import money
from app.console.sessions import (
    SESSION_SECONDS,
    csrf_matches,
    open_session,
    read_session,
    token_matches,
)

TOKEN = SecretStr("a-token-long-enough-for-the-console")
NOW = 1_800_000_000.0


def test_the_token_is_compared_whole() -> None:
    assert token_matches(TOKEN, TOKEN.get_secret_value())
    assert not token_matches(TOKEN, TOKEN.get_secret_value()[:-1])
    assert not token_matches(TOKEN, "")
    assert not token_matches(TOKEN, "sk_test_" + "0" * 32)


def test_a_session_reads_back_until_it_expires() -> None:
    session = open_session(TOKEN, NOW)
    assert read_session(TOKEN, session.cookie, NOW + 60) == session
    assert read_session(TOKEN, session.cookie, NOW + SESSION_SECONDS) is None
    assert read_session(TOKEN, session.cookie, NOW - 60) is None  # issued in the future


def test_a_session_is_bound_to_its_token_and_its_bytes() -> None:
    session = open_session(TOKEN, NOW)
    issued, nonce, signature = session.cookie.split(".")
    assert read_session(SecretStr("another-token-long-enough-too"), session.cookie, NOW) is None
    assert read_session(TOKEN, f"{int(issued) + 1}.{nonce}.{signature}", NOW) is None
    assert read_session(TOKEN, f"{issued}.{nonce}x.{signature}", NOW) is None
    for broken in (None, "", "garbage", f"{issued}.{nonce}", "x.y.z"):
        assert read_session(TOKEN, broken, NOW) is None


def test_each_session_has_its_own_csrf_token() -> None:
    one, other = open_session(TOKEN, NOW), open_session(TOKEN, NOW)
    assert csrf_matches(one, one.csrf_token)
    assert not csrf_matches(one, other.csrf_token)
    assert not csrf_matches(one, None)
    assert not csrf_matches(one, "")


def test_money_is_shown_from_integer_centavos() -> None:
    assert money(1990, "BRL") == "19.90 BRL"
    assert money(5, "BRL") == "0.05 BRL"
    assert money(-100001, "BRL") == "-1000.01 BRL"
