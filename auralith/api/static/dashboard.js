// The dashboard's behaviour: no framework, no build step. Pages are rendered by the server; these functions
// keep them current (the job page from its Server-Sent Events stream, the lists by polling the JSON API).
// State-changing calls send X-Auralith-Request: 1, which the API requires of cookie-authenticated requests.
"use strict";
const Auralith = (() => {
  const canOperate = () => document.body.dataset.canOperate === "true";
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  };
  const fmt = (n) => (n == null ? "" : Number(n).toLocaleString("en"));
  const dur = (s) => {
    if (s == null) return "";
    s = Math.round(s);
    return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
      : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
  };
  const age = (iso) => dur((Date.now() - Date.parse(iso)) / 1000);
  async function api(method, url, body, type = "application/json") {
    const r = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "X-Auralith-Request": "1", ...(body !== undefined ? { "Content-Type": type } : {}) },
      body: body === undefined ? undefined : (type === "application/json" ? JSON.stringify(body) : body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw Object.assign(new Error(r.statusText), { status: r.status, data });
    return data;
  }
  function table(id, head, rows, empty) {
    const t = document.getElementById(id);
    if (!rows.length && empty) {
      t.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "note" }, empty))));
      return;
    }
    t.replaceChildren(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => (c instanceof Node ? el("td", {}, c)
        : el("td", typeof c === "number" ? { class: "num" } : {}, typeof c === "number" ? fmt(c) : c)))))));
  }
  function bar(fraction) {
    const b = el("span", { class: "bar" }, el("span", { style: `width:${(100 * (fraction || 0)).toFixed(1)}%` }));
    return b;
  }

  // Jobs list: rows refreshed every 2 s; the submit form posts the YAML as it is.
  function jobsPage() {
    const refresh = async () => {
      try {
        const { jobs } = await api("GET", "/api/jobs?limit=50");
        const body = document.querySelector("#jobs tbody");
        const details = await Promise.all(jobs.filter((j) => j.state === "running")
          .map((j) => api("GET", `/api/jobs/${j.id}`).catch(() => null)));
        const progress = Object.fromEntries(details.filter(Boolean).map((d) => [d.id, d.progress]));
        body.replaceChildren(...jobs.map((j) => {
          const p = j.state === "succeeded" ? 1 : progress[j.id];
          return el("tr", { "data-id": j.id },
            el("td", {}, el("a", { href: `/jobs/${j.id}` }, el("code", {}, j.id.slice(0, 8)))), el("td", {}, j.name),
            el("td", {}, el("span", { class: `state ${j.state}` }, j.state)), el("td", {}, j.priority),
            el("td", { class: "progress" }, p == null ? "" : bar(p)), el("td", { class: "age" }, age(j.created_at)));
        }));
      } catch (e) { /* the next round tries again */ }
    };
    refresh();
    setInterval(refresh, 2000);
    const form = document.getElementById("submit-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const errors = document.getElementById("submit-errors");
      errors.hidden = true;
      const priority = document.getElementById("priority").value;
      try {
        const job = await api("POST", `/api/jobs${priority ? `?priority=${priority}` : ""}`,
          document.getElementById("config").value, "application/yaml");
        window.location.href = `/jobs/${job.id}`;
      } catch (e) {
        const d = e.data && e.data.detail;
        errors.textContent = Array.isArray(d) ? d.join("\n") : (d || e.message);
        errors.hidden = false;
      }
    });
  }

  // One job: the server's render, then every `snapshot`, `event` and `metrics` of its SSE stream.
  function jobPage() {
    let job = JSON.parse(document.getElementById("job-data").textContent);
    const samples = [[], [], []]; // time (s), documents/s, tokens/s
    let last = null;
    let lossPlot = null;
    const loss = [[], [], []]; // step, loss, val_loss
    let clustersShown = false;

    function renderStages(stages) {
      document.getElementById("stages").replaceChildren(...stages.map((s) => el("div", { class: "stage", "data-stage": s.name },
        el("span", { class: "name" }, s.name), bar(s.progress),
        el("span", { class: "count" }, ` ${s.committed}/${s.total}`),
        el("span", { class: "eta" }, s.failed ? `${s.failed} failed` : s.eta_s ? `ETA ${dur(s.eta_s)}` : s.total && s.committed === s.total ? "done" : ""))));
    }
    function renderFigures(f) {
      table("figures", ["", ""], [["documents in", f.documents_in], ["kept after filters", f.kept_after_filters],
        ["documents out", f.documents_out], ["removed", f.removed_total], ["tokens", f.tokens], ["shards", f.shards],
        ["MB read", Math.round(f.bytes_read / 1e6)], ["input issues", f.issue_count]]);
      const total = f.documents_in || 1;
      table("removed", ["reason", "documents", "%"], Object.entries(f.removed || {}).sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, v, `${(100 * v / total).toFixed(1)}%`]), "nothing removed yet");
      table("pii", ["type", "found"], Object.entries(f.pii || {}).map(([k, v]) => [k, v]), "none found (or PII off)");
      table("languages", ["language", "documents"], Object.entries(f.languages || {}).sort((a, b) => b[1] - a[1]),
        "not counted for this job");
      table("issues", ["file", "line", "field", "problem"], (f.issues || []).map((i) =>
        [i.file || "", i.line == null ? "" : String(i.line), i.field || "", i.message || i.reason || ""]), "none");
    }
    function renderState(d) {
      const s = document.getElementById("state");
      s.textContent = d.state;
      s.className = `state ${d.state}`;
      const final = ["succeeded", "failed", "cancelled"].includes(d.state);
      const cancel = document.getElementById("cancel"), resume = document.getElementById("resume");
      if (cancel) cancel.hidden = final;
      if (resume) resume.hidden = !(d.state === "failed" || d.state === "cancelled");
      const err = document.getElementById("error");
      err.textContent = d.error || "";
      err.hidden = !d.error;
    }
    function throughput(d) {
      const now = Date.now() / 1000, f = d.figures;
      if (last) {
        const dt = now - last.t;
        if (dt > 0.2) {
          samples[0].push(now);
          samples[1].push(Math.max(0, (f.documents_in - last.docs) / dt));
          samples[2].push(Math.max(0, (f.tokens - last.tokens) / dt));
        }
      }
      last = { t: now, docs: f.documents_in, tokens: f.tokens };
      const box = document.getElementById("throughput");
      if (samples[0].length < 2) return;
      if (!box.plot) {
        box.replaceChildren();
        box.plot = new uPlot({ width: box.clientWidth || 500, height: 200, series: [{},
          { label: "documents/s", stroke: "#3a7bd5" }, { label: "tokens/s", stroke: "#d57a3a", scale: "tok" }],
          axes: [{}, { size: 60 }, { scale: "tok", side: 1, size: 70 }] }, samples, box);
      } else box.plot.setData(samples);
    }
    function addLoss(steps) {
      for (const m of steps) { loss[0].push(m.step); loss[1].push(m.loss); loss[2].push(m.val_loss); }
      const box = document.getElementById("loss");
      if (!loss[0].length) return;
      if (!lossPlot) {
        box.replaceChildren();
        lossPlot = new uPlot({ width: box.clientWidth || 500, height: 200, scales: { x: { time: false } },
          series: [{ label: "step" }, { label: "loss", stroke: "#3a7bd5" }, { label: "val loss", stroke: "#2a9d52" }] }, loss, box);
      } else lossPlot.setData(loss);
    }
    async function showClusters(d) {
      const near = d.stages.find((s) => s.name === "near_dedup");
      if (clustersShown || !near || near.committed < near.total || !near.total) return;
      clustersShown = true;
      try {
        const c = await api("GET", `/api/jobs/${d.id}/clusters?top=10`);
        const box = document.getElementById("clusters");
        box.replaceChildren(el("p", {}, `${fmt(c.clusters)} clusters`));
        const t = el("table", { class: "grid", id: "clusters-table" });
        box.append(t);
        table("clusters-table", ["size", "kept", "removed (examples)"], c.biggest.map((b) => [b.size, b.kept, b.removed_examples.join(", ")]));
      } catch (e) { document.getElementById("clusters").textContent = (e.data && e.data.detail) || "not available"; }
    }
    function apply(d) {
      job = { ...job, ...d };
      renderState(d); renderStages(d.stages); renderFigures(d.figures); throughput(d); showClusters(d);
    }
    apply(job);
    const events = document.getElementById("events");
    const source = new EventSource(`/api/jobs/${job.id}/events`);
    source.addEventListener("snapshot", (e) => apply(JSON.parse(e.data)));
    source.addEventListener("metrics", (e) => addLoss(JSON.parse(e.data).steps));
    source.addEventListener("event", (e) => {
      const ev = JSON.parse(e.data);
      events.append(el("li", { class: ev.level }, `${(ev.time || "").slice(11, 19)} ${ev.message}`));
      events.scrollTop = events.scrollHeight;
    });
    source.addEventListener("end", () => source.close());
    for (const action of ["cancel", "resume"]) {
      const b = document.getElementById(action);
      if (!b) continue;
      b.addEventListener("click", async () => {
        b.disabled = true;
        try { await api("POST", `/api/jobs/${job.id}/${action}`); if (action === "resume") window.location.reload(); }
        catch (e) { alert((e.data && e.data.detail) || e.message); }
        finally { b.disabled = false; }
      });
    }
  }

  // Workers and queues: polled every 3 s.
  function clusterPage() {
    const refresh = async () => {
      try {
        const q = await api("GET", "/api/queues");
        const steps = [...new Set(q.queues.flatMap((x) => Object.keys(x.by_priority || {})))].sort((a, b) => a - b);
        table("queues", ["queue", "waiting", ...steps.map((s) => `priority ${s}`)],
          q.queues.map((x) => [x.name, x.messages, ...steps.map((s) => (x.by_priority || {})[s] || 0)]));
      } catch (e) { document.getElementById("queues").textContent = "broker unreachable"; }
      try {
        const w = await api("GET", "/api/workers");
        table("workers", ["worker", "state", "queues", "active tasks", "heartbeat", "peak RSS MiB", "tasks done"],
          w.workers.map((x) => [x.hostname, x.state, x.queues.join(", "), x.active.map((t) => t.name.replace("auralith.", "")).join(", ") || "-",
            x.heartbeat_age_s == null ? "none" : `${dur(x.heartbeat_age_s)} ago`, x.max_rss_mib == null ? "" : x.max_rss_mib, x.tasks_done == null ? "" : x.tasks_done]));
      } catch (e) { document.getElementById("workers").textContent = "store unreachable"; }
    };
    refresh();
    setInterval(refresh, 3000);
  }
  return { jobsPage, jobPage, clusterPage, canOperate };
})();
