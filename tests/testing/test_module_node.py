"""One node for a whole module (opt-in): set up once, read by every test, each test with a
client of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from contexts.posts import Post
from hearth.testing import Conn, TestNode, html_response, insert, insert_list, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.hearth_config({"api.default_page_size": 2})]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def posts(hearth_module_node: TestNode) -> AsyncIterator[list[Post]]:
    yield await insert_list(3, "post")


async def test_the_module_node_serves_what_the_module_set_up(
    module_conn: Conn, posts: list[Post]
) -> None:
    page = html_response(await module_conn.get("/posts"), 200)

    assert all(post.title in page for post in posts)


async def test_each_test_has_its_own_cookies(module_conn: Conn, posts: list[Post]) -> None:
    await log_in(module_conn, await insert("user", display_name="Dora"))

    assert (await module_conn.get("/")).user == "Dora"


async def test_a_later_test_starts_signed_out_on_the_same_node(
    module_conn: Conn, hearth_module_node: TestNode, posts: list[Post]
) -> None:
    assert (await module_conn.get("/")).user is None
    assert hearth_module_node.config.api.default_page_size == 2
