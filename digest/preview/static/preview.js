// digest preview page: shows the last build, follows new builds over server-sent events.
// window.digestPreview counts what happened (tests and curious editors can read it):
//   refreshes: frame refreshes caused by new builds; frameLoads: every load of the email frame.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const saved = (() => { try { return JSON.parse(sessionStorage.getItem("digest-preview") || "{}"); } catch (e) { return {}; } })();
  const view = { width: saved.width || "desktop", scheme: saved.scheme || "light", format: saved.format || "html", reader: null };
  // goodVersion: the last build that succeeded; the frame shows it, so a failed build leaves the email in place
  const stats = window.digestPreview = { version: -1, goodVersion: -1, refreshes: 0, frameLoads: 0, events: 0, state: null };
  let target = -1;       // highest build version announced by the server
  let busy = false;      // a state fetch is in flight
  const frame = $("email-frame");

  function remember() {
    try { sessionStorage.setItem("digest-preview", JSON.stringify({ width: view.width, scheme: view.scheme, format: view.format })); } catch (e) { /* private mode */ }
  }

  function text(el, value) { el.textContent = value == null ? "" : String(value); }

  function frameSrc() {
    const q = `r=${view.reader || 0}&scheme=${view.scheme}&v=${stats.goodVersion}`;
    return view.format === "text" ? `/text.html?${q}` : `/email.html?${q}`;
  }

  function showFrame() {
    const stage = $("stage");
    stage.className = `stage ${view.width} ${view.scheme}`;
    for (const b of document.querySelectorAll("button[data-set]")) {
      b.setAttribute("aria-pressed", String(view[b.dataset.set] === b.dataset.value));
    }
    const src = frameSrc();
    if (frame.getAttribute("src") !== src) frame.setAttribute("src", src);
    else requestAnimationFrame(() => fitHeight(false));
  }

  // The frame is as tall as the email (the page scrolls, not the frame), also after a width change
  // or late-loading images.
  function fitHeight(grow) {
    try {
      const doc = frame.contentDocument;
      if (!doc || !doc.documentElement) return;
      if (!grow) frame.style.height = "200px";  // measure from small, so the frame can also shrink
      const h = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
      frame.style.height = `${Math.max(200, h)}px`;
    } catch (e) { /* not same origin: keep the default height */ }
  }
  let observer = null;

  frame.addEventListener("load", () => {
    stats.frameLoads += 1;
    fitHeight(false);
    try {
      if (observer) observer.disconnect();
      // only ever grows here: shrinking from an observer could loop with emails sized to the viewport
      observer = new ResizeObserver(() => requestAnimationFrame(() => fitHeight(true)));
      if (frame.contentDocument && frame.contentDocument.body) observer.observe(frame.contentDocument.body);
    } catch (e) { observer = null; }
    document.body.dataset.frameLoads = String(stats.frameLoads);
  });

  function renderFindings(s) {
    const shown = s.findings.filter((f) => f.level !== "info");
    const n = list($("findings"), shown, (li, f) => {
      li.textContent = `${f.check ? `${f.check}: ` : ""}${f.message}`;
      li.className = f.level;
    });
    const infos = s.findings.length - shown.length;
    text($("findings-note"), s.checking ? "running the slower checks…"
      : (infos ? `${infos} more finding(s) are information only (digest check shows them).` : ""));
    $("findings-box").hidden = !n && !s.checking && !infos;
  }

  function showStatus(s) {
    const status = $("status");
    status.className = s.error ? "status bad" : "status";
    text(status, s.error ? "build failed" : `built in ${s.seconds.toFixed(2)} s · build ${s.version}`);
  }

  function list(el, items, render) {
    el.replaceChildren(...items.map((item) => { const li = document.createElement("li"); render(li, item); return li; }));
    return items.length;
  }

  function render(s) {
    stats.state = s;
    text($("subject"), s.subject || "(no subject)");
    text($("preheader"), s.preheader || "");
    text($("from"), s.from_name || s.from_email || "");
    text($("avatar"), (s.from_name || "D").trim().charAt(0).toUpperCase());
    text($("when"), s.finished ? new Date(s.finished * 1000).toLocaleTimeString() : "");
    document.title = `${s.subject || "digest"} – preview`;

    const sel = $("reader");
    const labels = s.readers.map((r) => r.label).join("\n");
    if (sel.dataset.labels !== labels) {
      sel.replaceChildren(...s.readers.map((r, i) => new Option(r.label === r.email ? r.email : `${r.label} <${r.email}>`, String(i))));
      sel.dataset.labels = labels;
    }
    sel.value = String(s.reader);
    view.reader = s.reader;

    const err = s.error;
    $("error").hidden = !err;
    if (err) {
      text($("error-where"), err.file ? `in ${err.file}${err.line ? ` line ${err.line}` : ""}` : "");
      text($("error-message"), err.message);
    }
    showStatus(s);

    text($("article-count"), `(${s.articles.length})`);
    list($("articles"), s.articles, (li, a) => {
      const title = document.createElement(a.url ? "a" : "span");
      title.className = "title"; title.textContent = a.title || "(untitled)";
      if (a.url) { title.href = a.url; title.target = "_blank"; title.rel = "noopener noreferrer"; }
      const meta = document.createElement("div"); meta.className = "meta";
      meta.textContent = [a.words != null ? `${a.words} words` : null, a.section].filter(Boolean).join(" · ");
      const teaser = document.createElement("p"); teaser.className = "teaser"; teaser.textContent = a.teaser;
      li.append(title, meta, teaser);
      if (a.warnings.length) {
        const ul = document.createElement("ul"); ul.className = "warn";
        list(ul, a.warnings, (w, msg) => { w.textContent = `⚠ ${msg}`; });
        li.append(ul);
      }
    });
    $("warnings-box").hidden = !list($("warnings"), s.warnings, (li, w) => { li.textContent = w; });
    renderFindings(s);
    $("problems-box").hidden = !list($("problems"), s.problems, (li, p) => { li.textContent = p; });
    stats.version = s.version;
    if (!s.error) stats.goodVersion = s.version;  // a failed build does not reload the last good email
    document.body.dataset.version = String(s.version);
    showFrame();
  }

  async function load() {
    const r = view.reader == null ? "" : `?r=${view.reader}`;
    const res = await fetch(`/api/state${r}`, { cache: "no-store" });
    if (!res.ok) throw new Error(`state: HTTP ${res.status}`);
    render(await res.json());
  }

  // One refresh per new build version, however many events announce it.
  async function follow() {
    if (busy) return;
    busy = true;
    try {
      while (target > stats.version) {
        await load();
        stats.refreshes += 1;
        document.body.dataset.refreshes = String(stats.refreshes);
      }
    } catch (e) {
      text($("status"), `preview server unreachable (${e.message})`);
    } finally { busy = false; }
  }

  async function checked(ev) {
    stats.events += 1;
    const v = JSON.parse(ev.data).version;
    if (v !== stats.version || busy) return;  // a newer build is on its way and brings its own findings
    try {
      const r = view.reader == null ? "" : `?r=${view.reader}`;
      const s = await (await fetch(`/api/state${r}`, { cache: "no-store" })).json();
      if (s.version === stats.version) { stats.state = s; renderFindings(s); }
    } catch (e) { /* the next event retries */ }
  }

  function announce(ev) {
    stats.events += 1;
    const v = JSON.parse(ev.data).version;
    if (v > target) target = v;
    if (v <= stats.version && stats.state) showStatus(stats.state);  // reconnected, nothing new
    if (stats.version >= 0) follow();
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-set]");
    if (!b) return;
    view[b.dataset.set] = b.dataset.value;
    remember();
    showFrame();
  });
  $("reader").addEventListener("change", (ev) => {
    view.reader = Number(ev.target.value);
    load().catch((e) => text($("status"), e.message));
  });

  load().then(() => {
    const es = new EventSource("/events");
    es.addEventListener("hello", announce);
    es.addEventListener("build", announce);
    es.addEventListener("check", checked);
    es.onerror = () => text($("status"), "reconnecting to the preview server…");
  }).catch((e) => text($("status"), `cannot load the preview: ${e.message}`));
})();
