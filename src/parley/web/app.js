// The page: a call to parley over WS /ws (docs/protocol.md), its transcript and latencies.
//
// `window.parleyProbe` records what the page saw and heard, on the performance.now() clock:
// protocol events, playback starts and stops, when the analyser heard the agent start and
// stop, speech onsets in the microphone. The end-to-end tests read it; so can anyone curious.

import { waterfall } from "./latency.js";
import { Microphone } from "./microphone.js";
import { Player } from "./player.js";
import { bytesToBase64, encodeWav } from "./wav.js";

const $ = (id) => document.getElementById(id);
const ui = {
  talk: $("talk"), hangup: $("hangup"), status: $("status"), meter: $("meter"), mode: $("mode"),
  recorded: $("recorded"), transcript: $("transcript"), partial: $("partial"), latency: $("latency"), notice: $("notice"),
  tokenForm: $("token-form"), token: $("token"),
};
const probe = {
  events: [], starts: [], drains: [], stops: [], transitions: [], onsets: [], offsets: [],
  speechStarts: [], utterances: [], errors: [], audioMessages: 0, sessionId: null,
  hangupAt: null, sessionEnded: null, closed: null,
};
window.parleyProbe = probe;

let call = null;

const params = new URLSearchParams(location.search);
if (params.get("mode")) ui.mode.value = params.get("mode");

function setStatus(text, kind) {
  ui.status.textContent = text;
  ui.status.className = `status ${kind}`;
}

function notify(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
}

function token() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) sessionStorage.setItem("parleyToken", fromHash);
  return sessionStorage.getItem("parleyToken");
}

