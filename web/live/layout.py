"""Parts every live page shows: the flash messages, closable without a round trip."""

from __future__ import annotations

from typing import Any

from live import JS, Rendered, Template  # noqa: F401 (JS: the template uses it)

_FLASH = Template("""
  <div id="flash-group" class="flash-group">
    <p :for={kind, text in @flashes} class={f"flash flash-{kind}"} id={f"flash-{kind}"}
       role={"alert" if kind == "error" else "status"}
       phx-click={JS.push("lv:clear-flash", value={"key": kind}).hide(to=f"#flash-{kind}")}
       >{text}</p>
  </div>
""")


def flash_group(flash: dict[str, Any]) -> Rendered:
    """The flashes of ``@flash``, each one cleared when clicked."""
    return _FLASH({"flashes": sorted(flash.items())})
