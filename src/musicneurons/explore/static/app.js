// musicneurons explorer: talks to the local JSON API only (same origin), draws with html-midi-player.
"use strict";

const state = {
  info: null,        // GET /api/info
  melodies: [],      // [{title, window}] corpus + uploads
  current: null,     // index into melodies
  encoded: null,     // POST /api/encode of the current melody
  z: null,           // latent being decoded: mu with the slider values
  decoded: null,     // last /api/decode answer shown
  seq: 0,            // slider request counter (latest wins)
  shown: 0,          // seq of the answer on screen
  timer: null,
};
// Slider requests carry this page's own channel: the server drops one when a newer one of it is waiting.
const CHANNEL = `sliders-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
const SLIDERS = 12;       // at most this many music neurons get a slider
const CHART_NEURONS = 64; // ranked neurons drawn in the chart
const DEBOUNCE_MS = 80;

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": body instanceof ArrayBuffer ? "audio/midi" : "application/json"},
    body: body instanceof ArrayBuffer ? body : JSON.stringify(body),
  };
  const response = await fetch(path, options);
  if (path === "/api/midi" && response.ok) return response.blob();
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `${path}: HTTP ${response.status}`);
  return data;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function noteSequence(notes) {
  const steps = state.info.steps;
  const total = steps * 60 / state.info.qpm / 4;
  return {
    notes: notes.map((n) => ({pitch: n.pitch, startTime: n.start, endTime: n.end, velocity: 80})),
    totalTime: total,
  };
}

// Show notes in a <midi-visualizer>; a silent window gets a text instead (the roll needs a pitch range).
// The roll spans `width` pixels for the whole window, pitches C2..C7 at least so rolls compare by eye.
function showRoll(visualizer, notes, width = 880) {
  const seconds = state.info.steps * 60 / state.info.qpm / 4;
  const pitches = notes.map((n) => n.pitch);
  visualizer.config = {
    noteHeight: width > 400 ? 6 : 3,
    pixelsPerTimeStep: width / seconds,
    minPitch: Math.min(48, ...pitches),
    maxPitch: Math.max(84, ...pitches),
  };
  visualizer.dataset.notes = String(notes.length);
  visualizer.classList.toggle("silent", notes.length === 0);
  visualizer.noteSequence = notes.length ? noteSequence(notes) : null;
}

// Notes of a window of 90-class indices, in seconds at the model's tempo: a pitch class k >= 2 starts
// MIDI pitch k + 19 (ending any sounding note), 1 ends the sounding note, 0 holds (as the server decodes).
function windowNotes(window) {
  const step = 60 / state.info.qpm / 4;
  const notes = [];
  let pitch = -1, start = 0;
  window.forEach((cls, i) => {
    if (cls === 0) return;
    if (pitch >= 0) notes.push({pitch, start: start * step, end: i * step});
    pitch = cls >= 2 ? cls + 19 : -1;
    start = i;
  });
  if (pitch >= 0) notes.push({pitch, start: start * step, end: window.length * step});
  return notes;
}

function play(notes) {
  const player = $("player");
  player.stop();
  player.noteSequence = noteSequence(notes);
}

// Load notes into the player and start it once it has loaded them (the player loads asynchronously).
function playNow(notes) {
  const player = $("player");
  player.addEventListener("load", () => player.start(), {once: true});
  play(notes);
}

// ------------------------------------------------------------------ the current melody
async function selectMelody(index) {
  state.current = index;
  const melody = state.melodies[index];
  setStatus(`encoding ${melody.title}…`);
  state.encoded = await api("/api/encode", {window: melody.window});
  state.z = state.encoded.mu.slice();
  buildSliders();
  drawChart();
  await decodeNow();
  setStatus(`${melody.title}: ${state.encoded.n_music} music neurons of ${state.info.z_size}`);
}

function scheduleDecode() {
  clearTimeout(state.timer);
  state.timer = setTimeout(decodeNow, DEBOUNCE_MS);
}

async function decodeNow() {
  const seq = ++state.seq;
  const answer = await api("/api/decode", {z: state.z, channel: CHANNEL, seq});
  if (answer.stale || seq < state.shown) return;  // a newer request was answered or is on its way
  state.shown = seq;
  state.decoded = answer;
  showRoll($("roll"), answer.notes);
  play(answer.notes);
  $("note-count").textContent = `${answer.notes.length} notes`;
  document.body.dataset.decodes = String(seq);
}

// ------------------------------------------------------------------ neurons: chart and sliders
function label(rank, dim) {
  const role = state.info.labels[String(dim)];
  return `rank ${rank + 1} · dim ${dim}` + (role ? ` · ${role}` : "");
}

function buildSliders() {
  const box = $("sliders");
  box.replaceChildren();
  const order = state.encoded.order;
  const count = Math.min(SLIDERS, Math.max(state.encoded.n_music, 1));
  for (let rank = 0; rank < count; rank++) {
    const dim = order[rank];
    const row = document.createElement("label");
    row.className = "slider";
    const name = document.createElement("span");
    name.textContent = label(rank, dim);
    const input = document.createElement("input");
    Object.assign(input, {type: "range", min: "-3", max: "3", step: "0.01"});
    input.value = String(state.z[dim]);
    input.dataset.dim = String(dim);
    const value = document.createElement("output");
    value.textContent = state.z[dim].toFixed(2);
    input.addEventListener("input", () => {
      state.z[dim] = Number(input.value);
      value.textContent = state.z[dim].toFixed(2);
      drawChart();
      scheduleDecode();
    });
    row.append(name, input, value);
    box.append(row);
  }
  const select = $("traverse-dim");
  select.replaceChildren();
  for (let rank = 0; rank < Math.min(order.length, Math.max(state.encoded.n_music, SLIDERS)); rank++) {
    select.append(new Option(label(rank, order[rank]), String(order[rank])));
  }
}

function drawChart() {
  const svg = $("neuron-chart");
  const {order, n_music: nMusic, sigma} = state.encoded;
  const n = Math.min(CHART_NEURONS, order.length);
  const width = 8 * n + 40, height = 160, mid = 80, scale = 24;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  const ns = "http://www.w3.org/2000/svg";
  const parts = [];
  const line = (x1, y1, x2, y2, cls) => {
    const el = document.createElementNS(ns, "line");
    Object.entries({x1, y1, x2, y2}).forEach(([k, v]) => el.setAttribute(k, String(v)));
    el.setAttribute("class", cls);
    parts.push(el);
  };
  const bar = (x, y, h, cls, title) => {
    const el = document.createElementNS(ns, "rect");
    Object.entries({x, y, width: 3, height: Math.max(h, 0.5)}).forEach(([k, v]) => el.setAttribute(k, String(v)));
    el.setAttribute("class", cls);
    const tip = document.createElementNS(ns, "title");
    tip.textContent = title;
    el.append(tip);
    parts.push(el);
  };
  line(30, mid, width, mid, "axis");
  for (let rank = 0; rank < n; rank++) {
    const dim = order[rank], x = 34 + 8 * rank, mu = Math.max(-3, Math.min(3, state.z[dim]));
    bar(x, mid - sigma[dim] * scale * 2, sigma[dim] * scale * 2, "sigma", `${label(rank, dim)}: σ ${sigma[dim].toFixed(3)}`);
    bar(x + 3, mu >= 0 ? mid : mid + mu * -scale, Math.abs(mu) * scale, "mu", `${label(rank, dim)}: μ ${state.z[dim].toFixed(3)}`);
  }
  if (nMusic < n) line(32 + 8 * nMusic, 4, 32 + 8 * nMusic, height - 4, "cut");
  svg.replaceChildren(...parts);
}

// ------------------------------------------------------------------ strips: interpolation and traversal
function fillStrip(strip, answer, captions) {
  strip.replaceChildren();
  answer.notes.forEach((notes, i) => {
    const cell = document.createElement("figure");
    const roll = document.createElement("midi-visualizer");
    roll.setAttribute("type", "piano-roll");
    const caption = document.createElement("figcaption");
    caption.textContent = captions[i];
    const download = document.createElement("button");
    download.type = "button";
    download.textContent = "MIDI";
    download.addEventListener("click", (event) => {
      event.stopPropagation();
      downloadMidi(answer.windows[i], `${strip.id}-${i}.mid`);
    });
    cell.append(roll, caption, download);
    cell.addEventListener("click", () => playNow(notes));
    strip.append(cell);
    showRoll(roll, notes, 200);
  });
}

async function interpolate() {
  const a = state.melodies[state.current], b = state.melodies[Number($("melody-b").value)];
  const steps = Number($("interp-steps").value);
  setStatus(`interpolating ${a.title} → ${b.title}…`);
  const answer = await api("/api/interpolate", {a: a.window, b: b.window, steps});
  fillStrip($("interp-strip"), answer, answer.t.map((t) => `t = ${t.toFixed(2)}`));
  setStatus(`${steps} melodies from ${a.title} to ${b.title}`);
}

async function traverse() {
  const dim = Number($("traverse-dim").value);
  const answer = await api("/api/traverse", {z: state.z, dim, steps: 7});
  fillStrip($("traverse-strip"), answer, answer.values.map((v) => `z[${dim}] = ${v.toFixed(1)}`));
}

// ------------------------------------------------------------------ files
async function downloadMidi(window, name) {
  const blob = await api("/api/midi", {window});
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function upload(file) {
  try {
    const answer = await api("/api/upload", await file.arrayBuffer());
    const first = state.melodies.length;
    answer.windows.forEach((window, i) => addMelody(`${file.name} #${i}`, window));
    $("melody-select").value = String(first);
    await selectMelody(first);
  } catch (error) {
    setStatus(`${file.name}: ${error.message}`, true);
  }
}

