// The /calls page: past calls from the records API (docs/records.md), newest first; one call's
// transcript with what the person never heard struck through, each turn's latency waterfall
// (the live page's, from latency.js), and its recording with the turns marked on a timeline.

import { waterfall } from "./latency.js";

const $ = (id) => document.getElementById(id);
const ui = {
  calls: $("calls"), empty: $("empty"), more: $("more"), transport: $("transport"),
  call: $("call"), callId: $("call-id"), recorded: $("recorded"), facts: $("facts"),
  player: $("player"), audio: $("audio"), timeline: $("timeline"), playhead: $("playhead"),
  turns: $("turns"), errors: $("errors"), notice: $("notice"),
  tokenForm: $("token-form"), token: $("token"),
};
const CALL_ID = /^[0-9a-f]{32}$/;
let cursor = null; // the next page of the list
let shown = null; // the call on display

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function notify(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
}

function token() {
  return sessionStorage.getItem("parleyToken");
}

async function api(path) {
  const secret = token();
  const response = await fetch(path, secret ? { headers: { Authorization: `Bearer ${secret}` } } : {});
  if (response.status === 401) {
    ui.tokenForm.hidden = false;
    throw new Error("This server needs an access token.");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // not JSON: the status says enough
    }
    throw new Error(`${path}: ${response.status} ${detail}`);
  }
  return response.json();
}

