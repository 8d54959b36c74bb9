// The task graph's front end: keeps the nodes and edges the kernel sent, lays them out in
// columns (a task's column is the length of the dependency chain before it) and draws them as
// SVG.  The kernel sends only what changed ("delta"); a state change recolours one box in
// place, new nodes or edges trigger a re-layout at the next animation frame.

const SVG = "http://www.w3.org/2000/svg";
const STATES = ["waiting", "queued", "running", "finished", "failed", "cancelled"];
const NODE_W = 150, NODE_H = 30, GAP_X = 44, GAP_Y = 10, ROWS = 12, PAD = 12;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

function shorten(text, max) {
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

function render({ model, el }) {
  const nodes = new Map();  // id -> node data from the kernel
  let edges = [];
  const drawn = new Map();  // id -> <g> of a drawn node
  let layoutPending = false;

  const root = document.createElement("div");
  root.className = "rl-graph";
  const header = document.createElement("div");
  header.className = "rl-graph-header";
  const legend = document.createElement("div");
  legend.className = "rl-graph-legend";
  const note = document.createElement("span");
  note.className = "rl-graph-note";
  header.append(legend, note);
  const scroller = document.createElement("div");
  scroller.className = "rl-graph-scroll";
  const canvas = svg("svg", { class: "rl-graph-svg" });
  const defs = svg("defs");
  const marker = svg("marker", { id: "rl-arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "rl-arrow-head" }));
  defs.append(marker);
  const edgeLayer = svg("g", { class: "rl-edges" });
  const nodeLayer = svg("g", { class: "rl-nodes" });
  canvas.append(defs, edgeLayer, nodeLayer);
  scroller.append(canvas);
  const empty = document.createElement("div");
  empty.className = "rl-graph-empty";
  empty.textContent = "No tasks yet: submit some with f.remote() and they appear here.";
  root.append(header, empty, scroller);
  el.append(root);

  function drawLegend() {
    const summary = model.get("summary") || {};
    const counts = summary.counts || {};
    legend.replaceChildren();
    for (const state of STATES) {
      const item = document.createElement("span");
      item.className = `rl-legend-item rl-s-${state}`;
      item.dataset.state = state;
      item.innerHTML = `<i></i>${state} <b>${counts[state] || 0}</b>`;
      legend.append(item);
    }
    const parts = [];
    if (summary.grouped) parts.push(`${summary.total} tasks, grouped by function`);
    if (summary.connected === false) parts.push("no local cluster running");
    note.textContent = parts.join(" · ");
    root.classList.toggle("rl-grouped", !!summary.grouped);
  }

  function layout() {
    layoutPending = false;
    // Columns wrap every ROWS rows into sub-columns, so a wide fan-out stays on screen.
    const widths = new Map();
    for (const node of nodes.values()) {
      const { col, row } = node;
      widths.set(col, Math.max(widths.get(col) || 1, Math.floor(row / ROWS) + 1));
    }
    const columns = [...widths.keys()].sort((a, b) => a - b);
    const x0 = new Map();
    let x = PAD;
    for (const col of columns) {
      x0.set(col, x);
      x += widths.get(col) * (NODE_W + GAP_X);
    }
    const place = new Map();
    let maxY = 0;
    for (const node of nodes.values()) {
      const { col, row } = node;
      const px = x0.get(col) + Math.floor(row / ROWS) * (NODE_W + GAP_X);
      const py = PAD + (row % ROWS) * (NODE_H + GAP_Y);
      place.set(node.id, [px, py]);
      maxY = Math.max(maxY, py + NODE_H);
    }
    canvas.setAttribute("width", Math.max(x, 200));
    canvas.setAttribute("height", maxY + PAD);

    edgeLayer.replaceChildren();
    for (const [from, to, kind] of edges) {
      const a = place.get(from), b = place.get(to);
      if (!a || !b) continue;
      const x1 = a[0] + NODE_W, y1 = a[1] + NODE_H / 2, x2 = b[0], y2 = b[1] + NODE_H / 2;
      const bend = Math.max(20, Math.abs(x2 - x1) / 2);
      const d = x2 > x1
        ? `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`
        : `M ${a[0] + NODE_W / 2} ${a[1] + NODE_H} L ${b[0] + NODE_W / 2} ${b[1]}`;
      edgeLayer.append(svg("path", { d, class: `rl-edge rl-edge-${kind}`,
        "marker-end": "url(#rl-arrow)", "data-from": from, "data-to": to }));
    }
    for (const node of nodes.values()) {
      let g = drawn.get(node.id);
      if (!g) {
        g = svg("g", { class: "rl-node" });
        g.dataset.id = node.id;
        g.addEventListener("click", () => select(node.id));
        drawn.set(node.id, g);
        nodeLayer.append(g);
      }
      const [px, py] = place.get(node.id);
      g.setAttribute("transform", `translate(${px},${py})`);
      paint(g, node);
    }
    for (const [id, g] of drawn) {
      if (!nodes.has(id)) { g.remove(); drawn.delete(id); }
    }
    empty.style.display = nodes.size ? "none" : "";
    highlight();
  }

  function paint(g, node) {
    g.dataset.state = node.state;
    g.dataset.kind = node.kind;
    g.dataset.label = node.label;
    g.setAttribute("class", `rl-node rl-k-${node.kind} rl-s-${node.state}`);
    g.replaceChildren();
    const title = svg("title");
    g.append(svg("rect", { width: NODE_W, height: NODE_H, rx: node.kind === "actor" ? 14 : 4 }));
    if (node.kind === "group") {
      const total = node.total || 1;
      let x = 0;
      for (const state of STATES) {
        const n = (node.counts || {})[state] || 0;
        if (!n) continue;
        const w = (NODE_W * n) / total;
        g.append(svg("rect", { x, y: NODE_H - 6, width: w, height: 6, class: `rl-bar rl-s-${state}` }));
        x += w;
      }
      const label = svg("text", { x: 8, y: 16 });
      label.textContent = `${shorten(node.label, 15)} ×${node.total}`;
      g.append(label);
      title.textContent = `${node.label}: ` + STATES.map((s) => `${(node.counts || {})[s] || 0} ${s}`).join(", ");
    } else {
      const label = svg("text", { x: 8, y: 19 });
      label.textContent = shorten(node.label, 20);
      g.append(label);
      title.textContent = `${node.label} (${node.state}) · click to inspect`;
    }
    g.append(title);
  }

  function select(id) {
    model.set("selected", id);
    model.save_changes();
    model.send({ type: "select", id });
  }

  function highlight() {
    const selected = model.get("selected");
    for (const [id, g] of drawn) g.classList.toggle("rl-selected", id === selected);
  }

  function scheduleLayout() {
    if (layoutPending) return;
    layoutPending = true;
    requestAnimationFrame(layout);
  }

  function onMessage(msg) {
    if (msg.type === "reset") {
      nodes.clear();
      edges = [];
    } else if (msg.type !== "delta") {
      return;
    }
    let structural = msg.type === "reset" || (msg.edges && msg.edges.length > 0);
    for (const node of msg.nodes || []) {
      const old = nodes.get(node.id);
      nodes.set(node.id, node);
      const g = drawn.get(node.id);
      if (!old || !g || old.col !== node.col || old.row !== node.row) structural = true;
      else paint(g, node);  // only its state changed: recolour in place
    }
    if (msg.edges) edges = edges.concat(msg.edges);
    if (structural) scheduleLayout();
  }

  model.on("msg:custom", onMessage);
  model.on("change:summary", drawLegend);
  model.on("change:selected", highlight);
  drawLegend();
  model.send({ type: "hello" });  // ask for everything drawn so far
  return () => {
    model.send({ type: "bye" });  // this view is gone: the kernel may stop updating it
    model.off("msg:custom", onMessage);
    model.off("change:summary", drawLegend);
    model.off("change:selected", highlight);
  };
}

export default { render };
