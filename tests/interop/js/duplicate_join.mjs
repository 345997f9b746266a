// Two channel instances on one topic from one socket.
//
// 1. As phoenix.js does it: joining the second instance first leaves the first (phx_leave,
//    so the first closes), then joins.
// 2. As the server must handle it when a client does not dedupe (older clients, LiveView
//    navigation races): the second phx_join arrives while the first instance is joined. The
//    server closes the old instance with phx_close carrying the old join_ref, which the new
//    instance ignores as stale; the new one joins and works.
import {connect, done, emit, observe, outcome, recordSent} from "./harness.mjs"

const socket = connect("ann")
recordSent("ann", socket)

const first = observe("first", socket.channel("room:dup"))
await outcome(first.join())
const firstClosed = new Promise(resolve => first.onClose(resolve))
const second = observe("second", socket.channel("room:dup"))
const secondJoin = await outcome(second.join())
await firstClosed
emit("client_dedupe", {first: first.state, second: second.state, join: secondJoin,
  echo: await outcome(second.push("echo", {n: 1}))})

socket.leaveOpenTopic = () => {}  // a client that does not dedupe
const old = observe("old", socket.channel("room:dup2"))
await outcome(old.join())
const oldRef = old.joinRef()
const oldClosed = new Promise(resolve => old.onClose(resolve))
const fresh = observe("fresh", socket.channel("room:dup2"))
const freshJoin = await outcome(fresh.join())
await oldClosed
emit("server_dedupe", {old: old.state, old_join_ref: oldRef, fresh: fresh.state,
  fresh_join_ref: fresh.joinRef(), join: freshJoin,
  echo: await outcome(fresh.push("echo", {n: 2}))})
done()
