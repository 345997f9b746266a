"""``/cart``: the seed's shopping cart as a live component (Example 29), twice on one page.

Each cart is an instance of :class:`CartComponent` with its own items; its buttons target it
(``phx-target={@myself}``), so a click changes that cart alone, and only its changed parts go
over the wire. Cart B can be taken off the page and put back: taken off, its instance is
destroyed on the server once the client says so, and put back it starts empty.
"""

from __future__ import annotations

from typing import Any

from contexts import catalog
from contexts.catalog import Product
from live import LiveSocket, LiveView, NoReply, Ok, Template, assign
from live.components import LiveComponent, live_component

from .layout import flash_group

__all__ = ["CartComponent", "CartLive"]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class CartComponent(LiveComponent):
    template = Template("""
      <div class="cart" id={@id}>
        <h2>{@title}</h2>
        <ul class="catalog">
          <li :for={product in @catalog} :key={product.id}>
            <span class="product">{product.name}</span> <span class="price">{product.price}</span>
            <button phx-click="add" phx-value-id={product.id} phx-target={@myself}
                    aria-label={f"add {product.name} to {@title}"}>Add</button>
          </li>
        </ul>
        <h3>In the cart</h3>
        <p :if={not @items} class="empty-note">Nothing yet.</p>
        <ul class="items">
          <li :for={product_id, quantity in sorted(@items.items())} :key={product_id}
              id={f"{@id}-item-{product_id}"}>
            {@names[product_id]} &times; <span class="quantity">{quantity}</span>
            <button phx-click="remove" phx-value-id={product_id} phx-target={@myself}
                    aria-label={f"remove one {@names[product_id]}"}>Remove one</button>
          </li>
        </ul>
        <p class="total">Total: <strong>{money(@total)}</strong></p>
      </div>
    """, globals={"money": _money})

    def mount(self, socket: LiveSocket) -> Any:
        return Ok(assign(socket, items={}, total=0))

    def update(self, assigns: dict[str, Any], socket: LiveSocket) -> Any:
        products: list[Product] = assigns["catalog"]
        assign(socket, assigns, names={p.id: p.name for p in products},
               prices={p.id: p.price_cents for p in products})
        return Ok(socket)

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        try:
            product_id = int(value.get("id"))
        except (TypeError, ValueError, AttributeError):
            return NoReply(socket)  # not a product of the catalog: nothing changes
        prices = socket.assigns["prices"]
        if product_id not in prices or event not in ("add", "remove"):
            return NoReply(socket)
        items = dict(socket.assigns["items"])
        if event == "add":
            items[product_id] = items.get(product_id, 0) + 1
        elif items.get(product_id, 0) > 1:
            items[product_id] -= 1
        else:
            items.pop(product_id, None)
        total = sum(prices[p] * n for p, n in items.items())
        return NoReply(assign(socket, items=items, total=total))


class CartLive(LiveView):
    template = Template("""
      <section class="carts-page">
        {flash_group(@flash)}
        <h1>Two carts</h1>
        <p :if={not @catalog} class="empty-note">The catalog is empty.</p>
        <div class="carts">
          {live_component(CartComponent, id="cart-a", title="Cart A", catalog=@catalog)}
          {live_component(CartComponent, id="cart-b", title="Cart B", catalog=@catalog)
           if @show_b else ""}
        </div>
        <button id="toggle-b" phx-click="toggle_b">{"Take cart B away" if @show_b
                                                    else "Bring cart B back"}</button>
      </section>
    """, globals={"flash_group": flash_group, "live_component": live_component,
                  "CartComponent": CartComponent})

    async def mount(self, params: dict[str, Any], session: dict[str, Any],
                    socket: LiveSocket) -> Any:
        products = await catalog.list_products()
        return Ok(assign(socket, catalog=products, show_b=True, page_title="Carts"))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        if event != "toggle_b":
            raise ValueError(f"unknown event {event!r}")
        return NoReply(assign(socket, show_b=not socket.assigns["show_b"]))
