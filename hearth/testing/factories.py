"""Factories (ExMachina's, seed Example 44): test data made in one line, saved for real.

A factory declares a model's fields with their defaults; :func:`build` makes an unsaved
record of them, :func:`insert` saves one through the application's contexts and its Repo
(so validation runs, and so do the broadcasts a real save makes) and returns the model the
context returns::

    user = await insert("user")                       # user1@example.com, password PASSWORD
    mod = await insert("user", "moderator")           # a trait
    post = await insert("post", author=user, title="Hello")   # overrides
    drafts = await insert_list(3, "post", "draft")    # each builds its own author
    form = params_for("post")                         # {"title": "Post 4", "body": ...}

A default is a value, a :func:`sequence` (``sequence(lambda n: f"user{n}@example.com")``,
numbered from 1 per run), a :func:`lazy` function of the other fields, or an
:func:`association` with another factory: the associated record is built with its parent,
and inserted before it, unless the test gives one (an inserted model, or a built record,
inserted then). Naming a field, a trait or a factory that does not exist raises
:class:`FactoryError` naming it and what exists.

Users get a real bcrypt hash of their password, at the node's cost, computed once per run
for each password and reused: hundreds of users cost one hash.

A factory of your own is a subclass, ``class CommentFactory(Factory, model="comment")``, with
its fields, its ``traits`` and an ``async def create(cls, fields)`` classmethod that saves
through your context; :func:`insert` then finds it by that name.

Why not factory_boy: its ``create`` is synchronous, and every save here is a coroutine on the
test's running loop (the Repo is a process on it), which a synchronous hook cannot await;
building on it would mean running each save in a second loop or thread, away from the node.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from contexts import api_keys, catalog, chat, posts
from contexts.accounts import User
from contexts.api_keys import ApiKey

from .node import PASSWORD, current_node

__all__ = [
    "Built",
    "Factory",
    "FactoryError",
    "IssuedKey",
    "association",
    "build",
    "build_list",
    "factory",
    "insert",
    "insert_list",
    "lazy",
    "params_for",
    "sequence",
]


class FactoryError(Exception):
    """A factory was asked for a field, a trait or a factory it does not have."""


class _Sequence:
    __slots__ = ("counter", "make")

    def __init__(self, make: Callable[[int], Any]) -> None:
        self.make = make
        self.counter = itertools.count(1)

    def next(self) -> Any:
        return self.make(next(self.counter))


class _Lazy(NamedTuple):
    make: Callable[[dict[str, Any]], Any]


class _Association(NamedTuple):
    factory: str
    traits: tuple[str, ...]


def sequence(make: Callable[[int], Any]) -> Any:
    """A default made from the next number of its own count (1, 2, ... per run)."""
    return _Sequence(make)


def lazy(make: Callable[[dict[str, Any]], Any]) -> Any:
    """A default made from the record's other fields, once they are known."""
    return _Lazy(make)


def association(factory_name: str, *traits: str) -> Any:
    """A field holding a record of another factory, built (and inserted) with this one."""
    return _Association(factory_name, traits)


@dataclass(frozen=True)
class Built:
    """An unsaved record: its factory's name and its fields, read as attributes."""

    factory: str
    fields: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(f"a built {self.factory} has no field {name!r}") from None


_FACTORIES: dict[str, type[Factory]] = {}


