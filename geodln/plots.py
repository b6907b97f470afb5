"""Figures (the only module that imports matplotlib).

Every function takes geodln objects or plain arrays and returns a
``matplotlib.figure.Figure`` built with the object-oriented API (no pyplot
state, so no backend is needed until saving): a researcher restyles it through
``fig.axes`` and saves it with :func:`save_figure` (atomic) or
``fig.savefig``. All figures share one style, :data:`STYLE`: the Okabe-Ito
colour-blind-safe palette, a diverging blue-red map for signed weights, and
sizes that fit a two-column journal page (7 in wide, 9 pt text).

- :func:`draw_network`: the graph in a layered layout beside its adjacency matrix;
- :func:`plot_trajectory`, :func:`plot_mode_curves`: loss with the ladder of
  critical values ``L_J`` and the itinerary, singular values of ``W(t)`` with
  closed forms;
- :func:`plot_phase_portrait`: scalar networks ``1,1,1`` and ``1,1,1,1``;
- :func:`plot_catalog`, :func:`plot_hessian_spectrum`: the landscape;
- :func:`plot_escape_times`, :func:`plot_fiber`, :func:`plot_level_sets`,
  :func:`plot_descent_vs_flow`: saddles, symmetry, conservation, discretisation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from itertools import cycle

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import PowerNorm, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .files import atomic_path
from .flow import GradientFlow, Trajectory
from .topology import Topology

__all__ = [
    "STYLE",
    "draw_network",
    "plot_trajectory",
    "plot_mode_curves",
    "plot_phase_portrait",
    "phase_field",
    "plot_catalog",
    "plot_hessian_spectrum",
    "plot_escape_times",
    "plot_fiber",
    "plot_level_sets",
    "plot_descent_vs_flow",
    "LevelSlice",
    "level_set_slice",
    "save_figure",
]

# One style for every figure: Okabe-Ito colour-blind-safe palette, sizes that
# fit a two-column journal page. Kinds of critical points and the signs of
# Hessian eigenvalues get fixed colours (and markers, so grey print works).
STYLE = {
    "colors": ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"],
    "width": 7.0,
    "height": 2.8,
    "fontsize": 9,
    "weights_cmap": "RdBu_r",  # diverging, colour-blind safe (ColorBrewer)
    "speed_cmap": "cividis",  # sequential, colour-blind safe
    "kinds": {
        "global_minimum": {"color": "#009E73", "marker": "*", "label": "global minimum"},
        "strict_saddle": {"color": "#CC79A7", "marker": "o", "label": "strict saddle"},
        "nonstrict_saddle": {"color": "#0072B2", "marker": "D", "label": "nonstrict saddle"},
    },
    "inertia": {"negative": "#D55E00", "zero": "#BBBBBB", "positive": "#56B4E9"},
}


def _rc() -> dict:
    fs = STYLE["fontsize"]
    return {
        "font.size": fs, "axes.titlesize": fs, "axes.labelsize": fs, "legend.fontsize": fs - 1,
        "xtick.labelsize": fs - 1, "ytick.labelsize": fs - 1, "lines.linewidth": 1.4,
        "axes.prop_cycle": matplotlib.cycler(color=STYLE["colors"]), "legend.frameon": False,
        "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 150,
        "pdf.fonttype": 42,  # TrueType in PDFs, editable text for journals
    }


def _styled(func):
    """Build the figure under :data:`STYLE` (read when called, so edits to STYLE apply)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_rc()):
            return func(*args, **kwargs)
    return wrapper


def _figure(ncols: int = 1, nrows: int = 1, height: float | None = None, width: float | None = None,
            **kwargs) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width or STYLE["width"], height or STYLE["height"] * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, **kwargs)).reshape(-1)
    return fig, axes


def _set_label(J) -> str:
    J = list(J)
    return r"\emptyset" if not J else r"\{" + ",".join(map(str, J)) + r"\}"


# ----------------------------------------------------------------- network
def _layout(top: Topology) -> np.ndarray:
    """Node positions ``(n, 2)``: x = level, y centred within the level (first node on top)."""
    pos = np.zeros((top.n, 2))
    for level, sl in enumerate(top.level_slices):
        d = sl.stop - sl.start
        pos[sl, 0] = level
        pos[sl, 1] = (d - 1) / 2 - np.arange(d)
    return pos


def _edge_polyline(p, q, skip: bool) -> np.ndarray:
    """A straight segment, or for a skip edge a quadratic Bezier arc that clears the levels between."""
    if not skip:
        return np.array([p, q])
    mid = (p + q) / 2 + np.array([0.0, 0.35 * abs(q[0] - p[0])])
    s = np.linspace(0, 1, 24)[:, None]
    return (1 - s) ** 2 * p + 2 * s * (1 - s) * mid + s**2 * q


