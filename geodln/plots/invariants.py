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

from itertools import cycle

import numpy as np
from matplotlib.figure import Figure

from ..flow import Trajectory
from .style import STYLE, new_figure, styled

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
    fig, (ax_p, ax_l, ax_n) = new_figure(ncols=3, height=2.8, gridspec_kw={"width_ratios": [1.2, 1, 1]})
    b = balanced_index
    pts = ax_p.scatter(P[:, i], P[:, j], c=tau, cmap=STYLE["speed_cmap"], s=8, zorder=2)
    ax_p.plot(P[:, i], P[:, j], color="0.6", lw=0.8, zorder=1)
    ax_p.plot(P[b, i], P[b, j], marker="*", color=STYLE["colors"][1], ms=14, mec="k", mew=0.5, ls="none", zorder=3,
              label="balanced point")
    fig.colorbar(pts, ax=ax_p, label=r"orbit parameter $\tau$", shrink=0.85)
    ax_p.set_xlabel(names[i])
    ax_p.set_ylabel(names[j])
    ax_p.set_title("orbit, projected")
    ax_p.legend(loc="best")
    ax_l.plot(tau, losses, color=STYLE["colors"][0], lw=1.6, label=r"$L(\tau)$")
    ref = critical_value if critical_value is not None else float(np.median(losses))
    if critical_value is not None:
        ax_l.axhline(critical_value, color="0.4", ls="--", lw=0.8, label=r"$L_J$")
    spread = max(float(np.abs(losses - ref).max()), 1e-300)
    pad = max(0.25 * abs(ref), 0.1)
    ax_l.set_ylim(ref - pad, ref + pad)
    ax_l.set_xlabel(r"$\tau$")
    ax_l.set_ylabel(r"loss $L$")
    mant, expo = f"{spread:.0e}".split("e")
    ax_l.set_title(rf"loss: $\max|L - L_J| = {mant} \cdot 10^{{{int(expo)}}}$" if critical_value is not None
                   else "loss")
    ax_l.legend(loc="lower right")
    ax_n.plot(tau, norms, color=STYLE["colors"][2], lw=1.6)
    ax_n.plot(tau[b], norms[b], marker="*", color=STYLE["colors"][1], ms=14, mec="k", mew=0.5, ls="none")
    ax_n.set_xlabel(r"$\tau$")
    ax_n.set_ylabel(r"$\|A\|_F$")
    ax_n.set_title("norm: least at the star")
    return fig


@styled
def plot_level_sets(traj: Trajectory, nodes=None) -> Figure:
    """Trajectories of the hidden nodes on the level sets of their conserved balances.

    For every hidden node ``v`` the flow conserves
    ``c_v = ||in-weights of v||^2 - ||out-weights of v||^2`` (any mask), so the
    point ``(||in_v||, ||out_v||)`` moves on the hyperbola ``x^2 - y^2 = c_v``.
    Left: each hidden node's path in that plane over its hyperbola (dashed).
    Right: the drift ``max |Q(t) - Q(0)|`` of the topology's conserved
    quantities against how far the weights moved, ``||theta(t) - theta(0)||``.

    Parameters
    ----------
    traj : Trajectory
    nodes : sequence of int, optional
        Positions (in ``top.nodes``) of the hidden nodes to draw; default all.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [node planes, drift]``.
    """
    top = traj.flow.top
    hidden = top.hidden if nodes is None else np.asarray(nodes, dtype=int)
    bad = [v for v in hidden if v not in set(top.hidden.tolist())]
    if bad:
        raise ValueError(f"node position {bad[0]} is not a hidden node of {top!r}")
    src, tgt = top.edge_index
    sq = traj.theta**2  # (T, n_params)
    fig, (ax_h, ax_d) = new_figure(ncols=2, height=3.8, gridspec_kw={"width_ratios": [1.2, 1]})
    lim = 0.0
    colors = cycle(STYLE["colors"])
    paths = []
    for v in hidden:
        x = np.sqrt(sq[:, tgt == v].sum(axis=1))
        y = np.sqrt(sq[:, src == v].sum(axis=1))
        paths.append((v, x, y))
        lim = max(lim, x.max(), y.max())
    lim *= 1.08
    r = np.linspace(0, lim, 400)
    for v, x, y in paths:
        color = next(colors)
        c = x[0] ** 2 - y[0] ** 2
        if c >= 0:
            hx, hy = np.sqrt(c + r**2), r
        else:
            hx, hy = r, np.sqrt(r**2 - c)
        ax_h.plot(hx, hy, color=color, ls="--", lw=0.8, alpha=0.8)
        ax_h.plot(x, y, color=color, lw=2.0, label=f"node {top.nodes[v]}: $c_v = {c:+.2f}$")
        ax_h.plot(x[0], y[0], "o", mfc="white", mec=color, ms=5)
        ax_h.plot(x[-1], y[-1], "o", color=color, ms=5)
    ax_h.set_xlim(0, lim)
    ax_h.set_ylim(0, lim)
    ax_h.set_aspect("equal")
    ax_h.set_xlabel(r"$\|\mathrm{in}_v\|$ (incoming weights)")
    ax_h.set_ylabel(r"$\|\mathrm{out}_v\|$ (outgoing weights)")
    ax_h.set_title(r"hidden nodes on $x^2 - y^2 = c_v$ (dashed)")
    fig.legend(*ax_h.get_legend_handles_labels(), loc="outside lower center", ncols=3,
               fontsize=STYLE["fontsize"] - 1)
    t = traj.t
    moved = np.linalg.norm(traj.theta - traj.theta[0], axis=1)
    keep = t > 0
    ax_d.plot(t[keep], moved[keep], color=STYLE["colors"][2], label=r"$\|\theta(t) - \theta(0)\|$")
    drift = np.maximum(traj.conserved_drift[keep], 1e-17)
    law = traj.flow.default_law
    ax_d.plot(t[keep], drift, color=STYLE["colors"][1],
              label=r"$\max|Q(t) - Q(0)|$" + (" (node balances)" if law == "node" else r" ($C_i$)"))
    ax_d.set_yscale("log")
    ax_d.set_xlabel(r"time $t$")
    ax_d.set_ylabel("size")
    ax_d.set_title("weights move, balances stay")
    ax_d.legend(loc="center")
    return fig
