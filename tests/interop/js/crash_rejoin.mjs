// A channel that crashes on the server: the client gets phx_error and rejoins by itself, on
// the same connection. First a crash the client provokes (a push the channel raises on), then
// one the test inflicts (it kills the channel process when told the channel is up).
import {command, connect, done, emit, observe, outcome, rejoined} from "./harness.mjs"

const socket = connect("ann", {params: {user: "ann"}})
const room = observe("ann", socket.channel("room:fragile"))
await outcome(room.join())

let again = rejoined(room)
room.push("crash", {})  // never answered: the channel is gone
await again
emit("rejoined", {join_ref: room.joinRef(), state: room.state,
  echo: await outcome(room.push("echo", {after: "crash"}))})

again = rejoined(room)
emit("ready", {join_ref: room.joinRef()})
await command()  // the test kills the channel process
await again
emit("rejoined", {join_ref: room.joinRef(), state: room.state,
  echo: await outcome(room.push("echo", {after: "kill"}))})
done()