function seconds(value) {
  if (value == null) return "–";
  const minutes = Math.floor(value / 60);
  const rest = (value - minutes * 60).toFixed(1).padStart(4, "0");
  return `${minutes}:${rest}`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

// --- the list ------------------------------------------------------------------------------

function callRow(call) {
  const row = element("tr");
  row.dataset.id = call.id;
  const who = call.twilio && call.twilio.from ? ` · ${call.twilio.from}` : "";
  const ended = call.ended_at ? call.end_reason || "ended" : "in progress";
  const cells = [
    [when(call.started_at), ""],
    [call.transport + who, ""],
    [seconds(call.duration_s), "number"],
    [String(call.turn_count), "number"],
    [String(call.error_count), "number"],
    [ended, ""],
  ];
  for (const [text, className] of cells) row.append(element("td", className, text));
  const audio = element("td");
  if (call.recording) audio.append(element("span", "badge recorded", "recorded"));
  row.append(audio);
  row.classList.toggle("selected", call.id === shown);
  row.addEventListener("click", () => {
    location.hash = call.id;
  });
  return row;
}

async function loadCalls(more = false) {
  const query = new URLSearchParams({ limit: "20" });
  if (more && cursor) query.set("cursor", cursor);
  if (ui.transport.value) query.set("transport", ui.transport.value);
  const page = await api(`/v1/calls?${query}`);
  if (!more) ui.calls.replaceChildren();
  for (const call of page.calls) ui.calls.append(callRow(call));
  cursor = page.next_cursor;
  ui.more.hidden = !cursor;
  ui.empty.hidden = ui.calls.children.length > 0;
}

// --- one call ------------------------------------------------------------------------------

/**
 * The answer split into what was heard and what never was: [heard, unheard]. The heard text
 * is the answer's first words (DESIGN.md invariant 4), so the split is at the last of them.
 */
export function splitHeard(agentText, heardText) {
  const agent = agentText || "";
  const heard = (heardText || "").trim();
  if (!heard) return ["", agent];
  if (agent.startsWith(heard)) return [heard, agent.slice(heard.length)];
  const normal = (word) => word.toLowerCase().replace(/[^\p{L}\p{N}']/gu, "");
  const heardWords = heard.split(/\s+/).map(normal);
  let cut = 0;
  let index = 0;
  for (const match of agent.matchAll(/\S+/g)) {
    if (index >= heardWords.length || normal(match[0]) !== heardWords[index]) break;
    cut = match.index + match[0].length;
    index += 1;
  }
  return [agent.slice(0, cut), agent.slice(cut)];
}

/** A turn's timings (seconds from the call's start) as the live page's turn_metrics. */
export function metricsOf(turn) {
  const t = turn.timings || {};
  const zero = t.speech_ended != null ? t.speech_ended : t.committed;
  const stages = {};
  if (zero != null) {
    for (const [stage, value] of Object.entries(t)) {
      if (value != null) stages[stage] = Math.round((value - zero) * 10000) / 10;
    }
  }
  const v2v = t.speech_ended != null && t.first_audio_out != null
    ? (t.first_audio_out - t.speech_ended) * 1000 : null;
  return { status: turn.status, user_text: turn.user_text, voice_to_voice_ms: v2v, stages_ms: stages };
}

function seek(at) {
  ui.audio.currentTime = at;
  ui.audio.play().catch(() => {}); // a browser may want a gesture first: the seek stands
}

function playButton(turn) {
  const button = element("button", "play", `▶ ${seconds(turn.start_s)}`);
  button.type = "button";
  button.title = "Play this turn";
  button.dataset.start = String(turn.start_s);
  button.addEventListener("click", () => seek(turn.start_s));
  return button;
}

function turnItem(turn, recorded) {
  const item = element("li", `turn ${turn.status}`);
  item.dataset.index = String(turn.index);
  const head = element("div", "turn-head");
  if (recorded && turn.start_s != null) head.append(playButton(turn));
  head.append(element("span", "", `turn ${turn.index + 1}`));
  head.append(element("span", turn.interrupted ? "status-interrupted" : "", turn.status));
  if (turn.pauses) head.append(element("span", "", `paused ${turn.pauses}×, resumed ${turn.resumes}×`));
  item.append(head);
  if (turn.user_text) {
    const user = element("div", "line user");
    user.append(element("span", "speaker", "Caller"), element("span", "words", turn.user_text));
    item.append(user);
  }
  if (turn.agent_text) {
    const agent = element("div", "line agent");
    agent.append(element("span", "speaker", "Agent"));
    const [heard, unheard] = turn.status === "completed"
      ? [turn.agent_text, ""] : splitHeard(turn.agent_text, turn.heard_text);
    const words = element("span", "words");
    words.append(element("span", "heard", heard));
    if (unheard.trim()) {
      const cut = element("del", "unheard", unheard);
      cut.title = "generated, never heard: the caller interrupted";
      words.append(cut);
    }
    agent.append(words);
    item.append(agent);
  }
  item.append(waterfall(metricsOf(turn), null, 0));
  return item;
}

function timeline(call) {
  ui.timeline.querySelectorAll(".mark").forEach((mark) => mark.remove());
  const length = call.duration_s
    || (Number.isFinite(ui.audio.duration) ? ui.audio.duration : null)
    || Math.max(1, ...call.turns.map((turn) => turn.end_s || turn.start_s || 0));
  for (const turn of call.turns) {
    if (turn.start_s == null) continue;
    const end = turn.end_s != null ? turn.end_s : turn.start_s;
    const mark = element("button", `mark ${turn.status}`);
    mark.type = "button";
    mark.dataset.start = String(turn.start_s);
    mark.style.left = `${Math.min(100, (turn.start_s / length) * 100)}%`;
    mark.style.width = `${Math.max(0, ((end - turn.start_s) / length) * 100)}%`;
    mark.title = `turn ${turn.index + 1} at ${seconds(turn.start_s)}: ${turn.user_text || "(no words)"}`;
    mark.addEventListener("click", () => seek(turn.start_s));
    ui.timeline.append(mark);
  }
  const follow = () => {
    ui.playhead.style.left = `${Math.min(100, (ui.audio.currentTime / length) * 100)}%`;
  };
  ui.audio.ontimeupdate = follow;
  follow();
}

let audioUrl = null; // an object URL of a recording fetched with the token, to release

/**
 * The recording into the <audio> element. An element cannot send a header, and a token in a
 * URL would end up in access logs: with a token the page fetches the file with the header and
 * plays it from memory (about 230 KiB a minute); without one the element streams it.
 */
async function loadRecording(id) {
  if (audioUrl) URL.revokeObjectURL(audioUrl);
  audioUrl = null;
  const path = `/v1/calls/${id}/recording`;
  const secret = token();
  if (!secret) {
    ui.audio.src = path;
    return;
  }
  const response = await fetch(path, { headers: { Authorization: `Bearer ${secret}` } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${response.statusText}`);
  audioUrl = URL.createObjectURL(await response.blob());
  ui.audio.src = audioUrl;
}

async function showCall(id) {
  const call = await api(`/v1/calls/${id}`);
  shown = id;
  for (const row of ui.calls.children) row.classList.toggle("selected", row.dataset.id === id);
  ui.call.hidden = false;
  ui.callId.textContent = call.id;
  ui.recorded.hidden = !call.recording;
  ui.recorded.textContent = call.recording && !call.ended_at ? "recording" : "recorded";
  const providers = Object.entries(call.providers || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  const twilio = call.twilio ? ` · ${call.twilio.from || "?"} → ${call.twilio.to || "?"}` : "";
  ui.facts.textContent = [
    `${call.transport}${twilio}`,
    `started ${when(call.started_at)}`,
    call.ended_at ? `${seconds(call.duration_s)} long, ${call.end_reason || "ended"}` : "in progress",
    providers,
  ].filter(Boolean).join(" · ");
  ui.player.hidden = !call.recording;
  if (call.recording) {
    timeline(call);
    ui.audio.onloadedmetadata = () => timeline(call);
    await loadRecording(call.id);
  } else {
    ui.audio.removeAttribute("src");
  }
  ui.turns.replaceChildren(...call.turns.map((turn) => turnItem(turn, call.recording)));
  ui.errors.replaceChildren(...call.errors.map((error) =>
    element("li", "", `${seconds(error.at_s)} ${error.code}: ${error.message}`)));
  window.parleyCalls.shown = id;
}

function wanted() {
  const fromHash = location.hash.slice(1);
  if (CALL_ID.test(fromHash)) return fromHash;
  const fromQuery = new URLSearchParams(location.search).get("id");
  return fromQuery && CALL_ID.test(fromQuery) ? fromQuery : null;
}

async function route() {
  const id = wanted();
  if (id === null) {
    ui.call.hidden = true;
    shown = null;
    return;
  }
  try {
    await showCall(id);
    notify("");
  } catch (error) {
    notify(String(error.message || error));
  }
}

async function start() {
  try {
    await loadCalls();
  } catch (error) {
    notify(String(error.message || error));
  }
  await route();
  window.parleyCalls.ready = true;
}

window.parleyCalls = { ready: false, shown: null }; // for tests: what the page has shown
window.addEventListener("hashchange", route);
ui.transport.addEventListener("change", () => loadCalls().catch((e) => notify(String(e.message))));
ui.more.addEventListener("click", () => loadCalls(true).catch((e) => notify(String(e.message))));
ui.tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("parleyToken", ui.token.value);
  ui.tokenForm.hidden = true;
  start();
});
start();
