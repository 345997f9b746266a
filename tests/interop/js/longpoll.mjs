// The long-poll transport: join, push → reply, a server push, and broadcasts both ways with a
// WebSocket client on the same topic.
//
// Mode "longpoll": `transport: LongPoll` from the start. Mode "fallback": the WebSocket is
// refused (the test's handler refuses WebSocket connections with refuse_websocket), and
// phoenix.js falls back by itself (`longPollFallbackMs`), remembering it in sessionStorage.
import {LongPoll, args, connect, done, emit, next, observe, outcome} from "./harness.mjs"

const [mode] = args

class MemoryStorage {
  constructor(){ this.items = {} }
  getItem(key){ return key in this.items ? this.items[key] : null }
  setItem(key, value){ this.items[key] = String(value) }
  removeItem(key){ delete this.items[key] }
}
const storage = new MemoryStorage()

const opts = mode === "fallback"
  ? {params: {user: "lp", refuse_websocket: "1"}, longPollFallbackMs: 2000, sessionStorage: storage}
  : {params: {user: "lp"}, transport: LongPoll}
const lp = connect("lp", opts)
const ws = connect("ws", {params: {user: "ws"}})

const lpRoom = observe("lp", lp.channel("room:mixed", {via: "longpoll"}))
const wsRoom = observe("ws", ws.channel("room:mixed"))
const [lpJoin] = await Promise.all([outcome(lpRoom.join()), outcome(wsRoom.join())])
emit("joined", {...lpJoin, transport: lp.transportName(lp.transport)})

emit("echo", await outcome(lpRoom.push("echo", {body: "over long-poll"})))
const pushed = next(lpRoom, "pushed")
await outcome(lpRoom.push("push_me", {n: 1}))
emit("pushed", {payload: await pushed})

let lpShout = next(lpRoom, "shout")
let wsShout = next(wsRoom, "shout")
await outcome(lpRoom.push("shout", {from: "lp"}))
emit("lp_shout", {lp: await lpShout, ws: await wsShout})

lpShout = next(lpRoom, "shout")
wsShout = next(wsRoom, "shout")
await outcome(wsRoom.push("shout", {from: "ws"}))
emit("ws_shout", {lp: await lpShout, ws: await wsShout})

done({transport: lp.transportName(lp.transport), stored: storage.items})
