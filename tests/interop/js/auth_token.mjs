// phoenix.js's authToken option: over WebSocket it travels in Sec-WebSocket-Protocol
// ("phoenix, base64url.bearer.phx.<base64>"), over long-poll in X-Phoenix-AuthToken. The
// test's handler takes it as the user, which the join response shows.
import {LongPoll, args, connect, done, emit, outcome} from "./harness.mjs"

const [token] = args
for(const [name, transport] of [["websocket", undefined], ["longpoll", LongPoll]]){
  const socket = connect(name, {authToken: token, ...(transport ? {transport} : {})})
  const joined = await outcome(socket.channel("room:auth").join())
  // the subprotocol the server picked (WebSocket only)
  const protocol = socket.conn.protocol
  emit("joined", {socket: name, transport: socket.transportName(socket.transport), protocol,
    ...joined})
}
done()