@_styled
def draw_network(top: Topology, A=None, paths=None, title: str | None = None) -> Figure:
    """The network's graph in a layered layout beside its adjacency matrix.

    Left: nodes level by level (inputs left, outputs right), every edge
    ``j -> k`` coloured and thickened by its weight ``A[j, k]`` (edges of the
    mask with weight 0 are thin grey), skip edges arched, chosen paths
    underlaid in colour. Right: ``A`` as a heat map in the same colours, the
    levels separated and every block of the mask outlined: for a layered
    network the blocks ``(i-1, i)`` are ``W_i^T``, so ``A`` is strictly block
    upper triangular (nilpotent).

    Parameters
    ----------
    top : Topology
    A : array-like, shape=[n, n], optional
        Weighted adjacency matrix (``A[j, k]`` = weight of ``j -> k``, nodes in
        ``top.nodes`` order); default the mask (all weights 1).
    paths : sequence of sequences of nodes, or dict label -> sequence, optional
        Paths (e.g. the complete paths that carry learnt modes) to highlight.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [graph, matrix, colorbar]``.
    """
    A = top.mask.copy() if A is None else np.asarray(A, dtype=float)
    if A.shape != (top.n, top.n):
        raise ValueError(f"A has shape {A.shape}; this network has n = {top.n} nodes, so A must be ({top.n}, {top.n})")
    fig, (ax_g, ax_m) = _figure(ncols=2, height=3.4, gridspec_kw={"width_ratios": [1.3, 1]})
    pos = _layout(top)
    vmax = float(np.abs(A[top.mask > 0]).max(initial=0.0)) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    cmap = matplotlib.colormaps[STYLE["weights_cmap"]].with_extremes(bad="0.93")  # bad: off the mask
    index = {v: i for i, v in enumerate(top.nodes)}
    if paths:
        items = paths.items() if isinstance(paths, dict) else ((f"path {i + 1}", p) for i, p in enumerate(paths))
        colors = cycle([STYLE["colors"][4], STYLE["colors"][2], STYLE["colors"][3], STYLE["colors"][5]])
        for label, path in items:
            try:
                idx = [index[v] for v in path]
            except KeyError as err:
                raise ValueError(f"path {label!r} names the node {err.args[0]!r}, which is not in the network") from None
            for j, k in zip(idx, idx[1:]):
                if top.mask[j, k] == 0:
                    raise ValueError(f"path {label!r} uses {top.nodes[j]!r} -> {top.nodes[k]!r}, which is not an edge")
            color = next(colors)
            segs = [_edge_polyline(pos[j], pos[k], top.layer[k] - top.layer[j] > 1) for j, k in zip(idx, idx[1:])]
            ax_g.add_collection(LineCollection(segs, colors=color, linewidths=9, alpha=0.45, capstyle="round",
                                               zorder=1, label=label))
    src, tgt = np.nonzero(top.mask)
    w = A[src, tgt]
    order = np.argsort(np.abs(w))  # strong edges drawn last, on top
    segs = [_edge_polyline(pos[j], pos[k], top.layer[k] - top.layer[j] > 1) for j, k in zip(src[order], tgt[order])]
    wo = w[order]
    colors = [cmap(norm(x)) if x != 0 else (0.75, 0.75, 0.75, 1.0) for x in wo]
    widths = np.where(wo != 0, 0.6 + 3.0 * np.abs(wo) / vmax, 0.4)
    ax_g.add_collection(LineCollection(segs, colors=colors, linewidths=widths, zorder=2))
    roles = np.where(top.layer == 0, 0, np.where(top.layer == top.depth, 2, 1))
    for role, (name, face) in enumerate((("input", "white"), ("hidden", "0.85"), ("output", "white"))):
        sel = roles == role
        ax_g.scatter(pos[sel, 0], pos[sel, 1], s=70, c=face, edgecolors="k", linewidths=0.8, zorder=3)
    ax_g.set_xticks(range(top.depth + 1))
    ax_g.set_xlabel(r"layer (inputs $\to$ outputs)")
    ax_g.set_yticks([])
    ax_g.set_ylabel("nodes of each layer")
    ax_g.spines[["left", "bottom"]].set_visible(False)
    ax_g.tick_params(axis="x", length=0)
    ymax = max(top.widths) / 2 + 0.2
    ax_g.set_ylim(-ymax, ymax + (0.35 * top.depth if not top.is_layered else 0.1))
    ax_g.set_xlim(-0.3, top.depth + 0.3)
    ax_g.set_title("graph: edge $j \\to k$ coloured by $A_{jk}$" if title is None else title)
    if paths:
        fig.legend(loc="outside lower center", ncols=2)
    Am = np.ma.masked_where(top.mask == 0, A)
    im = ax_m.imshow(Am, cmap=cmap, norm=norm, interpolation="nearest")
    for sl in top.level_slices[1:]:
        ax_m.axhline(sl.start - 0.5, color="0.6", lw=0.6)
        ax_m.axvline(sl.start - 0.5, color="0.6", lw=0.6)
    for blk in top.blocks:
        ax_m.add_patch(Rectangle((blk.cols.start - 0.5, blk.rows.start - 0.5), blk.shape[1], blk.shape[0],
                                 fill=False, ec="k", lw=1.0))
    ticks = [(sl.start + sl.stop - 1) / 2 for sl in top.level_slices]
    ax_m.set_xticks(ticks, [str(i) for i in range(top.depth + 1)])
    ax_m.set_yticks(ticks, [str(i) for i in range(top.depth + 1)])
    ax_m.set_xlabel("target node $k$ (by layer)")
    ax_m.set_ylabel("source node $j$ (by layer)")
    ax_m.set_title(r"adjacency matrix $A$")
    ax_m.spines[["top", "right"]].set_visible(True)
    fig.colorbar(im, ax=ax_m, label="weight $A_{jk}$ (grey: no edge)", shrink=0.8)
    return fig


# -------------------------------------------------------------- trajectory
def _draw_ladder(ax, data, r_max: int) -> None:
    for k in range(0, min(r_max, len(data.s)) + 1):
        value = data.critical_value(range(1, k + 1))
        ax.axhline(value, color="0.5", ls="--", lw=0.7, zorder=0)
        ax.annotate(rf"$L_{{{_set_label(range(1, k + 1))}}}$", (1.0, value), xycoords=("axes fraction", "data"),
                    xytext=(2, 0), textcoords="offset points", fontsize=STYLE["fontsize"] - 1, va="center",
                    ha="left", color="0.35", annotation_clip=False)


