"""The node's secret key: from config, or generated once and kept beside the database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hearth.config import Config

__all__ = ["load_secret_key"]

FILENAME = "secret_key"


def load_secret_key(config: Config) -> bytes:
    """``auth.secret_key`` if set; else the key in the data directory, created (mode 0600)
    on first use. Never log what this returns."""
    if config.auth.secret_key:
        return config.auth.secret_key.encode()
    path = Path(config.database.path).parent / FILENAME
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # as the Repo makes it
    key = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    return key
