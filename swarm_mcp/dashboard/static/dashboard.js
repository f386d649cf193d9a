// swarm-mcp dashboard: one server-sent event stream, no polling. The daemon sends a `snapshot`
// when the page connects (and again if the page fell behind), then `update`s with the swarms and
// tasks that changed, and `figures` every few seconds. Everything here only reads.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const state = { swarms: new Map(), tasks: new Map(), events: [], figures: null, drawn: new Map() };
let renderQueued = false;

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
function fmt(n) { return n === null || n === undefined ? "–" : typeof n === "number" ? n.toLocaleString() : String(n); }
function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"]; let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// -- the stream ------------------------------------------------------------------------------

function connect() {
  const status = document.getElementById("status");
  const stream = new EventSource("/dashboard/api/events");
  stream.addEventListener("open", () => { status.dataset.state = "live"; status.textContent = "live"; });
  stream.addEventListener("error", () => { status.dataset.state = "reconnecting"; status.textContent = "reconnecting…"; });
  stream.addEventListener("snapshot", (message) => {
    const data = JSON.parse(message.data);
    state.swarms = new Map(data.swarms.map((s) => [s.id, s]));
    state.tasks = new Map(data.tasks.map((t) => [t.id, t]));
    state.events = data.events.slice().reverse();
    state.figures = data.figures;
    status.dataset.state = "live"; status.textContent = "live";
    queueRender();
  });
  stream.addEventListener("update", (message) => {
    const data = JSON.parse(message.data);
    for (const [id, swarm] of Object.entries(data.swarms)) swarm ? state.swarms.set(id, swarm) : state.swarms.delete(id);
    for (const [id, task] of Object.entries(data.tasks)) task ? state.tasks.set(id, task) : state.tasks.delete(id);
    for (const task of state.tasks.values()) if (!state.swarms.has(task.swarm_id)) state.tasks.delete(task.id);
    state.events = data.events.slice().reverse().concat(state.events).slice(0, 100);
    queueRender();
  });
  stream.addEventListener("figures", (message) => { state.figures = JSON.parse(message.data); queueRender(); });
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function render() {
  renderSwarms();
  renderTasks();
  renderLearning();
  renderFigures();
  renderEvents();
}

// Re-draw a card only when its data changed.
function keep(container, id, data, draw) {
  const key = JSON.stringify(data);
  const old = state.drawn.get(id);
  if (old && old.key === key && old.node.isConnected) return old.node;
  const node = draw(data);
  if (old && old.node.isConnected) old.node.replaceWith(node); else container.append(node);
  state.drawn.set(id, { key, node });
  return node;
}

function sync(container, ids, emptyText) {
  for (const node of [...container.children]) {
    const id = node.dataset.swarmId || node.dataset.taskId;
    if (!id || !ids.has(id)) node.remove();
  }
  if (!ids.size) container.replaceChildren(el("p", { class: "empty", text: emptyText }));
  else for (const p of container.querySelectorAll("p.empty")) p.remove();
}

// -- swarms: the topology as a graph -----------------------------------------------------------

function layout(swarm, width) {
  const agents = swarm.agents, n = agents.length;
  const pos = new Map();
  if (swarm.topology === "hierarchical") {
    const coordinators = agents.filter((a) => a.type === "coordinator");
    const rows = [["queen"], coordinators.map((a) => a.id), agents.filter((a) => a.type !== "coordinator").map((a) => a.id)];
    const perRow = Math.max(1, Math.floor((width - 20) / 22));
    let y = 16;
    for (const row of rows) {
      for (let start = 0; start < Math.max(row.length, 1); start += perRow) {
        const part = row.slice(start, start + perRow);
        part.forEach((id, i) => pos.set(id, [(width * (i + 1)) / (part.length + 1), y]));
        if (part.length) y += 44;
      }
    }
    return { pos, height: y };
  }
  const radius = Math.max(50, Math.min(width / 2 - 20, 20 + n * 4));
  const cx = width / 2, cy = radius + 16;
  pos.set("queen", [cx, cy]);
  agents.forEach((a, i) => {
    const angle = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2;
    pos.set(a.id, [cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)]);
  });
  return { pos, height: 2 * radius + 44 };
}

