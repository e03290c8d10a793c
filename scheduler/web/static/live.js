// The live hall: draws the view the server sends and keeps it current over SSE.
// EventSource reconnects by itself; the page only shows whether it is connected.
"use strict";

// The page's words in the reader's language: the server hands over exactly the ids this
// script asks t() for (English, as in the catalogs), translated.
const WORDS = JSON.parse(document.getElementById("words").textContent);
function t(id, values) {
  const text = WORDS[id] ?? id;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
}

const STATUS = { open: t("Open"), paused: t("Paused"), closed: t("Not open"), unknown: "—" };
const PAUSE = { break: t("Break"), meeting: t("Meeting"), training: t("Training"), other: t("Other") };
const TICKET = { called: t("Calling"), serving: t("Serving") };

// Durations as people read them in a hall: 3分05秒, or 1小时12分.
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (h) return t("{hours} h {minutes} min", { hours: h, minutes: String(m).padStart(2, "0") });
  return t("{minutes} min {seconds} s", { minutes: m, seconds: String(s).padStart(2, "0") });
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function figure(label, value, note) {
  const box = el("div", "figure");
  box.append(el("div", "figure-value", value), el("div", "figure-label", label));
  if (note) box.append(el("div", "figure-note", note));
  return box;
}

function drawFigures(view) {
  const today = view.today || {};
  const waiting = view.services.reduce((n, s) => n + (s.waiting || 0), 0);
  const open = view.windows.filter((w) => w.status === "open").length;
  const satisfaction = today.satisfaction === null || today.satisfaction === undefined
    ? "—" : Math.round(today.satisfaction * 100) + "%";
  document.getElementById("figures").replaceChildren(
    figure(t("Waiting now"), t("{count} waiting", { count: waiting })),
    figure(t("Open windows"), open + " / " + view.windows.length),
    figure(t("Issued today"), String(today.issued ?? "—")),
    figure(t("Served today"), String(today.served ?? "—")),
    figure(t("Mean wait"), duration(today.mean_wait_s)),
    figure(t("Satisfaction today"), satisfaction, today.rated ? t("{count} rated", { count: today.rated }) : ""),
  );
}

function drawQueues(view) {
  const most = Math.max(1, ...view.services.map((s) => s.waiting || 0));
  document.getElementById("queues").replaceChildren(...view.services.map((s) => {
    const row = el("div", "queue" + (s.unavailable ? " closed" : ""));
    row.dataset.service = s.code;
    row.append(el("span", "queue-letter", s.prefix), el("span", "queue-name", s.name));
    const bar = el("span", "queue-bar");
    const fill = el("span", "queue-fill");
    fill.style.width = Math.round(100 * (s.waiting || 0) / most) + "%";
    bar.append(fill);
    row.append(bar, el("span", "queue-count waiting", t("{count} waiting", { count: s.waiting ?? "—" })));
    row.append(el("span", "queue-wait", t("longest {longest} · expected {expected} · windows {windows}", {
      longest: duration(s.longest_wait_s),
      expected: duration(s.estimated_wait_s),
      windows: s.open_windows ?? "—",
    })));
    return row;
  }));
}

function draw(view) {
  drawFigures(view);
  drawQueues(view);
  const windows = document.querySelector("#windows tbody");
  windows.replaceChildren();
  for (const w of view.windows) {
    const row = windows.insertRow();
    row.className = w.status;
    row.dataset.window = w.number;
    cell(row, t("Window {number}", { number: w.number }));
    cell(row, STATUS[w.status] + (w.pause_reason ? " (" + (PAUSE[w.pause_reason] || w.pause_reason) + ")" : ""), "status");
    cell(row, w.clerk);
    cell(row, w.ticket ? w.ticket + " " + (TICKET[w.ticket_state] || "") : "", "ticket");
    cell(row, w.ticket ? duration(w.served_for_s) : "");
    cell(row, w.waiting);
  }
  const calls = document.getElementById("calls");
  calls.replaceChildren(...view.recent_calls.map((c) => el("li", "", c.label + " → " + t("Window {number}", { number: c.window }))));
  const events = document.getElementById("events");
  events.replaceChildren(...view.events.slice(0, 12).map((e) => {
    const li = el("li", e.kind === "rating" ? "rating" : "");
    li.append(el("time", "", e.at.slice(11, 19)), document.createTextNode(" " + (e.sentence || e.text)));
    return li;
  }));
  const alerts = document.getElementById("alerts");
  alerts.replaceChildren(...view.alerts.map((a) => el("div", "alert " + a.kind, t("{subject}: {message}", { subject: a.about, message: a.message }))));
}

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("/live/stream");
  source.addEventListener("hall", (event) => {
    status.textContent = t("Live");
    status.className = "ok";
    draw(JSON.parse(event.data));
  });
  source.onerror = () => {
    status.textContent = t("Reconnecting…");
    status.className = "lost";
    // A refused stream (the session ended) is not retried by the browser: log in again.
    if (source.readyState === EventSource.CLOSED) window.location.reload();
  };
}

draw(JSON.parse(document.getElementById("initial").textContent));
connect();
