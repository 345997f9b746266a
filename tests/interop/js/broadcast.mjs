// Two connections on one topic: broadcast reaches both, broadcast_from skips the sender.
import {connect, done, emit, next, observe, outcome} from "./harness.mjs"

const ann = connect("ann", {params: {user: "ann"}})
const bob = connect("bob", {params: {user: "bob"}})
const annRoom = observe("ann", ann.channel("room:news"))
const bobRoom = observe("bob", bob.channel("room:news"))
await Promise.all([outcome(annRoom.join()), outcome(bobRoom.join())])

const received = {ann: [], bob: []}
annRoom.on("shout", p => received.ann.push(["shout", p]))
bobRoom.on("shout", p => received.bob.push(["shout", p]))
annRoom.on("whisper", p => received.ann.push(["whisper", p]))
bobRoom.on("whisper", p => received.bob.push(["whisper", p]))

// broadcast: the sender gets it too
const annShout = next(annRoom, "shout")
const bobShout = next(bobRoom, "shout")
const shoutReply = await outcome(annRoom.push("shout", {body: "to all"}))
emit("shout", {reply: shoutReply, ann: await annShout, bob: await bobShout})

// broadcast_from: only bob; then bob shouts a barrier, which ann can only see after anything
// the whisper would have brought her.
const bobWhisper = next(bobRoom, "whisper")
const whisperReply = await outcome(annRoom.push("whisper", {body: "psst"}))
emit("whisper", {reply: whisperReply, bob: await bobWhisper})
const barrier = next(annRoom, "shout")
await outcome(bobRoom.push("shout", {body: "barrier"}))
emit("barrier", {ann: await barrier})

done({received})
