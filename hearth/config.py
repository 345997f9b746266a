"""Configuration: ``config.toml``, read once at start into a typed, frozen :class:`Config`.

Each ``[section]`` of the file is a frozen dataclass below; each key is a field, with its
default and its type. Later sources win, key by key:

1. the defaults written here;
2. the TOML file;
3. environment variables ``HEARTH_<SECTION>_<KEY>`` (``HEARTH_SERVER_PORT=5000``), parsed to
   the field's type (booleans accept ``true``/``false``/``1``/``0``);
4. command-line flags (``hearth serve --host H --port P``).

An unknown section or key, in the file or in a ``HEARTH_*`` variable, and a value of the wrong
type or out of range raise :class:`ConfigError` naming ``section.key`` and what was expected;
``hearth`` reports it and exits with status 2. This is the only module that reads the
environment: everyone else is handed the :class:`Config` (or one of its sections).

To add a setting, add a field (and a line to ``config.toml``); to add a section, add a
dataclass and a field of :class:`Config`. Nothing else needs to know.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import tomllib
import typing
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "AdminConfig",
    "ApiConfig",
    "AuthConfig",
    "ChannelsConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DemoConfig",
    "LiveConfig",
    "MailConfig",
    "NodeConfig",
    "OAuthConfig",
    "OAuthProviderConfig",
    "PresenceConfig",
    "RepoConfig",
    "ServerConfig",
    "StorageConfig",
    "load_config",
]

ENV_PREFIX = "HEARTH_"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class ConfigError(Exception):
    """The configuration cannot be used: fix the named key and start again."""


def _check(predicate: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    """Field metadata: a value must satisfy ``predicate``; ``expected`` says what passes."""
    return {"check": (predicate, expected)}


@dataclass(frozen=True)
class NodeConfig:
    """``[node]``: this runtime instance."""

    # Empty means "hearth@<hostname>", filled in by load_config.
    name: str = ""
    dirty_pool_size: int = field(default=2, metadata=_check(lambda v: v >= 1, "at least 1"))
    log_level: str = field(
        default="info",
        metadata=_check(lambda v: v in LOG_LEVELS, "one of " + ", ".join(LOG_LEVELS)),
    )
    # The cyclic collector (otp.gc_policy): freeze what lives once the tree is up, and what
    # survived a full collection longer than gc_freeze_after_ms; the collector's thresholds.
    gc_freeze: bool = True
    gc_freeze_after_ms: float = field(default=2.0,
                                      metadata=_check(lambda v: v >= 0, "milliseconds >= 0"))
    gc_threshold0: int = field(default=2_000, metadata=_check(lambda v: v >= 1, "at least 1"))
    gc_threshold1: int = field(default=5, metadata=_check(lambda v: v >= 0, "at least 0"))
    gc_threshold2: int = field(default=0, metadata=_check(lambda v: v >= 0, "at least 0"))
    # Milliseconds between the loop's collection ticks (0: none).
    gc_tick_ms: float = field(default=50.0,
                              metadata=_check(lambda v: v >= 0, "milliseconds >= 0"))


@dataclass(frozen=True)
class ServerConfig:
    """``[server]``: the HTTP endpoint."""

    host: str = "127.0.0.1"
    port: int = field(
        default=4000, metadata=_check(lambda v: 0 <= v <= 65535, "a port from 0 to 65535")
    )
    shutdown_timeout: float = field(
        default=5.0, metadata=_check(lambda v: v >= 0, "seconds >= 0")
    )
    access_log: bool = True
    # The address clients reach this node at (https://chat.example.com), used for links in
    # mail. Empty: http://<host>:<port>. Never taken from a request's Host header.
    public_url: str = field(
        default="",
        metadata=_check(lambda v: v == "" or v.startswith(("http://", "https://")),
                        "empty or an http(s):// URL"),
    )

    def base_url(self) -> str:
        """``public_url`` without a trailing slash, or one made of host and port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class DatabaseConfig:
    """``[database]``: the embedded SQLite store."""

    path: str = "data/hearth.db"
    read_connections: int = field(default=2, metadata=_check(lambda v: 1 <= v <= 32,
                                                               "from 1 to 32"))


