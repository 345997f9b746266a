"""The store and the application's socket handler, for channel tests: the Repo on a scratch
database (migrated, so the lobby exists), the accounts and token contexts, and users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from actors.user_socket import UserSocket, socket_token
from channels.presence import presence_spec
from contexts import chat, sessions
from contexts.accounts import Accounts, User
from contexts.tokens import Tokens
from hearth.config import AuthConfig
from hearth.names import PRESENCE, PUBSUB

from ._tree import store_tree

SECRET = b"a chat test secret, longer than twenty bytes"
PASSWORD = "correct horse battery"


@dataclass
class Chat:
    """What a channel test needs: the handler to connect to, and ways to make users."""

    accounts: Accounts
    tokens: Tokens
    handler: UserSocket
    sessions: dict[int, str] = field(default_factory=dict)
    """Each user's browser session (its token), started when the user is made."""

    async def user(self, name: str, role: str = "user") -> User:
        """A new user called ``name`` (``name@example.com``), signed in in one browser."""
        user = await self.accounts.register(f"{name.lower()}@example.com", PASSWORD, name,
                                            role=role)
        self.sessions[user.id] = await sessions.create(user.id, 3600.0)
        return user

    def token(self, user: User) -> dict[str, str]:
        """Connect params with a socket token for ``user``, as a page of their session
        renders it."""
        return {"token": socket_token(SECRET, user, self.sessions[user.id])}


@asynccontextmanager
async def chat_store(tmp_path: Path) -> AsyncIterator[Chat]:
    """Run the store for the body of the ``async with`` (see ``store_tree``)."""
    auth = AuthConfig(bcrypt_cost=4)
    async with store_tree(tmp_path / "hearth.db"):
        # The room channel tracks presence: a tracker as the node runs one, diffs at once.
        await presence_spec(PRESENCE, PUBSUB, shards=1, broadcast_window=0,
                            fetch=chat.presence_users).start()
        accounts = Accounts(auth)
        tokens = Tokens(auth, SECRET)
        yield Chat(accounts, tokens, UserSocket(SECRET, tokens, accounts))
