// Heartbeats every `interval` ms: the server answers each one, so the socket stays open for
// `count` heartbeats (longer than the server's idle timeout in the test), never reconnecting.
import {args, connect, done, emit} from "./harness.mjs"

const [interval, count] = args.map(Number)
const socket = connect("ann", {heartbeatIntervalMs: interval})
let replies = 0
let closes = 0
socket.onClose(() => { closes += 1 })
socket.onMessage(({topic, event, payload, ref}) => {
  if(topic !== "phoenix" || event !== "phx_reply"){ return }
  replies += 1
  emit("heartbeat_reply", {ref, status: payload.status, response: payload.response})
  if(replies === count){
    done({replies, closes, connected: socket.isConnected()})
  }
})