def _repo_url(v: str) -> bool:
    scheme, sep, rest = v.partition("://")
    if not v:
        return True
    if scheme == "sqlite":
        return sep != "" and rest.startswith("/") and rest != "/"
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urllib.parse.urlsplit(v)
            parts.port  # noqa: B018 (raises for a port that is not a number)
        except ValueError:
            return False
        return bool(parts.hostname) or "host=" in parts.query
    return False


@dataclass(frozen=True)
class RepoConfig:
    """``[repo]``: the database the Repo owns (``store.repo``)."""

    # Empty: the SQLite file of database.path. Else sqlite:///relative.db,
    # sqlite:////absolute.db or postgresql://user:password@host:port/database. Never logged
    # with its password.
    url: str = field(
        default="",
        repr=False,
        metadata=_check(_repo_url, "empty, sqlite:///path or postgresql://user@host/database"),
    )
    # PostgreSQL: connections in the pool; seconds a statement may run, and a connection
    # may take to open (0: no limit on statements).
    pool_size: int = field(default=10, metadata=_check(lambda v: 1 <= v <= 1000,
                                                         "from 1 to 1000"))
    statement_timeout: float = field(default=30.0,
                                     metadata=_check(lambda v: v >= 0, "seconds >= 0"))
    connect_timeout: float = field(default=5.0, metadata=_check(lambda v: v > 0, "seconds > 0"))

    def resolved_url(self, database: DatabaseConfig) -> str:
        """The database to use: ``url``, or else the SQLite file of ``database.path``."""
        return self.url or f"sqlite:///{database.path}"


JWT_ALGORITHMS = ("HS256", "RS256", "EdDSA")
COOKIE_SECURE = ("auto", "always", "never")


@dataclass(frozen=True)
class AuthConfig:
    """``[auth]``: passwords, browser sessions and API tokens."""

    # Signs and encrypts session cookies and HS256 tokens. Empty: generated once and kept in
    # the data directory (next to the database) with mode 0600. Never logged.
    secret_key: str = field(
        default="",
        repr=False,
        metadata=_check(lambda v: v == "" or len(v) >= 32, "empty or at least 32 characters"),
    )
    bcrypt_cost: int = field(default=12, metadata=_check(lambda v: 4 <= v <= 31,
                                                           "from 4 to 31"))
    session_max_age: float = field(default=14 * 86400.0,
                                   metadata=_check(lambda v: v > 0, "seconds > 0"))
    cookie_secure: str = field(
        default="auto", metadata=_check(lambda v: v in COOKIE_SECURE,
                                        "one of " + ", ".join(COOKIE_SECURE))
    )
    reset_token_ttl: float = field(default=86400.0,
                                   metadata=_check(lambda v: v > 0, "seconds > 0"))
    login_limit_per_account: int = field(default=5, metadata=_check(lambda v: v >= 1,
                                                                      "at least 1"))
    login_limit_per_address: int = field(default=20, metadata=_check(lambda v: v >= 1,
                                                                       "at least 1"))
    login_limit_window: float = field(default=300.0,
                                      metadata=_check(lambda v: v > 0, "seconds > 0"))
    jwt_algorithm: str = field(
        default="HS256", metadata=_check(lambda v: v in JWT_ALGORITHMS,
                                         "one of " + ", ".join(JWT_ALGORITHMS))
    )
    # PEM files, needed for RS256 and EdDSA.
    jwt_private_key_path: str = ""
    jwt_public_key_path: str = ""
    jwt_issuer: str = "hearth"
    jwt_audience: str = "hearth-api"
    access_token_ttl: float = field(default=900.0,
                                    metadata=_check(lambda v: v > 0, "seconds > 0"))
    refresh_token_ttl: float = field(default=30 * 86400.0,
                                     metadata=_check(lambda v: v > 0, "seconds > 0"))


