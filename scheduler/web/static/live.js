// The live hall: draws the view the server sends and keeps it current over SSE.
// EventSource reconnects by itself; the page only shows whether it is connected.
"use strict";

const STATUS = { open: "办理中", paused: "暂停", closed: "未开放", unknown: "—" };
const PAUSE = { break: "休息", meeting: "会议", training: "培训", other: "其他" };
const TICKET = { called: "呼叫中", serving: "办理中" };

// Durations as people read them in a hall: 3分05秒, or 1小时12分.
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (h) return h + "小时" + String(m).padStart(2, "0") + "分";
  return m + "分" + String(s).padStart(2, "0") + "秒";
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
    figure("正在等候", String(waiting) + " 人"),
    figure("开放窗口", open + " / " + view.windows.length),
    figure("今日取号", String(today.issued ?? "—")),
    figure("已办结", String(today.served ?? "—")),
    figure("平均等候", duration(today.mean_wait_s)),
    figure("今日满意度", satisfaction, today.rated ? "已评价 " + today.rated + " 笔" : ""),
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
    row.append(bar, el("span", "queue-count waiting", (s.waiting ?? "—") + " 人"));
    row.append(el("span", "queue-wait", "最长 " + duration(s.longest_wait_s) +
      " · 预计 " + duration(s.estimated_wait_s) + " · 窗口 " + (s.open_windows ?? "—")));
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
    cell(row, w.number + "号");
    cell(row, STATUS[w.status] + (w.pause_reason ? "（" + (PAUSE[w.pause_reason] || w.pause_reason) + "）" : ""), "status");
    cell(row, w.clerk);
    cell(row, w.ticket ? w.ticket + " " + (TICKET[w.ticket_state] || "") : "", "ticket");
    cell(row, w.ticket ? duration(w.served_for_s) : "");
    cell(row, w.waiting);
  }
  const calls = document.getElementById("calls");
  calls.replaceChildren(...view.recent_calls.map((c) => el("li", "", c.label + " → " + c.window + "号窗口")));
  const events = document.getElementById("events");
  events.replaceChildren(...view.events.slice(0, 12).map((e) => {
    const li = el("li", e.kind === "rating" ? "rating" : "");
    li.append(el("time", "", e.at.slice(11, 19)), document.createTextNode(" " + (e.sentence || e.text)));
    return li;
  }));
  const alerts = document.getElementById("alerts");
  alerts.replaceChildren(...view.alerts.map((a) => el("div", "alert " + a.kind, a.subject + "：" + a.message)));
}

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("/live/stream");
  source.addEventListener("hall", (event) => {
    status.textContent = "实时";
    status.className = "ok";
    draw(JSON.parse(event.data));
  });
  source.onerror = () => {
    status.textContent = "重新连接中…";
    status.className = "lost";
    // A refused stream (the session ended) is not retried by the browser: log in again.
    if (source.readyState === EventSource.CLOSED) window.location.reload();
  };
}

draw(JSON.parse(document.getElementById("initial").textContent));
connect();
