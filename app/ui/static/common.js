/* trainq dashboard: shared helpers (live streams, API calls with the CSRF token, formatting). */
"use strict";
const TQ = (() => {
  let skewMs = 0;  // server clock minus this browser's, from each event's `now`

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* POST to the JSON API with the session cookie; answers {ok, status, message}. */
  async function post(url) {
    let response;
    try {
      response = await fetch(url, {method: "POST", credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf(), "Accept": "application/json"}});
    } catch (err) {
      return {ok: false, status: 0, message: "the server did not answer: " + err};
    }
    let body = null;
    try { body = await response.json(); } catch (err) { /* not JSON */ }
    return {ok: response.ok, status: response.status,
            message: (body && body.message) || response.statusText};
  }

  /* An EventSource that keeps going: the browser reconnects by itself with Last-Event-ID
     (the server ends each stream after a while and sends `retry:`); if the stream fails for
     good (a 401 once the session ended, a server restart), check the session and open it
     again from the last id. */
  function live(url, handlers) {
    let source = null, lastId = null, timer = null;
    const indicator = document.getElementById("live");
    function show(state, text) {
      if (!indicator) return;
      indicator.className = "live " + state;
      indicator.textContent = text;
    }
    function open() {
      const sep = url.includes("?") ? "&" : "?";
      source = new EventSource(lastId ? url + sep + "last_event_id=" + encodeURIComponent(lastId) : url);
      source.onopen = () => show("on", "live");
      source.onerror = () => {
        show("off", "reconnecting…");
        if (source.readyState === EventSource.CLOSED) { timer = setTimeout(recover, 2000); }
      };
      for (const [name, handle] of Object.entries(handlers)) {
        source.addEventListener(name, (event) => {
          if (event.lastEventId) lastId = event.lastEventId;
          const data = JSON.parse(event.data);
          if (data && typeof data.now === "string") setServerNow(data.now);
          handle(data);
        });
      }
      source.addEventListener("gone", (event) => {
        close();
        show("off", "ended");
        const data = JSON.parse(event.data);
        notice(data.message, true);
      });
    }
    async function recover() {
      try {
        const me = await fetch("/api/v1/me", {credentials: "same-origin"});
        if (me.status === 401) {
          location.href = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search);
          return;
        }
      } catch (err) { /* the server is down: try again */ }
      open();
    }
    function close() { clearTimeout(timer); if (source) source.close(); }
    open();
    return {
      close,
      reopen(newUrl) { close(); url = newUrl; lastId = null; open(); },
    };
  }

  function setServerNow(iso) {
    const at = Date.parse(iso);
    if (!Number.isNaN(at)) skewMs = at - Date.now();
  }
  function now() { return Date.now() + skewMs; }

  function seconds(fromIso, toIso) {
    if (!fromIso) return null;
    const end = toIso ? Date.parse(toIso) : now();
    return Math.max(0, (end - Date.parse(fromIso)) / 1000);
  }

  function duration(total) {
    if (total === null || total === undefined) return "";
    total = Math.round(total);
    const d = Math.floor(total / 86400), h = Math.floor(total % 86400 / 3600),
          m = Math.floor(total % 3600 / 60), s = total % 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
    return `${s}s`;
  }

  function clock(iso) {
    if (!iso) return "";
    const at = new Date(iso), today = new Date();
    const time = at.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
    if (at.toDateString() === today.toDateString()) return time;
    return at.toLocaleDateString([], {month: "short", day: "numeric"}) + " " + time;
  }

  function num(value, digits = 4) {
    if (value === null || value === undefined) return "";
    return Number(value).toFixed(digits);
  }

  function esc(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
      '"': "&quot;", "'": "&#39;"}[c]));
  }

  function badge(status) {
    return `<span class="status s-${esc(status)}">${esc(status)}</span>`;
  }

  function notice(text, bad) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.hidden = !text;
    box.textContent = text || "";
    box.classList.toggle("bad", !!bad);
  }

  return {post, live, now, seconds, duration, clock, num, esc, badge, notice};
})();
