// Microphone capture: mono float samples at the AudioContext's rate in, 16-bit PCM at the
// session's input rate out, posted in frames of `frameMs` (relay protocol: whole samples,
// at most 200 ms per frame). Resampling is linear interpolation over a running fractional
// position, after a two-tap average when decimating, which is enough for speech.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, frameMs } = options.processorOptions;
    this.step = sampleRate / targetRate; // input samples per output sample
    this.frame = new Int16Array(Math.round((targetRate * frameMs) / 1000));
    this.filled = 0;
    this.position = 0; // fractional index into the current block, carried across blocks
    this.previous = 0; // the last sample of the previous block
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const smooth = this.step > 1;
    const at = (i) => (i < 0 ? this.previous : channel[i]);
    while (this.position < channel.length - 1) {
      const i = Math.floor(this.position);
      const t = this.position - i;
      let a = at(i), b = at(i + 1);
      if (smooth) { a = (a + at(i - 1)) / 2; b = (b + at(i)) / 2; }
      const s = Math.max(-1, Math.min(1, a + (b - a) * t));
      this.frame[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.filled === this.frame.length) {
        this.port.postMessage(this.frame.buffer.slice(0));
        this.filled = 0;
      }
      this.position += this.step;
    }
    this.position -= channel.length;
    this.previous = channel[channel.length - 1];
    return true;
  }
}
registerProcessor("rtsession-capture", CaptureProcessor);
