"""Hearth's testing kit: ConnCase, factories and behaviour mocks (seed Examples 42, 44, 45).

Installed with the package as a pytest plugin (see :mod:`hearth.testing.plugin` for its
fixtures: ``hearth_node``, ``conn``, ``channel_case``, ...), so a test file needs no
``conftest.py``::

    from hearth.testing import html_response, insert

    async def test_lists_all_posts(conn):
        post = await insert("post")
        assert post.title in html_response(await conn.get("/posts"), 200)

What is here: :mod:`~hearth.testing.node` (a node under test), :mod:`~hearth.testing.conn`
(the client and the readers of its answers), :mod:`~hearth.testing.factories` and
:mod:`~hearth.testing.mocks`.
"""

from . import mocks
from .conn import (
    Conn,
    Response,
    api_conn,
    get_flash,
    html_response,
    json_response,
    log_in,
    log_in_with_password,
    problem_response,
    redirected_to,
    text_response,
    with_api_key,
)
from .factories import (
    Built,
    Factory,
    FactoryError,
    association,
    build,
    build_list,
    insert,
    insert_list,
    lazy,
    params_for,
    sequence,
)
from .node import PASSWORD, SECRET_KEY, TestNode, current_node, running, start_node, test_config

__all__ = [
    "PASSWORD",
    "SECRET_KEY",
    "Built",
    "Conn",
    "Factory",
    "FactoryError",
    "Response",
    "TestNode",
    "api_conn",
    "association",
    "build",
    "build_list",
    "current_node",
    "get_flash",
    "html_response",
    "insert",
    "insert_list",
    "json_response",
    "lazy",
    "log_in",
    "log_in_with_password",
    "mocks",
    "params_for",
    "problem_response",
    "redirected_to",
    "running",
    "sequence",
    "start_node",
    "test_config",
    "text_response",
    "with_api_key",
]
