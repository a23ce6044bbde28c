// The calculator page: controls -> URL (shareable) -> JSON API -> a view's numbers and charts.
// Plain scripts, no build step. Every number comes from the server; the page only formats it.
//
// This file is the frame: formatting, the options (built from GET /api/options, so the defaults,
// meanings and units are the CLI's), the address bar, the model and GPU pickers, and the views.
// A view (views.js) is registered with registerView(name, {label, options, fields, request, render})
// and owns one <div class="view" id="view-NAME"> in index.html: a new view is one more of each.
"use strict";

const MAX_GPUS = 8;
const DEBOUNCE_MS = 250;
const EXAMPLE_MODEL = "llama-3.1-8b";  // the model field has no default; the page opens on this one
const URL_ALIASES = {tp: "tensor_parallel_size", pp: "pipeline_parallel_size", dp: "data_parallel_size"};
// Where each option sits in the side panel; options the server adds later land in "More".
const GROUPS = [
  ["Formats", ["dtype", "weight_dtype", "weight_bits", "activation_dtype", "kv_cache_dtype"]],
  ["Workload", ["batch_size", "input_len", "output_len", "gpu_memory_utilization", "ideal"]],
  ["Parallelism", ["tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "enable_expert_parallel",
                   "num_gpus", "gpus_per_node", "inter_node_link", "num_micro_batches"]],
  ["Speculative decoding", ["speculative_model", "num_speculative_tokens", "acceptance_rate"]],
  ["Planner", ["objective", "max_ttft", "max_tpot", "no_expert_parallel"]],
];
const LABELS = {
  dtype: "model dtype", weight_dtype: "weights", weight_bits: "effective weight bits", activation_dtype: "GEMM inputs",
  kv_cache_dtype: "KV cache", batch_size: "batch size", input_len: "prompt", output_len: "output",
  gpu_memory_utilization: "usable GPU memory", ideal: "ideal roofline (datasheet peaks, no overheads)",
  tensor_parallel_size: "tensor parallel", pipeline_parallel_size: "pipeline parallel", data_parallel_size: "data parallel",
  enable_expert_parallel: "expert parallelism (MoE)", num_gpus: "GPUs in all", gpus_per_node: "GPUs per node",
  inter_node_link: "network between nodes", num_micro_batches: "pipeline micro-batches", speculative_model: "draft model",
  num_speculative_tokens: "drafted tokens per step", acceptance_rate: "acceptance rate", objective: "rank splits by",
  max_ttft: "longest acceptable TTFT", max_tpot: "longest acceptable TPOT", no_expert_parallel: "skip expert-parallel splits",
};
const SKIP = ["model", "gpu", "config", "explain"];  // handled by their own controls