function drawSwarm(swarm) {
  const width = 360;
  const { pos, height } = layout(swarm, width);
  const svg = el("svg:svg", { class: "graph", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${swarm.topology} topology of ${swarm.name}` });
  const edges = el("svg:g");
  for (const [a, b] of swarm.graph.edges || []) {
    const p = pos.get(a), q = pos.get(b);
    if (p && q) edges.append(el("svg:line", { class: "edge", x1: p[0], y1: p[1], x2: q[0], y2: q[1] }));
  }
  svg.append(edges);
  const [qx, qy] = pos.get("queen");
  svg.append(el("svg:circle", { class: "queen", cx: qx, cy: qy, r: 9 }, el("svg:title", { text: "the Queen (plans and routes)" })));
  const r = swarm.agents.length > 60 ? 4 : swarm.agents.length > 24 ? 6 : 8;
  for (const agent of swarm.agents) {
    const [x, y] = pos.get(agent.id);
    const node = el("svg:circle", { class: `agent state-${agent.state}`, cx: x, cy: y, r,
      "data-agent-id": agent.id, "data-state": agent.state },
      el("svg:title", { text: `${agent.name} (${agent.type}): ${agent.state}; queue ${agent.queue}, running ${agent.running}, ` +
        `done ${agent.done}, failed ${agent.failed}, restarts ${agent.restarts}` }));
    svg.append(node);
    if (swarm.agents.length <= 16) svg.append(el("svg:text", { class: "label", x, y: y + r + 10, "text-anchor": "middle", text: agent.name }));
  }
  const counts = {};
  for (const a of swarm.agents) counts[a.state] = (counts[a.state] || 0) + 1;
  const notes = [];
  if (!swarm.graph.edges) notes.push(`${fmt(swarm.graph.edge_count)} edges (every pair linked), not drawn`);
  if (swarm.agents_total > swarm.agents.length) notes.push(`${swarm.agents.length} of ${swarm.agents_total} agents drawn`);
  return el("article", { class: "card swarm", "data-swarm-id": swarm.id },
    el("h3", {}, el("span", { text: swarm.name }), el("span", { class: "badge", text: swarm.topology }),
      el("span", { class: `badge ${swarm.routing}`, text: `${swarm.routing} routing` })),
    el("div", { class: "meta", text: `${swarm.agents_total} agents (${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ") || "none"}) · ` +
      `${fmt(swarm.completed)} subtasks done, ${fmt(swarm.failed)} failed · ${swarm.strategy} strategy, ${swarm.executor} executor` }),
    svg,
    el("div", { class: "legend" }, ...["idle", "busy", "stopped"].map((s) => el("span", {}, el("i", { class: `dot-${s}` }), s)),
      notes.length ? el("span", { text: notes.join(" · ") }) : null));
}

function renderSwarms() {
  const container = document.getElementById("swarms");
  const swarms = [...state.swarms.values()];
  sync(container, new Set(swarms.map((s) => s.id)), "No swarm yet: swarm_init creates one.");
  for (const swarm of swarms) keep(container, `swarm:${swarm.id}`, swarm, drawSwarm);
}

// -- tasks: the plan as a DAG ------------------------------------------------------------------

function drawTask(task) {
  const byId = new Map(task.subtasks.map((s) => [s.id, s]));
  const depth = new Map();
  const depthOf = (s, seen = new Set()) => {
    if (depth.has(s.id)) return depth.get(s.id);
    if (seen.has(s.id)) return 0;
    seen.add(s.id);
    const d = Math.max(-1, ...s.depends_on.filter((d) => byId.has(d)).map((d) => depthOf(byId.get(d), seen))) + 1;
    depth.set(s.id, d);
    return d;
  };
  const levels = [];
  for (const s of task.subtasks) (levels[depthOf(s)] ||= []).push(s);
  // A level wider than MAX_ROWS wraps into several columns, so a flat plan stays a compact grid.
  const MAX_ROWS = 5, colWidth = 130, rowHeight = 30, nodeWidth = 118, nodeHeight = 22;
  const columns = levels.filter(Boolean).flatMap((level) =>
    Array.from({ length: Math.ceil(level.length / MAX_ROWS) }, (_, i) => level.slice(i * MAX_ROWS, (i + 1) * MAX_ROWS)));
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const width = Math.max(360, columns.length * colWidth + 10), height = tallest * rowHeight + 10;
  const pos = new Map();
  columns.forEach((column, c) => column.forEach((s, r) => pos.set(s.id, [6 + c * colWidth, 6 + r * rowHeight])));
  const svg = el("svg:svg", { class: "dag", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `plan of ${task.id}` },
    el("svg:defs", {}, el("svg:marker", { id: "arrow", viewBox: "0 0 6 6", refX: "6", refY: "3", markerWidth: "6",
      markerHeight: "6", orient: "auto" }, el("svg:path", { d: "M0,0 L6,3 L0,6 z", fill: "#aab2bd" }))));
  for (const s of task.subtasks) {
    const [x, y] = pos.get(s.id);
    for (const dep of s.depends_on) {
      const from = pos.get(dep);
      if (!from) continue;
      const x1 = from[0] + nodeWidth, y1 = from[1] + nodeHeight / 2, y2 = y + nodeHeight / 2;
      svg.append(el("svg:path", { class: "dep", d: `M${x1},${y1} C${x1 + 12},${y1} ${x - 12},${y2} ${x},${y2}` }));
    }
  }
  for (const s of task.subtasks) {
    const [x, y] = pos.get(s.id);
    svg.append(el("svg:g", { class: `node state-${s.state}`, "data-subtask-id": s.id, "data-state": s.state,
      transform: `translate(${x},${y})` },
      el("svg:title", { text: `${s.id} (${s.type}): ${s.state}${s.agent_id ? `, agent ${s.agent_id}` : ""}` +
        `${s.attempts ? `, attempt ${s.attempts}` : ""}\n${s.label}` }),
      el("svg:rect", { width: nodeWidth, height: nodeHeight, rx: 4 }),
      el("svg:text", { x: 6, y: 15, text: short(s.label || s.id, 20) })));
  }
  const bar = el("div", { class: "progress" }, el("div"));
  bar.firstChild.style.width = `${task.progress.total ? (100 * task.progress.finished) / task.progress.total : 0}%`;
  return el("article", { class: "card task", "data-task-id": task.id, "data-state": task.state },
    el("h3", {}, el("span", { text: short(task.description, 80) }), el("span", { class: "badge", text: task.state })),
    el("div", { class: "meta", text: `${task.id} · ${task.progress.finished}/${task.progress.total} subtasks finished` +
      (task.subtasks_total > task.subtasks.length ? ` · ${task.subtasks.length} drawn` : "") }),
    bar, svg);
}

function renderTasks() {
  const container = document.getElementById("tasks");
  const tasks = [...state.tasks.values()];
  const running = tasks.filter((t) => t.state === "running" || t.state === "pending").sort((a, b) => b.created - a.created);
  const finished = tasks.filter((t) => !(t.state === "running" || t.state === "pending"))
    .sort((a, b) => (b.finished_at || 0) - (a.finished_at || 0)).slice(0, 6);
  const shown = [...running, ...finished];
  sync(container, new Set(shown.map((t) => t.id)), "No task yet: task_orchestrate plans one.");
  for (const task of shown) container.append(keep(container, `task:${task.id}`, task, drawTask));
}

// -- learning curves ---------------------------------------------------------------------------

const charts = {};
const PALETTE = ["#2f7ff0", "#2e9e5b", "#d64545", "#b8860b", "#7b4fd6", "#0f9aa8", "#d6458f", "#5d6b7a", "#e07b00", "#4a8f2e"];

function chart(name, target, series, data, xLabel) {
  const box = document.getElementById(target);
  const key = JSON.stringify(series.map((s) => s.label + (s.dash ? "-" : "")));
  if (!window.uPlot) return;
  if (!data[0].length) {
    if (charts[name]) { charts[name].plot.destroy(); delete charts[name]; }
    box.replaceChildren(el("p", { class: "empty", text: "Nothing measured yet." }));
    return;
  }
  if (charts[name] && charts[name].key === key) { charts[name].plot.setData(data); return; }
  if (charts[name]) charts[name].plot.destroy();
  box.replaceChildren();
  const options = {
    width: Math.max(320, box.clientWidth - 4), height: 220,
    scales: { x: { time: false } },
    axes: [{ label: xLabel }, {}],
    series: [{ label: xLabel }, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
      dash: s.dash ? [6, 4] : undefined, spanGaps: true, points: { size: 4 } }))],
  };
  charts[name] = { key, plot: new uPlot(options, data, box) };
}

