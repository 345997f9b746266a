"""Credentials the access log's URL parameters are not the only carriers of: a reset link's
path, a JWT, an API key, a traceback. None reaches a line of the log."""

from __future__ import annotations

import io
import logging

from hearth.logs import configure_logging, redact

RESET = "Zk9mXq2vP0sLr8TnW4yB6cDe"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
API_KEY = "hk_0123456789ab_Qm9ndXMtc2VjcmV0LXBhcnQtb2YtdGhlLWtleQ"


def test_a_reset_links_token_is_redacted_from_the_request_line_and_the_referer() -> None:
    line = (f'127.0.0.1 "GET /password/reset/{RESET} HTTP/1.1" 200 512 '
            f'"http://localhost:4000/password/reset/{RESET}?x=1" "Mozilla/5.0"')

    clean = redact(line)

    assert RESET not in clean
    assert "GET /password/reset/[REDACTED] HTTP/1.1" in clean


def test_jwts_and_api_key_secrets_are_redacted_wherever_they_are() -> None:
    clean = redact(f"refused {JWT} and key {API_KEY} from 10.0.0.1")

    assert JWT not in clean and "Qm9ndXMt" not in clean
    assert "hk_0123456789ab_" in clean  # the prefix names the key; it is not its secret
    assert "from 10.0.0.1" in clean


def test_a_traceback_in_the_log_carries_no_credential() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    try:
        configure_logging("info")
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        try:
            raise ValueError(f"bad link /password/reset/{RESET}?token={RESET}")
        except ValueError:
            logging.getLogger("test").exception("request failed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)

    text = stream.getvalue()
    assert "Traceback" in text and "request failed" in text
    assert RESET not in text


def test_a_presigned_s3_urls_signature_and_credential_are_redacted() -> None:
    url = ("https://s3.example.com/bucket/photos/1.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIDEXAMPLE%2F20261202%2Fus-east-1%2Fs3%2Faws4_request"
           "&X-Amz-Expires=3600&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c4")

    clean = redact(f"redirected to {url}")

    assert "AKIDEXAMPLE" not in clean and "5d672d79" not in clean
    assert "X-Amz-Expires=3600" in clean  # not a secret


def test_an_oauth_callbacks_code_and_state_and_a_token_requests_secrets_are_redacted() -> None:
    callback = ('127.0.0.1 "GET /auth/google/callback?code=4%2F0AbC-code&state=St4te-Value'
                ' HTTP/1.1" 303 0 "-" "Mozilla/5.0"')
    body = ("grant_type=authorization_code&code=4%2F0AbC-code&redirect_uri=http%3A%2F%2Fx"
            "&code_verifier=Verif1er-Value&client_id=hearth&client_secret=S3cret-Value")

    clean = redact(f"{callback} {body}") + redact(body)

    for secret in ("0AbC-code", "St4te-Value", "Verif1er-Value", "S3cret-Value"):
        assert secret not in clean
    assert "client_id=hearth" in clean and "GET /auth/google/callback?code=[REDACTED]" in clean