MAIL_SECURITY = ("starttls", "tls", "none")
_ADAPTER = re.compile(r"outbox|smtp|[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@dataclass(frozen=True)
class MailConfig:
    """``[mail]``: where the Mailer sends mail."""

    # "outbox" (the outbox table: nothing leaves the machine), "smtp" (the server below), or
    # "package.module:attribute" naming another MailAdapter (a class is made with this
    # section; anything else is used as it is: a test's mock).
    adapter: str = field(
        default="outbox",
        metadata=_check(lambda v: _ADAPTER.fullmatch(v) is not None,
                        "outbox, smtp, or package.module:attribute"),
    )
    from_address: str = field(default="Hearth <hearth@localhost>",
                              metadata=_check(lambda v: "@" in v, "an address with an @"))
    smtp_host: str = "localhost"
    smtp_port: int = field(
        default=587, metadata=_check(lambda v: 1 <= v <= 65535, "a port from 1 to 65535")
    )
    # Empty: no login. Never logged; prefer HEARTH_MAIL_SMTP_PASSWORD to this file.
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_security: str = field(
        default="starttls", metadata=_check(lambda v: v in MAIL_SECURITY,
                                            "one of " + ", ".join(MAIL_SECURITY))
    )
    # At most 10: the Mailer's callers wait 30 s for a delivery of several round trips.
    smtp_timeout: float = field(default=10.0, metadata=_check(lambda v: 0 < v <= 10,
                                                              "seconds, more than 0, at most 10"))


@dataclass(frozen=True)
class LiveConfig:
    """``[live]``: live pages (``live/``)."""

    # The live routes: "package.module:attribute" naming a live.router.LiveRouter.
    router: str = field(
        default="web.live:ROUTER",
        metadata=_check(lambda v: re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v) is not None,
                        "package.module:attribute"),
    )
    # The longest event value a view takes (a form's encoding); longer is refused, unread.
    max_event_bytes: int = field(default=100_000,
                                 metadata=_check(lambda v: 1_000 <= v <= 10_000_000,
                                                 "from 1000 to 10000000"))
    # Fields one form event may carry.
    max_form_fields: int = field(default=1_000,
                                 metadata=_check(lambda v: 1 <= v <= 100_000,
                                                 "from 1 to 100000"))


@dataclass(frozen=True)
class DemoConfig:
    """``[demo]``: sample data for a fresh database."""

    # Seed demo users, rooms and posts into an empty database (and print the passwords once).
    seed: bool = True


@dataclass(frozen=True)
class ChannelsConfig:
    """``[channels]``: bounds on what a socket client may cost (``channels.handler.Limits``)."""

    max_frame_bytes: int = field(default=1_000_000,
                                 metadata=_check(lambda v: v >= 1024, "at least 1024"))
    max_channels: int = field(default=100, metadata=_check(lambda v: v >= 1, "at least 1"))
    # Binary frames carry the topic's length in one byte, so 255 is the most a topic can be.
    max_topic_bytes: int = field(default=255, metadata=_check(lambda v: 1 <= v <= 255,
                                                                "from 1 to 255"))
    outbound_buffer_bytes: int = field(default=4_000_000,
                                       metadata=_check(lambda v: v >= 1024, "at least 1024"))
    idle_timeout: float = field(default=60.0, metadata=_check(lambda v: v > 0, "seconds > 0"))
    longpoll_window: float = field(default=10.0,
                                   metadata=_check(lambda v: v > 0, "seconds > 0"))
    max_bad_frames: int = field(default=10, metadata=_check(lambda v: v >= 0, "at least 0"))
    max_inflight: int = field(default=100, metadata=_check(lambda v: v >= 1, "at least 1"))
    event_rate: float = field(default=50.0, metadata=_check(lambda v: v > 0, "events/s > 0"))
    event_burst: int = field(default=200, metadata=_check(lambda v: v >= 1, "at least 1"))
    longpoll_max_sessions: int = field(default=10_000,
                                       metadata=_check(lambda v: v >= 1, "at least 1"))
    longpoll_sessions_per_address: int = field(default=100,
                                               metadata=_check(lambda v: v >= 1, "at least 1"))
    # Hosts (host or host:port), comma-separated, whose pages may open sockets; empty means
    # only pages served from the socket's own host.
    allowed_origins: str = ""


@dataclass(frozen=True)
class PresenceConfig:
    """``[presence]``: who is online, per topic."""

    shards: int = field(default=4, metadata=_check(lambda v: 1 <= v <= 256, "from 1 to 256"))
    broadcast_window: float = field(
        default=0.05, metadata=_check(lambda v: 0 <= v <= 10, "seconds from 0 to 10")
    )


def _redis_url(v: str) -> bool:
    if not v:
        return True
    parts = urllib.parse.urlsplit(v)
    if parts.scheme == "unix":
        return bool(parts.path)
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("redis", "rediss") and bool(parts.hostname)


