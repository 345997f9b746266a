"""Behaviours: an external service is a ``Protocol``, its implementation chosen in config.

A config key such as ``mail.adapter`` names a built-in implementation (``"smtp"``) or any
other by ``"package.module:attribute"``. :func:`implementation` imports that attribute: a
class is made with the config section (``SmtpAdapter(mail_config)``), anything else (an
instance, such as a test's mock) is used as it is. It must have every method of
the protocol; what does not is a :class:`ConfigError` naming the key, as a bad value of any
other key is, so ``hearth serve`` refuses to start with exit status 2.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from hearth.config import ConfigError

__all__ = ["implementation", "protocol_methods"]


def protocol_methods(protocol: type) -> dict[str, Any]:
    """The methods ``protocol`` declares (its own and its protocol bases'), by name."""
    methods: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or klass.__module__ == "typing":
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and inspect.isfunction(value):
                methods[name] = value
    return methods


def implementation(path: str, key: str, protocol: type, section: Any) -> Any:
    """The implementation of ``protocol`` that ``path`` (``"package.module:attribute"``, the
    value of config key ``key``) names; raises :class:`ConfigError`."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"{key}: cannot import {module_name!r} ({e})") from None
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise ConfigError(f"{key}: {module_name!r} has no {attribute!r}") from None
    make: Any = found  # a class is made with the section; an instance is used as it is
    made = make(section) if isinstance(make, type) else make
    missing = [name for name in protocol_methods(protocol) if not hasattr(made, name)]
    if missing:
        raise ConfigError(
            f"{key}: {path!r} is not a {protocol.__name__}: it has no {', '.join(missing)}"
        )
    return made
