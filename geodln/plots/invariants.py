"""What the hidden-layer symmetry keeps: the loss along a group orbit, the balances along the flow.

The group acts by ``S . A = S A S^-1`` and leaves the end-to-end map, hence
the loss, unchanged: a critical point lies on a fiber of critical points of
one value ``L_J``, on which ``||A||_F`` is least at the balanced point. Its
Noether quantities are conserved by the flow: for every hidden node ``v``,
``c_v = ||in-weights of v||^2 - ||out-weights of v||^2`` (any mask), and for
a fully connected layered network the matrices
``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..dynamics.flow import Trajectory
from .style import STYLE, new_figure, node_name, styled, unit_numbers

__all__ = ["plot_fiber", "plot_level_sets"]


def _curved_pair(P: np.ndarray) -> tuple[int, int]:
    """Two coordinates that both vary along the curve ``P`` (K, p) and are least correlated (so it bends)."""
    std = P.std(axis=0)
    cand = np.flatnonzero(std >= 0.3 * std.max())
    if len(cand) < 2:
        return tuple(np.sort(np.argsort(std)[::-1][:2]))
    C = np.abs(np.corrcoef(P[:, cand].T))
    i, j = np.unravel_index(np.argmin(C + np.eye(len(cand))), C.shape)
    return tuple(sorted((int(cand[i]), int(cand[j]))))


@styled
def plot_fiber(points, losses, norms, balanced_index: int, param=None, coords=None, coord_labels=None,
               critical_value: float | None = None) -> Figure:
    """A group orbit (fiber) through a critical point: projection, constant loss, growing norm.

    Parameters
    ----------
    points : array-like, shape=[K, p]
        Points along a curve in the orbit (packed weights, or any coordinates).
    losses : array-like, shape=[K]
        The loss at each point (constant on a fiber).
    norms : array-like, shape=[K]
        ``||A||_F`` at each point.
    balanced_index : int
        Index of the balanced point (the minimiser of ``||A||_F`` on the orbit).
    param : array-like, shape=[K], optional
        The curve parameter ``tau``; default ``0..K-1``.
    coords : (int, int), optional
        The two coordinates of ``points`` to project on; default the two that
        vary most along the curve.
    coord_labels : sequence of str, optional
        Names of all ``p`` coordinates (mathematical text), for the axes.
    critical_value : float, optional
        ``L_J``, drawn dashed beside the loss.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [projection, loss, norm]``.
    """
    P = np.asarray(points, dtype=float)
    losses, norms = np.asarray(losses, dtype=float), np.asarray(norms, dtype=float)
    if P.ndim != 2 or not (len(P) == len(losses) == len(norms)):
        raise ValueError(f"points must be (K, p) with K losses and norms; got {P.shape}, {losses.shape}, {norms.shape}")
    if not 0 <= balanced_index < len(P):
        raise ValueError(f"balanced_index {balanced_index} is not an index of the {len(P)} points")
    tau = np.arange(len(P), dtype=float) if param is None else np.asarray(param, dtype=float)
    if coords is None:
        coords = _curved_pair(P)
    i, j = coords
    names = coord_labels if coord_labels is not None else [f"$x_{{{k + 1}}}$" for k in range(P.shape[1])]
    fig, (ax_p, ax_l, ax_n) = new_figure(ncols=3, height=3.3, gridspec_kw={"width_ratios": [1.2, 1, 1]})
    b = balanced_index
    pts = ax_p.scatter(P[:, i], P[:, j], c=tau, cmap=STYLE["speed_cmap"], s=8, zorder=2)
    ax_p.plot(P[:, i], P[:, j], color="0.6", lw=0.8, zorder=1)
    ax_p.plot(P[b, i], P[b, j], marker="*", color=STYLE["colors"][1], ms=14, mec="k", mew=0.5, ls="none", zorder=3,
              label="balanced point")
    fig.colorbar(pts, ax=ax_p, location="bottom", label=r"orbit parameter $\tau$", shrink=0.8, aspect=30)
    ax_p.set_xlabel(names[i])
    ax_p.set_ylabel(names[j])
    ax_p.set_title("orbit, projected")
    ax_p.legend(loc="best")
    ax_l.plot(tau, losses, color=STYLE["colors"][0], lw=1.6, label=r"$L(\tau)$")
    ref = critical_value if critical_value is not None else float(np.median(losses))
    if critical_value is not None:
        ax_l.axhline(critical_value, color="k", ls=(0, (4, 4)), lw=0.9, zorder=3,
                     label=r"critical value $L_J$")  # over L(tau), which it hides otherwise
    spread = max(float(np.abs(losses - ref).max()), 1e-300)
    pad = max(0.25 * abs(ref), 0.1)
    ax_l.set_ylim(ref - pad, ref + pad)
    ax_l.set_xlabel(r"orbit parameter $\tau$")
    ax_l.set_ylabel(r"loss $L$")
    mant, expo = f"{spread:.0e}".split("e")
    ax_l.set_title(rf"loss: $\max|L - L_J| = {mant} \cdot 10^{{{int(expo)}}}$" if critical_value is not None
                   else "loss")
    ax_l.legend(loc="lower right")
    ax_n.plot(tau, norms, color=STYLE["colors"][2], lw=1.6)
    ax_n.plot(tau[b], norms[b], marker="*", color=STYLE["colors"][1], ms=14, mec="k", mew=0.5, ls="none")
    ax_n.set_xlabel(r"orbit parameter $\tau$")
    ax_n.set_ylabel(r"norm $\|A(\tau)\|_F$")
    ax_n.set_title("norm: least at the star")
    return fig


def _node_norms(traj: Trajectory, v: int) -> tuple[np.ndarray, np.ndarray]:
    """``(||in_v(t)||, ||out_v(t)||)``, each shape=[T]: the norms of the weights into and out of node ``v``."""
    src, tgt = traj.flow.top.edge_index
    sq = traj.theta**2
    return np.sqrt(sq[:, tgt == v].sum(axis=1)), np.sqrt(sq[:, src == v].sum(axis=1))


def _window(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Square limits (equal aspect) around a path, never below 0 and at least 0.3 wide."""
    half = max(0.65 * max(np.ptp(x), np.ptp(y)), 0.15)
    cx, cy = (x.max() + x.min()) / 2, (y.max() + y.min()) / 2
    lo_x, lo_y = max(cx - half, 0.0), max(cy - half, 0.0)
    return (lo_x, lo_x + 2 * half), (lo_y, lo_y + 2 * half)


