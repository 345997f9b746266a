"""Phoenix.Token semantics (protocol.md §3): sign/verify, encrypt/decrypt."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from channels import token
from channels.token import TokenError

SECRET = b"a secret key base that is long enough"

Seal = Callable[..., str]
Open = Callable[..., Any]
PAIRS = [pytest.param(token.sign, token.verify, id="signed"),
         pytest.param(token.encrypt, token.decrypt, id="encrypted")]


def reason(opener: Open, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(TokenError) as failed:
        opener(*args, **kwargs)
    return failed.value.reason


@pytest.mark.parametrize(("seal", "opener"), PAIRS)
def test_data_comes_back(seal: Seal, opener: Open) -> None:
    data = {"user_id": 42, "roles": ["admin"], "name": "Ann ✓"}

    assert opener(SECRET, "user auth", seal(SECRET, "user auth", data)) == data


@pytest.mark.parametrize(("seal", "opener"), PAIRS)
def test_no_token_is_missing(seal: Seal, opener: Open) -> None:
    assert reason(opener, SECRET, "user auth", None) == "missing"
    assert reason(opener, SECRET, "user auth", "") == "missing"


@pytest.mark.parametrize(("seal", "opener"), PAIRS)
def test_garbage_and_tampering_are_invalid(seal: Seal, opener: Open) -> None:
    good = seal(SECRET, "user auth", 1)
    head, body, tail = good.split(".")
    flipped = tail[:-2] + ("A" if tail[-2] != "A" else "B") + tail[-1]

    assert reason(opener, SECRET, "user auth", "not a token") == "invalid"
    assert reason(opener, SECRET, "user auth", f"{head}.{body}.{flipped}") == "invalid"
    assert reason(opener, SECRET, "user auth", "é.é.é") == "invalid"
    assert reason(opener, b"another secret key base, as long", "user auth", good) == "invalid"


@pytest.mark.parametrize(("seal", "opener"), PAIRS)
def test_the_salt_is_a_namespace(seal: Seal, opener: Open) -> None:
    made = seal(SECRET, "user auth", 1)

    assert reason(opener, SECRET, "password reset", made) == "invalid"


def test_a_signed_token_is_not_an_encrypted_one_and_back() -> None:
    assert reason(token.decrypt, SECRET, "s", token.sign(SECRET, "s", 1)) == "invalid"
    assert reason(token.verify, SECRET, "s", token.encrypt(SECRET, "s", 1)) == "invalid"


def test_signed_data_is_readable_and_encrypted_data_is_not() -> None:
    assert b"visible" in token._unb64(token.sign(SECRET, "s", "visible").split(".")[1].encode())
    assert "visible" not in token.encrypt(SECRET, "s", "visible")


@pytest.mark.parametrize(("seal", "opener"), PAIRS)
def test_expiry_follows_max_age(seal: Seal, opener: Open) -> None:
    hour_ago = time.time() - 3600
    old = seal(SECRET, "s", 1, signed_at=hour_ago)

    assert opener(SECRET, "s", old) == 1  # the default max_age is a day
    assert reason(opener, SECRET, "s", old, max_age=60) == "expired"
    assert opener(SECRET, "s", old, max_age=7200) == 1
    assert reason(opener, SECRET, "s", seal(SECRET, "s", 1, signed_at=hour_ago,
                                             max_age=60)) == "expired"
    assert reason(opener, SECRET, "s", seal(SECRET, "s", 1), max_age=0) == "expired"
    assert opener(SECRET, "s", seal(SECRET, "s", 1, signed_at=0), max_age=float("inf")) == 1


@pytest.mark.parametrize(("seal", "opener"), PAIRS)
def test_a_token_signed_in_the_future_is_invalid(seal: Seal, opener: Open) -> None:
    future = seal(SECRET, "s", 1, signed_at=time.time() + 3600)

    assert reason(opener, SECRET, "s", future) == "invalid"


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        token.sign(b"short", "s", 1)