@dataclass(frozen=True)
class ClusterConfig:
    """``[cluster]``: nodes that share PubSub, presence, socket disconnects and rate counts
    through Redis (``otp.RedisAdapter``, ``otp.Nodes``). Off while ``redis_url`` is empty.

    Every node of a cluster has its own ``node.name`` and the same ``auth.secret_key``
    (tokens and cookies verify on any node; it also signs what nodes tell each other)."""

    # redis://[:password@]host:port/db, rediss://... or unix:///path; empty: no cluster.
    # Prefer HEARTH_CLUSTER_REDIS_URL to writing a password here; it is never logged.
    redis_url: str = field(default="", repr=False, metadata=_check(
        _redis_url, "empty, redis://host:port/db, rediss://... or unix:///path"))
    # What the other nodes call to reach this one (its admin endpoint, for hearth tree
    # --node); empty: this node's own http://<host>:<port>.
    address: str = field(
        default="",
        metadata=_check(lambda v: v == "" or v.startswith(("http://", "https://")),
                        "empty or an http(s):// URL"),
    )
    # Put before every Redis channel and key, so several clusters can share one Redis.
    prefix: str = field(default="hearth", metadata=_check(
        lambda v: re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", v) is not None,
        "1 to 64 letters, digits or _.:-"))
    # Seconds between two heartbeats of a node (and of each presence shard); a node not
    # heard from for down_after seconds is down for the others (its presences leave).
    heartbeat_interval: float = field(
        default=1.0, metadata=_check(lambda v: 0.01 <= v <= 60, "seconds from 0.01 to 60"))
    down_after: float = field(
        default=10.0, metadata=_check(lambda v: 0 < v <= 3600, "seconds, more than 0, at "
                                                               "most 3600"))

    def __post_init__(self) -> None:
        if self.down_after < 2 * self.heartbeat_interval:
            raise ConfigError(
                f"cluster.down_after ({self.down_after}) must be at least twice "
                f"cluster.heartbeat_interval ({self.heartbeat_interval})"
            )

    @property
    def enabled(self) -> bool:
        """Whether this node joins a cluster."""
        return bool(self.redis_url)


@dataclass(frozen=True)
class AdminConfig:
    """``[admin]``: the operators' endpoint (``hearth tree``, ``ps``, ``kill`` ...)."""

    # The bearer token the admin commands send; empty turns the admin endpoint off. Prefer
    # HEARTH_ADMIN_TOKEN over writing it here. Never logged.
    token: str = field(
        default="",
        repr=False,
        metadata=_check(lambda v: v == "" or len(v) >= 32, "empty or at least 32 characters"),
    )
    # Where the admin commands find the node; empty means the server's own address.
    url: str = field(
        default="",
        metadata=_check(lambda v: v == "" or v.startswith(("http://", "https://")),
                        "empty or an http(s):// URL"),
    )


@dataclass(frozen=True)
class ApiConfig:
    """``[api]``: the JSON API's quotas, page sizes and compression."""

    # Requests one API key, or one user's access tokens, may make per rate_limit_window.
    rate_limit: int = field(default=1000, metadata=_check(lambda v: v >= 1, "at least 1"))
    # Requests per window from one client address that sends no valid credentials.
    anonymous_rate_limit: int = field(default=60,
                                      metadata=_check(lambda v: v >= 1, "at least 1"))
    rate_limit_window: float = field(default=3600.0,
                                     metadata=_check(lambda v: v > 0, "seconds > 0"))
    default_page_size: int = field(default=20, metadata=_check(lambda v: 1 <= v <= 100,
                                                                 "from 1 to 100"))
    max_page_size: int = field(default=100, metadata=_check(lambda v: 1 <= v <= 1000,
                                                              "from 1 to 1000"))
    # Responses of at least this many bytes are gzipped for clients that accept gzip.
    compress_min_bytes: int = field(default=1024, metadata=_check(lambda v: v >= 0,
                                                                    "bytes >= 0"))

    def __post_init__(self) -> None:
        if self.default_page_size > self.max_page_size:
            raise ConfigError(
                f"api.default_page_size ({self.default_page_size}) must be at most "
                f"api.max_page_size ({self.max_page_size})"
            )


