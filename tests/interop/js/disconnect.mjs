// Forced disconnect by socket id: the server ends the connection (a WebSocket closes with
// 1001; a long-poll session is gone, which phoenix.js learns from a 410), the client
// reconnects by itself (a second open) and its channel rejoins with a new join_ref.
// Args: "websocket" (default) or "longpoll".
import {LongPoll, args, connect, done, emit, observe, outcome, rejoined} from "./harness.mjs"

const [mode = "websocket"] = args
const transport = mode === "longpoll" ? {transport: LongPoll} : {}
const socket = connect("ann", {params: {user: "ann"}, ...transport})
const room = observe("ann", socket.channel("room:lobby"))
let opens = 0
const reopened = new Promise(resolve => {
  socket.onOpen(() => { opens += 1; if(opens === 2){ resolve() } })
})
await outcome(room.join())
const again = rejoined(room)
emit("ready", {join_ref: room.joinRef()})  // the test disconnects users_socket:ann now
await reopened
await again
emit("rejoined", {join_ref: room.joinRef(), state: room.state, opens,
  echo: await outcome(room.push("echo", {after: "disconnect"}))})
done()
