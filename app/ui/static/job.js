/* A job's page: live curves (uPlot), a log tail that follows, timeline, attempts, webhook
   deliveries and the queue position, all from one event stream; Stop and Redeliver go
   through the JSON API. Events are applied idempotently: a resumed stream may repeat some. */
"use strict";
(() => {
  const root = document.getElementById("job");
  const jobId = root.dataset.jobId;
  const MAX_LOG_LINES = 2000;
  const points = new Map();   // epoch -> metrics of the newest attempt that reported it
  let job = null, lastLogId = 0, logCount = 0;

  const palette = {loss: "#2457c5", val_loss: "#e8590c", accuracy: "#2457c5",
                   val_accuracy: "#e8590c", f1_score: "#2b8a3e"};
  function chart(el, names) {
    const series = [{label: "epoch"}, ...names.map((name) => ({
      label: name, stroke: palette[name], width: 2, points: {size: 5}, spanGaps: true,
      value: (u, v) => (v === null || v === undefined ? "–" : v.toFixed(4))}))];
    const opts = {width: el.clientWidth || 600, height: 210, series, legend: {live: true},
      scales: {x: {time: false}},
      axes: [{label: "epoch", size: 36, incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]},
             {size: 54}],
      cursor: {drag: {x: true, y: false}}};
    return new uPlot(opts, [[], ...names.map(() => [])], el);
  }
  const lossNames = ["loss", "val_loss"], accNames = ["accuracy", "val_accuracy", "f1_score"];
  const lossChart = chart(document.getElementById("chart-loss"), lossNames);
  const accChart = chart(document.getElementById("chart-acc"), accNames);
  window.addEventListener("resize", () => {
    for (const [c, id] of [[lossChart, "chart-loss"], [accChart, "chart-acc"]]) {
      c.setSize({width: document.getElementById(id).clientWidth, height: 210});
    }
  });

  function plot() {
    const epochs = [...points.keys()].sort((a, b) => a - b);
    const column = (name) => epochs.map((e) => points.get(e)[name] ?? null);
    lossChart.setData([epochs, ...lossNames.map(column)]);
    accChart.setData([epochs, ...accNames.map(column)]);
    const last = points.get(epochs[epochs.length - 1]);
    document.getElementById("epoch").textContent = last
      ? `epoch ${last.epoch}${last.total_epochs ? " of " + last.total_epochs : ""}` : "no epoch yet";
    root.dataset.points = String(epochs.length);
  }

  function addMetrics(rows) {
    for (const row of rows) {
      const known = points.get(row.epoch);
      if (!known || known.attempt <= row.attempt) points.set(row.epoch, row);
    }
    plot();
  }

  function addLogs(lines) {
    const log = document.getElementById("log");
    const fresh = document.createDocumentFragment();
    for (const line of lines) {
      if (line.id <= lastLogId) continue;
      lastLogId = line.id;
      const span = document.createElement("span");
      if (line.stream === "stderr") span.className = "err";
      span.textContent = line.line + "\n";
      fresh.appendChild(span);
      logCount += 1;
    }
    log.appendChild(fresh);
    while (logCount > MAX_LOG_LINES) { log.firstChild.remove(); logCount -= 1; }
    if (document.getElementById("follow").checked) log.scrollTop = log.scrollHeight;
  }

  function showState(data) {
    job = data;
    const status = document.getElementById("status");
    status.className = "status s-" + data.status;
    status.textContent = data.status;
    const gpus = data.instance_count > 1 ? `${data.gpu} GPU × ${data.instance_count} hosts` : `${data.gpus} GPU`;
    document.getElementById("facts").textContent = ` · ${data.workspace} · pool ${data.pool} · ${gpus}` +
      ` · priority ${data.priority} · ${data.framework} · ${data.script_path} ${data.args.join(" ")}` +
      (data.attempt > 1 ? ` · attempt ${data.attempt}` : "");
    document.getElementById("role").textContent = data.role || "";
    const stop = document.getElementById("stop");
    const live = data.status === "queued" || data.status === "training";
    stop.hidden = !live;
    if (live && data.stop_requested_at) { stop.disabled = true; stop.textContent = "Stopping…"; }
    showQueue(data.queue);
    document.getElementById("timeline").innerHTML = data.transitions.map((t) =>
      `<li><time>${TQ.clock(t.at)}</time>${TQ.badge(t.to)} ${TQ.esc(t.message || "")}` +
      `${t.attempt > 1 ? ` <span class="muted">attempt ${t.attempt}</span>` : ""}</li>`).join("");
    document.getElementById("attempts").innerHTML = data.attempts.map((a) => `<tr>
      <td>${a.number}</td><td>${TQ.esc(a.worker || "")}</td><td>${TQ.esc(a.gpus || "–")}</td>
      <td>${TQ.clock(a.started_at)}</td>
      <td data-from="${TQ.esc(a.started_at || "")}" data-to="${TQ.esc(a.finished_at || "")}"></td>
      <td>${a.exit_code ?? TQ.esc(a.exit_signal || "")}</td>
      <td>${TQ.esc(a.failure_class || "")}${a.counts_against_retries ? "" : " <span class=\"muted\">(free retry)</span>"}</td>
      </tr>`).join("");
    tickQueue();
    const failure = document.getElementById("failure");
    failure.hidden = !data.failure_message;
    failure.textContent = data.failure_message || "";
  }

  function showQueue(queue) {
    document.getElementById("queue").hidden = !queue;
    if (!queue) return;
    document.getElementById("q-position").textContent = queue.position ?? "–";
    document.getElementById("q-reason").textContent = queue.reason;
    document.getElementById("q-message").textContent = queue.message;
    tickQueue();
  }

  function tickQueue() {
    for (const cell of document.querySelectorAll("#attempts [data-from]")) {
      cell.textContent = TQ.duration(TQ.seconds(cell.dataset.from || null, cell.dataset.to || null));
    }
    if (!job || !job.queue) return;
    const eta = job.queue.eta_at ? (Date.parse(job.queue.eta_at) - TQ.now()) / 1000 : null;
    document.getElementById("q-eta").textContent = eta === null ? "unknown" : eta <= 0 ? "now" : "in " + TQ.duration(eta);
    document.getElementById("q-waited").textContent = TQ.duration(TQ.seconds(job.created_at));
  }

  function showDeliveries(data) {
    const counts = Object.entries(data.counts).map(([state, n]) => `${n} ${state}`).join(", ");
    document.getElementById("d-counts").textContent = data.total ? `${data.total}: ${counts}` : "none";
    document.getElementById("deliveries").innerHTML = data.items.map((d) => `<tr>
      <td>${d.id}</td><td>${TQ.esc(d.kind)}</td><td>${TQ.esc(d.summary)}</td><td>${TQ.badge(d.state)}</td>
      <td class="num">${d.attempts}</td>
      <td>${d.last_status_code ?? ""} ${TQ.esc((d.last_error || "").slice(0, 80))}</td>
      <td>${TQ.clock(d.created_at)}</td>
      <td>${d.state === "dead" ? `<button class="redeliver" data-id="${d.id}">Redeliver</button>` : ""}</td>
      </tr>`).join("");
  }

  document.getElementById("deliveries").addEventListener("click", async (event) => {
    const button = event.target.closest("button.redeliver");
    if (!button) return;
    button.disabled = true;
    const result = await TQ.post(`/api/v1/training/jobs/${encodeURIComponent(jobId)}/webhooks/${button.dataset.id}/redeliver`);
    TQ.notice(result.ok ? "" : `Redeliver refused: ${result.message}`, !result.ok);
    if (!result.ok) button.disabled = false;
  });

  document.getElementById("stop").addEventListener("click", async () => {
    const stop = document.getElementById("stop");
    stop.disabled = true;
    const result = await TQ.post(`/api/v1/training/jobs/${encodeURIComponent(jobId)}/stop`);
    if (result.ok) {
      stop.textContent = "Stopping…";
      TQ.notice("");
    } else {
      stop.disabled = false;
      TQ.notice(`Stop refused (${result.status}): ${result.message}`, true);
    }
  });

  TQ.live(root.dataset.stream, {
    state: showState, metrics: addMetrics, logs: addLogs, deliveries: showDeliveries,
  });
  setInterval(tickQueue, 1000);
})();
