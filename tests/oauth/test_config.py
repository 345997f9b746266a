"""``[oauth]`` of config.toml: providers as tables, their keys from HEARTH_OAUTH_<NAME>_<KEY>,
presets filled in, secrets out of every repr, and each mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from contexts.oauth import OAuth
from hearth.config import ConfigError, load_config

FILE = """
[oauth]
timeout = 5.0

[oauth.providers.github]
client_id = "gh-id"
client_secret = "from-the-file"

[oauth.providers.google]
client_id = "google-id"

[oauth.providers.corp]
label = "Corp SSO"
discovery_url = "https://sso.example.com/.well-known/openid-configuration"
client_id = "hearth"
"""


async def test_providers_come_from_tables_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILE)
    env = {"HEARTH_OAUTH_GITHUB_CLIENT_SECRET": "from-the-environment",
           "HEARTH_OAUTH_GOOGLE_CLIENT_SECRET": "google-secret",
           "HEARTH_OAUTH_STATE_TTL": "120"}

    config = load_config(path, env=env)
    oauth = OAuth(config.oauth, "https://hearth.example.com/")
    try:
        shown = {name: (p.kind, p.label, p.scopes, p.redirect_uri)
                 for name, p in oauth.providers.items()}
    finally:
        await oauth.close()

    assert (config.oauth.timeout, config.oauth.state_ttl) == (5.0, 120.0)
    github = config.oauth.provider("github")
    assert github is not None and github.client_secret == "from-the-environment"
    assert "from-the-environment" not in repr(config) and "google-secret" not in repr(config)
    assert list(shown) == ["github", "google", "corp"]  # the file's order, the buttons'
    assert shown == {
        "corp": ("oidc", "Corp SSO", "openid email profile",
                 "https://hearth.example.com/auth/corp/callback"),
        "github": ("github", "GitHub", "read:user user:email",
                   "https://hearth.example.com/auth/github/callback"),
        "google": ("google", "Google", "openid email profile",
                   "https://hearth.example.com/auth/google/callback"),
    }


def test_a_provider_may_come_from_the_environment_alone() -> None:
    config = load_config(env={"HEARTH_OAUTH_GOOGLE_CLIENT_ID": "id"})

    assert [(p.name, p.kind, p.client_id) for p in config.oauth.providers] == [
        ("google", "google", "id")]


@pytest.mark.parametrize(("env", "message"), [
    ({"HEARTH_OAUTH_GOOGLE_CLIENTID": "x"},
     r"HEARTH_OAUTH_GOOGLE_CLIENTID: unknown key oauth\.providers\.google\.clientid"),
    ({"HEARTH_OAUTH_CORP_CLIENT_ID": "x"},
     r"oauth\.providers\.corp needs a discovery_url"),
    ({"HEARTH_OAUTH_GITHUB_CLIENT_SECRET": "x"}, r"oauth\.providers\.github needs a client_id"),
    ({"HEARTH_OAUTH_GOOGLE_CLIENT_ID": "x", "HEARTH_OAUTH_GOOGLE_TOKEN_AUTH_METHOD": "post"},
     r"token_auth_method must be empty or one of client_secret_basic"),
    ({"HEARTH_OAUTH_GOOGLE_CLIENT_ID": "x",
      "HEARTH_OAUTH_GOOGLE_TOKEN_AUTH_METHOD": "client_secret_post"},
     r"token_auth_method client_secret_post needs a client_secret"),
    ({"HEARTH_OAUTH_TIMEOUT": "0"}, r"oauth\.timeout must be seconds, more than 0"),
    ({"HEARTH_OAUTH_PROVIDERS": "x"}, r"unknown key oauth\.providers"),
])
def test_each_mistake_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env=env)


def test_a_provider_table_name_must_be_a_plain_lower_case_word(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[oauth.providers.My-Corp]\nclient_id = "x"\n')

    with pytest.raises(ConfigError, match=r"oauth provider 'My-Corp': a name is a lower-case"):
        load_config(path, env={})
