"""API keys, at the context: a key read lately is trusted for a moment, requests arriving
together share one read of it, and revoking a key forgets it at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from contexts import api_keys
from contexts.accounts import Accounts
from hearth.config import AuthConfig
from tests.actors._tree import store_tree


async def test_requests_arriving_together_share_one_read_of_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with store_tree(tmp_path / "db.sqlite"):
        ann = await Accounts(AuthConfig(bcrypt_cost=4)).register(
            "ann@example.com", "correct horse battery", "Ann")
        _, secret = await api_keys.create_key(ann.id, "laptop")
        reads: list[str] = []
        real_read = api_keys._read

        async def counted(prefix: str, now: float) -> Any:
            reads.append(prefix)
            return await real_read(prefix, now)

        monkeypatch.setattr(api_keys, "_read", counted)

        found = await asyncio.gather(*(api_keys.authenticate(secret) for _ in range(30)))
        again = await api_keys.authenticate(secret)

        assert len(reads) == 1
        assert {owner.email for _, owner in found} == {"ann@example.com"}
        assert again[1] == found[0][1]
        assert len(reads) == 1  # still trusted

        revoked = await api_keys.revoke_key(found[0][0].id)
        assert revoked is not None and revoked.revoked
        with pytest.raises(api_keys.ApiKeyError, match="revoked"):
            await api_keys.authenticate(secret)
        assert len(reads) == 2  # forgotten at once, read again