const $ = (id) => document.getElementById(id);
const VIEWS = {};
let FIELDS = new Map();      // option name -> {name, default, help, unit, type, choices}
let modelNames = new Map();  // lower-case name or alias -> catalog name
let modelRows = new Map();   // catalog name -> row
let gpuNames = new Map();    // lower-case name or alias -> catalog name
let selectedGpus = [];       // catalog names, in the order picked
let currentView = "estimate";
let defaultGpu = "a100-sxm-80gb";
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
  return (+x.toPrecision(digits)).toLocaleString("en-US");
}
// Counts as people say them, one decimal at every scale (as units.fmt_count): 70.6B, 8.0B, 124.4M.
function fmtCount(x) {
  if (x === null || x === undefined || !isFinite(x)) return "n/a";
  for (const [scale, suffix] of [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
    if (Math.abs(x) >= scale * 0.99995) return `${(x / scale).toFixed(1)}${suffix}`;
  }
  return fmtNum(x);
}
const fmtPct = (x) => (x === null || x === undefined || !isFinite(x)) ? "n/a" : `${Math.round(100 * x)}%`;
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

// ---------- views ----------
function registerView(name, view) { VIEWS[name] = view; }

function buildTabs() {
  $("view-tabs").innerHTML = Object.entries(VIEWS).map(([name, v]) =>
    `<button type="button" role="tab" data-view="${esc(name)}" id="tab-${esc(name)}">${esc(v.label)}</button>`).join("");
  $("view-tabs").addEventListener("click", (ev) => {
    const name = ev.target.dataset && ev.target.dataset.view;
    if (name && name !== currentView) { showView(name); refresh(); }
  });
}

function showView(name) {
  currentView = VIEWS[name] ? name : "estimate";
  const view = VIEWS[currentView];
  for (const other of Object.keys(VIEWS)) $(`view-${other}`).hidden = other !== currentView;
  document.querySelectorAll("#view-tabs button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.view === currentView)));
  // the side panel shows the options this view takes
  const used = new Set(view.fields());
  document.querySelectorAll("#option-groups [data-field]").forEach((el) => { el.hidden = !used.has(el.dataset.field); });
  document.querySelectorAll("#option-groups fieldset").forEach((fs) => {
    fs.hidden = ![...fs.querySelectorAll("[data-field]")].some((el) => !el.hidden);
  });
  $("gpu-hint").textContent = view.oneGpu ? "(the first one picked)" : "(several compare side by side)";
  clearStale();
}

// ---------- options: controls built from GET /api/options ----------
function labelOf(f) {
  const text = LABELS[f.name] || f.name.replace(/_/g, " ");
  return f.unit && f.type !== "bool" ? `${text} (${f.unit})` : text;
}

function controlHtml(f) {
  const id = esc(f.name);
  const help = esc(f.help || "");
  if (f.type === "bool") {
    return `<label class="check" data-field="${id}" title="${help}"><input id="${id}" type="checkbox"> ${esc(labelOf(f))}</label>`;
  }
  let input;
  if (f.choices) {
    const none = f.default === null ? `<option value="">default</option>` : "";
    input = `<select id="${id}" title="${help}">${none}${f.choices.map((c) => `<option>${esc(c)}</option>`).join("")}</select>`;
  } else if (f.type === "int" || f.type === "float") {
    input = `<input id="${id}" type="number" step="${f.type === "int" ? 1 : "any"}" title="${help}"${f.default === null ? ' placeholder="default"' : ""}>`;
  } else {
    input = `<input id="${id}" spellcheck="false" title="${help}"${f.default === null ? ' placeholder="default"' : ""}>`;
  }
  if (f.name === "batch_size") {
    input = `<div class="row">${input}<input id="batch_slider" type="range" min="0" max="12" step="0.01" value="0" aria-label="batch size, log scale"></div>`;
  }
  return `<div data-field="${id}"><label for="${id}" title="${help}">${esc(labelOf(f))}</label>${input}</div>`;
}

function buildOptions(lists) {
  FIELDS = new Map();
  for (const list of lists) for (const f of list.fields) if (!FIELDS.has(f.name)) FIELDS.set(f.name, f);
  if (FIELDS.has("gpu") && FIELDS.get("gpu").default) defaultGpu = FIELDS.get("gpu").default;
  const names = [...FIELDS.keys()].filter((n) => !SKIP.includes(n));
  const placed = new Set(GROUPS.flatMap(([, fields]) => fields));
  const groups = [...GROUPS, ["More", names.filter((n) => !placed.has(n))]];
  $("option-groups").innerHTML = groups.map(([title, fields]) => {
    const present = fields.filter((n) => FIELDS.has(n) && !SKIP.includes(n));
    return present.length ? `<fieldset><legend>${esc(title)}</legend>${present.map((n) => controlHtml(FIELDS.get(n))).join("")}</fieldset>` : "";
  }).join("");
}

function setControl(name, value) {
  const el = $(name);
  if (!el) return;
  if (el.type === "checkbox") el.checked = !!value;
  else el.value = value === null || value === undefined ? "" : String(value);
}

// The control's value for the request: null where the option's default applies. Throws with a
// message the page shows when the control holds something that is not a value.
function readControl(name) {
  const f = FIELDS.get(name);
  const el = $(name);
  if (el.type === "checkbox") return el.checked;
  const raw = el.value.trim();
  if (f.type === "int" || f.type === "float") {
    if (el.validity && el.validity.badInput) throw new Error(`${labelOf(f)}: not a number`);
    if (raw === "") {
      if (f.default === null) return null;
      throw new Error(`${labelOf(f)}: empty (the default is ${f.default})`);
    }
    return +raw;
  }
  return raw === "" ? (f.default === null ? null : f.default) : raw;
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
  const state = {view: q.get("view") || "estimate", model: q.get("model") || EXAMPLE_MODEL, config: "",
                 gpu: (q.get("gpu") || defaultGpu).split(",").map((g) => g.trim()).filter(Boolean), values: {}};
  for (const [name, f] of FIELDS) if (!SKIP.includes(name)) state.values[name] = f.default;
  for (const [key, raw] of q) {
    const name = URL_ALIASES[key] || key;
    const f = FIELDS.get(name);
    if (!f || SKIP.includes(name)) continue;
    if (f.type === "bool") state.values[name] = raw === "1" || raw === "true";
    else if (f.type === "int" || f.type === "float") state.values[name] = raw === "" ? null : (isFinite(+raw) ? +raw : raw);
    else state.values[name] = raw;
  }
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has("config")) {
    try { state.config = b64decode(hash.get("config")); } catch (e) { state.config = ""; }
  }
  return state;
}

function writeUrl(state) {
  const q = new URLSearchParams();
  if (state.view !== "estimate") q.set("view", state.view);
  if (!state.config) q.set("model", state.model);
  q.set("gpu", state.gpu.join(","));
  for (const [name, value] of Object.entries(state.values)) {
    if (value === FIELDS.get(name).default) continue;
    q.set(name, typeof value === "boolean" ? (value ? "1" : "0") : (value === null ? "" : String(value)));
  }
  const hash = state.config ? "#config=" + b64encode(JSON.stringify(JSON.parse(state.config))) : "";
  history.replaceState(null, "", "?" + q.toString() + hash);
}

function applyState(state) {
  $("model").value = state.model;
  $("config").value = state.config || "";
  if (state.config) $("config-box").open = true;
  for (const [name, value] of Object.entries(state.values)) setControl(name, value);
  selectedGpus = [];
  for (const g of state.gpu) {
    const name = gpuNames.get(g.toLowerCase()) || g;
    if (!selectedGpus.includes(name) && selectedGpus.length < MAX_GPUS) selectedGpus.push(name);
  }
  document.querySelectorAll("#gpu-list input").forEach((box) => { box.checked = selectedGpus.includes(box.value); });
  showSelectedGpus();
  syncSlider();
  showModelInfo();
  showView(state.view);
}

// What the controls hold, checked: throws (with the message to show) on an invalid entry.
function collect() {
  const state = {view: currentView, config: $("config").value.trim(), model: $("model").value.trim(), gpu: [...selectedGpus], values: {}};
  for (const name of FIELDS.keys()) if (!SKIP.includes(name)) state.values[name] = readControl(name);
  if (!state.gpu.length) throw new Error("pick at least one GPU");
  return state;
}

// The model part of every request: a catalog name, or the pasted config.json.
function modelPart(state) {
  if (!state.config) return {model: state.model};
  let config;
  try { config = JSON.parse(state.config); } catch (e) { throw new Error(`the pasted config.json is not valid JSON: ${e.message}`); }
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new Error("the pasted config.json must be a JSON object");
  return {config};
}

// The request body for an endpoint that takes `fields` (names from GET /api/options?command=...).
function bodyFor(state, fields) {
  const body = {...modelPart(state), gpu: state.gpu};
  for (const name of fields) if (name in state.values) body[name] = state.values[name];
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
  const view = VIEWS[currentView];
  const mine = ++generation;
  let state;
  try {
    state = collect();
    writeUrl(state);
  } catch (e) {
    showInvalid(e.message);
    return;
  }
  $("out").classList.add("busy");
  $("status").textContent = "computing…";
  try {
    const data = await view.request(state);
    if (mine !== generation) return;  // a newer request is on its way
    hideError();
    clearStale();
    view.render(data, state);
    $(`view-${state.view}`).dataset.rendered = "1";
    $("status").textContent = "";
    $("out").dataset.renders = String(+$("out").dataset.renders + 1);
  } catch (e) {
    if (mine === generation) {
      showInvalid(e.message);
      $("status").textContent = "";
    }
  } finally {
    if (mine === generation) $("out").classList.remove("busy");
  }
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}
function hideError() { $("error").hidden = true; }

// An input the server (or the page) rejects: the message, and what is still shown marked stale.
function showInvalid(message) {
  showError(message);
  const view = $(`view-${currentView}`);
  if (+$("out").dataset.renders > 0 && view.dataset.rendered === "1") {
    view.classList.add("stale");
    $("stale-note").hidden = false;
  }
}
function clearStale() {
  document.querySelectorAll(".view.stale").forEach((v) => v.classList.remove("stale"));
  $("stale-note").hidden = true;
}

// ---------- model and GPU pickers ----------
function showModelInfo() {
  const name = modelNames.get($("model").value.trim().toLowerCase());
  const row = name && modelRows.get(name);
  $("model-info").textContent = row
    ? `${row.display_name}: ${fmtCount(row.total_params)} parameters${row.moe ? ` (${fmtCount(row.active_params)} active)` : ""}, ${row.layers} layers, ${row.attention}, context ${row.max_position_embeddings ? row.max_position_embeddings.toLocaleString("en-US") : "?"}`
    : ($("model").value.trim() ? "not a catalog name yet — pick one from the list" : "");
  return !!row;
}

function syncSlider() {
  if ($("batch_slider")) $("batch_slider").value = Math.log2(Math.max(1, +$("batch_size").value || 1));
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
    } catch (e) {
      $("config-status").textContent = `Not valid JSON yet: ${e.message}`;
    }
    schedule();
  });
  $("config-clear").addEventListener("click", () => { $("config").value = ""; $("config-status").textContent = "Empty: the model above is used."; schedule(); });
  $("gpu-filter").addEventListener("input", () => {
    const needle = $("gpu-filter").value.trim().toLowerCase();
    document.querySelectorAll("#gpu-list label").forEach((l) => { l.hidden = !!needle && !l.dataset.search.includes(needle); });
  });
  for (const name of FIELDS.keys()) {
    const el = $(name);
    if (!el) continue;
    el.addEventListener(el.type === "checkbox" || el.tagName === "SELECT" ? "change" : "input", () => {
      if (name === "batch_size") syncSlider();
      schedule();
    });
  }
  if ($("batch_slider")) {
    $("batch_slider").addEventListener("input", () => {
      $("batch_size").value = Math.max(1, Math.round(2 ** +$("batch_slider").value));
      schedule();
    });
  }
}

