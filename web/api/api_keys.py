"""``/api/v1/api_keys``: the caller's API keys: make one, list them, revoke one."""

from __future__ import annotations

from aiohttp import web

from contexts import api_keys

from .auth import api_auth
from .errors import ApiError, json_response
from .guards import caller
from .params import path_id, read_json, string

__all__ = ["create", "index", "revoke"]

_STATUS = {"invalid_name": (400, "invalid_request"), "too_many_keys": (409, "too_many_keys")}


async def index(request: web.Request) -> web.Response:
    """``{"api_keys": [...]}``: the caller's keys, newest first, without their secrets."""
    keys = await api_keys.list_keys(caller(request).id)
    return json_response({"api_keys": [key.to_json() for key in keys]})


async def create(request: web.Request) -> web.Response:
    """``{name}`` → 201 with the key's fields and ``key``, the key itself, shown only now.
    Needs a Bearer token: a key cannot make more keys, so a leaked one cannot multiply."""
    user = caller(request)
    if api_auth(request).via != "bearer":
        raise ApiError(403, "forbidden", "API keys are made with a Bearer token, not a key")
    name = string(await read_json(request), "name", max_length=api_keys.MAX_NAME)
    try:
        key, secret = await api_keys.create_key(user.id, name)
    except api_keys.ApiKeyError as e:
        status, code = _STATUS[e.code]
        raise ApiError(status, code, e.message) from None
    return json_response({**key.to_json(), "key": secret}, status=201)


async def revoke(request: web.Request) -> web.Response:
    """Revoke key ``id``: the owner's, or anyone's for an admin. Someone else's key
    answers 404, as a key that does not exist does."""
    user = caller(request)
    key_id = path_id(request)
    key = await api_keys.get_key(key_id) if key_id is not None else None
    if key is not None and api_keys.can_revoke(user, key):
        key = await api_keys.revoke_key(key.id)
        if key is not None:
            return json_response(key.to_json())
    raise ApiError(404, "not_found", "no such API key")
