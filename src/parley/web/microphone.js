// The microphone: one 16 kHz capture graph feeding Silero VAD in the page (mode "vad") or
// the server as raw PCM frames (mode "stream"), plus the level meter and speech onsets.

/* global vad */

export class Microphone {
  /**
   * callbacks: onSpeechStart(), onUtterance(Float32Array 16 kHz), onMisfire() (speech that
   * turned out too short), onPcm(ArrayBuffer), onLevel(rms), onOnset(t), onOffset(t) where t
   * is on the performance.now() clock.
   */
  static async open(mode, vadOptions, callbacks) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this page needs microphone access (https or localhost)");
    }
    const context = new AudioContext({ sampleRate: 16000 });
    let stream = null;
    let detector = null;
    if (mode === "vad") {
      // Load the model before opening the microphone: listening starts with the VAD ready.
      if (typeof vad === "undefined") {
        throw new Error("the page's VAD did not load (are the npm packages installed?)");
      }
      detector = await vad.MicVAD.new({
        model: "v5",
        baseAssetPath: "/vendor/vad/",
        onnxWASMBasePath: "/vendor/ort/",
        audioContext: context,
        startOnLoad: false,
        getStream: async () => stream,
        pauseStream: async () => {},
        resumeStream: async () => stream,
        positiveSpeechThreshold: vadOptions.positive_speech_threshold,
        negativeSpeechThreshold: vadOptions.negative_speech_threshold,
        redemptionMs: vadOptions.redemption_ms,
        preSpeechPadMs: vadOptions.pre_speech_pad_ms,
        minSpeechMs: vadOptions.min_speech_ms,
        // Real start, not start: only speech past min_speech_ms pauses the agent, as the
        // server's own VAD does with min_interruption_ms; shorter sounds are misfires.
        onSpeechRealStart: () => callbacks.onSpeechStart(),
        onSpeechEnd: (audio) => callbacks.onUtterance(audio),
        onVADMisfire: () => callbacks.onMisfire(),
      });
    }
    // Echo cancellation keeps the agent's voice out of the microphone. Automatic gain
    // control stays off: after a silence it starts low and ramps up, which delayed the VAD's
    // speech start by about 270 ms and cut first words (measured with the end-to-end tests).
    stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        channelCount: 1,
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: false,
      },
    });
    await context.audioWorklet.addModule("/static/capture-worklet.js");
    const capture = new AudioWorkletNode(context, "parley-capture", {
      numberOfOutputs: 0,
      processorOptions: { streaming: mode === "stream" },
    });
    // An audio-clock time as performance.now() time: how long ago it was on the audio clock
    // (the same clock the worklet reads), however late this thread reads the message.
    const toPageTime = (audioTime) =>
      performance.now() - (context.currentTime - audioTime) * 1000;
    capture.port.onmessage = (event) => {
      const message = event.data;
      if (message.type === "pcm") callbacks.onPcm(message.pcm);
      else if (message.type === "level") callbacks.onLevel(message.rms);
      else if (message.type === "onset") callbacks.onOnset(toPageTime(message.time));
      else if (message.type === "offset") callbacks.onOffset(toPageTime(message.time));
    };
    context.createMediaStreamSource(stream).connect(capture);
    if (detector) await detector.start();
    return new Microphone(stream, context, detector);
  }

  constructor(stream, context, detector) {
    this.stream = stream;
    this.context = context;
    this.detector = detector;
  }

  async close() {
    if (this.detector) await this.detector.destroy();
    for (const track of this.stream.getTracks()) track.stop();
    await this.context.close();
  }
}
