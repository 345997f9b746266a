"""Numbered schema migrations, applied in order at start and recorded in ``schema_migrations``.

Append only: never edit a migration that has shipped; add the next number. A database that
records a number higher than the last one here was written by newer code, and the Repo
refuses to start on it rather than guess.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "accounts",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            email_norm TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
            display_name TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE TABLE password_resets (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        );
        CREATE INDEX password_resets_user ON password_resets(user_id);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL,
            sent_at REAL
        );
        """,
    ),
    (
        2,
        "api tokens and keys",
        """
        CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            family_id TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        );
        CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
        CREATE TABLE token_families (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE INDEX token_families_user ON token_families(user_id);
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL UNIQUE,
            key_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_used_at REAL,
            revoked_at REAL
        );
        CREATE INDEX api_keys_user ON api_keys(user_id);
        """,
    ),
    (
        3,
        "rooms and posts",
        """
        CREATE TABLE rooms (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            author_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX posts_author ON posts(author_id);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
            user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_room ON messages(room_id, id);
        """,
    ),
    (
        4,
        "the lobby",
        # Every node has a lobby (contexts.chat.LOBBY), whatever else was seeded or created.
        """
        INSERT OR IGNORE INTO rooms (slug, name, created_at)
        VALUES ('lobby', 'Lobby', CAST(strftime('%s', 'now') AS REAL));
        """,
    ),
    (
        5,
        "api: published posts, likes, persistent rate limits",
        """
        ALTER TABLE posts ADD COLUMN published INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE posts ADD COLUMN likes INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX posts_published ON posts(published, id);
        CREATE TABLE post_likes (
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            PRIMARY KEY (post_id, user_id)
        );
        CREATE INDEX post_likes_user ON post_likes(user_id);
        CREATE TABLE rate_limits (
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            count INTEGER NOT NULL,
            ends_at REAL NOT NULL,
            PRIMARY KEY (bucket, key)
        );
        """,
    ),
    (
        6,
        "chat: a client-chosen id per message, so a retry is not stored twice",
        """
        ALTER TABLE messages ADD COLUMN client_id TEXT;
        CREATE UNIQUE INDEX messages_client ON messages(room_id, user_id, client_id)
            WHERE client_id IS NOT NULL;
        """,
    ),
    (
        7,
        "a catalog of products, for the cart page",
        """
        CREATE TABLE products (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            created_at REAL NOT NULL
        );
        """,
    ),
    (
        8,
        "profile photos, the first of them the avatar",
        """
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            key TEXT NOT NULL UNIQUE,
            url TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX photos_user ON photos(user_id, id);
        ALTER TABLE users ADD COLUMN avatar_url TEXT;
        """,
    ),
    (
        9,
        "social login: identities at other sites, and sign-ins under way",
        # users.password_hash of an account made by a provider is contexts.accounts.NO_PASSWORD,
        # which no password matches. An oauth_flows row lives from the redirect to the
        # provider until its callback (or state_ttl): state_hash names it, browser binds it
        # to the browser session that started it.
        """
        CREATE TABLE identities (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            provider TEXT NOT NULL,
            uid TEXT NOT NULL,
            email TEXT,
            created_at REAL NOT NULL,
            last_used_at REAL NOT NULL,
            UNIQUE (provider, uid),
            UNIQUE (user_id, provider)
        );
        CREATE TABLE oauth_flows (
            state_hash TEXT PRIMARY KEY,
            browser TEXT NOT NULL,
            provider TEXT NOT NULL,
            code_verifier TEXT NOT NULL,
            nonce TEXT NOT NULL,
            next_path TEXT NOT NULL,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX oauth_flows_expires ON oauth_flows(expires_at);
        CREATE INDEX oauth_flows_browser ON oauth_flows(browser);
        """,
    ),
]
