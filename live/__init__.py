"""Live pages: server-rendered views kept up to date over a socket, on the stock
``phoenix_live_view`` client (see README, "Live pages").

What an application uses is here: :class:`LiveView` and its socket functions
(:mod:`live.view`), :class:`Template` (:mod:`live.template`), :class:`JS` (:mod:`live.js`),
the router (:mod:`live.router`); :mod:`live.http` serves them.
"""

from otp import NoReply, Ok, Reply

from .js import JS
from .template import Rendered, Template, TemplateError, raw
from .view import (
    AsyncResult,
    LiveSocket,
    LiveView,
    NotFound,
    assign,
    assign_async,
    assign_new,
    cancel_async,
    clear_flash,
    connected,
    push_event,
    push_navigate,
    push_patch,
    put_flash,
    redirect,
    start_async,
    stream,
    stream_delete,
    stream_delete_by_dom_id,
    stream_insert,
    update,
)

__all__ = [
    "JS",
    "AsyncResult",
    "LiveSocket",
    "LiveView",
    "NoReply",
    "NotFound",
    "Ok",
    "Rendered",
    "Reply",
    "Template",
    "TemplateError",
    "assign",
    "assign_async",
    "assign_new",
    "cancel_async",
    "clear_flash",
    "connected",
    "push_event",
    "push_navigate",
    "push_patch",
    "put_flash",
    "raw",
    "redirect",
    "start_async",
    "stream",
    "stream_delete",
    "stream_delete_by_dom_id",
    "stream_insert",
    "update",
]