def _draw_itinerary(ax, itinerary, data) -> None:
    """Shade each visited interval and write its ``J`` on the plateau, above ``L_J``."""
    shades = cycle(["0.92", "0.85"])
    for visit in itinerary:
        J, t0, t1 = (visit.learned, visit.t_enter, visit.t_exit) if hasattr(visit, "learned") else visit
        ax.axvspan(t0, t1, color=next(shades), zorder=-1, lw=0)
        mid = (t0 * t1) ** 0.5 if t0 > 0 and ax.get_xscale() == "log" else (t0 + t1) / 2
        ax.annotate(f"$J = {_set_label(J)}$", (mid, data.critical_value(J)), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=STYLE["fontsize"] - 1,
                    color="0.2")


def _draw_modes(ax, traj: Trajectory, keep, closed_form=None) -> None:
    data, t = traj.flow.data, traj.t
    colors = cycle(STYLE["colors"])
    for k in range(traj.singular_values.shape[1]):
        color = next(colors)
        ax.plot(t[keep], traj.singular_values[keep, k], color=color, lw=1.6, label=rf"$\sigma_{k + 1}(W)$")
        if k < len(data.s):
            ax.axhline(data.s[k], color=color, ls=":", lw=0.8)
    if closed_form is not None:
        for i, (tc, uc) in enumerate(closed_form):
            tc, uc = np.asarray(tc, dtype=float), np.asarray(uc, dtype=float)
            if ax.get_xscale() == "log":
                tc, uc = tc[tc > 0], uc[tc > 0]
            ax.plot(tc, uc, color="k", ls=(0, (3, 2)), lw=0.9, label="closed form" if i == 0 else None)
    ax.set_xlabel(r"time $t$")
    ax.set_ylabel(r"singular values of $W(t)$")


def _log_spaced(t) -> bool:
    """Whether output times are (after a leading 0) a geometric grid over at least two decades."""
    pos = np.asarray(t, dtype=float)
    pos = pos[pos > 0]
    if len(pos) < 3 or pos[-1] / pos[0] < 100:
        return False
    ratios = np.diff(np.log(pos))
    return bool(np.allclose(ratios, ratios.mean(), rtol=1e-6))


@_styled
def plot_trajectory(traj: Trajectory, log_time: bool | None = None, log_loss: bool = False,
                    itinerary=None, closed_form=None) -> Figure:
    """Loss and end-to-end singular values against time.

    Left: ``L(t)`` with the ladder of critical values ``L_J`` for the top
    sets ``J = {}, {1}, {1, 2}, ...`` (up to ``r_max``) dashed: a small start
    rests on these plateaus one after another; the itinerary, when given, is
    shaded and labelled by ``J``. Right: the singular values of ``W(t)`` with
    the data's ``s_k`` dotted and closed-form curves dashed.

    Parameters
    ----------
    traj : Trajectory
    log_time : bool, optional
        Logarithmic time axis; default when the output times are log-spaced.
    log_loss : bool
        Logarithmic loss axis (linear by default, which shows plateaus best).
    itinerary : sequence of (J, t_enter, t_exit) or of saddles.Visit, optional
        The saddles visited: learnt set ``J`` (1-based modes) and the time
        interval spent near its critical value, e.g. from
        :func:`geodln.saddles.itinerary`.
    closed_form : sequence of (t, u) pairs, optional
        One curve per mode: times ``t`` (shape=[K]) and the mode strength
        ``u`` (shape=[K]) predicted by a closed form (e.g. an aligned start).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [loss, singular values]``.
    """
    data, top = traj.flow.data, traj.flow.top
    t = traj.t
    if log_time is None:
        log_time = _log_spaced(t)
    keep = t > 0 if log_time else slice(None)
    fig, (ax_loss, ax_sv) = _figure(ncols=2)
    for ax in (ax_loss, ax_sv):
        if log_time:
            ax.set_xscale("log")
    ax_loss.plot(t[keep], traj.loss[keep], color=STYLE["colors"][0], lw=1.6, label=r"$L(t)$")
    _draw_ladder(ax_loss, data, min(top.widths))
    if itinerary:
        _draw_itinerary(ax_loss, itinerary, data)
    if log_loss:
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel(r"time $t$")
    ax_loss.set_ylabel(r"loss $L = \frac{1}{2}\|Y - WX\|_F^2$")
    ax_loss.set_title(r"loss (dashed: critical values $L_J$)" + (", shaded: itinerary" if itinerary else ""))
    _draw_modes(ax_sv, traj, keep, closed_form)
    ax_sv.set_title(r"modes (dotted: data $s_k$)")
    ax_sv.legend()
    return fig


