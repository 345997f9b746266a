"""find_or_create_user (seed Example 41) on its own: the same person signing in twice at
once makes one user, and the rules about emails hold whatever the order."""

from __future__ import annotations

import asyncio

from actors.repo import Repo
from contexts import identities
from contexts.identities import Profile
from hearth.testing import TestNode, insert

ANN = Profile(provider="corp", uid="ann-1", email="ann@example.com", email_verified=True,
              name="Ann\x07 Example")


async def test_two_sign_ins_at_once_make_one_user(hearth_node: TestNode) -> None:
    results = await asyncio.gather(*(identities.find_or_create_user(ANN, "Corp")
                                     for _ in range(5)))

    users = {user.id for user, _ in results}
    rows = await Repo.fetch_all("SELECT user_id FROM identities")
    assert len(users) == 1 and [r["user_id"] for r in rows] == list(users)
    assert sorted(how for _, how in results) == ["created", "known", "known", "known", "known"]
    assert results[0][0].display_name == "Ann Example"  # no control characters kept


async def test_a_long_or_missing_name_gives_a_display_name_that_fits(
    hearth_node: TestNode,
) -> None:
    long, none = (Profile("corp", uid, f"{uid}@example.com", True, name)
                  for uid, name in (("long", "x" * 200), ("none", " \n ")))

    long_user, _ = await identities.find_or_create_user(long, "Corp")
    none_user, _ = await identities.find_or_create_user(none, "Corp")

    assert (len(long_user.display_name), none_user.display_name) == (80, "none")


async def test_a_user_deleted_takes_their_identities_along(hearth_node: TestNode) -> None:
    user = await insert("user", email="ann@example.com")
    await identities.find_or_create_user(ANN, "Corp")
    await Repo.execute("DELETE FROM users WHERE id = ?", (user.id,))
    left = await Repo.fetch_one("SELECT COUNT(*) FROM identities")

    again, how = await identities.find_or_create_user(ANN, "Corp")

    assert left is not None and left[0] == 0
    assert (how, again.display_name) == ("created", "Ann Example")
