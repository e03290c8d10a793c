// The live hall: draws the view the server sends and keeps it current over SSE.
// EventSource reconnects by itself; the page only shows whether it is connected.
"use strict";

const STATUS = { open: "办理中 open", paused: "暂停 paused", closed: "关闭 closed", unknown: "—" };

function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m + ":" + String(s).padStart(2, "0");
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function draw(view) {
  const windows = document.querySelector("#windows tbody");
  windows.replaceChildren();
  for (const w of view.windows) {
    const row = windows.insertRow();
    row.className = w.status;
    row.dataset.window = w.number;
    cell(row, w.number);
    cell(row, STATUS[w.status] + (w.pause_reason ? " (" + w.pause_reason + ")" : ""), "status");
    cell(row, w.clerk);
    cell(row, w.ticket ? w.ticket + " " + w.ticket_state : "", "ticket");
    cell(row, w.ticket ? minutes(w.served_for_s) : "");
    cell(row, w.waiting);
  }
  const services = document.querySelector("#services tbody");
  services.replaceChildren();
  for (const s of view.services) {
    const row = services.insertRow();
    row.dataset.service = s.code;
    cell(row, s.prefix + " " + s.name);
    cell(row, s.waiting, "waiting");
    cell(row, minutes(s.longest_wait_s));
    cell(row, minutes(s.estimated_wait_s));
    cell(row, s.open_windows);
  }
  const calls = document.getElementById("calls");
  calls.replaceChildren(...view.recent_calls.map((c) => {
    const li = document.createElement("li");
    li.textContent = c.label + " → " + c.window + "号窗口";
    return li;
  }));
  const events = document.getElementById("events");
  events.replaceChildren(...view.events.slice(0, 12).map((e) => {
    const li = document.createElement("li");
    li.textContent = e.at.slice(11, 19) + " " + e.device + " " + e.text;
    return li;
  }));
  const alerts = document.getElementById("alerts");
  alerts.replaceChildren(...view.alerts.map((a) => {
    const div = document.createElement("div");
    div.className = "alert " + a.kind;
    div.textContent = a.subject + ": " + a.message;
    return div;
  }));
}

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("/live/stream");
  source.addEventListener("hall", (event) => {
    status.textContent = "实时 live";
    status.className = "ok";
    draw(JSON.parse(event.data));
  });
  source.onerror = () => {
    status.textContent = "重新连接中… reconnecting";
    status.className = "lost";
    // A refused stream (the session ended) is not retried by the browser: log in again.
    if (source.readyState === EventSource.CLOSED) window.location.reload();
  };
}

draw(JSON.parse(document.getElementById("initial").textContent));
connect();
