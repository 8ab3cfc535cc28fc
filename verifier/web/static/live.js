// Watches a check. Each server-sent event says a member x source status, a new report
// version or the state: a status is written into the grid at once (a column is added
// for a source not seen yet); a version or a state re-reads the grid fragment, and the
// statuses already told are written over it again. Nothing arrives that the page would
// not show anyway.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (!live || live.dataset.done === "yes") return;
  // The server's words for statuses and sources (verifier/domain/labels.py), not a copy.
  const labels = JSON.parse(live.dataset.labels);
  const told = new Map();

  function cell(member, source) {
    const table = document.getElementById("status-grid");
    let td = table.querySelector(`[data-cell="${member}:${CSS.escape(source)}"]`);
    if (td) return td;
    if (!table.querySelector(`th[data-source="${CSS.escape(source)}"]`)) {
      const th = document.createElement("th");
      th.dataset.source = source;
      th.textContent = labels.source[source] || source;
      table.tHead.rows[0].appendChild(th);
      for (const row of table.tBodies[0].rows) {
        const blank = document.createElement("td");
        blank.dataset.cell = `${row.dataset.member}:${source}`;
        blank.className = "st";
        blank.textContent = "…";
        row.appendChild(blank);
      }
    }
    return table.querySelector(`[data-cell="${member}:${CSS.escape(source)}"]`);
  }

  function paint() {
    let answered = 0;
    for (const [key, status] of told) {
      const [member, source] = key.split(/:(.*)/s);
      const td = cell(member, source);
      if (td) { td.textContent = labels.status[status] || status; td.className = "st " + status; }
      if (status !== "PENDING") answered++;
    }
    const counter = document.getElementById("answered");
    if (counter && answered > Number(counter.textContent)) counter.textContent = String(answered);
  }

  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const resp = await fetch(live.dataset.grid, { credentials: "same-origin", cache: "no-store" });
      if (resp.ok) {
        const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
        const grid = doc.getElementById("grid");
        if (grid) document.getElementById("grid").replaceWith(document.adoptNode(grid));
        paint();
      }
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  const events = new EventSource(live.dataset.events);
  events.onmessage = (msg) => {
    const e = JSON.parse(msg.data);
    if (e.kind === "source") {
      told.set(`${e.member}:${e.source}`, e.status);
      paint();
    } else {
      refresh();
    }
  };
  events.addEventListener("end", () => { events.close(); live.dataset.done = "yes"; refresh(); });
});