@_styled
def plot_mode_curves(trajs, closed_forms=None, titles=None, log_time: bool = False) -> Figure:
    """Singular values of ``W(t)`` for several trajectories, one panel each, closed forms overlaid.

    Parameters
    ----------
    trajs : sequence of Trajectory
    closed_forms : sequence (one per trajectory) of sequences of (t, u) pairs, optional
        See ``closed_form`` in :func:`plot_trajectory`.
    titles : sequence of str, optional
    log_time : bool

    Returns
    -------
    matplotlib.figure.Figure
        One axes per trajectory.
    """
    trajs = list(trajs)
    if not trajs:
        raise ValueError("give at least one trajectory")
    closed_forms = [None] * len(trajs) if closed_forms is None else list(closed_forms)
    if len(closed_forms) != len(trajs):
        raise ValueError(f"{len(closed_forms)} closed forms for {len(trajs)} trajectories")
    fig, axes = _figure(ncols=len(trajs), sharey=True)
    for i, (ax, traj, cf) in enumerate(zip(axes, trajs, closed_forms)):
        if log_time:
            ax.set_xscale("log")
        _draw_modes(ax, traj, traj.t > 0 if log_time else slice(None), cf)
        if i:
            ax.set_ylabel("")
        ax.set_title(titles[i] if titles else f"depth {traj.flow.top.depth}")
    axes[-1].legend(loc="lower right")
    return fig


# ---------------------------------------------------------- phase portrait
def _scalar_chart(flow: GradientFlow):
    """Plane coordinates ``(x, y) -> theta`` of a scalar network and back, for the phase portrait.

    Depth 2: ``theta = (w_1, w_2)``. Depth 3: the invariant plane
    ``w_1 = w_3`` (the field keeps it: ``dw_1/dt = w_2 w_3 (s - p)`` and
    ``dw_3/dt = w_1 w_2 (s - p)`` agree there), ``theta = (x, y, x)``.
    """
    top = flow.top
    if not (top.is_fully_connected and all(w == 1 for w in top.widths) and top.depth in (2, 3)):
        raise ValueError(f"the phase portrait needs the scalar network 1,1,1 or 1,1,1,1, got {top!r}")
    if top.depth == 2:
        return (lambda x, y: np.array([x, y])), (lambda v: v[[0, 1]])
    return (lambda x, y: np.array([x, y, x])), (lambda v: v[[0, 1]])


def phase_field(flow: GradientFlow, x, y) -> tuple[np.ndarray, np.ndarray]:
    """The vector field of a scalar network in the phase-portrait plane, at points ``(x, y)`` (any shape)."""
    lift, proj = _scalar_chart(flow)
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    uv = np.array([proj(flow.rhs(lift(a, b))) for a, b in zip(x.ravel(), y.ravel())])
    return uv[:, 0].reshape(x.shape), uv[:, 1].reshape(x.shape)


