"""``/counter``: the seed's counter (Example 43's page)."""

from __future__ import annotations

from typing import Any

from live import LiveSocket, LiveView, NoReply, Ok, Template, assign, update

from .layout import flash_group  # noqa: F401 (the template calls it)


class CounterLive(LiveView):
    template = Template("""
      <section class="counter">
        {flash_group(@flash)}
        <h1 id="count">Count: {@count}</h1>
        <div class="counter-buttons">
          <button id="dec" phx-click="dec" aria-label="decrement">-</button>
          <button id="inc" phx-click="inc" aria-label="increment">+</button>
        </div>
      </section>
    """)

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(assign(socket, count=0, page_title="Counter"))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        step = {"inc": 1, "dec": -1}[event]  # another event crashes the view, as in Phoenix
        return NoReply(update(socket, "count", lambda n: n + step))
