// The Live tab's page script: microphone -> /live/ws -> frames on a canvas, each frame's audio played at its pts.
// Loaded once into the page's <head> (live_tab.live_launch_options); the tab's Start and Stop buttons call
// window.museLive.start(avatar, model) and window.museLive.stop(). The wire format is described in
// musetalk/ui/live_server.py and the README ("Live avatar").
(() => {
  const RATE = 16000;          // what the server takes and returns
  const CHUNK = 320;           // 20 ms of microphone audio per message
  const LEAD_S = 0.12;         // playback buffer: absorbs network and render jitter
  const RESYNC_S = 0.6;        // a frame this far ahead of its slot means the clocks drifted: schedule afresh
  const TAP = `class MuseTap extends AudioWorkletProcessor {
    process(inputs) { const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); return true; }
  }
  registerProcessor("muse-tap", MuseTap);`;
  let live = null;  // the running session (one per page)

  const el = (id) => document.getElementById(id);
  function say(text, kind) {
    const s = el("live-status");
    if (s) { s.textContent = text; s.dataset.kind = kind || "info"; }
  }
  function fmt(x, digits) { return x === null || x === undefined ? "-" : Number(x).toFixed(digits); }

  function readout() {
    const r = el("live-readout");
    if (!r || !live) return;
    const st = live.stats, c = live.counts;
    const lat = st ? `lip-sync latency ${fmt(st.latency_median_s, 2)} s median, ${fmt(st.latency_p95_s, 2)} s p95` +
      ` (+ ${LEAD_S.toFixed(2)} s playback buffer)` : "lip-sync latency -";
    const fps = st ? `rendering at ${fmt(st.render_fps, 1)} fps` : "rendering at - fps";
    r.textContent = `${lat} · ${fps} · frames shown: ${c.speech} speech, ${c.held} held, ${c.idle} idle`;
    for (const k of ["speech", "held", "idle"]) r.dataset[k] = c[k];
    r.dataset.latency = st ? st.latency_median_s : "";
    r.dataset.fps = st ? st.render_fps : "";
    const w = el("live-warning");
    if (w) w.textContent = st && st.below_real_time ? st.message : "";
  }

  // Microphone -> 16 kHz float32 chunks -> the socket. The AudioContext runs at 16 kHz where the browser allows
  // it (Chromium resamples the microphone); elsewhere the chunks are resampled here.
  async function openMic(s) {
    s.stream = await navigator.mediaDevices.getUserMedia(
      {audio: {channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true}});
    const url = URL.createObjectURL(new Blob([TAP], {type: "text/javascript"}));
    await s.ctx.audioWorklet.addModule(url);
    URL.revokeObjectURL(url);
    if (live !== s) return;
    const src = s.ctx.createMediaStreamSource(s.stream);
    const tap = new AudioWorkletNode(s.ctx, "muse-tap");
    const mute = s.ctx.createGain();
    mute.gain.value = 0;  // the worklet must be pulled by the graph, but the microphone is not played back
    src.connect(tap).connect(mute).connect(s.ctx.destination);
    s.nodes = [src, tap, mute];
    const ratio = s.ctx.sampleRate / RATE;
    let pending = [], n = 0;
    tap.port.onmessage = (e) => {
      const part = ratio === 1 ? e.data : resample(e.data, ratio);
      pending.push(part); n += part.length;
      if (n < CHUNK || s.ws.readyState !== WebSocket.OPEN) return;
      const out = new Float32Array(n);
      let o = 0;
      for (const p of pending) { out.set(p, o); o += p.length; }
      pending = []; n = 0;
      s.ws.send(out.buffer);  // float32 little-endian (every browser's typed arrays are little-endian)
    };
  }
  function resample(x, ratio) {
    const m = Math.floor(x.length / ratio), y = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      const p = i * ratio, j = Math.floor(p), f = p - j;
      y[i] = x[j] * (1 - f) + (x[Math.min(j + 1, x.length - 1)] * f);
    }
    return y;
  }

  // One binary frame message: uint32 LE header length, JSON header, float32 LE audio, JPEG to the end.
  async function onFrame(s, buf) {
    const view = new DataView(buf);
    const n = view.getUint32(0, true);
    const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
    const aBytes = head.audio_samples * 4;
    const audio = new Float32Array(buf.slice(4 + n, 4 + n + aBytes));
    const bitmap = await createImageBitmap(new Blob([new Uint8Array(buf, 4 + n + aBytes)], {type: "image/jpeg"}));
    if (live !== s) { bitmap.close(); return; }
    const now = s.ctx.currentTime;
    let t = s.base === null ? null : s.base + head.pts;
    if (t === null || t < now + 0.01 || t > now + LEAD_S + RESYNC_S) {  // first, late, or drifted: re-anchor
      s.base = now + LEAD_S - head.pts;
      t = now + LEAD_S;
      if (s.counts.frames) s.resyncs += 1;
    }
    const b = s.ctx.createBuffer(1, audio.length, RATE);
    b.copyToChannel(audio, 0);
    const node = s.ctx.createBufferSource();
    node.buffer = b;
    node.connect(s.ctx.destination);
    node.start(t);
    s.queue.push({t, bitmap, kind: head.kind, index: head.index});
    const q = s.queue;  // the decodes may finish out of order
    if (q.length > 1 && q[q.length - 2].t > t) q.sort((a, b) => a.t - b.t);
    s.counts.frames += 1;
  }

  // Each frame is drawn when its audio is heard: its slot plus the output's own latency.
  function draw(s) {
    if (live !== s) return;
    const due = s.ctx.currentTime - (s.ctx.outputLatency || s.ctx.baseLatency || 0);
    let shown = null;
    while (s.queue.length && s.queue[0].t <= due) {
      if (shown) shown.bitmap.close();
      shown = s.queue.shift();
    }
    const canvas = el("live-canvas");
    if (shown && canvas) {
      if (canvas.width !== shown.bitmap.width || canvas.height !== shown.bitmap.height) {
        canvas.width = shown.bitmap.width; canvas.height = shown.bitmap.height;
      }
      canvas.getContext("2d").drawImage(shown.bitmap, 0, 0);
      canvas.dataset.index = shown.index;
      canvas.dataset.kind = shown.kind;
      s.counts[shown.kind] = (s.counts[shown.kind] || 0) + 1;
      shown.bitmap.close();
      readout();
    }
    requestAnimationFrame(() => draw(s));
  }

  function teardown(s, text, kind) {
    if (s.closed) return;
    s.closed = true;
    if (s.stream) s.stream.getTracks().forEach((t) => t.stop());
    (s.nodes || []).forEach((node) => node.disconnect());
    s.queue.forEach((q) => q.bitmap.close());
    s.queue = [];
    if (s.ws.readyState === WebSocket.OPEN || s.ws.readyState === WebSocket.CONNECTING) s.ws.close(1000);
    s.ctx.close();
    if (live === s) live = null;
    if (text) say(text, kind);
    document.body.dataset.live = "off";
  }

  function start(avatar, model) {
    if (live) { say("Already live: press Stop first.", "warn"); return; }
    if (!avatar) { say("Pick a prepared avatar first (prepare one on the Real-time avatar tab).", "warn"); return; }
    const url = new URL("live/ws", location.href.split("?")[0].replace(/[^/]*$/, ""));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("avatar", avatar);
    if (model) url.searchParams.set("model", model);
    let ctx;
    try { ctx = new AudioContext({sampleRate: RATE, latencyHint: "interactive"}); }
    catch (e) { ctx = new AudioContext({latencyHint: "interactive"}); }  // no 16 kHz context: resample instead
    const s = {ws: new WebSocket(url), ctx, base: null, queue: [], stats: null, resyncs: 0, closed: false,
               counts: {frames: 0, speech: 0, held: 0, idle: 0}, refused: null};
    live = s;
    window.museLive.session = s;
    s.ws.binaryType = "arraybuffer";
    say(`Connecting to the avatar '${avatar}' (the first start loads the models)...`, "info");
    s.ws.onmessage = (e) => {
      if (live !== s) return;
      if (typeof e.data !== "string") { onFrame(s, e.data).catch((err) => console.error("live frame", err)); return; }
      const msg = JSON.parse(e.data);
      if (msg.type === "hello") {
        s.hello = msg;
        document.body.dataset.live = "on";
        openMic(s).then(() => say(`Live: '${avatar}' answers your microphone (headphones keep its voice out of it).`,
                                  "live"))
          .catch((err) => teardown(s, `The microphone could not be opened: ${err.message || err}.`, "error"));
        requestAnimationFrame(() => draw(s));
      } else if (msg.type === "stats") {
        s.stats = msg; readout();
      } else if (msg.type === "error") {
        s.refused = msg;
        teardown(s, msg.code === "busy" ? `The live avatar is busy: ${msg.error.replace(/^busy: /, "")}`
                                        : msg.error, msg.code === "busy" ? "busy" : "error");
      } else if (msg.type === "warning") {
        console.warn("live:", msg.message);
      } else if (msg.type === "end") {
        teardown(s, "The session ended.", "info");
      }
    };
    s.ws.onclose = (e) => {
      if (s.closed) return;
      teardown(s, e.code === 1000 ? "Stopped." : `The connection closed (${e.reason || e.code}).`,
               e.code === 1000 ? "info" : "error");
    };
    s.ws.onerror = () => { if (!s.hello && !s.refused) say("The live connection failed.", "error"); };
  }

  function stop() {
    if (!live) { say("Not live.", "info"); return; }
    teardown(live, "Stopped.", "info");
  }

  window.museLive = {start, stop, session: null};
})();
