"""Signing in with another site: OAuth 2.0 with PKCE, and OpenID Connect, through Authlib.

``OAuth(config.oauth, base_url)`` holds the providers of ``[oauth.providers.<name>]``; the
web layer (``web/pages/oauth.py``) finds it under ``web.keys.OAUTH``. A sign-in is two calls:

1. :meth:`OAuth.begin` stores a flow (a row of ``oauth_flows``) and returns the provider's
   authorization URL, to send the browser to. The flow holds a random ``state`` (only its
   SHA-256 is stored), bound to the browser session that asked and valid ``oauth.state_ttl``
   seconds; a PKCE ``code_verifier`` (the URL carries its S256 challenge); for OpenID a
   ``nonce``; the local page to go back to; and the signed-in user, when this is a link.
2. :meth:`OAuth.finish`, at the callback, takes the flow back by its state, once: the row is
   deleted whatever follows. It then exchanges the code (with the verifier and the client's
   credentials: ``client_secret_basic``, ``client_secret_post``, or none for a public client)
   and returns the :class:`~contexts.identities.Profile` the provider vouches for:

   - OpenID (presets ``google`` and ``oidc``): the ID token's signature is checked against
     the provider's JWKS (joserfc), then its issuer, audience, expiry and nonce (Authlib's
     ``CodeIDToken``); email and name come from it or, when it carries no email, from the
     userinfo endpoint, whose ``sub`` must be the token's;
   - GitHub (plain OAuth 2.0): ``/user`` gives the id and the name, ``/user/emails`` the
     primary address and whether GitHub verified it.

Discovery documents and key sets are kept an hour (a key set is fetched again at once for
a token signed with a key it lacks). Every request to a provider goes through httpx2's async
client and each step waits at most ``oauth.timeout`` seconds; nothing here blocks the event
loop (an RS256 signature takes tens of microseconds to check).

Errors, each with a message for the person signing in (never a code, a token or a secret)::

    OAuthError
    ├── BadState        the state is missing, unknown, used, expired, or another browser's
    ├── Denied          the provider sent an error back (access_denied: the user said no)
    ├── Unavailable     the provider could not be reached, did not answer in time, or
    │                   answered something that is not what OAuth says it answers
    ├── CodeRefused     the token endpoint refused the code (used already, expired, ...)
    └── InvalidIdToken  the ID token failed one of its checks
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from actors.rate_limiter import RateLimiter
from actors.repo import NAME as REPO
from actors.repo import Repo
from hearth.config import OAuthConfig, OAuthProviderConfig

from .identities import Profile

__all__ = [
    "PRESETS",
    "BadState",
    "CodeRefused",
    "Denied",
    "Flow",
    "InvalidIdToken",
    "OAuth",
    "OAuthError",
    "Provider",
    "Unavailable",
    "browser_binding",
]

log = logging.getLogger(__name__)

GOOGLE_DISCOVERY = "https://accounts.google.com/.well-known/openid-configuration"
PRESETS: dict[str, dict[str, str]] = {
    "google": {"label": "Google", "scopes": "openid email profile",
               "discovery_url": GOOGLE_DISCOVERY},
    "github": {"label": "GitHub", "scopes": "read:user user:email",
               "authorize_url": "https://github.com/login/oauth/authorize",
               "token_url": "https://github.com/login/oauth/access_token",
               "api_url": "https://api.github.com"},
    "oidc": {"label": "", "scopes": "openid email profile"},
}
"""What each preset fills in when the provider's table leaves it empty."""

CACHE_TTL = 3600.0
"""Seconds a discovery document or a key set is kept."""
FLOWS_PER_BROWSER = 5
"""Sign-ins one browser may have under way; starting another forgets the oldest."""
LEEWAY = 60
"""Seconds of clock skew allowed on an ID token's times."""
_MAX_STATE = 256
_SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                       "ES512", "EdDSA")

START_ADDRESS = "oauth_start.address"
"""The rate limiter's bucket of sign-ins started, by client address."""


class OAuthError(Exception):
    """A sign-in with a provider did not happen; the message says why, for the person."""


class BadState(OAuthError):
    """The callback's state names no flow of this browser still under way."""


class Denied(OAuthError):
    """The provider sent the browser back with an error instead of a code."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


class TooManyStarts(OAuthError):
    """This client address started more sign-ins than ``[oauth] start_limit_per_address``
    allows in a window; it may try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(f"Too many sign-ins started from your address: try again in "
                         f"{minutes} minute{'s' if minutes != 1 else ''}.")
        self.retry_after = retry_after


