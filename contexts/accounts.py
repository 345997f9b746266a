"""Accounts: registering users, checking passwords, roles, and password resets.

``Accounts(config.auth)`` is the whole surface; the web layer finds one under
``web.keys.ACCOUNTS``. Every method is a coroutine. Field errors come back all at once as
:class:`ValidationError` (``errors["password"] == ["should be at least 12 characters"]``), a
bad reset link as :class:`InvalidToken`.

The rules:

- an email is ``local@domain.tld`` with no spaces, at most 254 characters, and unique
  ignoring case (``users.email_norm`` holds the lower-cased form);
- a password has from 12 to 128 characters (:data:`MIN_PASSWORD`, :data:`MAX_PASSWORD`),
  anything allowed; a display name from 1 to 80 after trimming spaces, no control characters;
- a role is one of ``contexts.roles.ROLES``.

Passwords are stored as bcrypt hashes of cost ``auth.bcrypt_cost``. bcrypt reads at most 72
bytes, so the password goes through HMAC-SHA256 first (base64, so no NUL byte reaches bcrypt)
and every character of a long password counts. Hashing and checking run on the dirty pool
(:func:`otp.run_dirty`): at cost 12 one takes about a quarter of a second, and on the event
loop it would stall every connection of the node.

Signing up, logging in and asking for a reset never tell a caller whether an email is
registered: ``sign_up`` answers a taken address as it answers a new one and mails the
account's owner instead (as phx.gen.auth does), after the same bcrypt work and as many trips
to the Repo; ``authenticate`` checks an unknown email's password against a dummy hash of the
same cost; and ``request_password_reset`` answers the same way, after as many trips to the
Repo, for every address. (``register``, for operators, does say "has already been taken".)
A reset token is 32 random bytes, sent in the mail (the outbox keeps the mail until it is
sent); ``password_resets`` keeps only its SHA-256.

An account made by signing in with another site (``contexts.identities``) has no password:
its hash is :data:`NO_PASSWORD`, which no password matches, and logging in with a password
answers it as a wrong password, after the same bcrypt work. A password reset gives it one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bcrypt

import otp
from actors.mailer import NAME as MAILER
from actors.mailer import Mailer
from actors.rate_limiter import RateLimiter
from hearth.config import AuthConfig
from store import NAME as REPO
from store import Connection, IntegrityError, Repo, Row

from .roles import ROLES, is_role
from .tokens import revoke_families
from .validation import ValidationError

__all__ = [
    "MAX_DISPLAY_NAME",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "NO_PASSWORD",
    "Accounts",
    "InvalidToken",
    "TooManyAttempts",
    "User",
    "ValidationError",
    "has_password",
    "insert_user",
    "is_valid_email",
    "normalize_email",
]

log = logging.getLogger(__name__)

MIN_PASSWORD = 12
MAX_PASSWORD = 128
MAX_DISPLAY_NAME = 80
MAX_EMAIL = 254

TAKEN = "has already been taken"

_EMAIL = re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]+")
_USER_COLUMNS = "id, email, role, display_name, created_at, updated_at"
_PREHASH_KEY = b"hearth.accounts.password"
# A real bcrypt hash (of a password nobody has) with its cost field cut off. Checking a
# password against "$2b$<cost>$" + this takes as long as against a user's hash of that cost,
# without ever computing one on the loop or making the first unknown login slower.
_DUMMY_TAIL = "ymNF6TzLJJUyKNrakk23zeyGLJ6NZ5H7A1sZLj9/a/a8tDnmWx0H."

NO_PASSWORD = "!no-password"
"""The ``password_hash`` of an account without a password: not a bcrypt hash, so nothing
verifies against it."""


class TooManyAttempts(Exception):
    """Too many attempts from this account or address; try again in ``retry_after``
    seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many attempts; try again in {math.ceil(retry_after)} seconds")
        self.retry_after = retry_after


LOGIN_ACCOUNT = "login.account"
LOGIN_ADDRESS = "login.address"
RESET_ACCOUNT = "reset.account"
RESET_ADDRESS = "reset.address"
SIGN_UP_ACCOUNT = "sign_up.account"


