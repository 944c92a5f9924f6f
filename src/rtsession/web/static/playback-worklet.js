// Reply playback: a jitter buffer of 16-bit PCM parts at the session's output rate, played at
// the AudioContext's rate (linear interpolation), reporting how many ms of each part have
// been played. Messages in: {type: "audio", itemId, contentIndex, pcm: ArrayBuffer} and
// {type: "flush"}. Messages out: {type: "played", itemId, contentIndex, ms}.
class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.sourceRate = options.processorOptions.sourceRate;
    this.step = this.sourceRate / sampleRate; // source samples per output sample
    this.queue = []; // {itemId, contentIndex, samples: Float32Array}
    this.offset = 0; // fractional position in queue[0].samples
    this.totals = new Map(); // "itemId/contentIndex" -> source samples played in all
    this.played = new Map(); // the parts played since the last report, with their totals
    this.sinceReport = 0;
    this.port.onmessage = ({ data }) => {
      if (data.type === "flush") {
        this.report(true);
        this.queue = [];
        this.offset = 0;
        return;
      }
      const pcm = new Int16Array(data.pcm);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 0x8000;
      this.queue.push({ itemId: data.itemId, contentIndex: data.contentIndex, samples });
    };
  }

  report(always) {
    if (!always && this.sinceReport < sampleRate / 20) return; // every 50 ms
    this.sinceReport = 0;
    for (const [key, count] of this.played) {
      const cut = key.lastIndexOf("/");
      const itemId = key.slice(0, cut), contentIndex = key.slice(cut + 1);
      const ms = (count * 1000) / this.sourceRate;
      this.port.postMessage({ type: "played", itemId, contentIndex: Number(contentIndex), ms });
    }
    this.played.clear();
  }

  process(_, outputs) {
    const out = outputs[0][0];
    for (let n = 0; n < out.length; n++) {
      const part = this.queue[0];
      if (!part) { out[n] = 0; continue; }
      const i = Math.floor(this.offset);
      const t = this.offset - i;
      const a = part.samples[i];
      const b = i + 1 < part.samples.length ? part.samples[i + 1] : a;
      out[n] = a + (b - a) * t;
      const before = i;
      this.offset += this.step;
      const key = `${part.itemId}/${part.contentIndex}`;
      const done = Math.min(Math.floor(this.offset), part.samples.length) - before;
      const total = (this.totals.get(key) ?? 0) + done;
      this.totals.set(key, total);
      this.played.set(key, total);
      if (this.offset >= part.samples.length) {
        this.offset -= part.samples.length;
        this.queue.shift();
      }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.sinceReport += out.length;
    this.report(false);
    return true;
  }
}
registerProcessor("rtsession-playback", PlaybackProcessor);
