// The serving view: simulate one deployment (POST /api/plot/serving) or plan one (POST /api/plan).
// Separate from app.js: it runs only when asked (a plan or ~20 simulations take seconds, not ms).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const num = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const ms = (x) => (x === null || x === undefined || !isFinite(x)) ? "n/a" : (x >= 1 ? `${x.toPrecision(3)} s` : `${(x * 1e3).toPrecision(3)} ms`);
  const money = (x) => (x === null || x === undefined || !isFinite(x)) ? "n/a" : `$${x < 100 ? x.toPrecision(3) : x.toFixed(0)}`;

  function showError(message) {
    $("sv-error").hidden = !message;
    $("sv-error").textContent = message || "";
  }

  async function post(path, body) {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const doc = await r.json();
    if (!r.ok) throw new Error(doc.error || `HTTP ${r.status}`);
    return doc;
  }

  function workload() {
    return {model: $("sv-model").value.trim(), engine: $("sv-engine").value, input_len: num("sv-input"), output_len: num("sv-output")};
  }

  async function simulate() {
    showError("");
    $("sv-status").textContent = "simulating…";
    const rate = num("sv-rate");
    try {
      const doc = await post("/api/plot/serving", {...workload(), gpu: $("sv-gpu").value.trim(), tp: num("sv-tp"),
                                                   request_rate: rate && rate > 0 ? rate : null});
      $("chart-serving").hidden = false;  // visible first, so that Plotly sizes the chart to its box
      Plotly.react($("chart-serving"), doc.figure.data, doc.figure.layout, {responsive: true, displaylogo: false});
      const d = doc.data;
      const bands = Object.values(d.bands || {}).some(Boolean) ? "; shaded: 80% intervals from the simulator's held-out errors" : "";
      $("sv-status").textContent = `${doc.title}: saturates near ${d.saturation_requests_per_s.toPrecision(3)} requests/s${bands}`;
    } catch (e) {
      showError(e.message);
      $("sv-status").textContent = "";
    }
  }

  function planRow(c, chosen) {
    const s = c.simulated ? "p90" : "≈";
    const lat = (k) => c.simulated ? c.simulated[k].p90 : c.estimate[k];
    // the 80% interval of the simulated p90 (held-out serving errors), or of the screened mean (the static
    // estimate's cells) when not simulated, where the measurements give one
    const rng = (k) => {
      const r = c.simulated ? c.simulated[`${k}_range`] && c.simulated[`${k}_range`].p90 : c.estimate[`${k}_range`];
      return r ? ` <span class="range">(${Math.round(r.level * 100)}%: ${ms(r.low)} – ${ms(r.high)})</span>` : "";
    };
    const cell = (k) => `<td>${s} ${ms(lat(k))}${rng(k)}</td>`;
    return `<tr class="${chosen ? "chosen" : ""}"><td>${chosen ? "★ " : ""}${esc(c.label)}</td>` +
      `<td>${money(c.cost.usd_per_million_output_tokens)}</td><td>${money(c.cost.usd_per_hour)}</td>` +
      cell("ttft_s") + cell("tpot_s") + cell("e2e_s") +
      `<td>${esc(c.verdict)}</td></tr>`;
  }

  async function plan() {
    showError("");
    $("sv-status").textContent = "planning…";
    try {
      const gpus = $("sv-gpus").value.split(",").map((g) => g.trim()).filter(Boolean);
      const doc = await post("/api/plan", {...workload(), request_rate: num("sv-rate"), ttft_slo: num("sv-ttft") || null,
                                           tpot_slo: num("sv-tpot") || null, gpus, max_gpus: num("sv-max-gpus")});
      const rows = [...doc.finalists].sort((a, b) => a.cost.usd_per_million_output_tokens - b.cost.usd_per_million_output_tokens)
        .map((c) => planRow(c, doc.chosen && c.label === doc.chosen.label)).join("");
      $("sv-plan-out").innerHTML = `<p><b>${esc(doc.summary)}</b></p>` +
        `<table><thead><tr><th>deployment</th><th>$ / M output tokens</th><th>$ / hour</th><th>TTFT</th><th>TPOT</th>` +
        `<th>end to end</th><th>verdict</th></tr></thead><tbody>${rows}</tbody></table>` +
        `<p class="hint">${doc.candidates_screened.toLocaleString("en-US")} candidates screened, ${doc.finalists.length} simulated. ` +
        "Cost is the rent over the offered load: the price and the rate fix it, so it has no interval. " +
        (doc.notes || []).map(esc).join(" · ") + "</p>";
      $("sv-status").textContent = "";
    } catch (e) {
      showError(e.message);
      $("sv-status").textContent = "";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sv-simulate").addEventListener("click", simulate);
    $("sv-plan").addEventListener("click", plan);
  });
})();
