/* The cluster: each pool's queue in order (position, reason, ETA) and each host's GPUs as a
   strip showing which job holds which GPU; admins drain and undrain hosts here. */
"use strict";
(() => {
  let view = null, receivedAt = 0;

  function jobLink(id, name) {
    if (!id) return "";
    if (id.startsWith("(")) return `<span class="muted">${TQ.esc(id)}</span>`;
    const label = name ? `${TQ.esc(name)} <span class="muted mono">${TQ.esc(id.slice(-6))}</span>` : TQ.esc(id);
    return `<a href="/ui/jobs/${encodeURIComponent(id)}" title="${TQ.esc(id)}">${label}</a>`;
  }

  function pool(p) {
    const rows = p.jobs.map((j) => `<tr>
      <td class="num">${j.position ?? "–"}</td><td>${jobLink(j.id, j.name)}</td>
      <td class="num">${j.priority}</td><td class="num">${j.gpus}</td>
      <td title="${TQ.esc(j.message || "")}">${TQ.esc(j.reason || "")}</td>
      <td class="num" data-eta="${TQ.esc(j.eta_at || "")}"></td>
      <td class="num" data-since="${TQ.esc(j.created_at)}"></td></tr>`).join("");
    const hidden = p.hidden ? `<p class="muted">${p.hidden} queued job(s) of workspaces you are not in.</p>` : "";
    const more = p.more ? `<p class="muted">…and ${p.more} more.</p>` : "";
    return `<div class="card" data-pool="${TQ.esc(p.name)}"><h3>${TQ.esc(p.name)}
      <span class="muted">${p.queued} queued · ${p.hosts} host(s) · ${p.gpus_free}/${p.gpus_total} GPUs free</span></h3>
      ${p.jobs.length ? `<table class="small"><thead><tr><th class="num">#</th><th>Job</th><th class="num">Prio</th>
      <th class="num">GPUs</th><th>Reason</th><th class="num">ETA</th><th class="num">Queued for</th></tr></thead>
      <tbody>${rows}</tbody></table>` : `<p class="muted">Nothing waiting.</p>`}${hidden}${more}</div>`;
  }

  function host(h) {
    // One colour per job on the host, shared by its GPUs in the strip and its name.
    const colour = new Map(h.running_jobs.map((j, n) => [j.id, `j${n % 6}`]));
    const strip = h.strip.length ? h.strip.map((g) => {
      const cls = g.job ? `busy ${colour.get(g.job) || ""}` : "";
      return `<span class="gpu ${cls}" title="GPU ${TQ.esc(g.gpu)}: ${TQ.esc(g.job || "free")}">${TQ.esc(g.gpu)}</span>`;
    }).join("") : `<span class="muted">no GPU</span>`;
    const running = h.running_jobs.map((j) => `<span class="holder ${colour.get(j.id)}">` +
      `${jobLink(j.id, j.name)}${j.gpus.length ? ` <span class="muted">GPU ${TQ.esc(j.gpus.join(","))}</span>` : ""}</span>`)
      .join(" ") || `<span class="muted">idle</span>`;
    const action = view.is_admin
      ? `<button class="${h.draining ? "undrain" : "drain"}" data-host="${TQ.esc(h.name)}">${h.draining ? "Undrain" : "Drain"}</button>` : "";
    return `<tr data-host="${TQ.esc(h.name)}"><td><b>${TQ.esc(h.name)}</b> <span class="muted">${TQ.esc(h.addr || "")}</span></td>
      <td>${TQ.esc(h.pool)}</td><td>${TQ.badge(h.state)}</td>
      <td><span class="strip">${strip}</span> <span class="muted">${h.gpus_free}/${h.gpus_total} free</span></td>
      <td class="num">${h.free_slots}/${h.slots}</td><td class="num" data-seen="${h.seen ?? ""}"></td>
      <td>${running}</td><td>${action}</td></tr>`;
  }

  function render(data) {
    view = data;
    receivedAt = Date.now();
    TQ.notice(data.error || "", !!data.error);
    document.getElementById("pools").innerHTML = data.pools.map(pool).join("");
    document.getElementById("hosts").innerHTML = data.hosts.map(host).join("");
    document.getElementById("no-hosts").hidden = data.hosts.length > 0;
    tick();
  }

  function tick() {
    for (const cell of document.querySelectorAll("[data-eta]")) {
      const eta = cell.dataset.eta ? (Date.parse(cell.dataset.eta) - TQ.now()) / 1000 : null;
      cell.textContent = eta === null ? "unknown" : eta <= 0 ? "now" : TQ.duration(eta);
    }
    for (const cell of document.querySelectorAll("[data-since]")) {
      cell.textContent = TQ.duration(TQ.seconds(cell.dataset.since));
    }
    for (const cell of document.querySelectorAll("[data-seen]")) {
      if (!cell.dataset.seen || !view.clock) { cell.textContent = "stopped"; continue; }
      const age = view.clock - Number(cell.dataset.seen) + (Date.now() - receivedAt) / 1000;
      cell.textContent = TQ.duration(age) + " ago";
    }
  }

  document.getElementById("hosts").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-host]");
    if (!button) return;
    button.disabled = true;
    const verb = button.classList.contains("drain") ? "drain" : "undrain";
    const result = await TQ.post(`/api/v1/admin/workers/${encodeURIComponent(button.dataset.host)}/${verb}`);
    TQ.notice(result.ok ? "" : `${verb} refused (${result.status}): ${result.message}`, !result.ok);
    if (!result.ok) button.disabled = false;
  });

  TQ.live("/ui/stream/cluster", {cluster: render});
  setInterval(tick, 1000);
})();
