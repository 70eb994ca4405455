// The agent's voice: the playback worklet, an analyser that hears what really comes out,
// and the position reports the server uses to know what the person heard.

import { base64ToBytes, decodeWav } from "./wav.js";

const AUDIBLE_RMS = 0.003; // -50 dBFS: above it, the analyser hears the agent

export class Player {
  /** onEvent({type: "started"|"position"|"stopped"|"drained", id, played}) */
  static async create(sampleRate, onEvent, probe) {
    const context = new AudioContext({ sampleRate, latencyHint: "interactive" });
    await context.audioWorklet.addModule("/static/player-worklet.js");
    const node = new AudioWorkletNode(context, "parley-player", {
      numberOfInputs: 0,
      outputChannelCount: [1],
    });
    const analyser = context.createAnalyser();
    analyser.fftSize = 256;
    node.connect(analyser);
    analyser.connect(context.destination);
    await context.resume();
    return new Player(context, node, analyser, onEvent, probe);
  }

  constructor(context, node, analyser, onEvent, probe) {
    this.context = context;
    this.node = node;
    this.analyser = analyser;
    this.probe = probe;
    this.audible = false;
    this.window = new Float32Array(analyser.fftSize);
    node.port.onmessage = (event) => {
      const { type, id } = event.data;
      if (type === "started") probe.starts.push({ t: performance.now(), id });
      else if (type === "drained") probe.drains.push({ t: performance.now(), id });
      onEvent(event.data);
    };
    this.timer = setInterval(() => this.listen(), 5);
  }

  /** A `play_audio` message: decode its WAV and queue it at its place in the response. */
  play(message) {
    const { samples, sampleRate } = decodeWav(base64ToBytes(message.audio));
    if (sampleRate !== this.context.sampleRate) {
      throw new Error(`audio at ${sampleRate} Hz for a ${this.context.sampleRate} Hz player`);
    }
    this.node.port.postMessage(
      { type: "audio", id: message.response_id, offset: message.offset, samples },
      [samples.buffer],
    );
  }

  /** Drop everything not yet played; silent from the next audio callback. */
  stop() {
    this.probe.stops.push(performance.now());
    this.node.port.postMessage({ type: "stop" });
  }

  /** RMS of the last 256 samples that reached the speakers. */
  level() {
    this.analyser.getFloatTimeDomainData(this.window);
    let sum = 0;
    for (const value of this.window) sum += value * value;
    return Math.sqrt(sum / this.window.length);
  }

  listen() {
    const audible = this.level() > AUDIBLE_RMS;
    if (audible !== this.audible) {
      this.audible = audible;
      this.probe.transitions.push({ t: performance.now(), audible });
    }
  }

  async close() {
    clearInterval(this.timer);
    this.node.port.postMessage({ type: "stop" });
    await this.context.close();
  }
}
