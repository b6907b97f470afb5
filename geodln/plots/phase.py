"""Phase portraits of the scalar networks, and loss and conservation on planes of weights.

The scalar network of depth ``h`` (every width 1, weights ``w_1, ..., w_h``)
has the flow ``dw_i/dt = (prod_{j != i} w_j) (s - prod_j w_j)`` and conserves
``w_i^2 - w_{i+1}^2``. Depth 2 is drawn in the plane ``(w_1, w_2)``, depth 3
on its invariant plane ``w_1 = w_3``. :func:`level_set_slice` evaluates the
loss and the conserved quantities of any network on a plane
``A0 + a U + b V``, for contour plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from ..dynamics.flow import GradientFlow
from .style import STYLE, new_figure, styled

__all__ = ["plot_phase_portrait", "phase_field", "LevelSlice", "level_set_slice"]


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


@styled
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
    fig, (ax,) = new_figure(width=STYLE["width"] * 0.62, height=3.6)
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