@_styled
def plot_phase_portrait(flow: GradientFlow, lim: float = 2.0, n_arrows: int = 19, starts=None,
                        t_end: float = 20.0, levels=None) -> Figure:
    """Phase portrait of the scalar network ``1,1,1`` (depth 2) or ``1,1,1,1`` (depth 3).

    Depth 2, coordinates ``(w_1, w_2)``; depth 3, the invariant plane
    ``w_1 = w_3`` with coordinates ``(w_1, w_2)``. Drawn: the vector field
    (arrows of unit length, coloured by the speed ``|dw/dt|``), the level sets
    of the conserved quantity ``w_1^2 - w_2^2 = c`` (hyperbolas; for depth 3
    also ``w_2^2 - w_3^2 = -c``), the global-minimum set ``w_1 w_2 = s`` (depth
    3: ``w_1^2 w_2 = s``), the critical sets, the stable and unstable sets of
    the origin (the balanced lines where the product has the sign of ``s``
    leave it, the others return to it), and trajectories of the flow.

    Parameters
    ----------
    flow : GradientFlow
        On a scalar network of depth 2 or 3; ``s`` is the least-squares
        product ``data.W_ls``.
    lim : float
        The square ``[-lim, lim]^2`` shown.
    n_arrows : int
        Arrows per side of the grid.
    starts : sequence of (float, float), optional
        Starting points of the trajectories drawn (plane coordinates).
    t_end : float
        Integration time of each trajectory.
    levels : sequence of float, optional
        Values ``c`` of the conserved quantity drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; its quiver (``fig.axes[0].collections`` entry of type
        ``Quiver``) holds the unit directions ``U, V`` at ``X, Y`` and the
        speeds as its colour array.
    """
    lift, proj = _scalar_chart(flow)
    h = flow.top.depth
    s = float(flow.data.W_ls[0, 0])
    sign = 1.0 if s >= 0 else -1.0
    fig, (ax,) = _figure(width=STYLE["width"] * 0.62, height=3.6)
    g = np.linspace(-lim, lim, n_arrows)
    X, Y = np.meshgrid(g, g)
    U, V = phase_field(flow, X, Y)
    speed = np.hypot(U, V)
    with np.errstate(invalid="ignore", divide="ignore"):
        Un, Vn = np.where(speed > 0, U / speed, 0.0), np.where(speed > 0, V / speed, 0.0)
    q = ax.quiver(X, Y, Un, Vn, speed, cmap=STYLE["speed_cmap"], norm=PowerNorm(0.4), angles="xy", scale_units="xy",
                  scale=n_arrows / (1.6 * lim), width=0.004, alpha=0.8, zorder=1, rasterized=True)
    fig.colorbar(q, ax=ax, label=r"speed $|\dot w|$", shrink=0.8)
    fine = np.linspace(-lim, lim, 401)
    FX, FY = np.meshgrid(fine, fine)
    levels = [-3, -2, -1, -0.5, -0.2, 0.2, 0.5, 1, 2, 3] if levels is None else sorted(levels)
    ax.contour(FX, FY, FX**2 - FY**2, levels=[c for c in levels if c != 0], colors="0.55", linewidths=0.6,
               linestyles="-", zorder=2)
    ax.plot([], [], color="0.55", lw=0.6, label=r"level sets $w_1^2 - w_2^2 = c$")
    product = FX * FY if h == 2 else FX**2 * FY
    ax.contour(FX, FY, product - s, levels=[0.0], colors=STYLE["kinds"]["global_minimum"]["color"], linewidths=2.2,
               zorder=3)
    ax.plot([], [], color=STYLE["kinds"]["global_minimum"]["color"], lw=2.2,
            label=(r"global minima $w_1 w_2 = s$" if h == 2 else r"global minima $w_1^2 w_2 = s$"))
    r = np.linspace(0, lim, 50)
    if h == 2:  # unstable: w_1 w_2 has the sign of s (both half-lines); stable: the opposite
        unstable = [(r, sign * r), (-r, -sign * r)]
        stable = [(r, -sign * r), (-r, sign * r)]
    else:  # the product w_1^2 w_2 has the sign of w_2
        unstable = [(r, sign * r), (-r, sign * r)]
        stable = [(r, -sign * r), (-r, -sign * r)]
    for i, (xs, ys) in enumerate(unstable):
        ax.plot(xs, ys, color=STYLE["colors"][1], lw=2.0, zorder=4, label="unstable set of 0" if i == 0 else None)
        ax.annotate("", (xs[30], ys[30]), (xs[22], ys[22]), zorder=5,
                    arrowprops=dict(arrowstyle="-|>", color=STYLE["colors"][1], lw=1.5))
    for i, (xs, ys) in enumerate(stable):
        ax.plot(xs, ys, color=STYLE["colors"][0], lw=2.0, zorder=4, label="stable set of 0" if i == 0 else None)
        ax.annotate("", (xs[22], ys[22]), (xs[30], ys[30]), zorder=5,
                    arrowprops=dict(arrowstyle="-|>", color=STYLE["colors"][0], lw=1.5))
    if h == 3:  # w_1 = w_3 = 0: strict saddles (the Hessian has -|s w_2| in the (w_1, w_3) plane)
        ax.plot([0, 0], [-lim, lim], color="k", lw=1.6, ls=(0, (4, 2)), zorder=4,
                label=r"strict saddles $w_1 = w_3 = 0$")
        ax.plot([0], [0], "kD", ms=6, zorder=6, label="origin (nonstrict saddle)")
    else:
        ax.plot([0], [0], "ko", ms=6, zorder=6, label="origin (strict saddle)")
    if starts is None:
        starts = [(1.7, -1.6), (-1.7, 1.6), (1.6, -1.7), (-1.6, 1.7), (0.3, -1.9), (-1.9, 0.3)] if h == 2 else \
                 [(1.5, -1.6), (-1.5, -1.6), (1.7, 0.2), (-1.7, 0.2), (-0.25, 1.8), (0.3, -0.5)]
    for i, (x0, y0) in enumerate(starts):
        traj = flow.integrate(lift(x0, y0), t_end, n_points=400, rtol=1e-9, atol=1e-12)
        pts = np.array([proj(x) for x in traj.theta])
        inside = np.all(np.abs(pts) <= lim * 1.05, axis=1)
        pts = pts[: np.argmin(inside) if not inside.all() else len(pts)]
        ax.plot(pts[:, 0], pts[:, 1], color="k", lw=1.1, zorder=5, label="trajectories" if i == 0 else None)
        ax.plot(*pts[0], "o", mfc="white", mec="k", ms=4, zorder=6)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$w_1$" if h == 2 else r"$w_1 = w_3$")
    ax.set_ylabel(r"$w_2$")
    net = ",".join(["1"] * (h + 1))
    ax.set_title(f"scalar network {net}, $s = {s:g}$" + ("" if h == 2 else r", plane $w_1 = w_3$"))
    fig.legend(loc="outside lower center", ncols=2)
    return fig


# -------------------------------------------------------------- landscape
@_styled
def plot_catalog(catalog, title: str | None = None) -> Figure:
    """Critical values of every stratum of a catalog, grouped by ``J``, with the Hessian inertia.

    Top: one marker per stratum at its critical value ``L_J``, coloured (and
    shaped) by kind; strata of the same learnt set ``J`` sit side by side.
    Bottom: the Hessian inertia of each stratum's representative, stacked
    counts of negative, zero and positive eigenvalues.

    Parameters
    ----------
    catalog : geodln.catalog.Catalog
    title : str, optional
        Default: the widths and spectrum from the manifest.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [critical values, inertia]``.
    """
    records = list(catalog.records)
    if not records:
        raise ValueError("the catalog has no records")
    groups: dict = {}
    for rec in records:
        groups.setdefault(tuple(rec["learned"]), []).append(rec)
    fig, (ax_v, ax_i) = _figure(nrows=2, height=4.6, sharex=True, gridspec_kw={"height_ratios": [1.4, 1]})
    x = 0
    centers, names, seen = [], [], set()
    inertia = {key: [] for key in ("negative", "zero", "positive")}
    xs = []
    for J, recs in groups.items():
        start = x
        for rec in recs:
            style = STYLE["kinds"][rec["kind"]]
            ax_v.scatter([x], [rec["critical_value"]], c=style["color"], marker=style["marker"],
                         s=60 if rec["kind"] == "global_minimum" else 22, edgecolors="k", linewidths=0.3, zorder=3,
                         label=style["label"] if rec["kind"] not in seen else None)
            seen.add(rec["kind"])
            for key in inertia:
                inertia[key].append(rec["hessian"][key])
            xs.append(x)
            x += 1
        centers.append((start + x - 1) / 2)
        names.append(f"${_set_label(J)}$")
        for ax in (ax_v, ax_i):
            ax.axvline(x - 0.5 + 0.5, color="0.8", lw=0.6, zorder=0)
        x += 1  # a gap between groups
    bottom = np.zeros(len(xs))
    for key, color in STYLE["inertia"].items():
        vals = np.array(inertia[key], dtype=float)
        ax_i.bar(xs, vals, bottom=bottom, width=0.9, color=color, label=f"{key}", linewidth=0)
        bottom += vals
    ax_v.set_ylabel(r"critical value $L_J$")
    ax_v.legend(loc="center left", bbox_to_anchor=(0.02, 0.45))
    params = catalog.manifest.get("parameters", {})
    if title is None:
        title = (f"catalog: widths {','.join(map(str, params.get('widths', [])))}, "
                 f"$s$ = {','.join(f'{v:g}' for v in params.get('spectrum', []))}: {len(records)} strata")
    ax_v.set_title(title)
    ax_i.set_ylabel("Hessian eigenvalues")
    ax_i.set_xticks(centers, names, rotation=45 if len(centers) > 4 else 0)
    ax_i.set_xlabel(r"learnt set of modes $J$ (one column per stratum)")
    ax_i.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="inertia")
    ax_i.set_xlim(-1, x - 1)
    return fig


