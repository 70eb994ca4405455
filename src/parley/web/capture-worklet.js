// Listens to the microphone on the audio thread: a level for the meter, the moments speech
// energy begins and ends (onsets time what the person hears against what they said), and,
// in streaming mode, 20 ms frames of 16-bit PCM for the server's VAD.

const LOUD = 0.02; // a sample this loud (-34 dBFS) is sound
const QUIET_BEFORE_ONSET = 0.3; // seconds without a loud sample before the next is an onset

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.streaming = Boolean(options.processorOptions && options.processorOptions.streaming);
    this.frame = new Int16Array(Math.round(sampleRate * 0.02));
    this.framed = 0;
    this.quietRun = 0; // samples since the last loud one
    this.lastLoud = 0; // audio-clock time (s) of the last loud sample
    this.sounding = false;
    this.levelSum = 0;
    this.levelCount = 0;
    this.port.onmessage = (event) => {
      if (event.data.type === "stream") this.streaming = event.data.on;
    };
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    const quietLimit = QUIET_BEFORE_ONSET * sampleRate;
    for (let i = 0; i < input.length; i++) {
      const sample = input[i];
      const size = Math.abs(sample);
      this.levelSum += sample * sample;
      if (size >= LOUD) {
        // Times are on the audio clock (currentTime: this block's first sample), so a busy
        // page thread that reads the message late does not move them.
        this.lastLoud = currentTime + i / sampleRate;
        if (!this.sounding) {
          this.port.postMessage({ type: "onset", time: this.lastLoud });
          this.sounding = true;
        }
        this.quietRun = 0;
      } else {
        this.quietRun++;
        if (this.sounding && this.quietRun >= quietLimit) {
          this.port.postMessage({ type: "offset", time: this.lastLoud });
          this.sounding = false;
        }
      }
      if (this.streaming) {
        this.frame[this.framed++] = Math.max(-32768, Math.min(32767, Math.round(sample * 32768)));
        if (this.framed === this.frame.length) {
          const pcm = this.frame.slice().buffer;
          this.port.postMessage({ type: "pcm", pcm }, [pcm]);
          this.framed = 0;
        }
      }
    }
    this.levelCount += input.length;
    if (this.levelCount >= sampleRate * 0.05) {
      this.port.postMessage({ type: "level", rms: Math.sqrt(this.levelSum / this.levelCount) });
      this.levelSum = 0;
      this.levelCount = 0;
    }
    return true;
  }
}

registerProcessor("parley-capture", CaptureProcessor);
