// The page's views. Each one names the option lists it needs (GET /api/options?command=...), the
// option names it sends, how it asks the server, and how it shows the answer in its own
// <div class="view" id="view-NAME">. A new view is one more registerView() and one more <div>.
"use strict";

// ---------- estimate: the numbers per GPU and the five charts ----------
const CHARTS = ["roofline", "batch", "prefill", "memory", "crossover"];

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

function splitText(p) {
  const parts = [`tp=${p.tp}`, `pp=${p.pp}`];
  if (p.dp > 1) parts.push(`dp=${p.dp}`);
  if (p.ep > 1) parts.push(`ep=${p.ep}`);
  return `${parts.join(" ")} · ${p.num_gpus} GPUs${p.nodes > 1 ? ` on ${p.nodes} nodes` : ""}`;
}

// The 80% interval of a figure (held-out errors of the calibration set), or nothing without a basis.
function rangeText(e, key, fmt) {
  const r = e[`${key}_range`];
  return r ? ` <span class="range">(${Math.round(r.level * 100)}%: ${esc(fmt(r.low))} – ${esc(fmt(r.high))})</span>` : "";
}

// [label, metric key, cell, large, hypothetical when it does not fit, shown only when]
const ROWS = [
  ["memory per GPU", "memory", (e) => memoryCell(e), false, false],
  ["TTFT (prefill)", "ttft_s", (e) => esc(fmtTime(e.ttft_s)) + rangeText(e, "ttft_s", fmtTime), true, true],
  ["TPOT (decode step)", "tpot_s", (e) => esc(fmtTime(e.tpot_s)) + rangeText(e, "tpot_s", fmtTime), true, true],
  ["decode throughput", "decode_tokens_per_s", (e) => `${esc(fmtNum(e.decode.tokens_per_s))} tokens/s`, true, true],
  ["output throughput (static batch)", "output_tokens_per_s", (e) => `${esc(fmtNum(e.output_tokens_per_s))} tokens/s` + rangeText(e, "output_tokens_per_s", fmtNum), false, true],
  ["end-to-end latency", "e2e_latency_s", (e) => esc(fmtTime(e.e2e_latency_s)) + rangeText(e, "e2e_latency_s", fmtTime), false, true],
  ["cost per million output tokens", "cost", (e) => `$${esc(fmtNum(e.cost.usd_per_million_output_tokens, 3))} at $${esc(fmtNum(e.cost.usd_per_gpu_hour, 3))}/GPU-hour` +
    rangeText(e.cost, "usd_per_million_output_tokens", (x) => `$${fmtNum(x, 3)}`), false, true, (e) => !!e.cost],
  ["bound", "bound", (e) => `prefill <b>${esc(e.prefill.bound)}</b> (${esc(fmtNum(e.prefill.arithmetic_intensity))} FLOP/B) · decode <b>${esc(e.decode.bound)}</b> (${esc(fmtNum(e.decode.arithmetic_intensity))} FLOP/B)`, false, false],
  ["split", "parallel", (e) => esc(splitText(e.parallel)), false, false, (e) => e.parallel.num_gpus > 1],
  ["communication", "comm", (e) => `${esc(fmtPct(e.comm.share))} of the time · ${["tp_link", "pp_link", "ep_link"].filter((k) => e.comm[k]).map((k) => `${k.split("_")[0]}: ${esc(e.comm[k].name)}`).join("; ")}`, false, true, (e) => e.comm.time_s > 0],
  ["pipeline bubble", "pipeline", (e) => `${esc(fmtPct(e.pipeline.prefill.bubble_fraction))} of prefill, ${esc(fmtPct(e.pipeline.decode.bubble_fraction))} of a decode step`, false, true, (e) => !!e.pipeline],
  ["speculative decoding", "speculative", (e) => `${esc(e.speculative.draft)}: ${esc(fmtNum(e.speculative.expected_tokens_per_step, 3))} tokens per step, ${esc(fmtNum(e.speculative.speedup, 3))}× the plain decode`, false, true, (e) => !!e.speculative],
  ["ridge point", "ridge_point_flop_per_byte", (e) => `${esc(fmtNum(e.ridge_point_flop_per_byte))} FLOP/B (${esc(e.gpu.compute_dtype)}: ${esc(fmtRate(e.gpu.peak_flops))} / ${esc(fmtBw(e.gpu.memory_bandwidth))})`, false, false],
  ["critical batch", "critical_batch_size", (e) => e.critical_batch_size ? esc(fmtNum(e.critical_batch_size)) : "none (never compute-bound)", false, false],
];

function estimateCell(e, hypothetical, cell) {
  const text = cell(e);
  // a workload that does not fit is timed as if it did: say so, and dim it
  return hypothetical && !e.memory.fits ? `<span class="hypothetical" title="the workload does not fit on this GPU">if it fit: ${text}</span>` : text;
}

