"""Reading and rendering a search tree of one batch element of an mctx.Tree: Graphviz DOT
text, and PNG/SVG pictures drawn with matplotlib (no Graphviz binary needed)."""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np


def expanded_nodes(t, max_nodes: int | None) -> list[int]:
    """Indices of the expanded nodes of one tree (numpy fields), the most visited first up to
    `max_nodes`, each kept only with its whole path to the root."""
    visits = t.node_visits
    expanded = [i for i in range(len(visits)) if visits[i] > 0 and (i == 0 or t.parents[i] >= 0)]
    if max_nodes is not None and len(expanded) > max_nodes:
        keep = set(sorted(expanded, key=lambda i: -visits[i])[:max_nodes])
        expanded = [i for i in expanded if _path_kept(i, t.parents, keep)]
    return expanded


def tree_to_dot(tree, batch_index: int = 0, action_names: tuple[str, ...] | None = None,
                max_nodes: int | None = 64) -> str:
    """DOT text of the searched tree of batch element `batch_index`.

    Nodes show their visit count N and value V; edges show the action, its prior
    probability p, its Q (reward + discount x child value) and its reward r.
    Only expanded nodes are drawn, the most visited first, up to `max_nodes`.
    """
    t = jax.tree.map(lambda x: np.asarray(x[batch_index]), tree)
    num_actions = t.children_index.shape[-1]
    names = action_names or tuple(str(a) for a in range(num_actions))
    visits = t.node_visits
    expanded = expanded_nodes(t, max_nodes)
    drawn = set(expanded)
    lines = ["digraph search_tree {", '  node [shape=box, fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for i in expanded:
        color = ', style=filled, fillcolor="#dde8ff"' if i == 0 else ""
        lines.append(f'  n{i} [label="{"root" if i == 0 else f"node {i}"}\\nN={int(visits[i])}\\n'
                     f'V={t.node_values[i]:.3f}"{color}];')
    for i in expanded:
        priors = _softmax(t.children_prior_logits[i])
        for a in range(num_actions):
            child = int(t.children_index[i, a])
            if child < 0 or child not in drawn:
                continue
            q = t.children_rewards[i, a] + t.children_discounts[i, a] * t.children_values[i, a]
            lines.append(f'  n{i} -> n{child} [label="{names[a]}\\np={priors[a]:.2f} Q={q:.3f}\\n'
                         f'r={t.children_rewards[i, a]:.3f}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    return z / z.sum()


def _path_kept(i: int, parents: np.ndarray, keep: set[int]) -> bool:
    while i > 0:
        if i not in keep:
            return False
        i = int(parents[i])
    return True


def tree_layout(children: dict[int, list[int]]) -> dict[int, tuple[float, int]]:
    """{node: (x, depth)}: a tidy layout of the drawn nodes (root 0): leaves get consecutive x in
    depth-first order, a parent sits above the middle of its children. `children` lists each
    drawn node's drawn children in action order."""
    position: dict[int, tuple[float, int]] = {}
    next_leaf = 0

    def place(node: int, depth: int) -> float:
        nonlocal next_leaf
        kids = children.get(node, [])
        if not kids:
            x = float(next_leaf)
            next_leaf += 1
        else:
            xs = [place(child, depth + 1) for child in kids]
            x = (xs[0] + xs[-1]) / 2
        position[node] = (x, depth)
        return x

    place(0, 0)
    return position


def principal_path(t) -> list[int]:
    """The root's most visited line: from the root, the most visited child until a leaf."""
    path, node = [0], 0
    while True:
        kids = [int(c) for c in t.children_index[node] if c >= 0]
        if not kids:
            return path
        node = max(kids, key=lambda c: t.node_visits[c])
        path.append(node)


def draw_tree(tree, paths: list[Path], batch_index: int = 0, action_names: tuple[str, ...] | None = None,
              max_nodes: int | None = 64) -> None:
    """Draws the searched tree of batch element `batch_index` into each of `paths` (.png, .svg)
    with matplotlib: boxes show visits N and value V, edges the action, prior p and Q; the most
    visited line from the root is drawn in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = jax.tree.map(lambda x: np.asarray(x[batch_index]), tree)
    num_actions = t.children_index.shape[-1]
    names = action_names or tuple(str(a) for a in range(num_actions))
    drawn = set(expanded_nodes(t, max_nodes))
    children = {i: [int(t.children_index[i, a]) for a in range(num_actions) if int(t.children_index[i, a]) in drawn]
                for i in drawn}
    position = tree_layout(children)
    on_path = set(principal_path(t))
    width = max(x for x, _ in position.values()) + 1
    depth = max(d for _, d in position.values()) + 1
    fig, ax = plt.subplots(figsize=(min(2 + 1.3 * width, 60), 1 + 1.4 * depth))
    for i in children:
        priors = _softmax(t.children_prior_logits[i])
        for a in range(num_actions):
            child = int(t.children_index[i, a])
            if child not in position:
                continue
            (x0, y0), (x1, y1) = position[i], position[child]
            red = i in on_path and child in on_path
            ax.plot([x0, x1], [-y0, -y1], color="#c0392b" if red else "#999999", lw=2 if red else 1, zorder=1)
            q = t.children_rewards[i, a] + t.children_discounts[i, a] * t.children_values[i, a]
            ax.text((x0 + x1) / 2, -(y0 + y1) / 2, f"{names[a]}\np={priors[a]:.2f}\nQ={q:.2f}", fontsize=6,
                    ha="center", va="center", color="#333333", zorder=3,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    for i, (x, d) in position.items():
        ax.text(x, -d, f"{'root' if i == 0 else i}\nN={int(t.node_visits[i])}\nV={t.node_values[i]:.2f}",
                fontsize=7, ha="center", va="center", zorder=2,
                bbox={"boxstyle": "round,pad=0.3", "ec": "#c0392b" if i in on_path else "#555555",
                      "fc": "#dde8ff" if i == 0 else "white"})
    ax.set_xlim(-0.8, width - 0.2)
    ax.set_ylim(-depth + 0.4, 0.6)
    ax.axis("off")
    ax.set_title(f"search tree: {len(position)} of {int((t.node_visits > 0).sum())} expanded nodes "
                 f"(red: the most visited line)", fontsize=9)
    fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=110)
    plt.close(fig)


def write_tree(tree, path: str | Path, batch_index: int = 0, action_names=None, max_nodes: int | None = 64) -> list[Path]:
    """Writes PATH.dot, and PATH.png and PATH.svg drawn with matplotlib (Graphviz's `dot` binary is
    not needed; run `dot -Tpng PATH.dot` yourself for Graphviz's layout). Returns the files."""
    path = Path(path)
    dot_path = path.with_suffix(".dot")
    dot_path.write_text(tree_to_dot(tree, batch_index, action_names, max_nodes))
    pictures = [path.with_suffix(".png"), path.with_suffix(".svg")]
    draw_tree(tree, pictures, batch_index, action_names, max_nodes)
    return [dot_path, *pictures]