async def _throttle(counters: tuple[tuple[str, str, int], ...], window: float) -> None:
    """Take this attempt's slot in every counter, across the cluster when there is one, or
    raise :class:`TooManyAttempts` (and count it in none) if any is full."""
    waits = [d.reset_after for d in await RateLimiter.shared_acquire(counters, window)
             if not d.allowed]
    if waits:
        raise TooManyAttempts(max(waits))


class InvalidToken(Exception):
    """The password reset token is unknown, already used or expired: ask for a new link."""


@dataclass(frozen=True)
class User:
    """A user as callers see it: never the password hash."""

    id: int
    email: str
    role: str
    display_name: str
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        """The user as a JSON object, for the API."""
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def normalize_email(email: str) -> str:
    """The form of ``email`` that uniqueness and lookups use."""
    return email.strip().lower()


def is_valid_email(email: str) -> bool:
    """Whether ``email`` passes the rules an account's email must (see the module's)."""
    return not _email_errors(email)


class Accounts:
    """The accounts context. ``repo``, ``mailer`` and ``pool`` name the processes it uses
    (the node's by default); ``clock`` gives the time in seconds (tests pass their own)."""

    def __init__(
        self,
        auth: AuthConfig,
        *,
        repo: Any = REPO,
        mailer: Any = MAILER,
        pool: str = "dirty",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth = auth
        self.repo = repo
        self.mailer = mailer
        self.pool = pool
        self.clock = clock

    # -- users -------------------------------------------------------------------------------

    async def register(
        self,
        email: str,
        password: str,
        display_name: str,
        role: str = "user",
        *,
        password_hash: str | None = None,
    ) -> User:
        """Create a user; raises :class:`ValidationError` with every bad field.
        ``password_hash``, when given, is ``password``'s bcrypt hash made already (by
        :meth:`hash_password`: the test factories hash one password once per run)."""
        email, display_name = email.strip(), display_name.strip()
        email_errors = _email_errors(email)
        if not email_errors and await self._user_row(email) is not None:
            email_errors = [TAKEN]
        errors: dict[str, list[str]] = {}
        _add(errors, "email", email_errors)
        _add(errors, "password", _password_errors(password))
        _add(errors, "display_name", _display_name_errors(display_name))
        _add(errors, "role", _role_errors(role))
        if errors:
            raise ValidationError(errors)
        if password_hash is None:
            password_hash = await self.hash_password(password)
        now = self.clock()
        try:
            return await Repo.transaction(
                lambda conn: insert_user(
                    conn,
                    email=email,
                    password_hash=password_hash,
                    display_name=display_name,
                    role=role,
                    now=now,
                ),
                repo=self.repo,
            )
        except IntegrityError:
            # Someone registered the same address between the check and the insert.
            raise ValidationError({"email": [TAKEN]}) from None

    async def sign_up(
        self, email: str, password: str, display_name: str, base_url: str
    ) -> None:
        """Register from a public form without telling whether ``email`` has an account:
        raises :class:`ValidationError` for bad fields (never "has already been taken"),
        else returns the same for a new address (the account is made, and welcomed by mail)
        and for a taken one (its owner is mailed that someone tried, with links to log in
        and to reset the password, under ``base_url``). Nobody is signed in: the caller
        sends both to the login page.

        Both take a bcrypt hash, a write and a mail. At most ``auth.login_limit_per_account``
        mails per address go out per ``auth.login_limit_window``, so the form cannot flood
        an inbox; the answer stays the same."""
        email, display_name = email.strip(), display_name.strip()
        errors: dict[str, list[str]] = {}
        _add(errors, "email", _email_errors(email))
        _add(errors, "password", _password_errors(password))
        _add(errors, "display_name", _display_name_errors(display_name))
        if errors:
            raise ValidationError(errors)
        password_hash = await self.hash_password(password)
        now = self.clock()
        try:
            user = await Repo.transaction(
                lambda conn: insert_user(conn, email=email, password_hash=password_hash,
                                         display_name=display_name, role="user", now=now),
                repo=self.repo,
            )
        except IntegrityError:
            user = None
        auth = self.auth
        flooded = not (await RateLimiter.shared_hit(SIGN_UP_ACCOUNT, normalize_email(email),
                                      auth.login_limit_per_account,
                                      auth.login_limit_window)).allowed
        if user is not None:
            to, (subject, body) = user.email, _welcome_mail(user.display_name, base_url)
        else:
            row = await self._user_row(email)
            if row is None:  # deleted since the insert failed: nobody to tell
                return
            to, (subject, body) = row["email"], _taken_mail(row["display_name"], base_url)
        if not flooded:
            await self._mail_quietly(to, subject, body)

    async def _mail_quietly(self, to: str, subject: str, body: str) -> None:
        """Mail from a form that answers the same whether the address has an account: a
        delivery that fails (the mail server down) is logged, not raised, or the form would
        answer differently for the addresses that have one."""
        try:
            await Mailer.deliver(to, subject, body, mailer=self.mailer)
        except otp.ProcessExited as e:
            log.error("mail to %s not sent: %r (%s)", to, subject, e)

    async def authenticate(self, email: str, password: str) -> User | None:
        """The user whose email and password these are, else ``None``; as slow for an
        unknown email as for a wrong password."""
        row = await self._user_row(email, "password_hash, ")
        if row is None or not has_password(row["password_hash"]):
            dummy = f"$2b${self.auth.bcrypt_cost:02d}${_DUMMY_TAIL}"
            await otp.run_dirty(_check_password, password, dummy, pool=self.pool)
            return None
        if await otp.run_dirty(_check_password, password, row["password_hash"], pool=self.pool):
            return _user(row)
        return None

    async def login(self, email: str, password: str, address: str) -> User | None:
        """:meth:`authenticate`, throttled per account and per client ``address``
        (``auth.login_limit_*``); once either is full the attempt is refused with
        :class:`TooManyAttempts` without any bcrypt time spent. Browser and API logins share
        the counts.

        Each attempt takes its slot in both counts before its password is checked, so
        attempts arriving together cannot all pass the check: at most the limit's number of
        passwords are checked per window, and the right one sent after them is refused
        like the rest. An attempt refused at one count takes no slot in the other (a
        guesser locked out at their address does not lock the account they guess at). A
        right password gives its slots back: the account's count starts again, and the
        address keeps only its failures."""
        auth = self.auth
        account = normalize_email(email)
        counters = (
            (LOGIN_ACCOUNT, account, auth.login_limit_per_account),
            (LOGIN_ADDRESS, address, auth.login_limit_per_address),
        )
        await _throttle(counters, auth.login_limit_window)
        try:
            user = await self.authenticate(email, password)
        except Exception:
            # Not checked (the Repo or the pool was down): not a guess. A cancelled attempt
            # keeps its slot: its check may be running still, and leaving early must not
            # buy a guesser more checks.
            await RateLimiter.shared_give_back(LOGIN_ACCOUNT, account)
            await RateLimiter.shared_give_back(LOGIN_ADDRESS, address)
            raise
        if user is not None:
            await RateLimiter.shared_reset(LOGIN_ACCOUNT, account)
            await RateLimiter.shared_give_back(LOGIN_ADDRESS, address)
        return user

    async def hash_password(self, password: str) -> str:
        """The bcrypt hash to store for ``password``, computed on the dirty pool."""
        cost = self.auth.bcrypt_cost
        return await otp.run_dirty(_hash_password, password, cost, pool=self.pool)

    async def get_user(self, user_id: int) -> User | None:
        """The user with this id, or ``None``."""
        row = await Repo.fetch_one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,), repo=self.repo
        )
        return _user(row) if row is not None else None

    async def get_user_by_email(self, email: str) -> User | None:
        """The user with this email (in any case), or ``None``."""
        row = await self._user_row(email)
        return _user(row) if row is not None else None

    async def list_users(self) -> list[User]:
        """Every user, oldest first."""
        rows = await Repo.fetch_all(
            f"SELECT {_USER_COLUMNS} FROM users ORDER BY id", repo=self.repo
        )
        return [_user(row) for row in rows]

    async def set_role(self, email: str, role: str) -> User:
        """Give the user with this email ``role``; raises :class:`ValidationError` for an
        unknown role or email."""
        errors = _role_errors(role)
        if errors:
            raise ValidationError({"role": errors})
        now = self.clock()
        result = await Repo.execute(
            "UPDATE users SET role = ?, updated_at = ? WHERE email_norm = ?",
            (role, now, normalize_email(email)),
            repo=self.repo,
        )
        user = await self.get_user_by_email(email) if result.rowcount else None
        if user is None:
            raise ValidationError({"email": ["does not belong to any user"]})
        return user

    async def _user_row(self, email: str, extra: str = "") -> Row | None:
        return await Repo.fetch_one(
            f"SELECT {extra}{_USER_COLUMNS} FROM users WHERE email_norm = ?",
            (normalize_email(email),),
            repo=self.repo,
        )

    # -- password resets ---------------------------------------------------------------------

    async def request_password_reset(
        self, email: str, reset_url_base: str, address: str | None = None
    ) -> None:
        """Mail a single-use link ``reset_url_base + token`` to the user with this email,
        valid for ``auth.reset_token_ttl`` seconds. For an unknown email nothing is sent, and
        the caller sees the same: no error, as many trips to the Repo, about the same time.

        Requests count per client ``address`` and per email like logins do: past the
        address limit :class:`TooManyAttempts` is raised; past the per-email limit the answer
        is the same as ever but no more mail goes out, so nobody can flood an inbox."""
        auth = self.auth
        if address is not None:
            await _throttle(((RESET_ADDRESS, address, auth.login_limit_per_address),),
                      auth.login_limit_window)
        flooded = not (await RateLimiter.shared_hit(RESET_ACCOUNT, normalize_email(email),
                                      auth.login_limit_per_account,
                                      auth.login_limit_window)).allowed
        row = None if flooded else await self._user_row(email)
        token = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        token_hash = _token_hash(token)
        now = self.clock()
        user_id = row["id"] if row is not None else None
        ttl = self.auth.reset_token_ttl

        async def store(conn: Connection) -> None:
            # Both branches prune the expired tokens, so both do a write.
            await conn.execute("DELETE FROM password_resets WHERE expires_at <= ?", (now,))
            if user_id is not None:
                await conn.execute(
                    "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (token_hash, user_id, now, now + ttl),
                )

        await Repo.transaction(store, repo=self.repo)
        name = row["display_name"] if row is not None else ""
        subject, body = _reset_mail(name, reset_url_base + token, ttl)
        if row is not None:
            await self._mail_quietly(row["email"], subject, body)
        else:
            # A trip to the Repo like the mail's own, so this answer takes about as long.
            await Repo.transaction(_no_mail, repo=self.repo)

    async def reset_password(self, token: str, new_password: str) -> User:
        """Set a new password with a token from a reset mail, and sign the user out
        everywhere: browser sessions end and API token families are revoked. Raises
        :class:`InvalidToken`, then :class:`ValidationError` for a bad password."""
        token_hash = _token_hash(token) if isinstance(token, str) and len(token) < 128 else ""
        # Check before hashing: a stranger with random tokens must not buy bcrypt time.
        found = await Repo.fetch_one(
            "SELECT token_hash, expires_at, used_at FROM password_resets WHERE token_hash = ?",
            (token_hash,),
            repo=self.repo,
        )
        if not _usable(found, token_hash, self.clock()):
            raise InvalidToken("the reset link is unknown, used or expired")
        errors = _password_errors(new_password)
        if errors:
            raise ValidationError({"password": errors})
        password_hash = await self.hash_password(new_password)

        async def consume(conn: Connection) -> User:
            now = self.clock()
            # Locked from the read on: the same link used twice at once (two nodes of one
            # PostgreSQL database) changes the password once; the other finds it used.
            reset = await conn.fetch_one(
                "SELECT token_hash, user_id, expires_at, used_at FROM password_resets"
                " WHERE token_hash = ? FOR UPDATE",
                (token_hash,),
            )
            if reset is None or not _usable(reset, token_hash, now):
                raise InvalidToken("the reset link is unknown, used or expired")
            user_id = reset["user_id"]
            # Every outstanding link of this user dies with the one used.
            await conn.execute(
                "UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
                (now, user_id),
            )
            await conn.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                (password_hash, now, user_id),
            )
            await conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            await revoke_families(conn, user_id, now)
            user = await conn.fetch_one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?",
                                        (user_id,))
            assert user is not None  # the reset row references it
            return _user(user)

        return await Repo.transaction(consume, repo=self.repo)