class Unavailable(OAuthError):
    """The provider could not be reached, was too slow, or answered nonsense."""


class CodeRefused(OAuthError):
    """The provider's token endpoint would not exchange the code."""


class InvalidIdToken(OAuthError):
    """The ID token's signature, issuer, audience, expiry or nonce is wrong."""


@dataclass(frozen=True)
class Provider:
    """A configured provider with its preset's values filled in."""

    name: str
    label: str
    kind: str
    """``google``, ``github`` or ``oidc``."""
    scopes: str
    redirect_uri: str
    config: OAuthProviderConfig

    @property
    def openid(self) -> bool:
        return self.kind != "github"

    def preset(self, key: str) -> str:
        """The configured value of ``key``, else the preset's."""
        value: str = getattr(self.config, key)
        return value or PRESETS[self.kind].get(key, "")


@dataclass(frozen=True)
class Flow:
    """What a finished sign-in started with."""

    provider: str
    next_path: str
    user_id: int | None
    """The signed-in user who asked to link the provider; ``None`` for a sign-in."""


class OAuth:
    """The providers of ``config`` and their clients; ``base_url`` is this site's address
    (the redirect URI is ``<base_url>/auth/<name>/callback``)."""

    def __init__(self, config: OAuthConfig, base_url: str, *, repo: Any = REPO,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.repo = repo
        self.clock = clock
        self.providers: dict[str, Provider] = {}
        for p in config.providers:
            label = p.label or PRESETS[p.kind]["label"] or p.name.capitalize()
            self.providers[p.name] = Provider(
                p.name, label, p.kind, p.scopes or PRESETS[p.kind]["scopes"],
                f"{base_url.rstrip('/')}/auth/{p.name}/callback", p,
            )
        timeout = httpx2.Timeout(config.timeout)
        # Made once, at start: each holds its connection pool and TLS context.
        self._clients = {
            name: AsyncOAuth2Client(
                client_id=p.config.client_id,
                client_secret=p.config.client_secret or None,
                token_endpoint_auth_method=p.config.token_auth_method or None,
                scope=p.scopes,
                redirect_uri=p.redirect_uri,
                code_challenge_method="S256",
                timeout=timeout,
            )
            for name, p in self.providers.items()
        }
        self._http = httpx2.AsyncClient(timeout=timeout) if self.providers else None
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    async def close(self) -> None:
        """Close the connection pools."""
        for client in self._clients.values():
            await client.aclose()
        if self._http is not None:
            await self._http.aclose()

    def provider(self, name: str) -> Provider | None:
        """The provider called ``name``, or ``None``."""
        return self.providers.get(name)

    # -- the two steps -----------------------------------------------------------------------

    async def begin(self, name: str, browser: str, next_path: str,
                    user_id: int | None = None, address: str = "") -> str:
        """Start signing in (or, with ``user_id``, linking) with provider ``name`` from the
        browser session ``browser`` names, at client ``address``; returns the URL to send
        the browser to. Raises :class:`TooManyStarts` past the address's limit (counted
        across the cluster), :class:`Unavailable` when the provider's discovery document
        cannot be had."""
        provider = self._provider(name)
        started = await RateLimiter.shared_hit(START_ADDRESS, address,
                                               self.config.start_limit_per_address,
                                               self.config.start_limit_window)
        if not started.allowed:
            raise TooManyStarts(started.reset_after)
        async with self._talking_to(provider):
            metadata = await self._metadata_of(provider)
        state = secrets.token_urlsafe(32)
        verifier = generate_token(64)
        nonce = secrets.token_urlsafe(24) if provider.openid else ""
        now = self.clock()
        expires = now + self.config.state_ttl

        async def store(conn: Any) -> None:
            await conn.execute("DELETE FROM oauth_flows WHERE expires_at <= ?", (now,))
            await conn.execute(
                "DELETE FROM oauth_flows WHERE browser = ? AND state_hash NOT IN (SELECT"
                " state_hash FROM oauth_flows WHERE browser = ? ORDER BY created_at DESC"
                " LIMIT ?)", (browser, browser, FLOWS_PER_BROWSER - 1),
            )
            await conn.execute(
                "INSERT INTO oauth_flows (state_hash, browser, provider, code_verifier, nonce,"
                " next_path, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_hash(state), browser, name, verifier, nonce, next_path, user_id, now, expires),
            )

        await Repo.transaction(store, repo=self.repo)
        extra = {"nonce": nonce} if nonce else {}
        url, _ = self._clients[name].create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=verifier, **extra
        )
        return str(url)

    async def finish(self, name: str, params: Mapping[str, str],
                     browser: str) -> tuple[Profile, Flow]:
        """The callback of provider ``name`` with its query ``params``, in the browser
        session ``browser`` names: who signed in, and the flow it finishes. Raises an
        :class:`OAuthError`."""
        provider = self._provider(name)
        row = await self._take_flow(params.get("state", ""))
        if (row is None or row["expires_at"] <= self.clock() or row["provider"] != name
                or not hmac.compare_digest(row["browser"], browser)):
            raise BadState("That sign-in has expired or was finished already. Please try "
                           "again.")
        if "error" in params:
            error = params["error"][:64]
            if error == "access_denied":
                raise Denied(f"You did not allow signing in with {provider.label}: nothing "
                             "was changed.", error)
            raise Denied(f"{provider.label} refused the sign-in ({error}).", error)
        code = params.get("code", "")
        if not code:
            raise Denied(f"{provider.label} sent no sign-in code back.", "no_code")
        flow = Flow(name, row["next_path"], row["user_id"])
        async with self._talking_to(provider):
            metadata = await self._metadata_of(provider)
            try:
                token = await self._clients[name].fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=row["code_verifier"],
                    redirect_uri=provider.redirect_uri,
                )
            except AuthlibOAuthError as e:
                raise CodeRefused(f"{provider.label} refused the sign-in code ({e.error}). "
                                  "Please try again.") from None
            access_token = token.get("access_token")
            if not isinstance(access_token, str) or not access_token:
                raise Unavailable(f"{provider.label} answered without an access token.")
            if provider.openid:
                profile = await self._openid_profile(provider, metadata, token, row["nonce"])
            else:
                profile = await self._github_profile(provider, access_token)
        return profile, flow

    # -- providers ---------------------------------------------------------------------------

    def _provider(self, name: str) -> Provider:
        provider = self.providers.get(name)
        if provider is None:
            raise KeyError(name)
        return provider

    @asynccontextmanager
    async def _talking_to(self, provider: Provider) -> AsyncIterator[None]:
        """Turns what can go wrong on the way to a provider into :class:`Unavailable`, and
        gives up after ``oauth.timeout`` seconds."""
        label = provider.label
        try:
            async with asyncio.timeout(self.config.timeout):
                yield
        except (TimeoutError, httpx2.TimeoutException):
            raise Unavailable(f"{label} did not answer in time. Please try again later.") \
                from None
        except httpx2.HTTPStatusError as e:
            raise Unavailable(f"{label} answered with an error (HTTP {e.response.status_code})."
                              " Please try again later.") from None
        except httpx2.HTTPError:
            raise Unavailable(f"{label} could not be reached. Please try again later.") \
                from None
        except (ValueError, KeyError, TypeError):
            # Not JSON, or JSON of another shape than OAuth's (ValueError: Authlib's "not a
            # JSON object" token answer too).
            raise Unavailable(f"{label} answered something unexpected. Please try again "
                              "later.") from None

    async def _metadata_of(self, provider: Provider) -> dict[str, Any]:
        cached = self._metadata.get(provider.name)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        if provider.kind == "github":
            metadata: dict[str, Any] = {}
        else:
            metadata = await self._get_json(provider.preset("discovery_url"))
            issuer = metadata.get("issuer")
            expected = provider.preset("discovery_url").removesuffix(
                "/.well-known/openid-configuration")
            # OpenID Connect Discovery 4.3: the document speaks for the issuer it was asked.
            if not isinstance(issuer, str) or issuer.rstrip("/") != expected.rstrip("/"):
                raise ValueError("the discovery document names another issuer")
        if provider.preset("authorize_url"):
            metadata["authorization_endpoint"] = provider.preset("authorize_url")
        if provider.preset("token_url"):
            metadata["token_endpoint"] = provider.preset("token_url")
        for key in ("authorization_endpoint", "token_endpoint"):
            if not isinstance(metadata.get(key), str):
                raise KeyError(key)
        self._metadata[provider.name] = (self.clock() + CACHE_TTL, metadata)
        return metadata

    async def _get_json(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        assert self._http is not None  # there are providers
        response = await self._http.get(url, headers=headers)
        response.raise_for_status()
        return response.json()

    async def _key_set(self, provider: Provider, metadata: Mapping[str, Any],
                       fresh: bool = False) -> KeySet:
        cached = self._keys.get(provider.name)
        if cached is not None and cached[0] > self.clock() and not fresh:
            return cached[1]
        keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"]))
        self._keys[provider.name] = (self.clock() + CACHE_TTL, keys)
        return keys

    async def _openid_profile(self, provider: Provider, metadata: Mapping[str, Any],
                              token: Mapping[str, Any], nonce: str) -> Profile:
        label = provider.label
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidIdToken(f"{label} answered without an ID token.")
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(algorithms=[a for a in offered if a in _SIGNING_ALGORITHMS],
                               strict_check_header=False)
        keys = await self._key_set(provider, metadata)
        try:
            try:
                decoded = jwt.decode(id_token, keys, registry=registry)
            except InvalidKeyIdError:  # the provider rolled its keys since we fetched them
                decoded = jwt.decode(id_token, await self._key_set(provider, metadata, True),
                                     registry=registry)
            claims = CodeIDToken(
                decoded.claims, decoded.header,
                {"iss": {"essential": True, "value": metadata["issuer"]},
                 "aud": {"essential": True, "value": provider.config.client_id},
                 "exp": {"essential": True}},
                {"nonce": nonce, "client_id": provider.config.client_id,
                 "access_token": token["access_token"]},
            )
            claims.validate(leeway=LEEWAY)
        except (JoseError, ValueError, TypeError) as e:
            reason = _why(e)
            log.info("%s: ID token refused: %s", provider.name, reason)
            raise InvalidIdToken(f"{label}'s answer could not be verified (its ID token: "
                                 f"{reason}). Please try again.") from None
        subject = str(claims["sub"])
        info: dict[str, Any] = dict(claims)
        if "email" not in info and isinstance(metadata.get("userinfo_endpoint"), str):
            more = await self._get_json(metadata["userinfo_endpoint"],
                                        {"Authorization": f"Bearer {token['access_token']}"})
            if not isinstance(more, dict) or str(more.get("sub")) != subject:
                raise InvalidIdToken(f"{label}'s user info is about someone else.")
            info = {**more, **info}
        email = info.get("email")
        return Profile(
            provider=provider.name,
            uid=subject,
            email=email if isinstance(email, str) else None,
            # Some providers send the boolean as a string.
            email_verified=info.get("email_verified") in (True, "true"),
            name=str(info.get("name") or ""),
        )

    async def _github_profile(self, provider: Provider, access_token: str) -> Profile:
        api = provider.preset("api_url").rstrip("/")
        headers = {"Authorization": f"Bearer {access_token}",
                   "Accept": "application/vnd.github+json"}
        user = await self._get_json(f"{api}/user", headers)
        emails = await self._get_json(f"{api}/user/emails", headers)
        listed = [e for e in emails if isinstance(e, dict) and isinstance(e.get("email"), str)]
        # The primary address if GitHub verified it, else any verified one, else the
        # primary (unverified: it links and makes nothing), else none.
        chosen = (next((e for e in listed if e.get("primary") and e.get("verified")), None)
                  or next((e for e in listed if e.get("verified")), None)
                  or next((e for e in listed if e.get("primary")), None))
        return Profile(
            provider=provider.name,
            uid=str(int(user["id"])),
            email=chosen["email"] if chosen else None,
            email_verified=bool(chosen and chosen.get("verified") is True),
            name=str(user.get("name") or user.get("login") or ""),
        )

    # -- flows -------------------------------------------------------------------------------

    async def _take_flow(self, state: str) -> Any:
        """The flow ``state`` names, deleted as it is read; ``None`` if there is none, or if
        another request took it first (only one delete of the row finds it)."""
        if not state or len(state) > _MAX_STATE:
            return None
        state_hash = _hash(state)
        row = await Repo.fetch_one(
            "SELECT browser, provider, code_verifier, nonce, next_path, user_id, expires_at"
            " FROM oauth_flows WHERE state_hash = ?", (state_hash,), repo=self.repo)
        if row is None:
            return None
        taken = await Repo.execute("DELETE FROM oauth_flows WHERE state_hash = ?",
                                   (state_hash,), repo=self.repo)
        return row if taken.rowcount == 1 else None


def _why(error: Exception) -> str:
    """What was wrong with an ID token, in a few words."""
    if isinstance(error, ExpiredTokenError):
        return "expired"
    if isinstance(error, ClaimError):
        return f"{'missing' if isinstance(error, MissingClaimError) else 'wrong'} {error.claim}"
    if isinstance(error, BadSignatureError):
        return "bad signature"
    if isinstance(error, JoseError):
        return error.error.replace("_", " ")
    return "malformed"


def browser_binding(csrf_token: str) -> str:
    """What binds a flow to the browser session whose CSRF token this is."""
    return hashlib.sha256(b"hearth oauth flow\0" + csrf_token.encode()).hexdigest()


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