function aligned(curves) {
  const xs = [...new Set(curves.flatMap((c) => c.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = curves.map((c) => { const y = new Array(xs.length).fill(null); for (const [x, v] of c.points) y[index.get(x)] = v; return y; });
  return [xs, ...ys];
}

function renderLearning() {
  const swarms = [...state.swarms.values()];
  const success = swarms.filter((s) => s.learning.success_by_window.length);
  const window = swarms[0] ? swarms[0].learning.window : 20;
  document.getElementById("window-size").textContent = window;
  chart("success", "chart-success",
    success.map((s) => ({ label: `${s.name} (${s.routing})`, dash: s.routing === "round_robin" })),
    aligned(success.map((s) => ({ points: s.learning.success_by_window.map((rate, i) => [(i + 1) * s.learning.window, rate]) }))),
    "attempts");
  const losses = swarms.flatMap((s) => Object.entries(s.loss).map(([agent, points]) => {
    const a = s.agents.find((x) => x.id === agent);
    return { label: a ? `${a.name} (${s.name})` : agent, points };
  }));
  chart("loss", "chart-loss", losses.map((l) => ({ label: l.label })), aligned(losses), "experiences");
}

// -- figures and events --------------------------------------------------------------------------

function dl(title, rows) {
  const list = el("dl");
  for (const [k, v] of rows) list.append(el("dt", { text: k }), el("dd", { text: v }));
  return el("div", { class: "card" }, el("h3", { text: title }), list);
}

function renderFigures() {
  const f = state.figures;
  if (!f) return;
  document.getElementById("daemon").textContent =
    `v${f.daemon.version} · pid ${f.daemon.pid} · up ${Math.round(f.daemon.uptime_s)} s`;
  const m = f.memory, n = f.neural, e = f.engine;
  const brains = n.brains;
  document.getElementById("figures").replaceChildren(
    dl("Swarm engine", [["swarms", fmt(e.swarms)], ["live agents", fmt(e.agents)], ["tasks kept", fmt(e.tasks)],
      ["open subtasks", fmt(e.open_subtasks)], ["subtasks completed", fmt(e.counters.subtask_completed || 0)],
      ["agent restarts", fmt(e.counters.supervisor_restarted || 0)], ["leases expired", fmt(e.counters.lease_expired || 0)]]),
    dl("Memory", [["entries", fmt(m.entries)], ["value bytes", bytes(m.bytes)], ["namespaces", fmt(m.namespaces)],
      ["pending writes", fmt(m.pending_writes)], ["quota used", `${bytes(m.quota.used_bytes)} of ${bytes(m.quota.max_bytes)}`],
      ["hot entries", fmt(m.hot_entries)], ["flushes", fmt(m.flushes)], ["database", `${bytes(m.db_bytes)} + ${bytes(m.wal_bytes)} WAL`],
      ["write error", m.flush_error || "none"]]),
    dl("Neural runtime", [["JAX loaded", n.jax_loaded ? "yes" : "no (on first use)"], ["workers busy", `${n.workers_busy} of ${n.workers}`],
      ["compute seconds", fmt(Math.round(n.compute_seconds * 10) / 10)], ["networks", fmt(n.networks_known)],
      ["brain populations", brains ? fmt(brains.populations.length) : "learning off"],
      ["brain training rounds", brains ? fmt(brains.training_rounds) : "–"],
      ["brain train seconds", brains ? fmt(brains.train_seconds) : "–"]]),
    dl("MCP connections", Object.entries(f.daemon.transports).map(([name, t]) => [name, `${t.open_connections} open, ${t.total_connections} total`])
      .concat([["event feed watchers", fmt(f.daemon.feed_subscribers)]])));
}

function renderEvents() {
  const list = document.getElementById("events");
  list.replaceChildren(...state.events.slice(0, 100).map((e) => el("li", { class: `level-${e.level}`, "data-kind": e.kind },
    el("time", { text: new Date(e.time * 1000).toLocaleTimeString() }), el("span", { class: "level", text: e.level }),
    el("span", { text: e.message }))));
}

connect();
