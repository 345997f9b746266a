"""``[cluster]``: off unless a Redis URL is given; every mistake named, exit 2 from serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hearth.config import ConfigError, load_config

SECRET = {"auth.secret_key": "a-cluster-secret-key-0123456789abcdefghij"}


def test_no_cluster_by_default() -> None:
    cluster = load_config(env={}).cluster

    assert cluster.enabled is False
    assert cluster.redis_url == ""
    assert (cluster.heartbeat_interval, cluster.down_after) == (1.0, 10.0)
    assert cluster.prefix == "hearth"


def test_a_redis_url_from_the_environment_turns_it_on_and_stays_out_of_the_repr() -> None:
    config = load_config(env={"HEARTH_CLUSTER_REDIS_URL": "redis://:hunter2@10.0.0.5:6379/1",
                              "HEARTH_CLUSTER_DOWN_AFTER": "3.5",
                              "HEARTH_AUTH_SECRET_KEY": SECRET["auth.secret_key"]})

    assert config.cluster.enabled
    assert config.cluster.redis_url == "redis://:hunter2@10.0.0.5:6379/1"
    assert config.cluster.down_after == 3.5
    assert "hunter2" not in repr(config)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example.com",
                                 "unix:///run/redis.sock"])
def test_redis_urls_accepted(url: str) -> None:
    assert load_config(env={}, overrides={"cluster.redis_url": url, **SECRET}).cluster.enabled


@pytest.mark.parametrize(("key", "value", "named"), [
    ("cluster.redis_url", "http://127.0.0.1:6379", "cluster.redis_url must be empty, redis://"),
    ("cluster.redis_url", "redis://host:port", "cluster.redis_url must be"),
    ("cluster.redis_url", "redis://", "cluster.redis_url must be"),
    ("cluster.address", "127.0.0.1:4000", "cluster.address must be empty or an http(s)://"),
    ("cluster.prefix", "", "cluster.prefix must be 1 to 64"),
    ("cluster.prefix", "a b", "cluster.prefix must be 1 to 64"),
    ("cluster.heartbeat_interval", "0", "cluster.heartbeat_interval must be seconds from 0.01"),
    ("cluster.down_after", "-1", "cluster.down_after must be seconds, more than 0"),
    ("cluster.down_after", "soon", "cluster.down_after must be a number"),
])
def test_each_bad_value_is_named(key: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load_config(env={}, overrides={key: value, **SECRET})


def test_down_after_must_leave_room_for_two_heartbeats() -> None:
    with pytest.raises(ConfigError, match=r"cluster.down_after \(1.5\) must be at least twice "
                                          r"cluster.heartbeat_interval \(1.0\)"):
        load_config(env={}, overrides={"cluster.down_after": "1.5", **SECRET})


def test_a_cluster_needs_a_shared_secret_key() -> None:
    with pytest.raises(ConfigError, match=r"cluster\.redis_url needs auth\.secret_key"):
        load_config(env={}, overrides={"cluster.redis_url": "redis://127.0.0.1:6379"})


def test_serve_exits_2_naming_the_cluster_key(tmp_path: Path) -> None:
    (tmp_path / "hearth.toml").write_text('[cluster]\nredis_url = "redis://127.0.0.1:6379"\n'
                                          'heartbeat_interval = 2.0\ndown_after = 3.0\n'
                                          '[auth]\nsecret_key = "' + SECRET["auth.secret_key"]
                                          + '"\n')
    done = subprocess.run([sys.executable, "-m", "hearth", "serve", "--config", "hearth.toml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})

    assert done.returncode == 2, done.stderr
    assert "cluster.down_after (3.0) must be at least twice" in done.stderr