class Factory:
    """A model's factory: ``class PostFactory(Factory, model="post")`` declares its fields
    as class attributes and its ``traits`` (named sets of overrides); :meth:`create` saves
    a record."""

    model: ClassVar[str]
    traits: ClassVar[dict[str, dict[str, Any]]] = {}
    _fields: ClassVar[dict[str, Any]]

    def __init_subclass__(cls, *, model: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.model = model
        cls._fields = {
            key: value for key, value in vars(cls).items()
            if not key.startswith("_") and key not in ("model", "traits", "create")
            and not isinstance(value, (classmethod, staticmethod, property))
            and not inspect.isfunction(value)
        }
        _FACTORIES[model] = cls

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> Any:
        """Save a record of ``fields`` (associations already saved); the saved model."""
        raise NotImplementedError(f"the {cls.model} factory cannot insert, only build")


def factory(name: str) -> type[Factory]:
    """The factory called ``name``."""
    try:
        return _FACTORIES[name]
    except KeyError:
        raise FactoryError(
            f"no factory {name!r}; there are: {', '.join(sorted(_FACTORIES))}"
        ) from None


def build(name: str, /, *traits: str, **overrides: Any) -> Built:
    """An unsaved ``name`` record: defaults, then ``traits`` in order, then ``overrides``."""
    made = factory(name)
    fields = dict(made._fields)
    chosen: dict[str, Any] = {}
    for trait in traits:
        if trait not in made.traits:
            known = ", ".join(sorted(made.traits)) or "none"
            raise FactoryError(f"the {name} factory has no trait {trait!r}; its traits: {known}")
        chosen.update(made.traits[trait])
    chosen.update(overrides)
    unknown = sorted(set(chosen) - set(fields))
    if unknown:
        raise FactoryError(
            f"the {name} factory has no field {', '.join(map(repr, unknown))}; its fields: "
            f"{', '.join(sorted(fields))}"
        )
    fields.update(chosen)
    for key, value in fields.items():
        if isinstance(value, _Sequence):
            fields[key] = value.next()
        elif isinstance(value, _Association):
            fields[key] = build(value.factory, *value.traits)
    for key, value in fields.items():
        if isinstance(value, _Lazy):
            fields[key] = value.make(fields)
    return Built(name, fields)


def build_list(count: int, name: str, /, *traits: str, **overrides: Any) -> list[Built]:
    return [build(name, *traits, **overrides) for _ in range(count)]


def params_for(name: str, /, *traits: str, **overrides: Any) -> dict[str, Any]:
    """The fields of a built record a form would send: associations left out."""
    return {key: value for key, value in build(name, *traits, **overrides).fields.items()
            if not isinstance(value, Built) and not hasattr(value, "id")}


async def insert(name: str, /, *traits: str, **overrides: Any) -> Any:
    """Save a ``name`` record through the application's contexts; the saved model."""
    return await _save(build(name, *traits, **overrides))


async def insert_list(count: int, name: str, /, *traits: str, **overrides: Any
                      ) -> list[Any]:
    return [await insert(name, *traits, **overrides) for _ in range(count)]


async def _save(built: Built) -> Any:
    fields = dict(built.fields)
    for key, value in fields.items():
        if isinstance(value, Built):
            fields[key] = await _save(value)
    return await factory(built.factory).create(fields)


# -- the reference application's factories ---------------------------------------------------

_hashes: dict[tuple[str, int], str] = {}


class UserFactory(Factory, model="user"):
    email = sequence(lambda n: f"user{n}@example.com")
    display_name = sequence(lambda n: f"User {n}")
    password = PASSWORD
    role = "user"
    traits = {"user": {"role": "user"}, "moderator": {"role": "moderator"},
              "admin": {"role": "admin"}}

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> User:
        accounts = current_node().accounts
        key = (fields["password"], accounts.auth.bcrypt_cost)
        if key not in _hashes:
            _hashes[key] = await accounts.hash_password(fields["password"])
        return await accounts.register(fields["email"], fields["password"],
                                       fields["display_name"], fields["role"],
                                       password_hash=_hashes[key])


class PostFactory(Factory, model="post"):
    title = sequence(lambda n: f"Post {n}")
    body = "Test body"
    published = True
    author = association("user")
    traits = {"published": {"published": True}, "draft": {"published": False}}

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> posts.Post:
        return await posts.create_post(fields["author"].id, fields["title"], fields["body"],
                                       fields["published"])


class RoomFactory(Factory, model="room"):
    slug = sequence(lambda n: f"room-{n}")
    name = sequence(lambda n: f"Room {n}")

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> chat.Room:
        return await chat.create_room(fields["slug"], fields["name"])


class MessageFactory(Factory, model="message"):
    body = sequence(lambda n: f"Message {n}")
    room = association("room")
    author = association("user")
    client_id = None

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> chat.ChatMessage:
        return await chat.post_message(fields["room"].id, fields["author"].id, fields["body"],
                                       fields["client_id"])


class IssuedKey(NamedTuple):
    """An inserted API key: the stored key, and the secret shown once (``X-API-Key``)."""

    key: ApiKey
    secret: str


class ApiKeyFactory(Factory, model="api_key"):
    name = sequence(lambda n: f"key {n}")
    owner = association("user")

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> IssuedKey:
        key, secret = await api_keys.create_key(fields["owner"].id, fields["name"])
        return IssuedKey(key, secret)


class ProductFactory(Factory, model="product"):
    name = sequence(lambda n: f"Product {n}")
    price_cents = sequence(lambda n: 100 * n + 99)

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> catalog.Product:
        return await catalog.create_product(fields["name"], fields["price_cents"])


class LikeFactory(Factory, model="like"):
    post = association("post")
    user = association("user")

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> posts.Post | None:
        return await posts.like_post(fields["post"].id, fields["user"].id)
