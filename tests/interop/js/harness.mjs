// What every scenario shares: the server URL, JSON-line events on stdout, commands from the
// test on stdin, and phoenix.js sockets that report what they see.
//
// Usage: node <scenario>.mjs <socket url> [args...]   (url: http://127.0.0.1:<port>/socket)
//
// Each stdout line is one JSON object {"event": name, ...}; the pytest side reads them as
// events. Each stdin line is one JSON command, taken in order by `command()`.

import {createInterface} from "node:readline"
import {LongPoll, Presence, Socket} from "phoenix"
import WebSocket from "ws"

export {LongPoll, Presence, Socket, WebSocket}

export const [url, ...args] = process.argv.slice(2)
if(!url){ throw new Error("usage: node <scenario>.mjs <socket url> [args...]") }

/** Write one event line; `ms` is the time since Node started, for reading transcripts. */
export function emit(event, data = {}){
  process.stdout.write(JSON.stringify({event, ...data, ms: Math.round(performance.now())}) + "\n")
}

/** Report success and exit. */
export function done(data = {}){
  emit("done", data)
  process.exit(0)
}

// A scenario that hangs is a failure the test reports with the transcript, not a hang.
const watchdog = setTimeout(() => {
  emit("watchdog", {reason: "scenario did not finish within 30 s"})
  process.exit(3)
}, 30000)
watchdog.unref()

process.on("unhandledRejection", error => {
  emit("failed", {reason: String(error && error.stack || error)})
  process.exit(1)
})

// -- commands from the test ----------------------------------------------------------------

const queued = []
const waiting = []
createInterface({input: process.stdin}).on("line", line => {
  if(!line.trim()){ return }
  const cmd = JSON.parse(line)
  const next = waiting.shift()
  if(next){ next(cmd) } else { queued.push(cmd) }
})

/** The next command line from the test (a JSON object). */
export function command(){
  if(queued.length > 0){ return Promise.resolve(queued.shift()) }
  return new Promise(resolve => waiting.push(resolve))
}

// -- sockets -------------------------------------------------------------------------------

/** A short, fixed backoff: scenarios observe reconnects and rejoins, not the schedule. */
const quick = () => 20

/**
 * A connected phoenix.js Socket labelled `name` for the transcript. It emits `open`,
 * `close` (with the close code) and `transport_error` events, and, unless `frames` is false,
 * a `frame` event for every inbound frame except heartbeat replies.
 */
export function connect(name, {params = {}, frames = true, ...opts} = {}){
  const socket = new Socket(url, {
    transport: WebSocket,
    params,
    reconnectAfterMs: quick,
    rejoinAfterMs: quick,
    timeout: 5000,
    ...opts,
  })
  let opens = 0
  socket.onOpen(() => {
    opens += 1
    emit("open", {socket: name, count: opens, transport: socket.transportName(socket.transport)})
  })
  socket.onClose(event => emit("close", {socket: name, code: event && event.code}))
  socket.onError((error, transport) => emit("transport_error", {
    socket: name,
    transport: transport && socket.transportName(transport),
    error: String(error && error.message || error && error.type || error),
  }))
  if(frames){
    socket.onMessage(({topic, event, payload, ref, join_ref}) => {
      if(topic === "phoenix"){ return }
      emit("frame", {socket: name, join_ref, ref, topic, frame: event, payload: jsonable(payload)})
    })
  }
  socket.connect()
  return socket
}

/** ArrayBuffers (binary payloads) as arrays of byte values; everything else as is. */
export function jsonable(value){
  if(value instanceof ArrayBuffer){ return Array.from(new Uint8Array(value)) }
  if(Array.isArray(value)){ return value.map(jsonable) }
  if(value && typeof value === "object"){
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonable(v)]))
  }
  return value
}

/** The outcome of a Push (a join, a push, a leave): {status, response}. */
export function outcome(push){
  return new Promise(resolve => {
    push
      .receive("ok", response => resolve({status: "ok", response: jsonable(response)}))
      .receive("error", response => resolve({status: "error", response: jsonable(response)}))
      .receive("timeout", () => resolve({status: "timeout"}))
  })
}

/** The next `event` on `channel`, with its payload. */
export function next(channel, event){
  return new Promise(resolve => {
    const ref = channel.on(event, payload => {
      channel.off(event, ref)
      resolve(jsonable(payload))
    })
  })
}

/**
 * Reports what happens to `channel`: a `join` event (with its join_ref) for its join and every
 * rejoin, `channel_error` and `channel_close`.
 */
export function observe(name, channel){
  let joins = 0
  channel.joinPush.receive("ok", response => {
    joins += 1
    emit("join", {socket: name, topic: channel.topic, count: joins, join_ref: channel.joinRef(),
      status: "ok", response: jsonable(response)})
  })
  channel.joinPush.receive("error", response => {
    emit("join", {socket: name, topic: channel.topic, join_ref: channel.joinRef(),
      status: "error", response: jsonable(response)})
  })
  channel.onError(reason => emit("channel_error", {socket: name, topic: channel.topic,
    reason: jsonable(reason)}))
  channel.onClose(reason => emit("channel_close", {socket: name, topic: channel.topic,
    reason: jsonable(reason)}))
  return channel
}

/** Every push the socket sends (what goes on the wire, buffered or not), as `sent` events. */
export function recordSent(name, socket){
  const push = socket.push.bind(socket)
  socket.push = (data, channel) => {
    if(data.topic !== "phoenix"){
      emit("sent", {socket: name, topic: data.topic, sent: data.event, ref: data.ref,
        join_ref: data.join_ref})
    }
    return push(data, channel)
  }
}

/** Resolves at the first successful join of `channel` whose join_ref is not `previous`. */
export function rejoined(channel, previous = channel.joinRef()){
  return new Promise(resolve => {
    let pending = true
    channel.joinPush.receive("ok", () => {
      if(pending && channel.joinRef() !== previous){
        pending = false
        resolve(channel.joinRef())
      }
    })
  })
}
