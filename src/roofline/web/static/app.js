// The calculator page: controls -> URL (shareable) -> JSON API -> numbers and charts.
// Plain script, no build step. Every number comes from the server; this file only formats it.
"use strict";

const CHARTS = ["roofline", "batch", "prefill", "memory", "crossover"];
const DEFAULTS = {
  model: "llama-3.1-8b", gpu: ["h100-sxm"], dtype: "auto", weight_dtype: "", kv_cache_dtype: "auto",
  activation_dtype: "auto", batch_size: 1, input_len: 1024, output_len: 256, tp: 1, pp: 1,
  gpu_memory_utilization: 1, ideal: false,
};
const NUMBER_FIELDS = ["batch_size", "input_len", "output_len", "tp", "pp", "gpu_memory_utilization"];
const SELECT_FIELDS = ["dtype", "weight_dtype", "kv_cache_dtype", "activation_dtype"];
const MAX_GPUS = 8;
const DEBOUNCE_MS = 250;

const $ = (id) => document.getElementById(id);
let modelNames = new Map();   // lower-case name or alias -> catalog name
let modelRows = new Map();    // catalog name -> row
let gpuNames = new Map();     // lower-case name or alias -> catalog name
let selectedGpus = [];        // catalog names, in the order picked (the first one drives memory charts)
let generation = 0;
let timer = null;

