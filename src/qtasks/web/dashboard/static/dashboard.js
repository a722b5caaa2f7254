// The dashboard's one script: refresh the page's live part every few seconds, and draw
// the overview's chart from its JSON. Pages work without it (plain links and forms).
"use strict";
(function () {
  const body = document.body;
  const refresh = Math.max(0.5, parseFloat(body.dataset.refresh || "5")) * 1000;
  // A page with nothing live (a confirmation) is not fetched again.
  const initial = document.getElementById("live");
  const hasLive = Boolean(initial && initial.textContent.trim());

  async function updateLive() {
    const live = document.getElementById("live");
    if (!hasLive || !live || document.hidden) return;
    try {
      const response = await fetch(window.location.href, {
        headers: { "X-Qtasks-Fragment": "1" }, credentials: "same-origin", cache: "no-store",
      });
      if (response.ok) {
        const html = await response.text();
        if (html !== live.dataset.last) { live.innerHTML = html; live.dataset.last = html; }
      }
    } catch (e) { /* the next round tries again */ }
  }

  function drawChart(canvas, data) {
    const ctx = canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    canvas.width = width * ratio; canvas.height = height * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const left = 44, bottom = 22, top = 8, right = 8;
    const w = width - left - right, h = height - top - bottom;
    const n = data.t.length;
    const peak = Math.max(1, ...data.success, ...data.error);
    ctx.strokeStyle = "#e5e7eb"; ctx.fillStyle = "#6b7280"; ctx.font = "11px system-ui";
    for (let i = 0; i <= 4; i++) {
      const y = top + h - (h * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
      ctx.fillText(String(Math.round((peak * i) / 4)), 4, y + 4);
    }
    if (n > 0) {
      const first = new Date(data.t[0] * 1000), last = new Date(data.t[n - 1] * 1000);
      ctx.fillText(first.toLocaleTimeString(), left, height - 6);
      const label = last.toLocaleTimeString();
      ctx.fillText(label, left + w - ctx.measureText(label).width, height - 6);
    }
    const colours = { success: "#15803d", error: "#b91c1c" };
    for (const key of ["success", "error"]) {
      const values = data[key];
      ctx.strokeStyle = colours[key]; ctx.lineWidth = 2; ctx.beginPath();
      values.forEach(function (v, i) {
        const x = left + (n > 1 ? (w * i) / (n - 1) : w);
        const y = top + h - (h * v) / peak;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
    const note = document.getElementById("chart-note");
    if (note) {
      note.textContent = n ? "sampled every " + data.interval + " s" : "collecting samples…";
    }
  }

  async function updateChart() {
    const canvas = document.getElementById("chart");
    if (!canvas || document.hidden) return;
    try {
      const response = await fetch(canvas.dataset.series, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) drawChart(canvas, await response.json());
    } catch (e) { /* the next round tries again */ }
  }

  updateChart();
  window.setInterval(function () { updateLive(); updateChart(); }, refresh);
})();
