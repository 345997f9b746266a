"""``[channels]`` in config.toml becomes the sockets' Limits and allowed origins."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.handler import Limits
from hearth.config import ConfigError, load_config
from web.sockets import channel_limits


def test_the_defaults_are_phoenixs() -> None:
    limits, origins = channel_limits(load_config(env={}).channels)

    assert limits == Limits()
    assert (limits.max_channels, limits.max_topic_bytes) == (100, 255)
    assert (limits.idle_timeout, limits.longpoll_window) == (60.0, 10.0)
    assert origins == ()


def test_the_file_and_the_environment_set_them(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[channels]\n"
        "max_channels = 20\n"
        "idle_timeout = 30\n"
        'allowed_origins = " app.example.com, localhost:3000 ,, "\n'
    )

    config = load_config(path, env={"HEARTH_CHANNELS_OUTBOUND_BUFFER_BYTES": "65536"})
    limits, origins = channel_limits(config.channels)

    assert (limits.max_channels, limits.idle_timeout) == (20, 30.0)
    assert limits.outbound_buffer_bytes == 65536
    assert origins == ("app.example.com", "localhost:3000")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_topic_bytes", "256", "from 1 to 255"),
        ("max_channels", "0", "at least 1"),
        ("idle_timeout", "0", "seconds > 0"),
        ("max_frame_bytes", "10", "at least 1024"),
    ],
)
def test_out_of_range_values_are_refused(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env={f"HEARTH_CHANNELS_{key.upper()}": value})