@_styled
def plot_hessian_spectrum(spectra, kinds=None, tol=None, rtol: float = 1e-8) -> Figure:
    """Sorted Hessian eigenvalues at several critical points, one panel each, the zero band shaded.

    The y axis is symmetric-logarithmic, linear inside the zero band
    ``|lambda| <= tol`` (the eigenvalues counted as zero, as in
    :func:`geodln.hessian.inertia`), logarithmic outside.

    Parameters
    ----------
    spectra : dict label -> array-like, shape=[n_params]
        Eigenvalues (any order) of each point's Hessian.
    kinds : dict label -> str, optional
        The kind of each point (a key of ``STYLE["kinds"]``), for the colour.
    tol : float, optional
        Half-width of the zero band; default ``rtol * max(1, max |lambda|)``
        over all spectra.
    rtol : float

    Returns
    -------
    matplotlib.figure.Figure
        One axes per spectrum.
    """
    spectra = {label: np.sort(np.asarray(lam, dtype=float)) for label, lam in dict(spectra).items()}
    if not spectra:
        raise ValueError("give at least one spectrum")
    kinds = kinds or {}
    if tol is None:
        tol = rtol * max(1.0, max(float(np.abs(lam).max(initial=0.0)) for lam in spectra.values()))
    fig, axes = _figure(ncols=len(spectra), sharey=True, height=3.0)
    top = max(float(np.abs(lam).max(initial=1.0)) for lam in spectra.values())
    for i, (ax, (label, lam)) in enumerate(zip(axes, spectra.items())):
        style = STYLE["kinds"].get(kinds.get(label), {"color": STYLE["colors"][i % 8], "marker": "o"})
        ax.set_yscale("symlog", linthresh=tol, linscale=1.0)
        ax.axhspan(-tol, tol, color="0.88", zorder=0, lw=0)
        ax.axhline(0, color="0.5", lw=0.6, zorder=1)
        idx = np.arange(1, len(lam) + 1)
        neg, zero = lam < -tol, np.abs(lam) <= tol
        ax.scatter(idx, lam, c=style["color"], marker=style["marker"], s=45 if style["marker"] == "*" else 22,
                   edgecolors="k", linewidths=0.3, zorder=3)
        decades = 10.0 ** np.arange(np.floor(np.log10(top)), np.log10(tol), -2)
        ax.set_yticks(np.concatenate([-decades, [0.0], decades[::-1]]))
        ax.set_title(f"{label}\n$(n_-, n_0, n_+) = ({neg.sum()}, {zero.sum()}, {len(lam) - neg.sum() - zero.sum()})$")
        ax.set_xlabel(r"index $i$ (sorted)")
        ax.set_ylim(-2 * top, 2 * top)
        if i == 0:
            ax.set_ylabel(r"Hessian eigenvalue $\lambda_i$")
    mant, expo = f"{tol:.0e}".split("e")
    axes[0].annotate(rf"counted as 0: $|\lambda| \leq {mant} \cdot 10^{{{int(expo)}}}$", (0.02, 0.5),
                     xycoords="axes fraction", va="bottom", xytext=(0, 8), textcoords="offset points",
                     fontsize=STYLE["fontsize"] - 1, color="0.35")
    return fig


