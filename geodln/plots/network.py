"""The network as a picture: its layered graph beside its adjacency matrix.

A network with nodes ``0..n-1`` (in ``top.nodes`` order) and weight ``A[j, k]``
on the edge ``j -> k`` is drawn twice: as a graph, level by level (inputs
left, outputs right), and as the matrix ``A``. For a layered network the
blocks ``(i-1, i)`` of ``A`` are ``W_i^T``, so ``A`` is strictly block upper
triangular (nilpotent) and ``W = W_h ... W_1`` sums the weights of the
complete paths from the inputs to the outputs.
"""

from __future__ import annotations

from itertools import cycle, pairwise
from typing import NamedTuple

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..network.topology import Topology
from .style import STYLE, new_figure, styled, unit_numbers

__all__ = ["draw_network", "draw_graph", "edge_styles", "EdgeStyles", "node_layout", "edge_polyline"]


def node_layout(top: Topology) -> np.ndarray:
    """Node positions ``(n, 2)``: x = level, y centred within the level (first node on top)."""
    pos = np.zeros((top.n, 2))
    for level, sl in enumerate(top.level_slices):
        d = sl.stop - sl.start
        pos[sl, 0] = level
        pos[sl, 1] = (d - 1) / 2 - np.arange(d)
    return pos


def edge_polyline(p, q, skip: bool) -> np.ndarray:
    """A straight segment, or for a skip edge a quadratic Bezier arc that clears the levels between."""
    if not skip:
        return np.array([p, q])
    mid = (p + q) / 2 + np.array([0.0, 0.35 * abs(q[0] - p[0])])
    s = np.linspace(0, 1, 24)[:, None]
    return (1 - s) ** 2 * p + 2 * s * (1 - s) * mid + s**2 * q


class EdgeStyles(NamedTuple):
    """The edges of a drawn network, weakest first (strong edges are drawn last, on top).

    ``source``, ``target`` : int arrays, shape=[n_edges], the edges ``j -> k`` of the mask;
    ``weight`` : shape=[n_edges], ``A[j, k]``; ``colors`` : RGBA tuples on the diverging map
    (grey for a zero weight); ``widths`` : line widths in points, ``0.6 + 3 |A_jk| / max |A|``
    (0.4 for a zero weight); ``norm``, ``cmap`` : the map, centred on 0, symmetric about it.
    """

    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    colors: list
    widths: np.ndarray
    norm: TwoSlopeNorm
    cmap: matplotlib.colors.Colormap


def edge_styles(top: Topology, A) -> EdgeStyles:
    """Colour and width of every edge ``j -> k`` of ``top`` by the sign and size of its weight ``A[j, k]``.

    The one encoding of weights in network drawings (:func:`draw_network`
    and the catalog explorer's SVG): the colour maps ``A[j, k]`` on
    ``STYLE["weights_cmap"]`` with 0 at its centre and ``+-max |A|`` at its
    ends, the width grows linearly with ``|A[j, k]|``.

    Parameters
    ----------
    top : Topology
    A : ndarray, shape=[n, n]
        Weighted adjacency matrix, nodes in ``top.nodes`` order.

    Returns
    -------
    EdgeStyles
    """
    vmax = float(np.abs(A[top.mask > 0]).max(initial=0.0)) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    cmap = matplotlib.colormaps[STYLE["weights_cmap"]].with_extremes(bad="0.93")  # bad: off the mask
    src, tgt = np.nonzero(top.mask)
    w = A[src, tgt]
    order = np.argsort(np.abs(w))  # strong edges drawn last, on top
    wo = w[order]
    colors = [cmap(norm(x)) if x != 0 else (0.75, 0.75, 0.75, 1.0) for x in wo]
    widths = np.where(wo != 0, 0.6 + 3.0 * np.abs(wo) / vmax, 0.4)
    return EdgeStyles(src[order], tgt[order], wo, colors, widths, norm, cmap)


@styled
def draw_network(top: Topology, A=None, paths=None, title: str | None = None) -> Figure:
    """The network's graph in a layered layout beside its adjacency matrix.

    Left: nodes level by level (inputs left, outputs right), each numbered
    within its level from 1, every edge ``j -> k`` coloured and thickened by
    its weight ``A[j, k]`` (edges of the mask with weight 0 are thin grey),
    skip edges arched, chosen paths underlaid in colour. Right: ``A`` as a
    heat map in the same colours, one row and column per node, labelled by
    the same unit numbers with the levels named above and beside, and every
    block of the mask outlined: for a layered network the blocks
    ``(i-1, i)`` are ``W_i^T``, so ``A`` is strictly block upper triangular
    (nilpotent).

    Parameters
    ----------
    top : Topology
    A : array-like, shape=[n, n], optional
        Weighted adjacency matrix (``A[j, k]`` = weight of ``j -> k``, nodes in
        ``top.nodes`` order); default the mask (all weights 1).
    paths : sequence of sequences of nodes, or dict label -> sequence, optional
        Paths (e.g. the complete paths that carry learnt modes) to highlight.
    title : str, optional
        A title over both panels.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes`` starts ``[graph, matrix, colorbar]``; the level names of
        the matrix are two secondary axes after them.
    """
    A = top.mask.copy() if A is None else np.asarray(A, dtype=float)
    if A.shape != (top.n, top.n):
        raise ValueError(f"A has shape {A.shape}; this network has n = {top.n} nodes, so A must be ({top.n}, {top.n})")
    fig, (ax_g, ax_m) = new_figure(ncols=2, height=3.6, gridspec_kw={"width_ratios": [1.25, 1]})
    edges = draw_graph(ax_g, top, A, paths)
    units = unit_numbers(top)
    norm, cmap = edges.norm, edges.cmap
    if paths:
        fig.legend(loc="outside lower center", ncols=2)
    if title is not None:
        fig.suptitle(title)
    Am = np.ma.masked_where(top.mask == 0, A)
    im = ax_m.imshow(Am, cmap=cmap, norm=norm, interpolation="nearest")
    for sl in top.level_slices[1:]:
        ax_m.axhline(sl.start - 0.5, color="0.6", lw=0.6)
        ax_m.axvline(sl.start - 0.5, color="0.6", lw=0.6)
    for blk in top.blocks:
        ax_m.add_patch(Rectangle((blk.cols.start - 0.5, blk.rows.start - 0.5), blk.shape[1], blk.shape[0],
                                 fill=False, ec="k", lw=1.0))
    _label_matrix(ax_m, top, units)
    ax_m.set_title(r"adjacency matrix $A$", pad=14)
    ax_m.spines[["top", "right"]].set_visible(True)
    fig.colorbar(im, ax=ax_m, label="weight $A_{jk}$ (light grey: no edge)", shrink=0.8)
    return fig


