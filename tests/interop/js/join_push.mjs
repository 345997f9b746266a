// Join with a response, push → reply (ok, error, deferred), a server push, binary frames both
// ways, a refused join and an unmatched topic.
import {connect, done, emit, next, observe, outcome} from "./harness.mjs"

const socket = connect("ann", {params: {user: "ann"}})
const room = observe("ann", socket.channel("room:lobby", {hello: "world"}))
emit("joined", await outcome(room.join()))

emit("echo", await outcome(room.push("echo", {body: "hi", n: 1})))
emit("fail", await outcome(room.push("fail", {})))
emit("later", await outcome(room.push("later", {x: 2})))

const pushed = next(room, "pushed")
const reply = await outcome(room.push("push_me", {y: 3}))
emit("push_me", {reply, pushed: await pushed})

// A binary push: the server answers with a binary reply and pushes the bytes back reversed.
const bytes = next(room, "bytes")
const binary = await outcome(room.push("bin", new Uint8Array([1, 2, 3, 250]).buffer))
emit("binary", {reply: binary, pushed: await bytes})

const denied = socket.channel("room:private", {deny: true})
const refusal = await outcome(denied.join())
denied.leave()  // phoenix.js retries refused joins until told to stop
emit("denied", refusal)

const nowhere = socket.channel("nowhere:at-all")
const unmatched = await outcome(nowhere.join())
nowhere.leave()
emit("unmatched", unmatched)

done()
