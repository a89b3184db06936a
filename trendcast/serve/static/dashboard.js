// The dashboard's behaviour: charts, the API key field, the what-if slider, model promotion
// and uploads. Every value from the server or the API is written with textContent, never as HTML.
"use strict";

(function () {
  const KEY = "trendcast-key";
  const FLASH = "trendcast-flash";

  function apiKey() {
    return sessionStorage.getItem(KEY) || "";
  }

  function withKey(headers) {
    const out = Object.assign({}, headers || {});
    if (apiKey()) out["X-API-Key"] = apiKey();
    return out;
  }

  // The API's reply as {ok, status, body}; a network failure reads as status 0.
  async function call(url, options) {
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      return { ok: false, status: 0, body: { error: "the server cannot be reached (" + error.message + ")" } };
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = { error: "HTTP " + response.status + " " + response.statusText };
    }
    return { ok: response.ok, status: response.status, body: body || {} };
  }

  function show(box, kind, text, problems) {
    box.className = "message " + kind;
    box.textContent = text;
    if (problems && problems.length) {
      const list = document.createElement("ul");
      for (const p of problems) {
        const item = document.createElement("li");
        const where = [p.frame, p.column].filter(Boolean).join(".");
        const rows = p.n_rows ? " (" + p.n_rows + " rows)" : "";
        item.textContent = (where ? where + ": " : "") + p.message + rows + (p.fix ? " Fix: " + p.fix : "");
        list.appendChild(item);
      }
      box.appendChild(list);
    }
  }

  function failure(reply) {
    const body = reply.body || {};
    let text = body.error || "the request failed";
    if (reply.status === 401 || reply.status === 403) text = "HTTP " + reply.status + ": " + text;
    if (body.incident) text += " (incident " + body.incident + ")";
    return text;
  }

  function drawCharts() {
    if (typeof Plotly === "undefined") return;
    for (const div of document.querySelectorAll(".chart[data-figure]")) {
      const figure = JSON.parse(div.dataset.figure);
      Plotly.newPlot(div, figure.data, figure.layout, { responsive: true, displaylogo: false });
    }
  }

  function keyField() {
    const input = document.getElementById("api-key");
    if (!input) return;
    input.value = apiKey();
    input.addEventListener("change", () => {
      const value = input.value.trim();
      if (value) sessionStorage.setItem(KEY, value);
      else sessionStorage.removeItem(KEY);
      // Where reads need a key, the pages read it from a cookie that lives as long as the tab.
      if (document.body.dataset.readsNeedKey === "1") {
        document.cookie = "trendcast_key=" + encodeURIComponent(value) + "; path=/; SameSite=Strict";
        location.reload();
      }
    });
  }

  function whatIf() {
    const panel = document.getElementById("whatif");
    if (!panel) return;
    const slider = panel.querySelector("input[type=range]");
    const label = panel.querySelector(".pct");
    const box = panel.querySelector(".message");
    const chart = document.getElementById("series-chart");
    const plan = JSON.parse(panel.dataset.plan);
    let asked = 0;
    slider.addEventListener("input", () => {
      label.textContent = (slider.value > 0 ? "+" : "") + slider.value + "%";
    });
    slider.addEventListener("change", async () => {
      const pct = Number(slider.value);
      const mine = ++asked;
      const trace = Number(panel.dataset.trace);
      if (pct === 0) {
        Plotly.restyle(chart, { x: [[]], y: [[]] }, [trace]);
        show(box, "", "");
        return;
      }
      show(box, "busy", "forecasting at " + label.textContent + " price…");
      const rows = plan.dates.map((ds, i) => ({
        [plan.id_col]: plan.series,
        [plan.time_col]: ds,
        price: Math.round(plan.prices[i] * (1 + pct / 100) * 100) / 100,
      }));
      const reply = await call("/v1/whatif" + (plan.model ? "?model=" + encodeURIComponent(plan.model) : ""), {
        method: "POST",
        headers: withKey({ "Content-Type": "application/json" }),
        body: JSON.stringify({ plan: rows }),
      });
      if (mine !== asked) return; // a later move of the slider is already on its way
      if (!reply.ok) {
        show(box, "error", "The what-if forecast failed: " + failure(reply));
        return;
      }
      const forecasts = reply.body.forecasts || [];
      const x = forecasts.map((r) => r[plan.time_col]);
      const y = forecasts.map((r) => r[plan.alias]);
      Plotly.restyle(chart, { x: [x], y: [y], name: ["forecast at " + label.textContent + " price"] }, [trace]);
      const total = y.reduce((a, b) => a + b, 0);
      const change = plan.base_total ? (100 * (total - plan.base_total)) / plan.base_total : 0;
      show(box, "ok", "At " + label.textContent + " price: " + total.toFixed(1) + " units over the horizon (" +
        (change >= 0 ? "+" : "") + change.toFixed(1) + "% against " + plan.base_total.toFixed(1) + ").");
    });
  }

  function modelButtons() {
    const box = document.getElementById("models-message");
    if (!box) return;
    for (const button of document.querySelectorAll("button[data-action]")) {
      button.addEventListener("click", async () => {
        const name = button.dataset.name;
        let url = "/v1/models/" + encodeURIComponent(name) + "/" + button.dataset.action;
        if (button.dataset.version) url += "?version=" + encodeURIComponent(button.dataset.version);
        show(box, "busy", "asking the server…");
        const reply = await call(url, { method: "POST", headers: withKey() });
        if (!reply.ok) {
          show(box, "error", failure(reply));
          return;
        }
        sessionStorage.setItem(FLASH, reply.body.model + " is in production now.");
        location.reload();
      });
    }
    const flash = sessionStorage.getItem(FLASH);
    if (flash) {
      sessionStorage.removeItem(FLASH);
      show(box, "ok", flash);
    }
  }

  function upload() {
    const form = document.getElementById("upload-form");
    if (!form) return;
    const box = document.getElementById("upload-message");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = form.elements.file.files[0];
      if (!file) {
        show(box, "error", "choose a CSV or Parquet file first");
        return;
      }
      const frame = form.elements.frame.value;
      const mode = form.elements.mode.value;
      const parquet = /\.parquet$/i.test(file.name);
      show(box, "busy", "uploading " + file.name + "…");
      const reply = await call("/v1/data/" + encodeURIComponent(frame) + "?mode=" + encodeURIComponent(mode), {
        method: "POST",
        headers: withKey({ "Content-Type": parquet ? "application/vnd.apache.parquet" : "text/csv" }),
        body: file,
      });
      if (reply.ok) {
        show(box, "ok", "Stored: " + reply.body.frame + " now has " + reply.body.rows + " rows (run " + reply.body.run_id + ").");
      } else if (reply.status === 422) {
        // The error text lists every problem with its rows and fix; the list is for bodies without it.
        const text = "Not stored, the file needs fixing:\n" + (reply.body.error || "");
        show(box, "error", text, reply.body.error ? [] : reply.body.problems);
      } else {
        show(box, "error", "Not stored: " + failure(reply));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    keyField();
    drawCharts();
    whatIf();
    modelButtons();
    upload();
  });
})();