// ---------- formatting (SI inside, units at the edge) ----------
function scaled(x, steps, digits = 3) {
  if (x === null || x === undefined || !isFinite(x)) return "n/a";
  for (const [scale, unit] of steps) if (Math.abs(x) >= scale) return `${+(x / scale).toPrecision(digits)} ${unit}`;
  const [scale, unit] = steps[steps.length - 1];
  return `${+(x / scale).toPrecision(digits)} ${unit}`;
}
const fmtBytes = (x) => scaled(x, [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"], [1, "B"]]);
const fmtTime = (x) => scaled(x, [[1, "s"], [1e-3, "ms"], [1e-6, "µs"], [1e-9, "ns"]]);
const fmtRate = (x) => scaled(x, [[1e15, "PFLOP/s"], [1e12, "TFLOP/s"], [1e9, "GFLOP/s"], [1, "FLOP/s"]]);
const fmtBw = (x) => scaled(x, [[1e12, "TB/s"], [1e9, "GB/s"], [1, "B/s"]]);
function fmtNum(x, digits = 4) {
  if (x === null || x === undefined || !isFinite(x)) return "n/a";
  if (Math.abs(x) >= 1e6) return x.toExponential(2).replace("e+", "e");
  return (+x.toPrecision(digits)).toLocaleString("en-US");
}
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

// ---------- state <-> URL ----------
function b64encode(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  bytes.forEach((b) => { bin += String.fromCharCode(b); });
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function b64decode(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  const state = {...DEFAULTS, gpu: [...DEFAULTS.gpu], config: ""};
  if (q.has("model")) state.model = q.get("model");
  if (q.has("gpu")) state.gpu = q.get("gpu").split(",").map((g) => g.trim()).filter(Boolean);
  for (const k of SELECT_FIELDS) if (q.has(k)) state[k] = q.get(k);
  for (const k of NUMBER_FIELDS) if (q.has(k) && q.get(k) !== "" && isFinite(+q.get(k))) state[k] = +q.get(k);
  if (q.has("ideal")) state.ideal = q.get("ideal") === "1" || q.get("ideal") === "true";
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has("config")) {
    try { state.config = b64decode(hash.get("config")); } catch (e) { state.config = ""; }
  }
  return state;
}

function writeUrl(state) {
  const q = new URLSearchParams();
  if (!state.config) q.set("model", state.model);
  q.set("gpu", state.gpu.join(","));
  for (const k of SELECT_FIELDS) if (state[k] !== DEFAULTS[k]) q.set(k, state[k]);
  for (const k of NUMBER_FIELDS) q.set(k, String(state[k]));
  if (state.ideal) q.set("ideal", "1");
  const hash = state.config ? "#config=" + b64encode(JSON.stringify(JSON.parse(state.config))) : "";
  history.replaceState(null, "", "?" + q.toString() + hash);
}

function applyState(state) {
  $("model").value = state.model;
  $("config").value = state.config || "";
  if (state.config) $("config-box").open = true;
  for (const k of SELECT_FIELDS) {
    const el = $(k);
    if ([...el.options].some((o) => o.value === state[k])) el.value = state[k];
  }
  for (const k of NUMBER_FIELDS) $(k).value = state[k];
  $("ideal").checked = !!state.ideal;
  selectedGpus = [];
  for (const g of state.gpu) {
    const name = gpuNames.get(g.toLowerCase()) || g;
    if (!selectedGpus.includes(name) && selectedGpus.length < MAX_GPUS) selectedGpus.push(name);
  }
  document.querySelectorAll("#gpu-list input").forEach((box) => { box.checked = selectedGpus.includes(box.value); });
  showSelectedGpus();
  syncSlider();
  showModelInfo();
}

function collect() {
  const state = {config: $("config").value.trim(), model: $("model").value.trim(), gpu: [...selectedGpus]};
  for (const k of SELECT_FIELDS) state[k] = $(k).value;
  for (const k of NUMBER_FIELDS) state[k] = $(k).value === "" ? DEFAULTS[k] : +$(k).value;
  state.ideal = $("ideal").checked;
  return state;
}

function requestBody(state) {
  const body = {
    gpu: state.gpu, tensor_parallel_size: state.tp, pipeline_parallel_size: state.pp,
    dtype: state.dtype === "auto" ? null : state.dtype, weight_dtype: state.weight_dtype || null,
    kv_cache_dtype: state.kv_cache_dtype === "auto" ? null : state.kv_cache_dtype,
    activation_dtype: state.activation_dtype === "auto" ? null : state.activation_dtype,
    batch_size: state.batch_size, input_len: state.input_len, output_len: state.output_len,
    gpu_memory_utilization: state.gpu_memory_utilization, ideal: state.ideal,
  };
  if (state.config) {
    try { body.config = JSON.parse(state.config); } catch (e) { throw new Error(`the pasted config.json is not valid JSON: ${e.message}`); }
    if (typeof body.config !== "object" || body.config === null || Array.isArray(body.config)) {
      throw new Error("the pasted config.json must be a JSON object");
    }
  } else {
    body.model = state.model;
  }
  if (!state.gpu.length) throw new Error("pick at least one GPU");
  return body;
}

// ---------- server ----------
async function api(method, url, body) {
  const init = {method, headers: {"accept": "application/json"}};
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  let data;
  try { data = await response.json(); } catch (e) { data = {error: `HTTP ${response.status} without a JSON body`}; }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, DEBOUNCE_MS);
}

async function refresh() {
  const state = collect();
  let body;
  try {
    body = requestBody(state);
    writeUrl(state);
  } catch (e) {
    showError(e.message);
    return;
  }
  const mine = ++generation;
  $("out").classList.add("busy");
  $("status").textContent = "computing…";
  try {
    const [estimate, ...charts] = await Promise.all([
      api("POST", "/api/estimate", body),
      ...CHARTS.map((kind) => api("POST", `/api/plot/${kind}`, body)),
    ]);
    if (mine !== generation) return;  // a newer request is on its way
    hideError();
    renderResults(Array.isArray(estimate) ? estimate : [estimate]);
    charts.forEach((chart, i) => draw(CHARTS[i], chart.figure));
    $("status").textContent = "";
    $("out").dataset.renders = String(+$("out").dataset.renders + 1);
  } catch (e) {
    if (mine === generation) {
      showError(e.message);
      $("status").textContent = "";
    }
  } finally {
    if (mine === generation) $("out").classList.remove("busy");
  }
}

function draw(kind, figure) {
  Plotly.react(`chart-${kind}`, figure.data, figure.layout, {responsive: true, displaylogo: false});
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}
function hideError() { $("error").hidden = true; }

// ---------- results ----------
function memoryCell(e) {
  const m = e.memory;
  const cap = m.capacity_bytes;
  const scale = Math.max(cap, m.total_bytes);
  const seg = (cls, v, label) => `<div class="${cls}" style="width:${(100 * v / scale).toFixed(2)}%" title="${label} ${fmtBytes(v)}"></div>`;
  const verdict = m.fits ? `<span class="fits">fits</span> (${fmtBytes(m.headroom_bytes)} free)`
                         : `<span class="nofit">does not fit</span>: short by ${fmtBytes(m.shortfall_bytes)}`;
  return `${fmtBytes(m.total_bytes)} of ${fmtBytes(cap)} · ${verdict}
    <div class="membar${m.fits ? "" : " over"}">${seg("seg-weights", m.weights_bytes, "weights")}${seg("seg-kv", m.kv_cache_bytes, "KV cache")}${seg("seg-act", m.activation_bytes, "activations")}${seg("seg-over", m.overhead_bytes, "overhead")}</div>
    <div class="legend"><i class="seg-weights"></i>weights ${fmtBytes(m.weights_bytes)}<i class="seg-kv"></i>KV ${fmtBytes(m.kv_cache_bytes)}<i class="seg-act"></i>act. ${fmtBytes(m.activation_bytes)}<i class="seg-over"></i>overhead ${fmtBytes(m.overhead_bytes)}</div>`;
}

const ROWS = [
  ["memory per GPU", "memory", (e) => memoryCell(e), false],
  ["TTFT (prefill)", "ttft_s", (e) => esc(fmtTime(e.ttft_s)), true],
  ["TPOT (decode step)", "tpot_s", (e) => esc(fmtTime(e.tpot_s)), true],
  ["decode throughput", "decode_tokens_per_s", (e) => `${esc(fmtNum(e.decode.tokens_per_s))} tokens/s`, true],
  ["output throughput (static batch)", "output_tokens_per_s", (e) => `${esc(fmtNum(e.output_tokens_per_s))} tokens/s`, false],
  ["end-to-end latency", "e2e_latency_s", (e) => esc(fmtTime(e.e2e_latency_s)), false],
  ["bound", "bound", (e) => `prefill <b>${esc(e.prefill.bound)}</b> (${esc(fmtNum(e.prefill.arithmetic_intensity))} FLOP/B) · decode <b>${esc(e.decode.bound)}</b> (${esc(fmtNum(e.decode.arithmetic_intensity))} FLOP/B)`, false],
  ["ridge point", "ridge_point_flop_per_byte", (e) => `${esc(fmtNum(e.ridge_point_flop_per_byte))} FLOP/B (${esc(e.gpu.compute_dtype)}: ${esc(fmtRate(e.gpu.peak_flops))} / ${esc(fmtBw(e.gpu.memory_bandwidth))})`, false],
  ["critical batch", "critical_batch_size", (e) => e.critical_batch_size ? esc(fmtNum(e.critical_batch_size)) : "none (never compute-bound)", false],
];

function renderResults(estimates) {
  const head = estimates.map((e) => `<th>${esc(e.gpu.display_name)}<div class="hint">${esc(e.precision.label)}${e.parallel.num_gpus > 1 ? ` · ${e.parallel.num_gpus} GPUs` : ""}</div></th>`).join("");
  const rows = ROWS.map(([label, key, cell, big]) => `<tr><th>${esc(label)}</th>${estimates.map((e, i) =>
    `<td${big ? ' class="big"' : ""} data-metric="${key}" data-gpu="${esc(e.gpu.name)}" id="m-${key}-${i}">${cell(e)}</td>`).join("")}</tr>`).join("");
  $("results").innerHTML = `<table><thead><tr><th>${esc(estimates[0].model.name)} · batch ${estimates[0].workload.batch_size} · ${estimates[0].workload.input_len} in / ${estimates[0].workload.output_len} out</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
  const notes = estimates.flatMap((e) => e.notes.map((n) => `<li><b>${esc(e.gpu.name)}</b>: ${esc(n)}</li>`));
  $("notes").innerHTML = notes.join("");
}

// ---------- controls ----------
function showModelInfo() {
  const name = modelNames.get($("model").value.trim().toLowerCase());
  const row = name && modelRows.get(name);
  $("model-info").textContent = row
    ? `${row.display_name}: ${fmtNum(row.total_params)} parameters${row.moe ? ` (${fmtNum(row.active_params)} active)` : ""}, ${row.layers} layers, ${row.attention}, context ${row.max_position_embeddings || "?"}`
    : ($("model").value.trim() ? "not a catalog name yet — pick one from the list" : "");
  return !!row;
}

function syncSlider() {
  $("batch_slider").value = Math.log2(Math.max(1, +$("batch_size").value || 1));
}

function showSelectedGpus() {
  $("gpu-selected").textContent = selectedGpus.length ? `selected: ${selectedGpus.join(", ")}` : "pick at least one GPU";
}

function buildGpuList(gpus) {
  const list = $("gpu-list");
  list.innerHTML = gpus.map((g) => `<label data-search="${esc([g.name, g.display_name, ...g.aliases, Math.round(g.memory_bytes / 1e9) + "gb"].join(" ").toLowerCase())}">
    <input type="checkbox" value="${esc(g.name)}"> ${esc(g.name)} <span>${esc(fmtBytes(g.memory_bytes))}, ${esc(fmtBw(g.memory_bandwidth))}</span></label>`).join("");
  list.addEventListener("change", (ev) => {
    const box = ev.target;
    if (box.checked) {
      if (selectedGpus.length >= MAX_GPUS) {
        box.checked = false;
        showError(`compare at most ${MAX_GPUS} GPUs at once`);
        return;
      }
      selectedGpus.push(box.value);
    } else {
      selectedGpus = selectedGpus.filter((g) => g !== box.value);
    }
    showSelectedGpus();
    schedule();
  });
}

function wire() {
  $("model").addEventListener("input", () => { if (showModelInfo()) schedule(); });
  $("model").addEventListener("change", () => { showModelInfo(); schedule(); });
  $("config").addEventListener("input", () => {
    const text = $("config").value.trim();
    if (!text) { $("config-status").textContent = "Empty: the model above is used."; schedule(); return; }
    try {
      JSON.parse(text);
      $("config-status").textContent = "Using the pasted config.";
      schedule();
    } catch (e) {
      $("config-status").textContent = `Not valid JSON yet: ${e.message}`;
    }
  });
  $("config-clear").addEventListener("click", () => { $("config").value = ""; $("config-status").textContent = "Empty: the model above is used."; schedule(); });
  $("gpu-filter").addEventListener("input", () => {
    const needle = $("gpu-filter").value.trim().toLowerCase();
    document.querySelectorAll("#gpu-list label").forEach((l) => { l.hidden = !!needle && !l.dataset.search.includes(needle); });
  });
  for (const k of [...SELECT_FIELDS, "ideal"]) $(k).addEventListener("change", schedule);
  for (const k of NUMBER_FIELDS) $(k).addEventListener("input", () => { if (k === "batch_size") syncSlider(); schedule(); });
  $("batch_slider").addEventListener("input", () => {
    $("batch_size").value = Math.max(1, Math.round(2 ** +$("batch_slider").value));
    schedule();
  });
}

async function init() {
  try {
    const [models, gpus] = await Promise.all([api("GET", "/api/models"), api("GET", "/api/gpus")]);
    for (const m of models) {
      modelRows.set(m.name, m);
      for (const n of [m.name, ...m.aliases]) modelNames.set(n.toLowerCase(), m.name);
    }
    $("model-list").innerHTML = models.map((m) => `<option value="${esc(m.name)}" label="${esc(`${m.display_name} · ${fmtNum(m.total_params)} params`)}"></option>`).join("");
    for (const g of gpus) for (const n of [g.name, ...g.aliases]) gpuNames.set(n.toLowerCase(), g.name);
    buildGpuList(gpus);
  } catch (e) {
    showError(`cannot load the catalogs: ${e.message}`);
    return;
  }
  applyState(readUrl());
  wire();
  refresh();
}

init();