async def insert_user(
    conn: Connection,
    *,
    email: str,
    password_hash: str,
    display_name: str,
    role: str,
    now: float,
) -> User:
    """Insert a validated user inside a ``Repo.transaction``; raises
    :class:`store.IntegrityError` if the email is taken."""
    row = await conn.fetch_one(
        "INSERT INTO users (email, email_norm, password_hash, role, display_name, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (email, normalize_email(email), password_hash, role, display_name, now, now),
    )
    assert row is not None
    return User(row["id"], email, role, display_name, now, now)


# -- rules -----------------------------------------------------------------------------------


def _add(errors: dict[str, list[str]], field: str, messages: list[str]) -> None:
    if messages:
        errors[field] = messages


def _email_errors(email: str) -> list[str]:
    if not email:
        return ["can't be blank"]
    if len(email) > MAX_EMAIL:
        return [f"should be at most {MAX_EMAIL} characters"]
    if not _EMAIL.fullmatch(email):
        return ["has invalid format"]
    return []


def _password_errors(password: Any) -> list[str]:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return [f"should be at least {MIN_PASSWORD} characters"]
    if len(password) > MAX_PASSWORD:
        return [f"should be at most {MAX_PASSWORD} characters"]
    return []


def _display_name_errors(name: str) -> list[str]:
    if not name:
        return ["can't be blank"]
    errors = []
    if len(name) > MAX_DISPLAY_NAME:
        errors.append(f"should be at most {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(c) == "Cc" for c in name):
        errors.append("can't contain control characters")
    return errors


def _role_errors(role: str) -> list[str]:
    return [] if is_role(role) else [f"should be one of {', '.join(ROLES)}"]


def _user(row: Row) -> User:
    return User(
        row["id"],
        row["email"],
        row["role"],
        row["display_name"],
        row["created_at"],
        row["updated_at"],
    )


# -- passwords and tokens (the password functions run on the dirty pool) --------------------


def _prehash(password: str) -> bytes:
    text = unicodedata.normalize("NFC", password).encode()
    return base64.b64encode(hmac.new(_PREHASH_KEY, text, hashlib.sha256).digest())


def _hash_password(password: str, cost: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(cost)).decode()


def _check_password(password: str, password_hash: str) -> bool:
    return bcrypt.checkpw(_prehash(password), password_hash.encode())


def has_password(password_hash: str) -> bool:
    """Whether a stored ``password_hash`` is a password's (not :data:`NO_PASSWORD`)."""
    return password_hash.startswith("$2")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _usable(reset: Row | None, token_hash: str, now: float) -> bool:
    return (
        reset is not None
        and hmac.compare_digest(reset["token_hash"], token_hash)
        and reset["used_at"] is None
        and reset["expires_at"] > now
    )


async def _no_mail(conn: Connection) -> None:
    await conn.execute("SELECT 1 FROM outbox WHERE id = -1")


def _welcome_mail(name: str, base_url: str) -> tuple[str, str]:
    body = (
        f"Hello {name},\n\n"
        "Your Hearth account is ready. Log in with this address and the password you chose:\n\n"
        f"{base_url}/login\n\n"
        "If you did not register, ignore this mail.\n"
    )
    return "Welcome to Hearth", body


def _taken_mail(name: str, base_url: str) -> tuple[str, str]:
    body = (
        f"Hello {name},\n\n"
        "Someone, perhaps you, tried to register a new Hearth account with this address.\n"
        "You have one already; no other was made. Log in here:\n\n"
        f"{base_url}/login\n\n"
        "If you have forgotten your password, choose a new one here:\n\n"
        f"{base_url}/password/forgot\n\n"
        "If it was not you, ignore this mail: nothing has changed.\n"
    )
    return "Your Hearth account", body


def _reset_mail(name: str, link: str, ttl: float) -> tuple[str, str]:
    hours = ttl >= 3600
    count, unit = (round(ttl / 3600), "hour") if hours else (max(1, round(ttl / 60)), "minute")
    valid = f"{count} {unit}{'s' if count != 1 else ''}"
    body = (
        f"Hello {name},\n\n"
        "Someone, hopefully you, asked to reset the password of your Hearth account.\n"
        f"Open this link within {valid} to choose a new one (it works once):\n\n"
        f"{link}\n\n"
        "If it was not you, ignore this mail: your password stays as it is.\n"
    )
    return "Reset your Hearth password", body
