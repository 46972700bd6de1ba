"""Reading and rendering a search tree: Graphviz DOT of one batch element of an mctx.Tree."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jax
import numpy as np


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
    expanded = [i for i in range(len(visits)) if visits[i] > 0 and (i == 0 or t.parents[i] >= 0)]
    if max_nodes is not None and len(expanded) > max_nodes:
        keep = set(sorted(expanded, key=lambda i: -visits[i])[:max_nodes])
        # keep a node only with its whole path to the root
        expanded = [i for i in expanded if _path_kept(i, t.parents, keep)]
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


def write_tree(tree, path: str | Path, batch_index: int = 0, action_names=None, max_nodes: int | None = 64) -> list[Path]:
    """Writes PATH.dot always, and PATH.png when Graphviz's `dot` is installed. Returns the files."""
    path = Path(path)
    dot_path = path.with_suffix(".dot")
    dot_path.write_text(tree_to_dot(tree, batch_index, action_names, max_nodes))
    written = [dot_path]
    if shutil.which("dot"):
        png = path.with_suffix(".png")
        subprocess.run(["dot", "-Tpng", str(dot_path), "-o", str(png)], check=True, capture_output=True)
        written.append(png)
    return written
