// One signed-in person in a chat room of one node of the cluster, with the phoenix.js
// Presence helper. Usage: node room.mjs <socket url> <socket token> <name> <topic>
//
// Emits `sync` after every presence state or diff, with the helper's list as
// {display name: [node of each meta, ...]}, `presence_join` / `presence_leave` (onJoin /
// onLeave, by display name), `message` for each new_message broadcast, and the harness's
// `open` / `close` / `join` events. Commands: {"cmd": "post", "body": text} pushes a
// new_message and emits `posted` with its outcome; {"cmd": "exit"} ends.
import {Presence, args, command, connect, done, emit, observe, outcome} from "../../interop/js/harness.mjs"

const [token, name, topic] = args
const socket = connect(name, {params: {token}, frames: false})
const room = observe(name, socket.channel(topic))
const presence = new Presence(room)

const who = (key, pres) => pres && pres.user ? pres.user.display_name : key
const nodes = pres => pres ? pres.metas.map(m => m.phx_node) : []
const view = () => Object.fromEntries(presence.list((key, pres) => [who(key, pres), nodes(pres)]))

presence.onJoin((key, current, joined) => {
  emit("presence_join", {socket: name, who: who(key, joined), joined: nodes(joined)})
})
presence.onLeave((key, remaining, left) => {
  emit("presence_leave", {socket: name, who: who(key, left), left: nodes(left),
    remaining: nodes(remaining)})
})
presence.onSync(() => emit("sync", {socket: name, list: view()}))
room.on("new_message", message => {
  emit("message", {socket: name, body: message.body, author: message.author && message.author.display_name})
})

await outcome(room.join())
for(;;){
  const {cmd, body} = await command()
  if(cmd === "post"){
    emit("posted", {socket: name, body, ...(await outcome(room.push("new_message", {body})))})
  } else if(cmd === "exit"){
    done()
  }
}
