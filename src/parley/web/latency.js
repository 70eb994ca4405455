// One small waterfall per turn: where the time went between the end of the person's speech
// and the agent's first audio, from the server's `turn_metrics` and the page's own ears. The
// headline is what the person experienced: end of their speech to the agent audible here.

const PHASES = [
  // [label, from stage, to stage, css class]
  ["wait for silence", "speech_ended", "endpoint_decided", "silence"],
  ["transcript", "endpoint_decided", "stt_final", "stt"],
  ["merge gap", "stt_final", "committed", "gap"],
  ["LLM first token", "committed", "llm_first_token", "llm"],
  ["TTS first audio", "llm_first_token", "tts_first_audio", "tts"],
  ["sent", "tts_first_audio", "first_audio_out", "out"],
];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A row for one turn. `heardMs`: the page's own end of speech to agent audible time.
 * `pageWaitMs`: with the page's VAD, the silence it waited before sending the utterance;
 * the server's stages start after it.
 */
export function waterfall(metrics, heardMs, pageWaitMs = 0) {
  const stages = {};
  for (const [stage, ms] of Object.entries({ speech_ended: 0, ...metrics.stages_ms })) {
    stages[stage] = ms + pageWaitMs;
  }
  const serverMs = metrics.voice_to_voice_ms;
  const end = Math.max((serverMs || 0) + pageWaitMs, heardMs || 0, 1);
  const scale = Math.max(end, 1500);
  const row = element("li", "turn-latency");
  const label = element("div", "latency-label");
  const headline = heardMs != null ? heardMs : serverMs;
  label.append(element("span", "latency-text", metrics.user_text || "(no words)"));
  const total = headline == null ? "–" : `${Math.round(headline)} ms`;
  label.append(element("span", "latency-total", total));
  row.append(label);
  const bar = element("div", "latency-bar");
  const waited = ["silence (page VAD)", "page", "speech_ended", "silence"];
  const phases = pageWaitMs > 0 ? [waited, ...PHASES] : PHASES;
  stages.page = 0;
  let cursor = 0;
  for (const [name, from, to, kind] of phases) {
    const start = stages[from];
    const stop = stages[to];
    if (start == null || stop == null) continue;
    const left = Math.max(cursor, start);
    const right = Math.max(left, stop);
    cursor = right;
    const width = right - left;
    const piece = element("span", `phase ${kind}`);
    piece.style.left = `${(left / scale) * 100}%`;
    piece.style.width = `${Math.max((width / scale) * 100, 0.4)}%`;
    piece.title = `${name}: ${Math.round(width)} ms`;
    bar.append(piece);
  }
  if (heardMs != null) {
    const mark = element("span", "heard-mark");
    mark.style.left = `${Math.min((heardMs / scale) * 100, 100)}%`;
    mark.title = `heard in this page after ${Math.round(heardMs)} ms`;
    bar.append(mark);
  }
  row.append(bar);
  const parts = [metrics.status];
  if (heardMs != null) parts.push("heard here");
  if (serverMs != null) parts.push(`server ${Math.round(serverMs)} ms`);
  row.append(element("div", "latency-note", parts.join(" · ")));
  return row;
}
