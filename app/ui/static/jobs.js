/* The jobs list: a live table; filters and sort live in the URL, and live updates change
   rows in place, so neither the filters nor the scroll position move. */
"use strict";
(() => {
  const SERVER_FILTERS = ["status", "workspace_id"];   // narrow the stream (job_queries)
  const params = new URLSearchParams(location.search);
  const state = {rows: new Map(), sort: params.get("sort") || "created_at",
                 dir: params.get("dir") || "desc", total: 0, limit: 0};
  const body = document.querySelector("#jobs tbody");
  const filters = [...document.querySelectorAll("[data-filter]")];

  for (const input of filters) {
    const value = params.get(input.dataset.filter);
    if (value !== null) {
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === value)) {
        input.add(new Option(value, value));
      }
      input.value = value;
    }
    input.addEventListener(input.type === "search" ? "input" : "change", () => {
      saveUrl();
      if (SERVER_FILTERS.includes(input.dataset.filter)) stream.reopen(streamUrl());
      else render();
    });
  }
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      state.dir = state.sort === key && state.dir === "desc" ? "asc" : "desc";
      state.sort = key;
      saveUrl();
      render();
    });
  }

  function filterValue(name) {
    const input = filters.find((i) => i.dataset.filter === name);
    return input ? input.value.trim() : "";
  }

  function saveUrl() {
    const next = new URLSearchParams();
    for (const input of filters) if (input.value.trim()) next.set(input.dataset.filter, input.value.trim());
    if (state.sort !== "created_at" || state.dir !== "desc") { next.set("sort", state.sort); next.set("dir", state.dir); }
    const query = next.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  function streamUrl() {
    const query = new URLSearchParams();
    for (const name of SERVER_FILTERS) if (filterValue(name)) query.set(name, filterValue(name));
    return "/ui/stream/jobs" + (query.toString() ? "?" + query : "");
  }

  function waited(job) { return TQ.seconds(job.created_at, job.started_at || job.finished_at); }
  function ran(job) { return job.started_at ? TQ.seconds(job.started_at, job.finished_at) : null; }
  const latest = (job, key) => (job.latest ? job.latest[key] : null);
  const SORT_KEYS = {
    waited, ran, epoch: (j) => latest(j, "epoch"), loss: (j) => latest(j, "loss"),
    val_accuracy: (j) => latest(j, "val_accuracy"),
    best_val_accuracy: (j) => (j.best ? j.best.val_accuracy : null),
  };

  function visible() {
    const pool = filterValue("pool"), text = filterValue("q").toLowerCase();
    const rows = [...state.rows.values()].filter((job) =>
      (!pool || job.pool === pool) &&
      (!text || job.name.toLowerCase().includes(text) || job.id.includes(text)));
    const key = SORT_KEYS[state.sort] || ((job) => job[state.sort]);
    const sign = state.dir === "asc" ? 1 : -1;
    return rows.sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;   // unknowns last, either way
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sign;
    });
  }

  function cells(job) {
    const l = job.latest || {}, best = job.best || {};
    const epoch = l.epoch ? `${l.epoch}${l.total_epochs ? "/" + l.total_epochs : ""}` : "";
    const gpus = job.instance_count > 1 ? `${job.gpu}×${job.instance_count}` : job.gpus;
    return `<td>${TQ.badge(job.status)}</td>
      <td><a href="/ui/jobs/${TQ.esc(job.id)}">${TQ.esc(job.name)}</a> <span class="muted mono">${TQ.esc(job.id.slice(-6))}</span></td>
      <td>${TQ.esc(job.workspace)}</td><td>${TQ.esc(job.pool)}</td>
      <td class="num">${gpus}</td><td class="num">${job.priority}</td>
      <td class="num" data-tick="waited"></td><td class="num" data-tick="ran"></td>
      <td class="num">${epoch}</td><td class="num">${TQ.num(l.loss)}</td>
      <td class="num">${TQ.num(l.val_accuracy)}</td><td class="num">${TQ.num(best.val_accuracy)}</td>
      <td>${TQ.clock(job.created_at)}</td>`;
  }

  function render() {
    const rows = visible();
    const seen = new Set();
    let anchor = null;
    for (const job of rows) {
      seen.add(job.id);
      let tr = body.querySelector(`tr[data-id="${CSS.escape(job.id)}"]`);
      const html = cells(job);
      if (!tr) { tr = document.createElement("tr"); tr.dataset.id = job.id; }
      if (tr._html !== html) { tr.innerHTML = html; tr._html = html; }
      tr._job = job;
      const want = anchor ? anchor.nextSibling : body.firstChild;
      if (want !== tr) body.insertBefore(tr, want);
      anchor = tr;
    }
    for (const tr of [...body.children]) if (!seen.has(tr.dataset.id)) tr.remove();
    for (const th of document.querySelectorAll("th[data-sort]")) {
      th.classList.toggle("sorted-asc", th.dataset.sort === state.sort && state.dir === "asc");
      th.classList.toggle("sorted-desc", th.dataset.sort === state.sort && state.dir === "desc");
    }
    document.getElementById("empty").hidden = rows.length > 0;
    const capped = state.total > state.limit ? ` (the newest ${state.limit} of ${state.total})` : "";
    document.getElementById("count").textContent = `${rows.length} shown${capped}`;
    tick();
  }

  function tick() {
    for (const tr of body.children) {
      const job = tr._job;
      for (const cell of tr.querySelectorAll("[data-tick]")) {
        const value = cell.dataset.tick === "waited" ? waited(job) : ran(job);
        cell.textContent = TQ.duration(value);
      }
    }
  }

  function pools() {
    const select = document.getElementById("f-pool"), current = select.value;
    const names = [...new Set([...state.rows.values()].map((j) => j.pool))].sort();
    for (const name of names) {
      if (![...select.options].some((o) => o.value === name)) select.add(new Option(name, name));
    }
    select.value = current;
  }

  const stream = TQ.live(streamUrl(), {
    jobs(data) {
      state.rows = new Map(data.jobs.map((job) => [job.id, job]));
      state.total = data.total; state.limit = data.limit;
      pools();
      render();
    },
  });
  setInterval(tick, 1000);
})();