_BACKEND = re.compile(r"local|s3|[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def _key_prefix(v: str) -> bool:
    return (re.fullmatch(r"[A-Za-z0-9/_.-]*", v) is not None and not v.startswith("/")
            and ".." not in v.split("/"))


@dataclass(frozen=True)
class StorageConfig:
    """``[storage]``: where uploaded files are kept (``hearth.storage``)."""

    # "local" (files under <dir of database.path>/uploads/, served by Hearth), "s3" (the
    # bucket below), or "package.module:attribute" naming another Storage.
    backend: str = field(
        default="local",
        metadata=_check(lambda v: _BACKEND.fullmatch(v) is not None,
                        "local, s3, or package.module:attribute"),
    )
    # Empty: AWS S3 itself; else an S3-compatible server (SeaweedFS, MinIO ...).
    s3_endpoint_url: str = field(
        default="",
        metadata=_check(lambda v: v == "" or v.startswith(("http://", "https://")),
                        "empty or an http(s):// URL"),
    )
    s3_region: str = field(default="us-east-1",
                           metadata=_check(lambda v: v != "", "a region name"))
    s3_bucket: str = ""
    # Never logged; prefer HEARTH_STORAGE_S3_SECRET_KEY to this file.
    s3_access_key: str = ""
    s3_secret_key: str = field(default="", repr=False)
    # Put before every key in the bucket ("hearth/"), so one bucket can serve several uses.
    s3_key_prefix: str = field(
        default="",
        metadata=_check(_key_prefix, "letters, digits and /_.- (no leading /, no ..)"),
    )
    # Seconds a presigned GET URL of an S3 object stays valid; 0: the bucket is public-read
    # and URLs are unsigned. SigV4 allows at most 7 days.
    url_expires: int = field(default=3600,
                             metadata=_check(lambda v: 0 <= v <= 7 * 86400,
                                             "seconds from 0 to 604800"))

    def __post_init__(self) -> None:
        if self.backend == "s3":
            missing = [name for name in ("s3_bucket", "s3_access_key", "s3_secret_key")
                       if not getattr(self, name)]
            if missing:
                raise ConfigError(
                    "storage.backend = \"s3\" needs "
                    + ", ".join(f"storage.{name}" for name in missing)
                )


OAUTH_PRESETS = ("google", "github", "oidc")
TOKEN_AUTH_METHODS = ("", "client_secret_basic", "client_secret_post", "none")
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")
_URL = _check(lambda v: v == "" or v.startswith(("http://", "https://")),
              "empty or an http(s):// URL")


@dataclass(frozen=True)
class OAuthProviderConfig:
    """``[oauth.providers.<name>]``: one way to sign in with another site (``contexts.oauth``).

    ``name`` is the table's name, in the routes (``/auth/<name>``) and the identities table.
    """

    name: str = ""
    # "google", "github" (their endpoints, scopes and user shapes) or "oidc" (any OpenID
    # provider, by discovery_url). Empty: the name, when it is google or github.
    preset: str = field(default="", metadata=_check(lambda v: v in ("", *OAUTH_PRESETS),
                                                    "empty or one of "
                                                    + ", ".join(OAUTH_PRESETS)))
    client_id: str = ""
    # Empty for a public client (PKCE only). Never logged; prefer
    # HEARTH_OAUTH_<NAME>_CLIENT_SECRET to the file.
    client_secret: str = field(default="", repr=False)
    # Empty: client_secret_basic with a secret, none without one.
    token_auth_method: str = field(default="", metadata=_check(
        lambda v: v in TOKEN_AUTH_METHODS, "empty or one of " + ", ".join(TOKEN_AUTH_METHODS[1:])))
    # The login button's text; empty: the preset's ("Google", "GitHub") or the name.
    label: str = ""
    # Space-separated; empty: the preset's.
    scopes: str = ""
    # An OpenID provider's /.well-known/openid-configuration (the google preset has its own).
    discovery_url: str = field(default="", metadata=_URL)
    # These replace the preset's or the discovered endpoints.
    authorize_url: str = field(default="", metadata=_URL)
    token_url: str = field(default="", metadata=_URL)
    # GitHub's REST API (preset: https://api.github.com), for /user and /user/emails.
    api_url: str = field(default="", metadata=_URL)

    @property
    def kind(self) -> str:
        """The preset in effect: ``google``, ``github`` or ``oidc``."""
        return self.preset or (self.name if self.name in ("google", "github") else "oidc")


@dataclass(frozen=True)
class OAuthConfig:
    """``[oauth]``: signing in with Google, GitHub or any OpenID provider. Each provider is a
    table ``[oauth.providers.<name>]``; a variable ``HEARTH_OAUTH_<NAME>_<KEY>`` sets one of
    its keys (and makes the provider if the file has no table for it)."""

    # Seconds each step may wait on a provider (discovery, the code's exchange, user info).
    timeout: float = field(default=10.0, metadata=_check(lambda v: 0 < v <= 60,
                                                         "seconds, more than 0, at most 60"))
    # Seconds a sign-in may take at the provider before its state is refused.
    state_ttl: float = field(default=600.0, metadata=_check(lambda v: 0 < v <= 3600,
                                                            "seconds, more than 0, at most 3600"))
    # Sign-ins one client address may start within start_limit_window seconds (each stores
    # a flow: without a bound, anyone could fill the table).
    start_limit_per_address: int = field(default=30, metadata=_check(
        lambda v: v >= 1, "at least 1"))
    start_limit_window: float = field(default=300.0, metadata=_check(
        lambda v: 0 < v <= 86400, "seconds, more than 0, at most 86400"))
    providers: tuple[OAuthProviderConfig, ...] = ()

    def provider(self, name: str) -> OAuthProviderConfig | None:
        """The provider called ``name``, or ``None``."""
        return next((p for p in self.providers if p.name == name), None)


@dataclass(frozen=True)
class Config:
    """The whole configuration; one attribute per ``[section]``."""

    node: NodeConfig = field(default_factory=NodeConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    repo: RepoConfig = field(default_factory=RepoConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    channels: ChannelsConfig = field(default_factory=ChannelsConfig)
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    oauth: OAuthConfig = field(default_factory=OAuthConfig)


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read ``path`` (``None``: no file), then ``env`` (default: ``os.environ``), then
    ``overrides`` (``{"server.port": 5000}``, from command-line flags); raises
    :class:`ConfigError`."""
    values: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    if path is not None:
        _merge_file(Path(path), values)
    _merge_env(os.environ if env is None else env, values)
    for dotted, raw in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        _put(values, section, key, raw, source="command line", parse=True)
    values["oauth"]["providers"] = _providers(values["oauth"].get("providers", {}))
    config = Config(**{name: cls(**values[name]) for name, cls in _SECTIONS.items()})
    if not config.node.name:
        node = dataclasses.replace(config.node, name=f"hearth@{socket.gethostname()}")
        config = dataclasses.replace(config, node=node)
    if config.cluster.enabled and not config.auth.secret_key:
        # A generated key is one node's own: the others could not verify what it signs.
        raise ConfigError("cluster.redis_url needs auth.secret_key, the same on every node")
    return config


# -- sources ---------------------------------------------------------------------------------


def _merge_file(path: Path, values: dict[str, dict[str, Any]]) -> None:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it as TOML: {e}") from None
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{section}]; expected one of {', '.join(_SECTIONS)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section} must be a [{section}] table")
        for key, value in table.items():
            if (section, key) == ("oauth", "providers"):
                _put_providers(values, value, str(path))
                continue
            _put(values, section, key, value, source=str(path), parse=False)


def _merge_env(env: Mapping[str, str], values: dict[str, dict[str, Any]]) -> None:
    for var, raw in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        # Section names have no underscore, so the first one splits section from key.
        section, _, key = rest.partition("_")
        if section not in _SECTIONS or not key:
            raise ConfigError(
                f"{var}: unknown setting; expected HEARTH_<SECTION>_<KEY> with a section "
                f"among {', '.join(_SECTIONS)}"
            )
        _put(values, section, key, raw, source=var, parse=True)


def _put(
    values: dict[str, dict[str, Any]],
    section: str,
    key: str,
    raw: Any,
    *,
    source: str,
    parse: bool,
) -> None:
    """Check ``raw`` against the schema and record it; ``parse``: ``raw`` may be text to
    convert (environment, command line) rather than a value of the right type (TOML)."""
    keys = _SCHEMA.get(section)
    if section == "oauth" and key not in _SCHEMA["oauth"]:
        # HEARTH_OAUTH_GOOGLE_CLIENT_ID: provider names have no underscore.
        name, _, provider_key = key.partition("_")
        _put_provider_key(values, name, provider_key, raw, source, parse)
        return
    if keys is None or key not in keys or (section, key) == ("oauth", "providers"):
        known = f"[{section}] has {', '.join(keys)}" if keys else "there is no such section"
        raise ConfigError(f"{source}: unknown key {section}.{key}; {known}")
    values[section][key] = _coerce(f"{section}.{key}", raw, keys[key], source, parse)


def _put_providers(values: dict[str, dict[str, Any]], tables: Any, source: str) -> None:
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError(f"{source}: oauth.providers must hold [oauth.providers.<name>] tables")
    for name, table in tables.items():
        if not table:
            _put_provider_key(values, name, "", None, source, False)
        for key, value in table.items():
            _put_provider_key(values, name, key, value, source, False)


def _put_provider_key(values: dict[str, dict[str, Any]], name: str, key: str, raw: Any,
                      source: str, parse: bool) -> None:
    if not _PROVIDER_NAME.fullmatch(name):
        raise ConfigError(
            f"{source}: oauth provider {name!r}: a name is a lower-case letter, then up to 31 "
            "lower-case letters or digits"
        )
    provider = values["oauth"].setdefault("providers", {}).setdefault(name, {})
    if not key:
        return
    if key not in _PROVIDER_SCHEMA or key == "name":
        known = ", ".join(k for k in _PROVIDER_SCHEMA if k != "name")
        raise ConfigError(f"{source}: unknown key oauth.providers.{name}.{key}; a provider has "
                          f"{known}")
    provider[key] = _coerce(f"oauth.providers.{name}.{key}", raw, _PROVIDER_SCHEMA[key], source,
                            parse)


def _providers(tables: dict[str, dict[str, Any]]) -> tuple[OAuthProviderConfig, ...]:
    providers = []
    for name, table in tables.items():  # the file's order: the login page's buttons
        provider = OAuthProviderConfig(name=name, **table)
        where = f"oauth.providers.{name}"
        if not provider.client_id:
            raise ConfigError(f"{where} needs a client_id")
        if provider.kind == "oidc" and not provider.discovery_url:
            raise ConfigError(f"{where} needs a discovery_url (or preset = \"google\" or "
                              "\"github\")")
        if provider.token_auth_method.startswith("client_secret") and not provider.client_secret:
            raise ConfigError(f"{where}: token_auth_method {provider.token_auth_method} needs "
                              "a client_secret")
        providers.append(provider)
    return tuple(providers)


# -- types -----------------------------------------------------------------------------------

_MISSING: Any = object()
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
_BOOLS = {"true": True, "1": True, "false": False, "0": False}


def _coerce(dotted: str, raw: Any, spec: _Key, source: str, parse: bool) -> Any:
    typ = spec.type
    value: Any = _MISSING
    if parse and isinstance(raw, str) and typ is not str:
        value = _parse(raw, typ)
    elif typ is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    elif type(raw) is typ:
        value = raw
    if value is _MISSING:
        raise ConfigError(f"{source}: {dotted} must be {_TYPE_NAMES[typ]}, not {raw!r}")
    if spec.check is not None and not spec.check[0](value):
        raise ConfigError(f"{source}: {dotted} must be {spec.check[1]}, not {value!r}")
    return value


def _parse(text: str, typ: type) -> Any:
    text = text.strip()
    try:
        if typ is bool:
            return _BOOLS.get(text.lower(), _MISSING)
        if typ is int:
            return int(text)
        if typ is float:
            return float(text)
    except ValueError:
        return _MISSING
    return _MISSING


# -- the schema, read once from the dataclasses above ----------------------------------------


class _Key(NamedTuple):
    type: type
    check: tuple[Callable[[Any], bool], str] | None


def _read_schema() -> tuple[dict[str, type], dict[str, dict[str, _Key]]]:
    sections: dict[str, type] = typing.get_type_hints(Config)
    keys: dict[str, dict[str, _Key]] = {}
    for name, cls in sections.items():
        if "_" in name:  # HEARTH_<SECTION>_<KEY> splits at the first underscore
            raise TypeError(f"config section {name!r}: section names cannot contain '_'")
        hints = typing.get_type_hints(cls)
        keys[name] = {
            f.name: _Key(hints[f.name], f.metadata.get("check")) for f in dataclasses.fields(cls)
        }
    return sections, keys


_SECTIONS, _SCHEMA = _read_schema()
_PROVIDER_SCHEMA = {
    f.name: _Key(str, f.metadata.get("check")) for f in dataclasses.fields(OAuthProviderConfig)
}
