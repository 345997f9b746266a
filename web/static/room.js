// A room's page, live: joins room:<slug> with the stock phoenix.js client, shows the
// messages, who is online (phoenix.js's Presence helper) and who is typing, and sends what
// the composer holds. A signed-in user shows as "away" while the tab is hidden.
//
// The page is rendered with the last messages already in it; the join reply carries them
// again (and again after every reconnect), so the list is rebuilt from each reply and
// nothing missed while offline stays missing. Text goes into the page with textContent
// only, never as HTML.

import { Presence, Socket } from "/assets/phoenix.js";

const TYPING_EVERY_MS = 2000;  // at most one "typing" push per this long
const TYPING_SHOWN_MS = 3000;  // how long "X is typing…" stays without another

const room = document.getElementById("room");
const list = document.getElementById("messages");
const status = document.getElementById("room-status");
const typing = document.getElementById("typing");
const composer = document.getElementById("composer");
const input = document.getElementById("message-body");
const composerError = document.getElementById("composer-error");
const online = document.getElementById("online");
const token = document.querySelector('meta[name="socket-token"]')?.content;

const socket = new Socket("/socket", { params: token ? { token } : {} });
const channel = socket.channel(`room:${room.dataset.slug}`, {});

function setState(state, text) {
  room.dataset.state = state;
  status.textContent = text;
}

function messageItem(message) {
  const item = document.createElement("li");
  item.className = "message";
  item.dataset.id = String(message.id);
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author ? message.author.display_name : "[deleted]";
  if (message.author && message.author.avatar_url) {
    const avatar = document.createElement("img");
    avatar.className = "avatar small";
    avatar.alt = "";
    avatar.src = message.author.avatar_url;
    author.prepend(avatar);
  }
  const time = document.createElement("time");
  time.dateTime = message.inserted_at;
  time.textContent = message.inserted_at;
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = message.body;
  item.append(author, " ", time, " ", body);
  return item;
}

function append(message) {
  if (list.querySelector(`li[data-id="${message.id}"]`)) return;  // already shown
  list.append(messageItem(message));
  list.lastElementChild.scrollIntoView({ block: "nearest" });
}

// -- who is typing ------------------------------------------------------------------------

const typists = new Map();  // user id -> { name, timer }

function showTypists() {
  const names = [...typists.values()].map((t) => t.name);
  typing.hidden = names.length === 0;
  typing.textContent = names.length === 1 ? `${names[0]} is typing…`
    : names.length > 1 ? `${names.join(", ")} are typing…` : "";
}

function stoppedTyping(userId) {
  const typist = typists.get(userId);
  if (typist) {
    clearTimeout(typist.timer);
    typists.delete(userId);
    showTypists();
  }
}

function startedTyping(user) {
  const previous = typists.get(user.id);
  if (previous) clearTimeout(previous.timer);
  const timer = setTimeout(() => stoppedTyping(user.id), TYPING_SHOWN_MS);
  typists.set(user.id, { name: user.display_name, timer });
  showTypists();
}

// -- who is online ------------------------------------------------------------------------

const presence = new Presence(channel);

function showOnline() {
  const people = presence.list((id, { metas, user }) => {
    // One entry per person, however many tabs: away only if every tab is away.
    const away = metas.every((meta) => meta.status === "away");
    return { id, name: user ? user.display_name : `user ${id}`, away };
  });
  people.sort((a, b) => a.name.localeCompare(b.name));
  online.replaceChildren(...people.map(({ id, name, away }) => {
    const item = document.createElement("li");
    item.dataset.userId = id;
    item.dataset.status = away ? "away" : "online";
    item.textContent = away ? `${name} (away)` : name;
    return item;
  }));
}

presence.onSync(showOnline);

if (token) {
  document.addEventListener("visibilitychange", () => {
    channel.push("status", { status: document.hidden ? "away" : "online" });
  });
}

// -- the channel --------------------------------------------------------------------------

channel.on("new_message", (message) => {
  if (message.author) stoppedTyping(message.author.id);
  append(message);
});
channel.on("typing", ({ user }) => startedTyping(user));
channel.onError(() => setState("offline", "Reconnecting…"));

channel.join()
  .receive("ok", ({ messages }) => {
    list.replaceChildren(...messages.map(messageItem));
    setState("joined", token ? "Connected." : "Connected. Log in to post.");
  })
  .receive("error", ({ reason }) => {
    setState("refused", `Cannot join: ${reason}.`);
    if (reason === "no such room") channel.leave();  // retrying will not make it exist
  })
  .receive("timeout", () => setState("offline", "Still connecting…"));

socket.connect();

// -- the composer -------------------------------------------------------------------------

if (composer) {
  let lastTyping = 0;

  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value.trim() && now - lastTyping >= TYPING_EVERY_MS) {
      lastTyping = now;
      channel.push("typing", {});
    }
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    composerError.hidden = true;
    input.disabled = true;
    channel.push("new_message", { body })
      .receive("ok", () => {
        input.value = "";
        lastTyping = 0;
        input.disabled = false;
        input.focus();
      })
      .receive("error", (response) => {
        const errors = response.errors ? Object.values(response.errors).flat() : [];
        composerError.textContent = errors.length ? `Message ${errors.join(", ")}.`
          : `Not sent: ${response.reason}.`;
        composerError.hidden = false;
        input.disabled = false;
      })
      .receive("timeout", () => {
        composerError.textContent = "Not sent: no answer from the server. Try again.";
        composerError.hidden = false;
        input.disabled = false;
      });
  });
}
