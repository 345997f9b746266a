"""config.toml, HEARTH_* variables and command-line flags become one typed Config."""

from __future__ import annotations

import socket
import tomllib
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from hearth.config import Config, ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    config = load_config(env={})

    assert config.node.name == f"hearth@{socket.gethostname()}"
    assert config.node.dirty_pool_size == 2
    assert config.node.log_level == "info"
    assert (config.server.host, config.server.port) == ("127.0.0.1", 4000)
    assert config.server.shutdown_timeout == 5.0
    assert config.server.access_log is True
    assert config.database.path == "data/hearth.db"


def test_the_config_is_frozen() -> None:
    config = load_config(env={})

    with pytest.raises(FrozenInstanceError):
        config.server.port = 1  # type: ignore[misc]


def test_file_values_replace_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [node]
        name = "chat@eu-1"
        dirty_pool_size = 4
        [server]
        port = 8080
        shutdown_timeout = 2   # an integer is a fine number of seconds
        access_log = false
        """,
    )

    config = load_config(path, env={})

    assert config.node.name == "chat@eu-1"
    assert config.node.dirty_pool_size == 4
    assert config.server.port == 8080
    assert config.server.shutdown_timeout == 2.0
    assert config.server.access_log is False
    assert config.server.host == "127.0.0.1"  # untouched keys keep their default


def test_env_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 8080\nhost = '0.0.0.0'\n")
    env = {
        "HEARTH_SERVER_PORT": "5000",
        "HEARTH_NODE_DIRTY_POOL_SIZE": "3",
        "HEARTH_SERVER_SHUTDOWN_TIMEOUT": "0.5",
        "HEARTH_SERVER_ACCESS_LOG": "0",
        "PATH": "/usr/bin",  # not ours: ignored
    }

    config = load_config(path, env=env)

    assert config.server.port == 5000
    assert config.server.host == "0.0.0.0"
    assert config.node.dirty_pool_size == 3
    assert config.server.shutdown_timeout == 0.5
    assert config.server.access_log is False


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("TRUE", True), ("1", True), ("false", False), ("0", False)]
)
def test_env_booleans(text: str, value: bool) -> None:
    config = load_config(env={"HEARTH_SERVER_ACCESS_LOG": text})

    assert config.server.access_log is value


def test_command_line_overrides_env_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 8080\nhost = '0.0.0.0'\n")

    config = load_config(
        path,
        env={"HEARTH_SERVER_PORT": "5000", "HEARTH_SERVER_HOST": "10.0.0.1"},
        overrides={"server.port": "6000"},
    )

    assert config.server.port == 6000
    assert config.server.host == "10.0.0.1"


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nprot = 4000\n")

    with pytest.raises(ConfigError, match=r"unknown key server\.prot"):
        load_config(path, env={})


def test_unknown_section_in_the_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[sever]\nport = 4000\n")

    with pytest.raises(ConfigError, match=r"unknown section \[sever\]"):
        load_config(path, env={})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[server]\nport = "abc"', r"server\.port must be an integer, not 'abc'"),
        ("[server]\nport = true", r"server\.port must be an integer, not True"),
        ("[server]\nport = 4000.5", r"server\.port must be an integer"),
        ("[server]\nhost = 127", r"server\.host must be a string, not 127"),
        ('[server]\naccess_log = "yes"', r"server\.access_log must be a boolean"),
        ("[server]\nport = 70000", r"server\.port must be a port from 0 to 65535"),
        ("[node]\ndirty_pool_size = 0", r"node\.dirty_pool_size must be at least 1"),
        ('[node]\nlog_level = "loud"', r"node\.log_level must be one of debug, info"),
    ],
)
def test_wrong_value_in_the_file_names_key_and_expectation(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = write(tmp_path, toml)

    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path, env={})
    assert str(path) in str(caught.value)


def test_wrong_type_in_env_names_variable_key_and_expectation() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env={"HEARTH_SERVER_PORT": "abc"})

    assert str(caught.value) == "HEARTH_SERVER_PORT: server.port must be an integer, not 'abc'"


def test_env_boolean_must_be_one_of_the_four_spellings() -> None:
    with pytest.raises(ConfigError, match=r"server\.access_log must be a boolean, not 'yes'"):
        load_config(env={"HEARTH_SERVER_ACCESS_LOG": "yes"})


def test_unknown_key_in_env_is_named() -> None:
    with pytest.raises(ConfigError, match=r"HEARTH_SERVER_PROT: unknown key server\.prot"):
        load_config(env={"HEARTH_SERVER_PROT": "4000"})


@pytest.mark.parametrize("var", ["HEARTH_SEVER_PORT", "HEARTH_SERVER", "HEARTH_CONFIG"])
def test_unknown_hearth_variable_is_an_error(var: str) -> None:
    with pytest.raises(ConfigError, match=f"{var}: unknown setting"):
        load_config(env={var: "1"})


def test_wrong_command_line_value_is_named() -> None:
    with pytest.raises(ConfigError, match=r"command line: server\.port must be an integer"):
        load_config(env={}, overrides={"server.port": "http"})


def test_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml", env={})
    with pytest.raises(ConfigError, match="cannot read it as TOML"):
        load_config(write(tmp_path, "[server\n"), env={})


def test_the_shipped_config_toml_lists_every_key_with_its_default() -> None:
    path = REPO / "config.toml"
    with path.open("rb") as f:
        shipped = tomllib.load(f)

    defaults = Config()
    expected = {
        section.name: {key.name for key in fields(getattr(defaults, section.name))}
        for section in fields(Config)
    }
    assert {name: set(table) for name, table in shipped.items()} == expected
    assert load_config(path, env={}) == load_config(env={})
