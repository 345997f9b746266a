"""The demo catalog: products with a price, for the cart page (``web/live/cart.py``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from store import NAME as REPO
from store import IntegrityError, Repo

from .validation import ValidationError

__all__ = ["MAX_NAME", "Product", "create_product", "list_products"]

MAX_NAME = 80


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    price_cents: int

    @property
    def price(self) -> str:
        """The price as people read it: ``34.50``."""
        return f"{self.price_cents // 100}.{self.price_cents % 100:02d}"


async def list_products(repo: Any = REPO) -> list[Product]:
    """Every product, by name."""
    rows = await Repo.fetch_all("SELECT id, name, price_cents FROM products ORDER BY name",
                                repo=repo)
    return [Product(r["id"], r["name"], r["price_cents"]) for r in rows]


async def create_product(name: Any, price_cents: Any, repo: Any = REPO) -> Product:
    """A new product; raises :class:`ValidationError` for a blank or taken name or a price
    that is not a whole number of cents at least 0."""
    errors: dict[str, list[str]] = {}
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = ["can't be blank"]
    elif len(name) > MAX_NAME:
        errors["name"] = [f"must be at most {MAX_NAME} characters"]
    if type(price_cents) is not int or price_cents < 0:
        errors["price_cents"] = ["must be a whole number of cents, at least 0"]
    if errors:
        raise ValidationError(errors)
    try:
        result = await Repo.execute(
            "INSERT INTO products (name, price_cents, created_at) VALUES (?, ?, ?)"
            " RETURNING id",
            (name, price_cents, time.time()), repo=repo)
    except IntegrityError:
        raise ValidationError({"name": ["has already been taken"]}) from None
    return Product(result.rows[0]["id"], name, price_cents)
