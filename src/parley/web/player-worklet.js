// Plays the agent's speech on the audio thread, one render quantum (128 samples) at a time.
//
// Why a worklet: a "stop" message empties the queue between two quanta, so playback falls
// silent within one audio callback (5 ms at 24 kHz), which no scheduled AudioBufferSource
// chain can promise. The worklet also knows exactly how many samples of each response were
// played: it reports that position, and after a pause it skips any resent audio it already
// played, so resuming repeats and skips nothing.

class PlayerProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // {id, start, data: Float32Array, read}, in play order
    this.current = null; // the response whose audio played last
    this.heard = new Map(); // response id -> samples played, counted from its start
    this.playing = false;
    this.sinceReport = 0;
    this.reportEvery = Math.round(sampleRate * 0.02);
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    if (message.type === "audio") {
      this.enqueue(message.id, Math.round(message.offset * sampleRate), message.samples);
    } else if (message.type === "stop") {
      this.queue = [];
      if (this.playing) this.report("stopped");
      this.playing = false;
    }
  }

  enqueue(id, start, samples) {
    let data = samples;
    const last = this.queue.length ? this.queue[this.queue.length - 1] : null;
    const queuedEnd = last && last.id === id ? last.start + last.data.length : 0;
    const from = Math.max(this.heard.get(id) ?? 0, queuedEnd);
    if (start < from) {
      const skip = from - start; // already played or queued: the server resent it
      if (skip >= data.length) return;
      data = data.subarray(skip);
      start = from;
    }
    this.queue.push({ id, start, data, read: 0 });
  }

  process(_inputs, outputs) {
    const channels = outputs[0];
    const out = channels[0];
    let filled = 0;
    while (filled < out.length && this.queue.length) {
      const chunk = this.queue[0];
      if (chunk.id !== this.current || !this.playing) {
        this.current = chunk.id;
        this.playing = true;
        this.port.postMessage({ type: "started", id: chunk.id, at: currentTime });
      }
      const count = Math.min(out.length - filled, chunk.data.length - chunk.read);
      out.set(chunk.data.subarray(chunk.read, chunk.read + count), filled);
      chunk.read += count;
      filled += count;
      this.heard.set(chunk.id, chunk.start + chunk.read);
      this.sinceReport += count;
      if (chunk.read === chunk.data.length) this.queue.shift();
    }
    out.fill(0, filled);
    for (let c = 1; c < channels.length; c++) channels[c].set(out);
    if (this.playing && filled < out.length) {
      this.report("drained"); // nothing more to play right now
      this.playing = false;
    } else if (this.sinceReport >= this.reportEvery) {
      this.report("position");
    }
    return true;
  }

  report(type) {
    this.sinceReport = 0;
    const played = (this.heard.get(this.current) ?? 0) / sampleRate;
    this.port.postMessage({ type, id: this.current, played });
  }
}

registerProcessor("parley-player", PlayerProcessor);
