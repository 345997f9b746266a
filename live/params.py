"""Form values as the LiveView client sends them: URL-encoded with Plug's nested keys.

``user[name]=Ann&user[tags][]=a&user[tags][]=b&_target=user[name]`` becomes
``{"user": {"name": "Ann", "tags": ["a", "b"]}, "_target": ["user", "name"]}``. A key that
contradicts an earlier one (``a=1&a[b]=2``) is a :class:`ParamsError`, as are more than
:data:`MAX_FIELDS` fields or a nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["MAX_DEPTH", "MAX_FIELDS", "ParamsError", "decode_form", "target_path"]

MAX_FIELDS = 1000
MAX_DEPTH = 16
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class ParamsError(ValueError):
    """Form values that do not decode; the message says which key."""


def target_path(name: str) -> list[str]:
    """``user[name]`` as ``["user", "name"]`` (``_target``'s form in Phoenix)."""
    found = _KEY.match(name)
    if found is None:
        return [name]
    return [found.group(1), *re.findall(r"\[([^\[\]]*)\]", found.group(2))]


def decode_form(encoded: str, max_fields: int = MAX_FIELDS) -> dict[str, Any]:
    """The nested params of an ``application/x-www-form-urlencoded`` string."""
    try:
        pairs = parse_qsl(encoded, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=max_fields)
    except ValueError as e:
        raise ParamsError(str(e)) from None
    params: dict[str, Any] = {}
    for name, value in pairs:
        path = target_path(name)
        if len(path) > MAX_DEPTH:
            raise ParamsError(f"{name!r} nests deeper than {MAX_DEPTH}")
        _put(params, path, value, name)
    return params


def _put(params: dict[str, Any], path: list[str], value: str, name: str) -> None:
    node: Any = params
    for i, key in enumerate(path):
        last = i == len(path) - 1
        nxt = None if last else path[i + 1]
        if key == "":
            if not isinstance(node, list):
                raise ParamsError(f"{name!r}: [] where a map is")
            if last:
                node.append(value)
                return
            # a[][b]=1: a list of maps; a new map when the last one has the key already
            if not node or not isinstance(node[-1], dict) or nxt in node[-1]:
                node.append({})
            node = node[-1]
            continue
        if not isinstance(node, dict):
            raise ParamsError(f"{name!r}: a key where a list is")
        if last:
            if isinstance(node.get(key), (dict, list)):
                raise ParamsError(f"{name!r} is given as a value and as a map or list")
            node[key] = value
            return
        child = node.get(key)
        want: type = list if nxt == "" else dict
        if child is None:
            child = want()
            node[key] = child
        elif not isinstance(child, want):
            raise ParamsError(f"{name!r} contradicts an earlier field of that name")
        node = child
