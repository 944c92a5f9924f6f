// The rtsession web voice client: microphone -> relay -> session, reply audio -> speaker,
// with the live transcript, tool calls, interruptions and a latency readout. The relay
// protocol (rtsession.web.v1) is documented in docs/web.md.
const PROTOCOL = "rtsession.web.v1";
const FRAME_MS = 20;

const $ = (id) => document.getElementById(id);
const toggle = $("toggle");
const status = $("status");
const transcript = $("transcript");
const latency = $("latency");
const playedReadout = $("played");

let call = null; // the running conversation: {socket, context, stream, player}

function setStatus(text) { status.textContent = text; }

// --- the transcript --------------------------------------------------------------------------

const lines = new Map(); // "role:item_id" -> the <li> of that turn

function line(role, itemId) {
  const key = `${role}:${itemId}`;
  let li = lines.get(key);
  if (!li) {
    li = document.createElement("li");
    li.className = role;
    li.dataset.itemId = itemId;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You:" : "Assistant:";
    const text = document.createElement("span");
    text.className = "text";
    li.append(who, text);
    transcript.append(li);
    lines.set(key, li);
  }
  return li.querySelector(".text");
}

function note(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = text;
  transcript.append(li);
  return li;
}

// --- events from the relay -------------------------------------------------------------------

let speechStoppedAt = null;
let totalPlayedMs = 0;
const partPlayed = new Map(); // "item_id/content_index" -> ms played

function onEvent(event) {
  switch (event.type) {
    case "ready":
      call.inputRate = event.input_rate;
      call.outputRate = event.output_rate;
      startAudio(event).catch(fail);
      setStatus(`Connected to ${event.provider} (${event.model}). Speak now.`);
      break;
    case "speech_started":
      setStatus("Listening…");
      break;
    case "speech_stopped":
      speechStoppedAt = performance.now();
      setStatus("Thinking…");
      break;
    case "transcript":
      line(event.role, event.item_id).textContent += event.delta;
      break;
    case "transcript_done":
      line(event.role, event.item_id).textContent = event.text;
      break;
    case "audio":
      call.part = { itemId: event.item_id, contentIndex: event.content_index };
      break;
    case "flush":
      call.player?.port.postMessage({ type: "flush" });
      break;
    case "interrupted": {
      const li = lines.get(`assistant:${event.item_id}`);
      if (li) {
        li.classList.add("interrupted");
        li.dataset.interruptedMs = String(event.played_ms);
        li.setAttribute("aria-description", `interrupted after ${event.played_ms} ms`);
      }
      break;
    }
    case "tool_call":
      note("tool", `${event.name}(${event.arguments})`).dataset.callId = event.call_id;
      break;
    case "tool_result": {
      const li = transcript.querySelector(`li.tool[data-call-id="${CSS.escape(event.call_id)}"]`);
      if (li) li.textContent += ` → ${event.output}`;
      break;
    }
    case "response_done":
      setStatus("Speak now.");
      break;
    case "error":
      note("error", `${event.code}: ${event.message}`);
      break;
    case "ended":
      setStatus(event.error ? `The session ended: ${event.error}` : "The session ended.");
      break;
  }
}

function onAudio(pcm) {
  if (speechStoppedAt !== null) {
    latency.textContent = `${Math.round(performance.now() - speechStoppedAt)} ms`;
    speechStoppedAt = null;
  }
  if (!call.player || !call.part) return;
  call.player.port.postMessage(
    { type: "audio", itemId: call.part.itemId, contentIndex: call.part.contentIndex, pcm },
    [pcm],
  );
}

function onPlayed({ itemId, contentIndex, ms }) {
  const key = `${itemId}/${contentIndex}`;
  totalPlayedMs += ms - (partPlayed.get(key) ?? 0);
  partPlayed.set(key, ms);
  playedReadout.dataset.playedMs = String(Math.round(totalPlayedMs));
  playedReadout.textContent = `${Math.round(totalPlayedMs)} ms`;
  if (call?.socket.readyState === WebSocket.OPEN) {
    call.socket.send(JSON.stringify({ type: "played", item_id: itemId, content_index: contentIndex, ms }));
  }
}

// --- audio -------------------------------------------------------------------------------------

async function startAudio() {
  const context = call.context;
  await context.audioWorklet.addModule("static/capture-worklet.js");
  await context.audioWorklet.addModule("static/playback-worklet.js");
  const source = context.createMediaStreamSource(call.stream);
  const capture = new AudioWorkletNode(context, "rtsession-capture", {
    processorOptions: { targetRate: call.inputRate, frameMs: FRAME_MS },
  });
  capture.port.onmessage = ({ data }) => {
    if (call?.socket.readyState === WebSocket.OPEN) call.socket.send(data);
  };
  source.connect(capture);
  const player = new AudioWorkletNode(context, "rtsession-playback", {
    processorOptions: { sourceRate: call.outputRate },
    outputChannelCount: [1],
  });
  player.port.onmessage = ({ data }) => onPlayed(data);
  player.connect(context.destination);
  call.capture = capture;
  call.player = player;
  await context.resume();
}

// --- start and stop ----------------------------------------------------------------------------

async function start() {
  toggle.disabled = true;
  setStatus("Asking for the microphone…");
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  const context = new AudioContext();
  const url = new URL("relay", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url, [PROTOCOL]);
  socket.binaryType = "arraybuffer";
  call = { socket, context, stream, player: null, capture: null, part: null };
  socket.onmessage = ({ data }) => {
    if (typeof data === "string") onEvent(JSON.parse(data));
    else onAudio(data);
  };
  socket.onclose = ({ code, reason }) => {
    if (call?.socket === socket) stop(code === 1000 ? null : `closed (${code}${reason ? `: ${reason}` : ""})`);
  };
  socket.onopen = () => setStatus("Connecting the session…");
  toggle.textContent = "Stop";
  toggle.setAttribute("aria-pressed", "true");
  toggle.disabled = false;
}

function stop(why) {
  if (!call) return;
  const { socket, context, stream } = call;
  call = null;
  if (socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: "stop" }));
    socket.close(1000);
  }
  stream.getTracks().forEach((track) => track.stop());
  context.close();
  toggle.textContent = "Start";
  toggle.setAttribute("aria-pressed", "false");
  setStatus(why ? `Stopped: ${why}` : "Stopped. Press Start to talk again.");
}

function fail(error) {
  stop(error.message || String(error));
  toggle.disabled = false;
}

toggle.addEventListener("click", () => {
  if (call) stop(null);
  else start().catch(fail);
});