def draw_graph(ax, top: Topology, A: np.ndarray, paths=None) -> EdgeStyles:
    """The network's graph on ``ax`` in the layered layout of :func:`draw_network` (its left panel).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    top : Topology
    A : ndarray, shape=[n, n]
        The weights (``A[j, k]`` on the edge ``j -> k``).
    paths : optional
        As for :func:`draw_network`.

    Returns
    -------
    EdgeStyles
        The edges as drawn (their ``norm`` and ``cmap`` colour a matrix panel or a colour bar alike).
    """
    pos = node_layout(top)
    units = unit_numbers(top)
    if paths:
        _draw_paths(ax, top, pos, paths)
    edges = edge_styles(top, A)
    segs = [edge_polyline(pos[j], pos[k], top.layer[k] - top.layer[j] > 1) for j, k in zip(edges.source, edges.target)]
    ax.add_collection(LineCollection(segs, colors=edges.colors, linewidths=edges.widths, zorder=2))
    hidden = (top.layer > 0) & (top.layer < top.depth)
    ax.scatter(pos[:, 0], pos[:, 1], s=130, c=np.where(hidden, "0.85", "white"), edgecolors="k", linewidths=0.8,
                 zorder=3)
    for (x, y), u in zip(pos, units):
        ax.text(x, y, str(u), ha="center", va="center", fontsize=STYLE["fontsize"] - 2.5, zorder=4)
    names = ["inputs" if i == 0 else ("outputs" if i == top.depth else f"hidden {i}") for i in range(top.depth + 1)]
    ax.set_xticks(range(top.depth + 1), [f"layer {i}\n({name})" for i, name in enumerate(names)])
    ax.set_yticks([])
    ax.set_ylabel("units, numbered within each layer")
    ax.spines[["left", "bottom"]].set_visible(False)
    ax.tick_params(axis="x", length=0)
    ymax = max(top.widths) / 2 + 0.2
    ax.set_ylim(-ymax, ymax + (0.35 * top.depth if not top.is_layered else 0.1))
    ax.set_xlim(-0.3, top.depth + 0.3)
    ax.set_title(r"network: edge $j \to k$ coloured by its weight $A_{jk}$")
    return edges


def _draw_paths(ax, top: Topology, pos: np.ndarray, paths) -> None:
    """Underlay each path (a sequence of nodes) as a wide translucent band, after checking its edges."""
    index = {v: i for i, v in enumerate(top.nodes)}
    items = paths.items() if isinstance(paths, dict) else ((f"path {i + 1}", p) for i, p in enumerate(paths))
    colors = cycle([STYLE["colors"][4], STYLE["colors"][2], STYLE["colors"][3], STYLE["colors"][5]])
    for label, path in items:
        try:
            idx = [index[v] for v in path]
        except KeyError as err:
            raise ValueError(f"path {label!r} names the node {err.args[0]!r}, which is not in the network") from None
        for j, k in pairwise(idx):
            if top.mask[j, k] == 0:
                raise ValueError(f"path {label!r} uses {top.nodes[j]!r} -> {top.nodes[k]!r}, which is not an edge")
        segs = [edge_polyline(pos[j], pos[k], top.layer[k] - top.layer[j] > 1) for j, k in pairwise(idx)]
        ax.add_collection(LineCollection(segs, colors=next(colors), linewidths=11, alpha=0.45, capstyle="round",
                                         zorder=1, label=label))


def _label_matrix(ax, top: Topology, units: np.ndarray) -> None:
    """One tick per node (its unit number), and the level names on a second tier (top and left)."""
    ticks = np.arange(top.n)
    ax.set_xticks(ticks, [str(u) for u in units])
    ax.set_yticks(ticks, [str(u) for u in units])
    ax.tick_params(length=2, pad=1.5, labelsize=STYLE["fontsize"] - 2)
    centres = [(sl.start + sl.stop - 1) / 2 for sl in top.level_slices]
    names = [f"layer {i}" for i in range(top.depth + 1)]
    top_axis = ax.secondary_xaxis("top")
    top_axis.set_xticks(centres, names)
    left_axis = ax.secondary_yaxis("left")
    left_axis.set_yticks(centres, names, rotation=90, va="center")
    for sec in (top_axis, left_axis):
        sec.tick_params(length=0, labelsize=STYLE["fontsize"] - 1.5)
    left_axis.tick_params(pad=11)
    ax.set_xlabel("target node $k$ (column)")
    left_axis.set_ylabel("source node $j$ (row)")