function renderEstimate(estimates) {
  const head = estimates.map((e) => `<th>${esc(e.gpu.display_name)}<div class="hint">${esc(e.precision.label)}${e.parallel.num_gpus > 1 ? ` · ${e.parallel.num_gpus} GPUs` : ""}</div></th>`).join("");
  const rows = ROWS.filter(([, , , , , when]) => !when || estimates.some(when)).map(([label, key, cell, big, hyp, when]) =>
    `<tr><th>${esc(label)}</th>${estimates.map((e, i) => `<td${big ? ' class="big"' : ""} data-metric="${key}" data-gpu="${esc(e.gpu.name)}" id="m-${key}-${i}">${
      !when || when(e) ? estimateCell(e, hyp, cell) : "-"}</td>`).join("")}</tr>`).join("");
  const w = estimates[0].workload;
  $("results").innerHTML = `<table><thead><tr><th>${esc(estimates[0].model.name)} · batch ${w.batch_size} · ${w.input_len} in / ${w.output_len} out</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
  const notes = estimates.flatMap((e) => e.notes.map((n) => `<li><b>${esc(e.gpu.name)}</b>: ${esc(n)}</li>`));
  $("notes").innerHTML = notes.join("");
}

registerView("estimate", {
  label: "Estimate",
  options: ["estimate", "plot"],
  fields() { return this.accepts.estimate; },
  async request(state) {
    const charts = bodyFor(state, this.accepts.plot);
    const [estimate, ...figures] = await Promise.all([
      api("POST", "/api/estimate", bodyFor(state, this.accepts.estimate)),
      ...CHARTS.map((kind) => api("POST", `/api/plot/${kind}`, charts)),
    ]);
    return {estimates: Array.isArray(estimate) ? estimate : [estimate], figures};
  },
  render(data) {
    renderEstimate(data.estimates);
    data.figures.forEach((chart, i) => Plotly.react(`chart-${CHARTS[i]}`, chart.figure.data, chart.figure.layout,
                                                    {responsive: true, displaylogo: false}));
  },
});

// ---------- parallel planner: every split over N GPUs, one recommended ----------
function renderPlan(p) {
  const rec = p.recommended ? p.recommended.label : null;
  const timed = (s, text) => s.fits ? text : `<span class="hypothetical" title="does not fit">${text}*</span>`;
  const rows = p.splits.map((s) => s.valid === false
    ? `<tr><td>${esc(s.label)}</td><td colspan="10" class="nofit">${esc(s.error || "invalid")}</td></tr>`
    : `<tr${s.label === rec ? ' class="recommended"' : ""} data-split="${esc(s.label)}">
        <td>${s.label === rec ? "★ " : ""}${esc(s.label)}</td><td>${esc(fmtBytes(s.memory_per_gpu_bytes))}</td>
        <td>${s.fits ? "yes" : `<span class="nofit">no</span>, short ${esc(fmtBytes(s.shortfall_bytes))}`}</td>
        <td>${timed(s, esc(fmtTime(s.ttft_s)))}</td><td>${timed(s, esc(fmtTime(s.tpot_s)))}</td>
        <td>${timed(s, esc(fmtNum(s.output_tokens_per_s)))}</td><td>${timed(s, esc(fmtNum(s.output_tokens_per_s_per_gpu)))}</td>
        <td>${esc(fmtPct(s.comm_share))}</td><td>${s.pp > 1 ? esc(fmtPct(s.bubble_share)) : "-"}</td>
        <td>${esc(s.tp_link || "-")}</td></tr>`).join("");
  const w = p.workload;
  $("plan").innerHTML = `
    <h2>${esc(p.model)} on ${p.num_gpus} × ${esc(p.gpu)}</h2>
    <p class="hint">batch ${w.batch_size} across replicas · ${w.input_len} in / ${w.output_len} out tokens · ranked by ${esc(p.objective)}${
      p.num_gpus_searched ? " · GPU count: the fewest (a power of two) on which a split fits" : ""}</p>
    <p id="plan-recommended">${rec ? `<b class="fits">Recommended: ${esc(rec)}</b>` : `<b class="nofit">No recommendation</b>`}</p>
    <ul id="plan-reasons">${p.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>
    <div class="scroll"><table id="plan-table"><thead><tr><th>split</th><th>memory per GPU</th><th>fits</th><th>TTFT</th><th>TPOT</th>
      <th>output tokens/s</th><th>per GPU</th><th>communication</th><th>pipeline bubble</th><th>tensor-parallel link</th></tr></thead>
      <tbody>${rows}</tbody></table></div>
    ${p.splits.some((s) => !s.fits) ? '<p class="hint">* if it fit: the split does not fit in memory, so its times are hypothetical</p>' : ""}
    <ul class="notes">${p.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`;
}

registerView("parallel", {
  label: "Parallel planner",
  options: ["parallel"],
  oneGpu: true,
  fields() { return this.accepts.parallel; },
  async request(state) {
    return api("POST", "/api/parallel", {...bodyFor(state, this.accepts.parallel), gpu: state.gpu[0]});
  },
  render(plan) { renderPlan(plan); },
});