# ----------------------------------------------------------------- saddles
@_styled
def plot_escape_times(eps, times, labels, orders=None) -> Figure:
    """Time spent near a saddle against the initial distance ``eps``, log-log, with fitted slopes.

    Along an escape path of order ``m`` the loss falls like ``-c eps^m``, so
    the flow leaves in a time ``~ eps^(2 - m)`` (slope ``2 - m``) for a
    nonstrict saddle (``m >= 3``) and ``~ log(1/eps)`` (slope near 0) for a
    strict one (``m = 2``).

    Parameters
    ----------
    eps : array-like, shape=[K], or sequence of such (one per series)
        Initial distances from the saddle.
    times : sequence of array-like, each shape=[K]
        Escape times of each series.
    labels : sequence of str
    orders : sequence of int, optional
        Escape order ``m`` of each series, to print the predicted slope.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; the legend gives each series' fitted slope ``d log t / d log eps``.
    """
    times = [np.asarray(t, dtype=float) for t in times]
    eps_list = [np.asarray(eps, dtype=float)] * len(times) if np.ndim(eps[0]) == 0 else \
        [np.asarray(e, dtype=float) for e in eps]
    if not (len(eps_list) == len(times) == len(labels)):
        raise ValueError(f"{len(times)} series of times, {len(eps_list)} of eps and {len(labels)} labels")
    fig, (ax,) = _figure(width=STYLE["width"] * 0.6, height=3.2)
    markers = cycle(["o", "s", "D", "^"])
    for i, (e, t, label) in enumerate(zip(eps_list, times, labels)):
        if e.shape != t.shape:
            raise ValueError(f"series {label!r}: {e.size} values of eps but {t.size} times")
        slope, icpt = np.polyfit(np.log(e), np.log(t), 1)
        text = f"{label}: slope {slope:.2f}"
        if orders is not None:
            m = orders[i]
            text += " (theory: log)" if m <= 2 else f" (theory {2 - m})"
        color = STYLE["colors"][i % 8]
        ax.plot(e, t, marker=next(markers), ls="none", color=color, ms=5, label=text)
        ax.plot(e, np.exp(icpt) * e**slope, color=color, lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"initial distance $\varepsilon$ from the saddle")
    ax.set_ylabel(r"escape time $t_{\mathrm{esc}}(\varepsilon)$")
    ax.set_title("time near a saddle (dashed: log-log fits)")
    ax.legend(loc="upper right")
    return fig


# ---------------------------------------------------------------- symmetry
def _curved_pair(P: np.ndarray) -> tuple[int, int]:
    """Two coordinates that both vary along the curve ``P`` (K, p) and are least correlated (so it bends)."""
    std = P.std(axis=0)
    cand = np.flatnonzero(std >= 0.3 * std.max())
    if len(cand) < 2:
        return tuple(np.sort(np.argsort(std)[::-1][:2]))
    C = np.abs(np.corrcoef(P[:, cand].T))
    i, j = np.unravel_index(np.argmin(C + np.eye(len(cand))), C.shape)
    return tuple(sorted((int(cand[i]), int(cand[j]))))


@_styled
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
    fig, (ax_p, ax_l, ax_n) = _figure(ncols=3, height=2.8, gridspec_kw={"width_ratios": [1.2, 1, 1]})
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


# ------------------------------------------------------------ conservation
@_styled
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
    fig, (ax_h, ax_d) = _figure(ncols=2, height=3.8, gridspec_kw={"width_ratios": [1.2, 1]})
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


@_styled
def plot_descent_vs_flow(flow_traj: Trajectory, descents, threshold: float | None = None) -> Figure:
    """Gradient descent at several step sizes against the gradient flow.

    Left: the loss against time (``t = k eta`` for descent) on a log scale;
    runs that diverged are marked. Middle: the drift of the conserved
    quantities, ``max |Q(t) - Q(0)|``, against time. Right: that drift against
    the step, after one step (``C_i`` changes by exactly
    ``eta^2 (G_i G_i^T - G_{i+1}^T G_{i+1})``, slope 2) and at the final time
    (``~ eta``, a sum of ``t/eta`` such steps, slope 1), with fitted slopes;
    the threshold ``eta* = 2 / lambda_max`` is drawn when given.

    Parameters
    ----------
    flow_traj : Trajectory
        The gradient flow from the same start.
    descents : dict float -> Trajectory or None
        Descent trajectory for each step ``eta`` (from
        :meth:`GradientFlow.descend` with ``record_every=1`` for the first
        step); None for a run that diverged.
    threshold : float, optional
        The stability threshold ``2 / lambda_max`` of the Hessian at the minimum.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [loss, drift in time, drift against eta]``.
    """
    descents = dict(sorted(descents.items()))
    if not descents:
        raise ValueError("give at least one descent run")
    fig, (ax_l, ax_t, ax_e) = _figure(ncols=3, height=3.4)
    floor = 1e-16
    ax_l.plot(flow_traj.t, np.maximum(flow_traj.loss, floor), color="k", lw=2.2, label="gradient flow")
    ax_t.plot(flow_traj.t[1:], np.maximum(flow_traj.conserved_drift[1:], floor), color="k", lw=2.2,
              label="gradient flow")
    colors = cycle(STYLE["colors"])
    one, end, etas = [], [], []
    for eta, traj in descents.items():
        color = next(colors)
        name = rf"$\eta = {eta:.3g}$" + (rf" $= {eta / threshold:.2g}\,\eta^*$" if threshold else "")
        if traj is None:
            ax_l.plot([], [], color=color, marker="x", ls="none", label=name + " (diverged)")
            continue
        ax_l.plot(traj.t, np.maximum(traj.loss, floor), color=color, lw=1.2, label=name)
        ax_t.plot(traj.t[1:], np.maximum(traj.conserved_drift[1:], floor), color=color, lw=1.2)
        etas.append(eta)
        one.append(traj.conserved_drift[1])
        end.append(traj.conserved_drift[-1])
    ax_l.set_yscale("log")
    ax_l.set_xlabel(r"time $t$ ($= k\eta$ for descent)")
    ax_l.set_ylabel(r"loss $L - L_*$" if flow_traj.flow.data.loss_floor == 0 else r"loss $L$")
    ax_l.set_title("loss")
    fig.legend(*ax_l.get_legend_handles_labels(), loc="outside lower center", ncols=3)
    ax_t.set_yscale("log")
    ax_t.set_xlabel(r"time $t$")
    ax_t.set_ylabel(r"drift $\max|Q(t) - Q(0)|$")
    ax_t.set_title("conserved quantities")
    etas, one, end = np.array(etas), np.array(one), np.array(end)
    stable = etas < threshold if threshold else np.ones(len(etas), dtype=bool)
    for values, label, color in ((one, "after one step", STYLE["colors"][0]), (end, r"at the final time", STYLE["colors"][1])):
        ok = values > 0
        fit = ok & stable  # runs above the threshold do not converge: left out of the fit
        if fit.sum() >= 2:
            slope = np.polyfit(np.log(etas[fit]), np.log(values[fit]), 1)[0]
            label += f": slope {slope:.2f}"
        ax_e.plot(etas[ok], values[ok], marker="o", color=color, label=label)
        ax_e.plot(etas[ok & ~stable], values[ok & ~stable], marker="o", mfc="white", color=color, ls="none")
    if threshold:
        ax_e.axvline(threshold, color="0.4", ls="--", lw=0.8)
        ax_e.annotate(r"$\eta^* = 2/\lambda_{\max}$", (threshold, 0.05), xycoords=("data", "axes fraction"),
                      xytext=(-3, 0), textcoords="offset points", ha="right", fontsize=STYLE["fontsize"] - 1)
    ax_e.set_xscale("log")
    ax_e.set_yscale("log")
    ax_e.set_xlabel(r"step $\eta$")
    ax_e.set_ylabel(r"drift $\max|Q - Q(0)|$")
    ax_e.set_title(r"drift against the step")
    ax_e.legend(loc="upper left", fontsize=STYLE["fontsize"] - 2)
    return fig