def _turns(x: np.ndarray, y: np.ndarray, frac: float = 0.05) -> list[int]:
    """Indices where the point turns back along its hyperbola by more than ``frac`` of its excursion.

    ``x + y`` is monotone along each branch of ``x^2 - y^2 = c`` (``x dx = y dy``),
    so a turn is an extremum of it; wiggles smaller than the tolerance (the
    last creeping steps near a critical point) are not turns.
    """
    s = x + y
    tol = frac * max(float(np.ptp(s)), 1e-12)
    turns, ext, direction = [], 0, 0
    for i in range(1, len(s)):
        if direction == 0:
            if abs(s[i] - s[0]) > tol:
                direction, ext = (1 if s[i] > s[0] else -1), i
        elif direction * (s[i] - s[ext]) > 0:
            ext = i
        elif direction * (s[ext] - s[i]) > tol:
            turns.append(ext)
            direction, ext = -direction, i
    return turns


@styled
def plot_level_sets(traj: Trajectory, nodes=None) -> Figure:
    """Trajectories of the hidden nodes on the level sets of their conserved balances.

    For every hidden node ``v`` the flow conserves
    ``c_v = ||in_v||^2 - ||out_v||^2`` (``in_v``, ``out_v``: the weights into
    and out of ``v``; any mask), so the point ``(||in_v||, ||out_v||)`` moves
    on the hyperbola ``||in_v||^2 - ||out_v||^2 = c_v``. Left: one panel per
    hidden node (rows: hidden layers; columns: units), zoomed on its path
    with equal axes, the hyperbola dashed, the path coloured by time from the
    open circle (start) to the filled one (end); where the point turns back
    along its hyperbola a cross marks the turn. Right: the drift
    ``max |Q(t) - Q(0)|`` of the topology's conserved quantities against how
    far the weights moved, ``||theta(t) - theta(0)||``.

    Parameters
    ----------
    traj : Trajectory
    nodes : sequence of int, optional
        Positions (in ``top.nodes``) of the hidden nodes to draw; default all.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes`` = one axes per node drawn, then the time colour bar,
        then the drift axes (``fig.axes[-1]``).
    """
    top = traj.flow.top
    hidden = top.hidden if nodes is None else np.asarray(nodes, dtype=int)
    bad = [v for v in hidden if v not in set(top.hidden.tolist())]
    if bad:
        raise ValueError(f"node position {bad[0]} is not a hidden node of {top!r}")
    layers = sorted({int(top.layer[v]) for v in hidden})
    units = unit_numbers(top)
    ncols = max(int(units[v]) for v in hidden)
    fig = Figure(figsize=(STYLE["width"], 1.65 * len(layers) + 1.3), layout="constrained")
    sub_nodes, sub_drift = fig.subfigures(1, 2, width_ratios=[1.75, 1], wspace=0.04)
    grid = sub_nodes.subplots(len(layers), ncols, squeeze=False)
    t = traj.t
    keep = t > 0
    tnorm = LogNorm(vmin=t[keep][0], vmax=t[-1])
    drawn = []
    for v in hidden:
        ax = grid[layers.index(int(top.layer[v])), int(units[v]) - 1]
        drawn.append(ax)
        x, y = _node_norms(traj, v)
        cval = x[0] ** 2 - y[0] ** 2
        (x0, x1), (y0, y1) = _window(x, y)
        if cval >= 0:
            hy = np.linspace(y0, y1, 200)
            hx = np.sqrt(cval + hy**2)
        else:
            hx = np.linspace(x0, x1, 200)
            hy = np.sqrt(hx**2 - cval)
        ax.plot(hx, hy, color="0.45", ls="--", lw=0.8, zorder=1)
        seg = np.stack([np.column_stack([x[:-1], y[:-1]]), np.column_stack([x[1:], y[1:]])], axis=1)[keep[1:]]
        path = LineCollection(seg, cmap=STYLE["time_cmap"], norm=tnorm, linewidths=2.4, zorder=2,
                              capstyle="round")
        path.set_array(t[1:][keep[1:]])
        ax.add_collection(path)
        ax.plot(x[0], y[0], "o", mfc="white", mec="k", ms=5, zorder=4)
        ax.plot(x[-1], y[-1], "o", mfc="k", mec="k", ms=5, zorder=4)
        for i in _turns(x, y):
            ax.plot(x[i], y[i], "x", color=STYLE["colors"][1], ms=6, mew=1.6, zorder=4)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.tick_params(labelsize=STYLE["fontsize"] - 2, pad=1.5)
        ax.set_title(f"{node_name(top, v)}\n$c_v = {cval:+.2f}$", fontsize=STYLE["fontsize"] - 1)
        ax.set_xlabel(r"$\|\mathrm{in}_v\|$", fontsize=STYLE["fontsize"] - 1, labelpad=1)
        ax.set_ylabel(r"$\|\mathrm{out}_v\|$", fontsize=STYLE["fontsize"] - 1, labelpad=1)
    for ax in grid.ravel():
        if ax not in drawn:
            ax.remove()
    sub_nodes.colorbar(ScalarMappable(tnorm, STYLE["time_cmap"]), ax=drawn, location="bottom", shrink=0.7,
                       aspect=35, label=r"time $t$ along the path ($\circ$ start, $\bullet$ end, "
                                        r"$\times$ turns back)")
    sub_nodes.suptitle(r"hidden nodes $v$ on their hyperbolas $\|\mathrm{in}_v\|^2 - \|\mathrm{out}_v\|^2 = c_v$"
                       " (dashed)", fontsize=STYLE["fontsize"])
    ax_d = sub_drift.subplots()
    moved = np.linalg.norm(traj.theta - traj.theta[0], axis=1)
    drift = np.maximum(traj.conserved_drift[keep], 1e-17)
    law = traj.flow.default_law
    ax_d.plot(t[keep], moved[keep], color=STYLE["colors"][2], lw=1.6,
              label=r"weights: $\|\theta(t) - \theta(0)\|$")
    ax_d.plot(t[keep], drift, color=STYLE["colors"][1], lw=1.6,
              label="balances: " + (r"$\max_v |c_v(t) - c_v(0)|$" if law == "node" else r"$\max|C_i(t) - C_i(0)|$"))
    ax_d.set_xscale("log")
    ax_d.set_yscale("log")
    ax_d.set_xlabel(r"time $t$")
    ax_d.set_ylabel(r"change since $t = 0$")
    ax_d.set_title("weights move, balances stay", fontsize=STYLE["fontsize"])
    ax_d.legend(loc="center", fontsize=STYLE["fontsize"] - 1.5)
    return fig
