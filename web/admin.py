"""The operators' endpoint: what ``hearth tree``, ``ps``, ``info``, ``kill``, ``restart``,
``terminate``, ``top`` and ``stats`` ask a running node.

It exists only when ``admin.token`` is set, and answers only requests that carry that token
as ``Authorization: Bearer <token>`` (compared in constant time): a user's session cookie or
API token opens nothing here. Everything it says comes from the runtime's introspection
(``otp.process_info``, ``otp.supervision_tree``); what it does is what an Erlang shell would
do (``exit/2``, ``supervisor:restart_child/2``).

Routes (JSON in and out): ``GET /_admin/tree?depth=N&all=0|1``, ``GET /_admin/ps?sort=
mailbox|messages|memory|restarts&limit=N``, ``GET /_admin/info?target=PID|NAME``, ``POST
/_admin/kill {target, reason}``, ``POST /_admin/restart`` and ``POST /_admin/terminate``
``{supervisor, child_id}``, ``GET /_admin/stats``, ``GET /_admin/nodes``.

In a cluster (``[cluster]``), ``nodes`` lists every node this one hears (``otp.Nodes``), and
any ``GET`` above with ``node=NAME`` is asked of that node instead: this node forwards it to
the address that node announces, with its own admin token (every node of a cluster has the
same), and answers what that node answered. ``stats`` tells whether the cluster link (Redis)
is up.
"""

from __future__ import annotations

import hmac
import sys
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

import otp
from channels.conn import metrics
from channels.presence import PresenceShard
from channels.session import SocketSession
from hearth import names
from otp import _kernel as k

from . import csrf
from .keys import CONFIG

__all__ = ["PREFIX", "add_routes"]

