// Leave: the reply, then the server's phx_close; the channel is closed and never rejoins
// (checked over three heartbeats after the close, far longer than the 20 ms rejoin interval).
import {command, connect, done, emit, observe, outcome, recordSent} from "./harness.mjs"

const socket = connect("ann", {heartbeatIntervalMs: 50})
recordSent("ann", socket)
const room = observe("ann", socket.channel("room:leaving"))

// Registered first: the phx_close can arrive in the same read as the leave's reply.
let sawClose = false
let heartbeats = 0
const quiet = new Promise(resolve => {
  socket.onMessage(({topic, event, join_ref}) => {
    if(topic === "room:leaving" && event === "phx_close" && join_ref === room.joinRef()){
      sawClose = true
    }
    if(sawClose && topic === "phoenix" && event === "phx_reply"){ heartbeats += 1 }
    if(heartbeats >= 3){ resolve() }
  })
})

const joined = await outcome(room.join())
emit("joined", {...joined, join_ref: room.joinRef()})
const closed = new Promise(resolve => room.onClose(resolve))
const left = await outcome(room.leave())
await closed
emit("left", {...left, state: room.state})

await quiet
emit("quiet", {state: room.state, channels: socket.channels.length, heartbeats})
await command()  // the test has looked at the server's side
done()