# ------------------------------------------------------- data of 2-D slices


@dataclass(frozen=True)
class LevelSlice:
    """Loss and conserved quantities on the plane ``A0 + a U + b V`` (for contour plots).

    Attributes
    ----------
    a, b : ndarray, shape=[m]
        Grid coordinates.
    loss : ndarray, shape=[m, m]
        ``loss[j, i] = L(A0 + a_i U + b_j V)`` (``matplotlib.contour(a, b, loss)`` order).
    conserved : ndarray, shape=[m, m, q]
        The flow's conserved quantities (its default law, flattened) at the
        same points.
    """

    a: np.ndarray
    b: np.ndarray
    loss: np.ndarray = field(repr=False)
    conserved: np.ndarray = field(repr=False)


def level_set_slice(flow: GradientFlow, A0=None, U=None, V=None, extent: float = 2.0, n: int = 101) -> LevelSlice:
    """Loss and conservation level sets on a two-dimensional slice of weight space.

    For the scalar networks (every width 1, weights ``w_1, ..., w_h``) the
    default slice is the plane of ``(w_1, w_2)`` through ``A0`` (default:
    every other weight 1, so ``L = 1/2 (s - w_1 w_2)^2 + L_*`` and the
    conserved ``w_1^2 - w_2^2`` for ``h = 2``: two families of hyperbolas).

    Parameters
    ----------
    flow : GradientFlow
    A0 : array-like, shape=[n, n], optional
        The origin of the slice; default ``U``'s and ``V``'s weights 0, every
        other weight 1.
    U, V : array-like, shape=[n, n], optional
        Directions (on the mask); default the first two edges (scalar
        networks only).
    extent : float
        The grid covers ``[-extent, extent]^2``.
    n : int
        Grid points per axis.

    Returns
    -------
    LevelSlice

    Examples
    --------
        >>> from geodln import layered, Data, GradientFlow
    >>> flow = GradientFlow(layered([1, 1, 1]), Data.from_spectrum([2.0], 1, 1, seed=0))
    >>> sl = level_set_slice(flow, extent=2.0, n=5)
    >>> float(sl.loss[2, 2]), float(sl.conserved[4, 0, 0]), float(sl.conserved[4, 2, 0])  # w = (0, 0), (-2, 2), (0, 2)
    (2.0, 0.0, -4.0)
    """
    top = flow.top
    if U is None or V is None:
        if set(top.widths) != {1} or top.n_params < 2:
            raise ValueError("default slice directions exist only for scalar networks (every width 1, depth >= 2); pass U and V")
        e = np.eye(top.n_params)
        U, V = top.adjacency(e[0]), top.adjacency(e[1])
        if A0 is None:
            A0 = top.adjacency(np.concatenate([[0.0, 0.0], np.ones(top.n_params - 2)]))
    if A0 is None:
        A0 = np.zeros((top.n, top.n))
    theta0, u, v = top.pack(A0), top.pack(U), top.pack(V)
    grid = np.linspace(-extent, extent, int(n))
    loss = np.empty((grid.size, grid.size))
    conserved = None
    for j, b in enumerate(grid):
        for i, a in enumerate(grid):
            x = theta0 + a * u + b * v
            loss[j, i] = flow.loss(x)
            q = flow.conserved_vector(x)
            if conserved is None:
                conserved = np.empty((grid.size, grid.size, q.size))
            conserved[j, i] = q
    return LevelSlice(grid, grid.copy(), loss, conserved)


def save_figure(fig: Figure, path, **kwargs) -> None:
    """Save ``fig`` to ``path`` atomically (the format from the extension).

    PDFs carry no creation date, so regenerating a figure gives the same file.
    """
    suffix = "." + str(path).rsplit(".", 1)[-1]
    if suffix.lower() == ".pdf":
        kwargs.setdefault("metadata", {"CreationDate": None})
    with atomic_path(path, suffix=suffix) as tmp:
        fig.savefig(tmp, dpi=kwargs.pop("dpi", 150), **kwargs)