PREFIX = "/_admin"
SORTS = {
    "mailbox": "message_queue_len",
    "messages": "messages_handled",
    "memory": "memory",
    "restarts": "restarts",
}
MAX_LIMIT = 1000
DYNAMIC_SHOWN = 20


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body, default=repr), status=status,
                        content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def _guarded(handler: Handler) -> Handler:
    """Let ``handler`` run only for the admin token; CSRF does not apply (no cookies here).
    A ``GET`` with ``node=NAME`` (another node of the cluster) is forwarded to it."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        config = request.app[CONFIG]
        token = config.admin.token
        if not token:
            raise web.HTTPNotFound()
        sent = request.headers.get("Authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(),
                                                                 token.encode()):
            return _error(401, "unauthorized")
        node = request.query.get("node")
        if request.method == "GET" and node and node != config.node.name:
            return await _forward(request, node, token)
        return await handler(request)

    return csrf.exempt(guarded)


FORWARD_TIMEOUT = 10.0


async def _forward(request: web.Request, node: str, token: str) -> web.Response:
    """Ask ``node`` the same question, at the address its heartbeats announce."""
    if not request.app[CONFIG].cluster.enabled:
        return _error(404, f"no node {node}: this node is not in a cluster")
    row = next((r for r in await otp.Nodes.list(names.NODES) if r["name"] == node), None)
    if row is None or not row.get("address"):
        return _error(404, f"no node {node} in the cluster")
    query = {k: v for k, v in request.query.items() if k != "node"}
    url = f"{str(row['address']).rstrip('/')}{request.path}"
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT)
        ) as session, session.get(url, params=query,
                                  headers={"Authorization": f"Bearer {token}"}) as answer:
            body = await answer.read()
            return web.Response(body=body, status=answer.status,
                                content_type="application/json",
                                headers={"Cache-Control": "no-store"})
    except (aiohttp.ClientError, TimeoutError) as e:
        state = "up" if row.get("up") else "down"
        return _error(502, f"node {node} ({state}) did not answer at {row['address']}: "
                           f"{type(e).__name__}")


def _resolve(target: Any) -> Any:
    """A pid (``<0.42.0>`` or ``42``) or a registered name, as the runtime addresses it."""
    if not isinstance(target, str) or not target:
        return None
    text = target.strip()
    if text.startswith("<") or text.isdigit():
        try:
            return k.Pid.parse(text)
        except (ValueError, IndexError):
            return None
    return text


def _memory(proc: k.Process) -> int:
    """A rough size in bytes: the process object, its mailbox and its state (shallow)."""
    size = sys.getsizeof(proc)
    if proc._mailbox:
        size += sys.getsizeof(proc._mailbox) + sum(sys.getsizeof(m) for m in proc._mailbox)
    state = getattr(proc, "_state", None)
    if state is not None:
        size += sys.getsizeof(state)
    return size


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise web.HTTPBadRequest(text=f"{name} must be an integer from {low} to {high}")
    return int(raw)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


# -- handlers --------------------------------------------------------------------------------


async def tree(request: web.Request) -> web.Response:
    depth = _int(request, "depth", 100, 0, 100)
    show_all = request.query.get("all") in ("1", "true")
    snap = await otp.supervision_tree(names.ROOT, max_children=MAX_LIMIT * 100 if show_all
                                      else DYNAMIC_SHOWN)
    _prune(snap, depth)
    return _json(snap)


def _prune(node: dict[str, Any], depth: int) -> None:
    for child in node.get("children", ()):
        sub = child.get("tree")
        if sub is None:
            continue
        if depth <= 0:
            del child["tree"]
        else:
            _prune(sub, depth - 1)


async def ps(request: web.Request) -> web.Response:
    sort = request.query.get("sort", "mailbox")
    if sort not in SORTS:
        raise web.HTTPBadRequest(text=f"sort must be one of {', '.join(SORTS)}")
    limit = _int(request, "limit", 20, 1, MAX_LIMIT)
    rows = []
    for proc in list(k._procs.values()):
        info = proc._info()
        info["memory"] = _memory(proc)
        rows.append(info)
    key = SORTS[sort]
    rows.sort(key=lambda r: r[key], reverse=True)
    return _json({"processes": rows[:limit]})


async def info(request: web.Request) -> web.Response:
    target = _resolve(request.query.get("target"))
    found = otp.process_info(target) if target is not None else None
    if found is None:
        return _error(404, "no such process")
    proc = k.resolve(target)
    if proc is not None:
        found["memory"] = _memory(proc)
    return _json(found)


async def kill(request: web.Request) -> web.Response:
    body = await _body(request)
    target = _resolve(body.get("target"))
    reason = body.get("reason", "kill")
    if target is None or not otp.is_alive(target) or not isinstance(reason, str):
        return _error(404, "no such process")
    proc = k.resolve(target)
    assert proc is not None
    pid = proc.pid
    otp.exit(pid, reason)
    return _json({"killed": repr(pid), "reason": reason})


async def restart(request: web.Request) -> web.Response:
    return await _child_op(request, otp.Supervisor.restart_child, "restarted")


async def terminate(request: web.Request) -> web.Response:
    return await _child_op(request, otp.Supervisor.terminate_child, "terminated")


async def _child_op(request: web.Request, op: Any, done: str) -> web.Response:
    body = await _body(request)
    sup = _resolve(body.get("supervisor"))
    child_id = body.get("child_id")
    if sup is None or not otp.is_alive(sup):
        return _error(404, "no such supervisor")
    proc = k.resolve(sup)
    if not isinstance(proc, otp.Supervisor):
        return _error(409, "not a supervisor with child ids (dynamic children: use kill)")
    ids = {str(c.id): c.id for c in await otp.Supervisor.which_children(proc.pid)}
    if str(child_id) not in ids:
        return _error(404, "no such child")
    try:
        result = await op(proc.pid, ids[str(child_id)])
    except otp.ChildError as e:
        return _error(409, f"{done[:-2]} refused: {e.reason}")
    return _json({"ok": True, done: str(child_id),
                  "pid": repr(result) if result is not None else None})


async def stats(request: web.Request) -> web.Response:
    procs = list(k._procs.values())
    sessions = [p for p in procs if isinstance(p, SocketSession)]
    presences = sum(
        len(entries) for p in procs if isinstance(p, PresenceShard)
        for entries in p._state.topics.values()
    )
    return _json({
        **otp.node_info(),
        "cluster": await _cluster(request),
        "connections": len(sessions),
        "channels": sum(len(p._state.channels) for p in sessions),
        "presences": presences,
        "messages_handled": sum(p._handled for p in procs),
        "memory_rss_bytes": _rss(),
        "slow_consumers_disconnected": metrics["slow_consumers_disconnected"],
        "bad_frames": metrics["bad_frames"],
    })


async def _cluster(request: web.Request) -> dict[str, Any] | None:
    """The cluster link and the nodes up, or ``None`` for a node alone."""
    if not request.app[CONFIG].cluster.enabled:
        return None
    adapter = otp.PubSub.adapter(names.PUBSUB)
    link = adapter.info() if isinstance(adapter, otp.RedisAdapter) else {"link": "down"}
    rows = await otp.Nodes.list(names.NODES)
    return {**link, "nodes_up": sum(1 for r in rows if r["up"]), "nodes": len(rows)}


async def nodes(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    if not config.cluster.enabled:
        info = otp.node_info()
        alone = {"name": config.node.name, "self": True, "up": True,
                 "uptime_s": info["uptime_s"], "last_heartbeat_s": None,
                 "address": config.server.base_url(),
                 "connections": sum(1 for p in list(k._procs.values())
                                    if isinstance(p, SocketSession))}
        return _json({"cluster": None, "nodes": [alone]})
    return _json({"cluster": await _cluster(request),
                  "nodes": await otp.Nodes.list(names.NODES)})


def _rss() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def add_routes(router: web.UrlDispatcher) -> None:
    """The admin routes; each answers 404 unless ``admin.token`` is set."""
    router.add_get(f"{PREFIX}/tree", _guarded(tree))
    router.add_get(f"{PREFIX}/ps", _guarded(ps))
    router.add_get(f"{PREFIX}/info", _guarded(info))
    router.add_post(f"{PREFIX}/kill", _guarded(kill))
    router.add_post(f"{PREFIX}/restart", _guarded(restart))
    router.add_post(f"{PREFIX}/terminate", _guarded(terminate))
    router.add_get(f"{PREFIX}/stats", _guarded(stats))
    router.add_get(f"{PREFIX}/nodes", _guarded(nodes))