async function init() {
  try {
    const commands = [...new Set(Object.values(VIEWS).flatMap((v) => v.options))];
    const [models, gpus, ...lists] = await Promise.all([
      api("GET", "/api/models"), api("GET", "/api/gpus"),
      ...commands.map((c) => api("GET", `/api/options?command=${c}`)),
    ]);
    const byCommand = Object.fromEntries(commands.map((c, i) => [c, lists[i].fields.map((f) => f.name)]));
    for (const view of Object.values(VIEWS)) view.accepts = byCommand;
    buildOptions(lists);
    for (const m of models) {
      modelRows.set(m.name, m);
      for (const n of [m.name, ...m.aliases]) modelNames.set(n.toLowerCase(), m.name);
    }
    $("model-list").innerHTML = models.map((m) => `<option value="${esc(m.name)}" label="${esc(`${m.display_name} · ${fmtCount(m.total_params)} params`)}"></option>`).join("");
    for (const g of gpus) for (const n of [g.name, ...g.aliases]) gpuNames.set(n.toLowerCase(), g.name);
    buildGpuList(gpus);
  } catch (e) {
    showError(`cannot load the catalogs: ${e.message}`);
    return;
  }
  buildTabs();
  applyState(readUrl());
  wire();
  refresh();
}

document.addEventListener("DOMContentLoaded", init);
