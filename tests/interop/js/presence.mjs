// One connection of one user on a presence topic, with the phoenix.js Presence helper.
// Emits `sync` (the helper's list after every state or diff) and `presence_join` /
// `presence_leave` (its onJoin / onLeave). Commands: {"cmd": "crash"} makes the channel
// crash on the server (it rejoins by itself), {"cmd": "list"} emits the list again,
// {"cmd": "exit"} ends.
import {Presence, args, command, connect, done, emit, observe, outcome} from "./harness.mjs"

const [user, name, topic] = args
const socket = connect(name, {params: {user}, frames: false})
const room = observe(name, socket.channel(topic))
const presence = new Presence(room)

const refs = pres => pres ? pres.metas.map(m => m.phx_ref) : []
const view = () => Object.fromEntries(presence.list((key, {metas}) => [key, refs({metas})]))

presence.onJoin((key, current, joined) => {
  emit("presence_join", {socket: name, key, current: refs(current), joined: refs(joined)})
})
presence.onLeave((key, remaining, left) => {
  emit("presence_leave", {socket: name, key, remaining: refs(remaining), left: refs(left)})
})
presence.onSync(() => emit("sync", {socket: name, join_ref: room.joinRef(), list: view()}))

await outcome(room.join())
for(;;){
  const {cmd} = await command()
  if(cmd === "crash"){
    room.push("crash", {})
  } else if(cmd === "list"){
    emit("list", {socket: name, join_ref: room.joinRef(), list: view()})
  } else if(cmd === "exit"){
    done()
  }
}