function addMelody(title, window) {
  state.melodies.push({title, window});
  const index = String(state.melodies.length - 1);
  $("melody-select").append(new Option(title, index));
  $("melody-b").append(new Option(title, index));
}

// ------------------------------------------------------------------ start
async function main() {
  state.info = await api("/api/info");
  $("model-info").textContent = `${state.info.model}: ${state.info.steps} steps, z of ${state.info.z_size}, ` +
    `${state.info.n_music} music neurons`;
  const {melodies} = await api("/api/melodies");
  melodies.forEach((m) => addMelody(`${m.id}: ${m.title}`, m.window));
  $("melody-b").value = String(Math.min(1, melodies.length - 1));
  $("melody-select").addEventListener("change", (e) => selectMelody(Number(e.target.value)).catch(fail));
  $("upload").addEventListener("change", (e) => e.target.files.length && upload(e.target.files[0]));
  $("download").addEventListener("click", () => downloadMidi(state.decoded.window, "melody.mid").catch(fail));
  $("play-original").addEventListener("click", () => {
    const notes = windowNotes(state.melodies[state.current].window);
    showRoll($("roll"), notes);
    $("note-count").textContent = `${notes.length} notes (the original)`;
    playNow(notes);
  });
  $("download-original").addEventListener("click", () => {
    downloadMidi(state.melodies[state.current].window, "original.mid").catch(fail);
  });
  $("reset").addEventListener("click", () => selectMelody(state.current).catch(fail));
  $("interp-go").addEventListener("click", () => interpolate().catch(fail));
  $("traverse-go").addEventListener("click", () => traverse().catch(fail));
  await selectMelody(0);
  document.body.dataset.ready = "1";
}

function fail(error) { setStatus(String(error.message || error), true); }

main().catch(fail);