function subprotocols() {
  const secret = token();
  if (!secret) return ["parley"];
  const encoded = bytesToBase64(new TextEncoder().encode(secret));
  return ["parley", "token." + encoded.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")];
}

// --- the transcript ----------------------------------------------------------------------

function bubble(who, text) {
  const item = document.createElement("li");
  item.className = `line ${who}`;
  const speaker = document.createElement("span");
  speaker.className = "speaker";
  speaker.textContent = who === "user" ? "You" : "Agent";
  const words = document.createElement("span");
  words.className = "words";
  words.textContent = text;
  item.append(speaker, words);
  ui.transcript.append(item);
  item.scrollIntoView({ block: "nearest" });
  return words;
}

// --- one call ------------------------------------------------------------------------------

class Call {
  constructor(socket, connected) {
    this.socket = socket;
    this.sessionId = connected.session_id;
    this.agentLines = new Map(); // response id -> element holding its text
    this.speechEndedAt = null; // page time the person's last utterance ended
    this.utteranceSentAt = null; // page time the page's VAD last sent one
    this.speaking = false; // speech_start sent, its speech_end not yet
    this.pendingHeard = new Map(); // response id -> page time its audio was first heard
    this.player = null;
    this.mic = null;
    this.ending = false;
  }

  send(message) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  async start(connected, mode) {
    this.player = await Player.create(connected.output_sample_rate, (e) => this.onPlayer(e), probe);
    if (mode === "stream") this.send({ type: "start_stream", sample_rate: 16000 });
    this.mic = await Microphone.open(mode, connected.vad, {
      onSpeechStart: () => {
        probe.speechStarts.push(performance.now());
        this.speaking = true;
        this.send({ type: "speech_start" });
      },
      onMisfire: () => {
        // Told the server speech began, and it was not speech after all: an empty utterance
        // has no words, so the server resumes the agent if it paused it.
        if (!this.speaking) return;
        this.speaking = false;
        const empty = bytesToBase64(encodeWav(new Float32Array(0), 16000));
        this.send({ type: "speech_end", audio: empty });
      },
      onUtterance: (audio) => {
        this.speaking = false;
        this.utteranceSentAt = performance.now();
        probe.utterances.push({ t: this.utteranceSentAt, seconds: audio.length / 16000 });
        this.send({ type: "speech_end", audio: bytesToBase64(encodeWav(audio, 16000)) });
      },
      onPcm: (pcm) => {
        if (this.socket.readyState === WebSocket.OPEN) this.socket.send(pcm);
      },
      onLevel: (rms) => {
        ui.meter.style.width = `${Math.min(100, Math.sqrt(rms) * 220)}%`;
      },
      onOnset: (t) => probe.onsets.push(t),
      onOffset: (t) => {
        probe.offsets.push(t);
        this.speechEndedAt = t;
      },
    });
    setStatus("Listening", "listening");
  }

  onPlayer(event) {
    const id = event.id;
    if (event.type === "started") {
      this.send({ type: "client_playback_started", response_id: id });
      setStatus("Agent speaking", "speaking");
    } else if (event.type === "position" || event.type === "stopped" || event.type === "drained") {
      // One position report; client_playback_complete would only repeat it for the server.
      this.send({ type: "playback_position", response_id: id, played_seconds: event.played });
    }
  }

  onMessage(message) {
    if (message.event === "play_audio") probe.audioMessages++;
    else probe.events.push({ t: performance.now(), ...message });
    switch (message.event) {
      case "play_audio":
        this.player.play(message);
        if (!this.pendingHeard.has(message.response_id)) {
          const spokeUntil = this.speechEndedAt;
          this.pendingHeard.set(message.response_id, { spokeUntil, sentAt: this.utteranceSentAt });
        }
        break;
      case "stop_playback":
        this.player.stop();
        break;
      case "agent_paused":
        setStatus("Paused: listening", "paused");
        break;
      case "playback_resume":
        setStatus("Agent speaking", "speaking");
        break;
      case "user_speech_started":
        setStatus("You are speaking", "user");
        break;
      case "user_transcript":
        if (message.final) {
          ui.partial.textContent = "";
          if (message.text.trim()) bubble("user", message.text.trim());
        } else {
          ui.partial.textContent = message.text;
        }
        break;
      case "agent_response_started":
        this.agentLines.set(message.response_id, bubble("agent", ""));
        break;
      case "agent_transcript":
        this.onAgentText(message);
        break;
      case "agent_response_done":
        if (message.status !== "completed") {
          const line = this.agentLines.get(message.response_id);
          if (line) line.parentElement.classList.add("interrupted");
        }
        setStatus("Listening", "listening");
        break;
      case "turn_metrics": {
        const { heardMs, pageWaitMs } = this.heardAfter(message.response_id);
        ui.latency.prepend(waterfall(message, heardMs, pageWaitMs));
        break;
      }
      case "error":
        probe.errors.push(message);
        notify(`${message.code}: ${message.message}`);
        break;
      case "session_ended":
        probe.sessionEnded = { t: performance.now(), reason: message.reason };
        break;
    }
  }

  onAgentText(message) {
    let line = this.agentLines.get(message.response_id);
    if (!line) {
      line = bubble("agent", "");
      this.agentLines.set(message.response_id, line);
    }
    if (message.final) {
      line.textContent = message.text || "(nothing heard)";
    } else {
      line.textContent = `${line.textContent} ${message.text}`.trim();
    }
  }

  /** Page-measured: end of the person's speech to the analyser hearing this response, and
   * how long of that the page's VAD waited for silence before sending the utterance. */
  heardAfter(responseId) {
    const spoken = this.pendingHeard.get(responseId);
    const start = probe.starts.find((s) => s.id === responseId);
    const heard = start && probe.transitions.find((x) => x.audible && x.t >= start.t - 1);
    if (!spoken || spoken.spokeUntil == null || !heard) return { heardMs: null, pageWaitMs: 0 };
    const waited = spoken.sentAt != null ? spoken.sentAt - spoken.spokeUntil : 0;
    return { heardMs: heard.t - spoken.spokeUntil, pageWaitMs: Math.max(0, waited) };
  }

  hangup() {
    if (this.ending) return;
    this.ending = true;
    probe.hangupAt = performance.now();
    setStatus("Hanging up", "idle");
    if (this.player) this.player.stop();
    this.send({ type: "hangup" });
    // The server answers with session_ended and closes; don't wait on it forever.
    setTimeout(() => this.socket.close(), 2000);
  }

  async finish() {
    if (this.mic) await this.mic.close().catch(() => {});
    if (this.player) await this.player.close().catch(() => {});
    ui.meter.style.width = "0";
  }
}

// --- connecting and the buttons -------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`, subprotocols());
  socket.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      probe.events.push({ t: performance.now(), event: message.event });
      if (message.event === "connected") resolve({ socket, connected: message });
      else if (message.event === "error") {
        reject(Object.assign(new Error(message.message), message));
      }
    };
    socket.onclose = () => reject(new Error("the server closed the connection"));
  });
}

async function talk() {
  notify("");
  ui.talk.disabled = true;
  setStatus("Connecting", "idle");
  let opened;
  try {
    opened = await connect();
  } catch (error) {
    ui.talk.disabled = false;
    setStatus("Not connected", "idle");
    notify(error.message);
    if (error.code === "unauthorized") ui.tokenForm.hidden = false;
    return;
  }
  const { socket, connected } = opened;
  probe.sessionId = connected.session_id;
  ui.recorded.hidden = !connected.recording;
  call = new Call(socket, connected);
  socket.onmessage = (event) => {
    if (typeof event.data === "string") call.onMessage(JSON.parse(event.data));
  };
  socket.onclose = () => ended(call);
  ui.hangup.disabled = false;
  try {
    await call.start(connected, ui.mode.value);
  } catch (error) {
    notify(`Could not start: ${error.message}`);
    call.hangup();
  }
}

async function ended(finished) {
  probe.closed = performance.now();
  await finished.finish();
  if (call === finished) call = null;
  ui.recorded.hidden = true;
  ui.talk.disabled = false;
  ui.hangup.disabled = true;
  const reason = probe.sessionEnded && probe.sessionEnded.reason;
  setStatus(reason ? `Call ended: ${reason}` : "Disconnected", "idle");
}

ui.talk.addEventListener("click", () => talk());
ui.hangup.addEventListener("click", () => call && call.hangup());
ui.tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("parleyToken", ui.token.value);
  ui.tokenForm.hidden = true;
  notify("Token saved: press Talk.");
});
