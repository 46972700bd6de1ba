"""The objective explorer: one self-contained HTML page per inspected run (RUN/inspect/index.html).

    write_page(path, page_data(records, report, ...))

The page holds its data as JSON inside a <script type="application/json"> tag and draws it with
inline SVG and a little JavaScript: no network, no CDN, no server; it opens from disk in any
browser. It shows, per evaluated episode, a timeline of the learned value and the compared hand
value (on true and on decoded features) with the action each objective's search picks and the
steps where they disagree; at any step of the episodes whose trees were kept, that step's search
tree (visits, prior, Q, reward and the objective's leaf value per node; the most visited line
highlighted; click a node to fold its subtree); the states ranked by how much the two objectives
disagree; and the report's numbers at the top.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import jax
import numpy as np

from search.render import expanded_nodes, principal_path, tree_layout


def _round(values, digits: int = 4) -> list:
    """Floats rounded to `digits` significant digits (keeps the page small), NaN -> None."""
    out = []
    for v in np.asarray(values, dtype=np.float64).ravel().tolist():
        out.append(None if not np.isfinite(v) else float(f"{v:.{digits}g}"))
    return out


def tree_data(tree, max_nodes: int | None = 64) -> dict:
    """One search tree (mctx.Tree fields as numpy, no batch axis) -> the page's drawing data.

    nodes: [{id, parent, action, x, depth, N, V, leaf, prior, Q, r}] (leaf: the objective's value
    when the node was expanded; prior, Q and r belong to the edge from the parent), root first;
    path: the ids of the most visited line from the root.
    """
    drawn = set(expanded_nodes(tree, max_nodes))
    num_actions = tree.children_index.shape[-1]
    children, edge = {}, {}
    for i in sorted(drawn):
        children[i] = []
        for a in range(num_actions):
            child = int(tree.children_index[i, a])
            if child in drawn:
                children[i].append(child)
                edge[child] = (i, a)
    position = tree_layout(children)
    nodes = []
    for i in sorted(position, key=lambda n: (position[n][1], position[n][0])):
        x, depth = position[i]
        node = {"id": i, "parent": None, "action": None, "x": x, "depth": depth,
                "N": int(tree.node_visits[i]), "V": _round([tree.node_values[i]])[0],
                "leaf": _round([tree.raw_values[i]])[0], "prior": None, "Q": None, "r": None}
        if i in edge:
            parent, a = edge[i]
            logits = tree.children_prior_logits[parent]
            prior = np.exp(logits - logits.max())
            node.update(parent=parent, action=a, prior=_round([prior[a] / prior.sum()], 3)[0],
                        Q=_round([tree.children_rewards[parent, a]
                                  + tree.children_discounts[parent, a] * tree.children_values[parent, a]])[0],
                        r=_round([tree.children_rewards[parent, a]])[0])
        nodes.append(node)
    path = [n for n in principal_path(tree) if n in position]
    return {"nodes": nodes, "path": path}


def disagreement_ranking(records: dict, top: int = 30) -> list[dict]:
    """The states where the learned value and the hand value (true features) disagree most.

    The two values live on different scales (a discounted return vs a hand score), so each is
    standardised over all visited states first; a state's score is |z(learned) - z(hand)|.
    Returns [{episode, step, score, learned, hand, own_action, hand_action}], highest first.
    """
    alive = records["alive"].astype(bool)
    learned, hand = records["learned_value"], records["hand_value_true"]

    def z(values):
        live = values[alive]
        spread = live.std()
        return (values - live.mean()) / (spread if spread > 0 else 1.0)

    score = np.where(alive, np.abs(z(learned) - z(hand)), -np.inf)
    order = np.argsort(-score, axis=None)[:min(top, int(alive.sum()))]
    ranked = []
    for flat in order:
        step, episode = np.unravel_index(flat, score.shape)
        ranked.append({"episode": int(episode), "step": int(step), "score": _round([score[step, episode]], 3)[0],
                       "learned": _round([learned[step, episode]])[0], "hand": _round([hand[step, episode]])[0],
                       "own_action": int(records["own_action"][step, episode]),
                       "hand_action": int(records["hand_action"][step, episode])})
    return ranked


def page_data(records: dict, report: dict, *, hand_name: str, action_names: tuple[str, ...],
              trees=None, tree_episodes: int = 0, value_maps: list[dict] | None = None) -> dict:
    """Everything the page shows, as JSON-ready Python.

    records: collect_trajectories' arrays [T, episodes, ...]; trees: an mctx.Tree of numpy arrays
    [T, tree_episodes, ...] (the searches of the first `tree_episodes` episodes) or None.
    value_maps: [{title, x_label, y_label, x, y, panels: [{name, values [len(y)][len(x)]}], marks}].
    """
    alive = records["alive"].astype(bool)
    episodes = []
    for e in range(alive.shape[1]):
        length = int(alive[:, e].sum())
        own, other = records["own_action"][:length, e], records["hand_action"][:length, e]
        episodes.append({
            "length": length,
            "learned": _round(records["learned_value"][:length, e]),
            "hand_true": _round(records["hand_value_true"][:length, e]),
            "hand_decoded": _round(records["hand_value_decoded"][:length, e]),
            "own_action": own.astype(int).tolist(),
            "hand_action": other.astype(int).tolist(),
            "disagree": np.flatnonzero(own != other).astype(int).tolist(),
        })
    tree_pages = {}
    if trees is not None:
        for e in range(min(tree_episodes, alive.shape[1])):
            for t in range(episodes[e]["length"]):
                one = jax.tree.map(lambda x, t=t, e=e: np.asarray(x[t, e]), trees)
                tree_pages[f"{e}:{t}"] = tree_data(one)
    return {"report": report, "hand_name": hand_name, "action_names": list(action_names),
            "episodes": episodes, "trees": tree_pages, "tree_episodes": min(tree_episodes, alive.shape[1]),
            "ranked": disagreement_ranking(records), "value_maps": value_maps or []}


def write_page(path: str | Path, data: dict, title: str) -> Path:
    """Writes the self-contained page; returns its path."""
    # "</" inside a <script> would end it early: JSON allows escaping the slash.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    text = (_TEMPLATE.replace("__TITLE__", html.escape(title)).replace("__DATA__", payload))
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path


def read_page_data(path: str | Path) -> dict:
    """The JSON a page embeds (for tests and for tools that post-process a page)."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index('<script id="data" type="application/json">') + len('<script id="data" type="application/json">')
    return json.loads(text[start:text.index("</script>", start)].replace("<\\/", "</"))


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin-top: 1.4em; }
table.numbers td { padding: 1px 10px 1px 0; } table.numbers td:first-child { color: #555; }
.episodes button { margin: 0 3px 3px 0; } .episodes button.on { background: #2c5aa0; color: white; }
svg text { font: 10px system-ui, sans-serif; }
#ranked a { cursor: pointer; color: #2c5aa0; } #ranked td { padding: 0 8px; }
.note { color: #666; font-size: 12px; }
#tree-box { overflow: auto; border: 1px solid #ddd; max-height: 640px; }
.maps { display: flex; flex-wrap: wrap; gap: 12px; }
</style></head><body>
<h1>__TITLE__</h1>
<table class="numbers" id="numbers"></table>
<h2>Episodes</h2>
<div class="episodes" id="episodes"></div>
<div class="note">Click the timeline to pick a step. Red ticks: steps where the two objectives' searches pick
different actions.</div>
<svg id="timeline" width="1150" height="300"></svg>
<h2 id="tree-title">Search tree</h2>
<div class="note">Boxes: visits N, value V, the objective's leaf value; edges: action, prior p, Q, reward r.
Red: the most visited line. Click a box to fold or unfold its subtree.</div>
<div id="tree-box"><svg id="tree" width="400" height="100"></svg></div>
<h2>States where the objectives disagree most</h2>
<div class="note">Score: |z(learned value) - z(hand value)|, each standardised over all visited states.</div>
<table id="ranked"></table>
<h2 id="maps-title">Value maps</h2>
<div class="maps" id="maps"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
let episode = 0, step = 0;
const folded = new Set();
function el(name, attrs, parent, text) {
  const node = document.createElementNS(NS, name);
  for (const k in attrs) node.setAttribute(k, attrs[k]);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
function fmt(v) { return v === null || v === undefined ? "-" : (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3)); }
function numbers() {
  const t = document.getElementById("numbers"), r = D.report;
  const rows = [["acting objective", r.objective], ["compared with", r.compared_with],
    ["states", r.states], ["learned vs hand value correlation (true features)", fmt(r.corr_learned_vs_hand_true)],
    ["learned vs hand value correlation (decoded features)", fmt(r.corr_learned_vs_hand_decoded)],
    ["same action chosen by both objectives", (100 * r.same_action_rate).toFixed(1) + "% of states"],
    ["feature decoder mean |error|", Object.entries(r.decoder_mean_abs_error).map(([k, v]) => k + " " + fmt(v)).join(", ")]];
  for (const [k, v] of rows) { const tr = t.insertRow(); tr.insertCell().textContent = k; tr.insertCell().textContent = v; }
}
function episodeButtons() {
  const box = document.getElementById("episodes");
  box.innerHTML = "";
  D.episodes.forEach((ep, i) => {
    const b = document.createElement("button");
    b.textContent = "episode " + i + " (" + ep.length + " steps" + (i < D.tree_episodes ? ", trees" : "") + ")";
    b.className = i === episode ? "on" : "";
    b.onclick = () => select(i, 0);
    box.appendChild(b);
  });
}
function panel(svg, top, height, series, ep) {
  const left = 60, width = 1150 - left - 20, n = Math.max(ep.length - 1, 1);
  const values = series.flatMap(s => s.values).filter(v => v !== null);
  let lo = Math.min(...values), hi = Math.max(...values);
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const X = i => left + width * i / n, Y = v => top + height - height * (v - lo) / (hi - lo);
  el("rect", {x: left, y: top, width: width, height: height, fill: "#fafafa", stroke: "#ddd"}, svg);
  el("text", {x: left - 4, y: top + 10, "text-anchor": "end"}, svg, fmt(hi));
  el("text", {x: left - 4, y: top + height, "text-anchor": "end"}, svg, fmt(lo));
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => v === null ? null : X(i) + "," + Y(v)).filter(p => p).join(" ");
    el("polyline", {points: pts, fill: "none", stroke: s.color, "stroke-width": 1.5, "stroke-dasharray": s.dash || ""}, svg);
    el("text", {x: left + 8 + 190 * k, y: top + 12, fill: s.color}, svg, s.name);
  });
  return X;
}
function timeline() {
  const svg = document.getElementById("timeline"), ep = D.episodes[episode];
  svg.innerHTML = "";
  const X = panel(svg, 5, 110, [{name: "learned value", values: ep.learned, color: "#2c5aa0"}], ep);
  panel(svg, 125, 110, [{name: D.hand_name + " (true features)", values: ep.hand_true, color: "#c07000"},
                        {name: D.hand_name + " (decoded features)", values: ep.hand_decoded, color: "#888", dash: "4 3"}],
        ep);
  const top = 245;
  el("text", {x: 4, y: top + 12}, svg, "actions");
  ep.own_action.forEach((a, i) => el("rect", {x: X(i) - 1, y: top + 2, width: 2, height: 14,
    fill: ["#2c5aa0", "#7fb3ff", "#1b8a3a", "#a0d",][a % 4]}, svg));
  ep.hand_action.forEach((a, i) => el("rect", {x: X(i) - 1, y: top + 20, width: 2, height: 14,
    fill: ["#c07000", "#ffcc66", "#1b8a3a", "#a0d"][a % 4]}, svg));
  el("text", {x: 1150 - 15, y: top + 12, "text-anchor": "end"}, svg, "own search");
  el("text", {x: 1150 - 15, y: top + 30, "text-anchor": "end"}, svg, D.hand_name + " search");
  ep.disagree.forEach(i => el("line", {x1: X(i), x2: X(i), y1: 5, y2: 240, stroke: "#e33", "stroke-opacity": 0.35}, svg));
  el("line", {id: "cursor", x1: X(step), x2: X(step), y1: 0, y2: 300, stroke: "#000", "stroke-width": 1.5}, svg);
  svg.onclick = ev => {
    const box = svg.getBoundingClientRect(), n = Math.max(ep.length - 1, 1);
    const i = Math.round((ev.clientX - box.left - 60) / (1150 - 80) * n);
    select(episode, Math.max(0, Math.min(ep.length - 1, i)));
  };
}
function hidden(nodes) {
  const byId = {}, out = new Set();
  nodes.forEach(n => byId[n.id] = n);
  nodes.forEach(n => { let p = n.parent; while (p !== null) { if (folded.has(p)) { out.add(n.id); break; } p = byId[p].parent; } });
  return out;
}
function drawTree() {
  const svg = document.getElementById("tree"), key = episode + ":" + step, tree = D.trees[key];
  svg.innerHTML = "";
  const ep = D.episodes[episode];
  document.getElementById("tree-title").textContent = "Search tree, episode " + episode + ", step " + step +
    " (own search: " + D.action_names[ep.own_action[step]] + ", " + D.hand_name + " search: " + D.action_names[ep.hand_action[step]] + ")";
  if (!tree) { el("text", {x: 10, y: 20}, svg, "No tree kept for this step: trees are kept for the first " + D.tree_episodes + " episode(s)."); svg.setAttribute("width", 700); svg.setAttribute("height", 40); return; }
  const gone = hidden(tree.nodes), onPath = new Set(tree.path), byId = {};
  tree.nodes.forEach(n => byId[n.id] = n);
  const W = 104, H = 110, maxX = Math.max(...tree.nodes.map(n => n.x)), maxD = Math.max(...tree.nodes.map(n => n.depth));
  svg.setAttribute("width", W * (maxX + 1) + 40); svg.setAttribute("height", H * (maxD + 1) + 20);
  const P = n => [20 + W * n.x + W / 2, 30 + H * n.depth];
  tree.nodes.forEach(n => {
    if (n.parent === null || gone.has(n.id)) return;
    const [x0, y0] = P(byId[n.parent]), [x1, y1] = P(n), red = onPath.has(n.id) && onPath.has(n.parent);
    el("line", {x1: x0, y1: y0 + 22, x2: x1, y2: y1 - 46, stroke: red ? "#c0392b" : "#999", "stroke-width": red ? 2 : 1}, svg);
    // the edge's numbers sit just above the child's box, where no sibling's can overlap them
    const label = el("text", {x: x1, y: y1 - 36, "text-anchor": "middle", fill: "#444"}, svg);
    el("tspan", {x: x1, dy: 0}, label, D.action_names[n.action] + " p=" + fmt(n.prior));
    el("tspan", {x: x1, dy: 11}, label, "Q=" + fmt(n.Q) + " r=" + fmt(n.r));
  });
  tree.nodes.forEach(n => {
    if (gone.has(n.id)) return;
    const [x, y] = P(n), g = el("g", {class: "node", "data-id": n.id, style: "cursor:pointer"}, svg);
    el("rect", {x: x - 40, y: y - 22, width: 80, height: 44, rx: 5, fill: n.id === 0 ? "#dde8ff" : (folded.has(n.id) ? "#eee" : "white"),
                stroke: onPath.has(n.id) ? "#c0392b" : "#555"}, g);
    el("text", {x: x, y: y - 9, "text-anchor": "middle"}, g, (n.id === 0 ? "root" : "node " + n.id) + (folded.has(n.id) ? " +" : ""));
    el("text", {x: x, y: y + 3, "text-anchor": "middle"}, g, "N=" + n.N + " V=" + fmt(n.V));
    el("text", {x: x, y: y + 15, "text-anchor": "middle"}, g, "leaf " + fmt(n.leaf));
    g.onclick = () => { folded.has(n.id) ? folded.delete(n.id) : folded.add(n.id); drawTree(); };
  });
}
function ranked() {
  const t = document.getElementById("ranked");
  const head = t.insertRow();
  ["episode", "step", "score", "learned", D.hand_name, "own action", D.hand_name + " action"].forEach(h => { const c = head.insertCell(); c.textContent = h; c.style.fontWeight = "bold"; });
  D.ranked.forEach(s => {
    const tr = t.insertRow(), a = document.createElement("a");
    a.textContent = "episode " + s.episode; a.onclick = () => select(s.episode, s.step);
    tr.insertCell().appendChild(a);
    [s.step, fmt(s.score), fmt(s.learned), fmt(s.hand), D.action_names[s.own_action], D.action_names[s.hand_action]]
      .forEach(v => tr.insertCell().textContent = v);
  });
}
function maps() {
  const box = document.getElementById("maps");
  if (!D.value_maps.length) { document.getElementById("maps-title").textContent = "Value maps (none for this env)"; return; }
  D.value_maps.forEach(m => m.panels.forEach(p => {
    const cell = 18, rows = p.values.length, cols = p.values[0].length;
    const wrap = document.createElement("div"), caption = document.createElement("div"), bold = document.createElement("b");
    caption.textContent = m.title + ": "; bold.textContent = p.name; caption.appendChild(bold); wrap.appendChild(caption);
    const svg = el("svg", {width: cols * cell + 60, height: rows * cell + 40, class: "value-map"});
    const flat = p.values.flat().filter(v => v !== null), lo = Math.min(...flat), hi = Math.max(...flat);
    p.values.forEach((row, i) => row.forEach((v, j) => {
      const f = v === null ? null : (hi > lo ? (v - lo) / (hi - lo) : 0.5);
      el("rect", {x: 50 + j * cell, y: 5 + i * cell, width: cell, height: cell,
                  fill: f === null ? "#444" : "rgb(" + Math.round(255 * f) + "," + Math.round(120 + 100 * f) + "," + Math.round(255 * (1 - f)) + ")"}, svg)
        .appendChild(el("title", {}, null, v === null ? "wall" : m.x_label + "=" + m.x[j] + ", " + m.y_label + "=" + m.y[i] + ": " + fmt(v)));
    }));
    (m.marks || []).forEach(mk => el("text", {x: 50 + mk.col * cell + cell / 2, y: 5 + mk.row * cell + cell * 0.75,
      "text-anchor": "middle", "font-weight": "bold"}, svg, mk.label));
    el("text", {x: 50, y: rows * cell + 20}, svg, m.x_label + " \u2192 (low " + fmt(lo) + ", high " + fmt(hi) + ")");
    el("text", {x: 2, y: 12}, svg, m.y_label);
    wrap.appendChild(svg); box.appendChild(wrap);
  }));
}
function select(e, s) {
  folded.clear();  // node ids belong to one step's tree
  episode = e; step = s;
  episodeButtons(); timeline(); drawTree();
}
numbers(); ranked(); maps(); select(0, 0);
</script></body></html>
"""
