// The live pages' client: the stock phoenix_live_view (served from node_modules by
// web/assets.py) on the stock phoenix Socket, sending back the page's CSRF token.
import { Socket } from "/assets/phoenix.js";
import { LiveSocket } from "/assets/phoenix_live_view.js";

const csrfToken = document.querySelector("meta[name='csrf-token']").getAttribute("content");

const liveSocket = new LiveSocket("/live", Socket, {
  params: { _csrf_token: csrfToken },
  longPollFallbackMs: 2500,
});
liveSocket.connect();
window.liveSocket = liveSocket;
