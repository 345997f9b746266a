"""The node's log: one format, credentials never written, and no traceback for a bad request.

:func:`configure_logging` is what ``hearth`` calls once at start. It installs two filters:

- :class:`Redact`, on the handler, so it sees every line whatever logger wrote it: the
  values of credential parameters in URLs (``token=``, ``access_token=``, ``api_key=`` ...,
  as in the access log's request line and ``Referer``), of ``Bearer`` / ``Basic``
  credentials, the token of a ``/password/reset/<token>`` link, JWTs and the secret part of
  API keys become ``[REDACTED]``, in tracebacks too (the handler's formatter redacts the
  whole line);
- :class:`BadRequests`, on aiohttp's server logger: a request that does not parse as HTTP
  (an attacker's or a broken client's) is one WARNING line saying who and why, not an ERROR
  with a traceback.
"""

from __future__ import annotations

import logging
import re
import sys

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["BadRequests", "Redact", "configure_logging"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

CREDENTIAL_PARAMS = ("token", "access_token", "refresh_token", "id_token", "api_key",
                     "apikey", "key", "password", "secret", "code", "authToken", "csrf_token",
                     "_csrf_token",
                     # OAuth (contexts.oauth): a callback's state, a token request's body.
                     "state", "client_secret", "code_verifier", "nonce", "assertion",
                     # A presigned S3 URL (hearth.storage) is a credential until it expires.
                     "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token")
_NAMES = "|".join(map(re.escape, CREDENTIAL_PARAMS))
# After ?, & or ;, or at the start of a form body ("code=...&state=..."); not inside a word.
_PARAM = re.compile(rf"(?i)((?:[?&;]|(?<![\w.-]))(?:{_NAMES})=)[^&\s\"'#]*")
_SCHEME = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+")
# A password-reset link carries its token as the last segment of the path.
_RESET_PATH = re.compile(r"(/password/reset/)[^/?#\s\"']+")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
# An API key reads hk_<prefix>_<secret>; the prefix names the key and is not secret.
_API_KEY = re.compile(r"\b(hk_[0-9a-f]{12}_)[\w-]+")
REDACTED = "[REDACTED]"


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``[REDACTED]``."""
    if "=" in text:
        text = _PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    if "Bearer" in text or "Basic" in text or "bearer" in text or "basic" in text:
        text = _SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if "/password/reset/" in text:
        text = _RESET_PATH.sub(lambda m: m.group(1) + REDACTED, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "hk_" in text:
        text = _API_KEY.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class _RedactingFormatter(logging.Formatter):
    """Redacts the whole line, so a traceback's text is redacted too (a filter sees only the
    message)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class Redact(logging.Filter):
    """Rewrites each record's message with its credentials redacted (see :func:`redact`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class BadRequests(logging.Filter):
    """On ``aiohttp.server``: an HTTP request that did not parse becomes one brief WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "bad HTTP request from %s: %.200s"
            record.args = (peer, exc.message)
            record.exc_info = record.exc_text = None
        return True


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``, with both filters in place."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter(FORMAT))
    handler.addFilter(Redact())
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("aiohttp.server").addFilter(BadRequests())
    # asyncpg's pool logs a traceback each time it fails to reopen a connection while the
    # server is down; the Repo reports the outage, and its end, once each (store.repo).
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
