"""The numbered figure gallery behind ``geodln figures``.

Each entry of :data:`GALLERY` computes its data with geodln and draws it with
:mod:`geodln.plots`; :func:`make_gallery` writes ``NN-name.png`` and
``NN-name.pdf`` for each, and ``README.md`` with the captions. Every figure
draws its random numbers from ``numpy.random.default_rng([seed, NN])``, so one
figure made alone (``--only``) is the same as in the full run.

The itinerary comes from :func:`geodln.itinerary`, escape times from
:func:`geodln.escape_time` (from ``A* + eps d`` along the balanced
escape direction of scalar networks), the balanced point of a fiber from
:meth:`geodln.geometry.NetworkBundle.balance` (geomstats, imported for that
figure only), the closed-form mode curves of aligned starts from
:func:`geodln.dynamics.closed_forms.aligned_mode_curve`, the escape laws from
:func:`geodln.dynamics.closed_forms.scalar_escape_time`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..dynamics import init
from ..dynamics.closed_forms import aligned_mode_curve, scalar_escape_time
from ..network.data import Data
from ..io.files import atomic_path, output_lock
from ..dynamics.flow import DivergenceError, GradientFlow
from ..dynamics.hessian import hessian
from ..landscape.saddles import escape_time, itinerary
from ..landscape.strata import Stratum, enumerate_strata
from ..symmetry import act, algebra_mask, random_group_element
from ..network.topology import layered, sparse_layered
from .invariants import plot_fiber, plot_level_sets
from .landscape import plot_catalog, plot_escape_times, plot_hessian_spectrum
from .network import draw_network
from .phase import plot_phase_portrait
from .style import figure_bytes, same_picture, set_label
from .sweeps import plot_escape_laws
from .trajectories import plot_descent_vs_flow, plot_mode_curves, plot_trajectory

__all__ = ["GalleryFigure", "GALLERY", "make_gallery", "gallery_readme"]


@dataclass(frozen=True)
class GalleryFigure:
    """One numbered gallery figure.

    Attributes
    ----------
    number : int
    name : str
        Short name used by ``--only`` and in the file name ``NN-name``.
    title : str
    caption : str
        What the figure demonstrates (Markdown).
    make : callable
        ``make(rng) -> matplotlib.figure.Figure``.
    """

    number: int
    name: str
    title: str
    caption: str
    make: Callable

    @property
    def stem(self) -> str:
        return f"{self.number:02d}-{self.name}"


# --------------------------------------------------------------- figures
def _piece_nodes(stratum, idx: int) -> list:
    """The nodes ``(layer, coordinate)`` a piece runs through, with data modes on the coordinate axes."""
    piece, slots = stratum.all_pieces()[idx], stratum.slots()
    nodes = []
    for i in range(piece.a, piece.b + 1):
        if i == 0:
            nodes.append((0, piece.source - 1))
        elif i == stratum.depth:
            nodes.append((i, piece.target - 1))
        else:
            nodes.append((i, slots[i][idx]))
    return nodes


def _fig_network(rng):
    widths, s = (3, 3, 3, 3), [3.0, 2.0, 1.0]
    data = Data(np.eye(3), np.diag(s))  # modes on the coordinate axes (U = V = I): paths stay visible
    top = layered(widths)
    strata = next(st for J, st, _ in enumerate_strata(widths, 3) if J == (1,))
    stratum = next(st for st in strata if st.label == "J={1} + v2[0,1] [2,3]u3 [1,2]")
    A = stratum.canonical_adjacency(top, data, rng)
    names = [r"complete path carrying mode 1 ($s_1^{1/3}$ on each link)", r"dangling input piece (from input 2)",
             r"dangling output piece (to output 3)", "dangling internal piece"]
    paths = {name: _piece_nodes(stratum, idx) for idx, name in enumerate(names)}
    return draw_network(top, A, paths=paths, title=r"a critical point that has learnt mode 1 ($J = \{1\}$) "
                                                    "and carries three dangling pieces")


def _fig_plateaus(rng):
    top = layered([3, 4, 4, 3])
    data = Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=rng)
    flow = GradientFlow(top, data)
    traj = flow.integrate(init.small(top, scale=3e-3, seed=rng), 400.0, n_points=800)
    return plot_trajectory(traj, itinerary=itinerary(traj))


def _fig_closed_forms(rng):
    s, u0, depths = [3.0, 2.0, 1.0], 1e-2, (2, 3, 4)
    data = Data.from_spectrum(s, 3, 3, seed=rng)
    curves = [[aligned_mode_curve(sk, u0, h) for sk in s] for h in depths]
    t_end = 1.1 * max(t[-1] for mode_curves in curves for t, _ in mode_curves)  # one time axis for all depths
    trajs, titles = [], []
    for h in depths:
        top = layered([3] * (h + 1))
        trajs.append(GradientFlow(top, data).integrate(init.aligned(top, data, [u0] * 3, seed=rng), t_end,
                                                       n_points=300, rtol=1e-11, atol=1e-14))
        titles.append(rf"depth $h = {h}$")
    return plot_mode_curves(trajs, curves, titles)


def _scalar_flow(depth: int, s: float = 1.0) -> GradientFlow:
    return GradientFlow(layered([1] * (depth + 1)), Data(np.eye(1), [[s]]))


def _fig_phase2(rng):
    return plot_phase_portrait(_scalar_flow(2), lim=2.0)


def _fig_phase3(rng):
    return plot_phase_portrait(_scalar_flow(3), lim=2.0)


def _catalog(widths, spectrum, seed):
    """A catalog built in memory (it holds its arrays; nothing is written)."""
    from ..catalog.store import build_catalog

    return build_catalog(widths, spectrum, seed=seed, argv=["catalog"])


def _fig_catalog(rng):
    return plot_catalog(_catalog([3, 3, 3, 3], [3.0, 2.0, 1.0], seed=0))


def _fig_hessian(rng):
    cat = _catalog([2, 2, 2, 2], [3.0, 1.0], seed=0)
    picks = {
        "global minimum": lambda r: r["kind"] == "global_minimum",
        "strict saddle": lambda r: r["kind"] == "strict_saddle" and r["learned"] == [2] and not r["pieces"],
        "nonstrict saddle": lambda r: r["kind"] == "nonstrict_saddle" and r["learned"] == [1] and not r["pieces"],
    }
    spectra, kinds = {}, {}
    for name, pick in picks.items():
        rec = next(r for r in cat.records if pick(r))
        label = rf"{name}, $J = {set_label(rec['learned'])}$"
        spectra[label] = cat.hessian_spectrum(rec)
        kinds[label] = rec["kind"]
    return plot_hessian_spectrum(spectra, kinds)


def _sweep_depths_2_3(rng):
    """The flow sweep behind figure 12: 3 scales x depths 2 and 3 x 3 seeds, serial (deterministic)."""
    from ..sweeps import sweep  # Dask and xarray on first use

    grid = {"widths": ["2,2,2", "2,2,2,2"], "scale": [5e-3, 1.5e-2, 4.5e-2]}
    seeds = [int(x) for x in rng.integers(0, 2**31, size=3)]
    return sweep("flow", grid, seeds=seeds, workers=1, progress=False,
                 settings={"spectrum": "3,1", "t_end": 1000.0, "n_points": 600})


def _fig_sweep(rng):
    return plot_escape_laws(_sweep_depths_2_3(rng))[0]


def _fig_escape(rng):
    eps = np.geomspace(0.1, 1e-3, 7)
    times, labels, orders, laws = [], [], [], []
    for h in (2, 3, 4):
        flow = _scalar_flow(h)
        times.append([escape_time(flow, np.zeros(h), np.ones(h), e) for e in eps])  # until L falls to L_{}/2
        net = ",".join(["1"] * (h + 1))
        labels.append(f"{net}: " + ("strict, $m = 2$" if h == 2 else f"nonstrict, $m = {h}$"))
        orders.append(h)
        laws.append(scalar_escape_time(h, 1.0, eps))
    return plot_escape_times(eps, times, labels, orders, theory=laws)


def _fig_fiber(rng):
    from ..geometry import NetworkBundle  # geomstats: imported for this figure only

    widths = (2, 2, 2, 2)
    top = layered(widths)
    data = Data.from_spectrum([3.0, 1.0], 2, 2, seed=rng)
    stratum = Stratum(widths, (1,), (), 2)  # the clean path learning mode 1: a nonstrict saddle
    S0 = random_group_element(top, rng, "GL", spread=0.5)
    A0 = act(top, S0, stratum.canonical_adjacency(top, data, rng))
    bundle = NetworkBundle(top)
    A_bal = bundle.balance(A0).A
    X = np.zeros((top.n, top.n))
    rows, cols = np.nonzero(algebra_mask(top))
    X[rows, cols] = rng.standard_normal(len(rows))
    X = (X + X.T) / 2  # symmetric: the norm is convex along e^{tau X}, least at tau = 0
    X /= np.linalg.norm(X)
    taus = np.linspace(-1.2, 1.2, 121)
    curve = np.array([bundle.fiber_point(A_bal, tau * X) * top.mask for tau in taus])
    flow = GradientFlow(top, data)
    thetas = np.array([top.pack(A) for A in curve])
    labels = []
    src, tgt = top.edge_index
    for j, k in zip(src, tgt):
        (_, a), (i, b) = top.nodes[j], top.nodes[k]
        labels.append(f"$(W_{i})_{{{b + 1}{a + 1}}}$")
    return plot_fiber(thetas, [flow.loss(x) for x in thetas], np.linalg.norm(curve, axis=(1, 2)),
                      int(np.argmin(np.abs(taus))), param=taus, coord_labels=labels,
                      critical_value=data.critical_value([1]))


def _fig_level_sets(rng):
    top = sparse_layered([2, 3, 3, 2], density=0.6, seed=rng)
    data = Data.from_spectrum([2.0, 1.0], 2, 2, seed=rng)
    traj = GradientFlow(top, data).integrate(init.small(top, scale=0.8, seed=rng), 30.0, n_points=400)
    return plot_level_sets(traj)


def _fig_descent(rng):
    top = layered([2, 3, 3, 2])
    data = Data.from_spectrum([2.0, 1.0], 2, 2, seed=rng)
    flow = GradientFlow(top, data)
    theta0 = init.small(top, scale=0.5, seed=rng)
    t_end = 12.0
    ref = flow.integrate(theta0, t_end, n_points=300)
    lam_max = float(np.linalg.eigvalsh(hessian(flow, ref.final))[-1])
    threshold = 2.0 / lam_max
    descents = {}
    for frac in (0.03, 0.1, 0.3, 0.9, 1.5):
        eta = frac * threshold
        try:
            descents[eta] = flow.descend(theta0, eta, int(round(t_end / eta)))
        except DivergenceError:
            descents[eta] = None
    return plot_descent_vs_flow(ref, descents, threshold)


_CMD = "geodln figures --only {name}"
_README_TITLE = "# geodln figure gallery"

GALLERY = [
    GalleryFigure(1, "network", "A critical point as a network and its adjacency matrix",
                  "A critical point of the 3-layer network 3,3,3,3 that has learnt mode 1 (`J = {1}`), on data "
                  "`Syx = diag(3, 2, 1)`, `Sxx = I` (so the data's modes are the coordinate axes), drawn as a network "
                  "(left) and as its adjacency matrix (right); units are numbered from 1 within each layer. The orange "
                  "band is the complete path input 1 -> unit 1 -> unit 1 -> output 1 that carries mode 1, with weight "
                  "`s_1^(1/3) = 3^(1/3)` on each link; the other bands are dangling pieces, one link each, which add "
                  "nothing to `W = W_3 W_2 W_1`: an input piece from input 2 (along `v_2`), an output piece into "
                  "output 3 (along `u_3`) and an internal piece between the hidden layers. Edges are coloured and "
                  "thickened by their weight (thin grey: weight 0). Right: `A[j, k]` is the weight of the edge "
                  "`j -> k`, rows and columns labelled by layer and unit; only the outlined blocks `(i-1, i) = W_i^T` "
                  "can be nonzero (light grey: no edge), so `A` is strictly block upper triangular, hence nilpotent.",
                  _fig_network),
    GalleryFigure(2, "plateaus", "Saddle-to-saddle dynamics from a small start",
                  "Gradient flow of the network 3,4,4,3 from a small random start (scale 3e-3) on whitened data with "
                  "singular values 3, 2, 1. Left: the loss `L(t)` rests on plateaus at the critical values "
                  "`L_J = 1/2 sum_(k not in J) s_k^2` (dashed, named on the right) of the sets J = {}, {1}, {1,2} of "
                  "learnt modes, and ends at the global minimum `L_{1,2,3} = 0`. The shaded intervals are the "
                  "itinerary found by `geodln.itinerary`, the times the flow spends near a critical point "
                  "of each J, labelled on its plateau. Right: the singular values of `W(t)` are learnt one at a "
                  "time, largest first, each rising to the data's `s_k` (dotted).", _fig_plateaus),
    GalleryFigure(3, "closed-forms", "Learning curves against the closed forms, depths 2, 3, 4",
                  "Aligned (spectral, balanced) starts of the networks 3,3,3 / 3,3,3,3 / 3,3,3,3,3 (depth h = 2, 3, 4) "
                  "on whitened data with singular values 3, 2, 1, every mode starting at strength `u_0 = 0.01`: the "
                  "singular values of `W(t)` from the full network flow (coloured) lie on the closed-form curves of "
                  "the scalar ODE `du/dt = h u^(2-2/h) (s_k - u)` (black dashed; the logistic curve for h = 2, a "
                  "quadrature for h = 3, 4). The three panels share their time axis: the deeper the network, the "
                  "longer each mode waits before it is learnt and the sharper its rise; at every depth the weaker "
                  "modes wait longer.", _fig_closed_forms),
    GalleryFigure(4, "phase-depth2", "Phase portrait of the scalar network 1,1,1",
                  "The flow of `L = (s - w_1 w_2)^2 / 2`, `s = 1`: unit arrows coloured by speed, the conserved "
                  "hyperbolas `w_1^2 - w_2^2 = c` (grey), the global-minimum hyperbola `w_1 w_2 = s` (green), and the "
                  "origin, a strict saddle: its unstable set is the line `w_1 = w_2` (orange, outward arrows), its "
                  "stable set `w_1 = -w_2` (blue). Trajectories (black, from the open circles) follow the grey "
                  "hyperbolas to the minimum.", _fig_phase2),
    GalleryFigure(5, "phase-depth3", "Phase portrait of the scalar network 1,1,1,1",
                  "The flow of `L = (s - w_1 w_2 w_3)^2 / 2`, `s = 1`, on the invariant plane `w_1 = w_3`. The critical "
                  "line `w_1 = w_3 = 0` (dashed) consists of strict saddles except the origin, which is nonstrict "
                  "(the loss falls like `eps^3`, the Hessian is 0): the origin is left along the balanced half-lines "
                  "where the product is positive (`w_2 = |w_1|`, orange) and approached along those where it is "
                  "negative (blue). Trajectories stay on the conserved hyperbolas `w_1^2 - w_2^2 = c` and reach the "
                  "global minima `w_1^2 w_2 = s` (green) when `w_2 > 0`; below, they end on the critical line: its "
                  "points with `w_2 < 0` attract within this plane, their unstable direction `w_1 = -w_3` leaves it.", _fig_phase3),
    GalleryFigure(6, "catalog", "A catalog of critical points",
                  "Every stratum of critical points of the network 3,3,3,3 on data with singular values 3, 2, 1 "
                  "(the 130 strata of the catalog `geodln catalog --widths 3,3,3,3 --spectrum 3,2,1 --seed 0` makes), "
                  "one column per stratum, grouped by the learnt set J (narrow groups are padded so that their "
                  "labels fit). Top: the critical value `L_J` of each stratum, coloured and shaped by kind: one "
                  "global minimum, 126 strict saddles and 3 nonstrict saddles, the strata of the top sets "
                  "J = {}, {1}, {1,2} without dangling pieces. Bottom: the Hessian inertia at each stratum's "
                  "representative, as stacked counts of negative, zero and positive eigenvalues (27 in all, one "
                  "per weight).", _fig_catalog),
    GalleryFigure(7, "hessian", "Hessian spectra at a minimum, a strict and a nonstrict saddle",
                  "Sorted Hessian eigenvalues of the network 2,2,2,2 on data `s = (3, 1)` (symmetric-log axis, the "
                  "band of eigenvalues counted as zero shaded): the global minimum (no negative eigenvalue), the "
                  "strict saddle that learns mode 2 instead of mode 1 (one negative eigenvalue), and the nonstrict "
                  "saddle that learns mode 1 through a clean path (inertia 0/9/3: positive semidefinite, yet not a "
                  "minimum - the Hessian cannot see the way down).", _fig_hessian),
    GalleryFigure(8, "escape-times", "Escape-time laws at strict and nonstrict saddles",
                  "Time for the flow started at distance `eps` from the origin along the balanced escape direction "
                  "(every weight `eps / sqrt(h)`) to lose half the loss, for the scalar networks 1,1,1 (strict "
                  "saddle, escape order m = 2), 1,1,1,1 (nonstrict, m = 3) and 1,1,1,1,1 (nonstrict, m = 4), data "
                  "`s = 1`. Markers: measured by `geodln.escape_time`; solid lines: the leading-order laws "
                  "of the scalar ODE `dx/dt = x^(h-1) (s - x^h)`, `t = log(1/eps) / s + c` at the strict saddle "
                  "(whose Hessian has the eigenvalue `-s`) and `t = (eps / sqrt m)^(2-m) / ((m - 2) s)` at the "
                  "nonstrict ones; the legend gives each fitted slope beside the law's. Left, log-log: the "
                  "nonstrict laws are lines of slope 2 - m; the strict law is not a power law. Right, semilog "
                  "(time on a linear axis): the strict law is a line of slope `1/s = 1` per unit of `log(1/eps)`.",
                  _fig_escape),
    GalleryFigure(9, "fiber", "A fiber through a critical point and its balanced point",
                  "The orbit of the hidden-layer group through the nonstrict saddle of the network 2,2,2,2 that "
                  "learns mode 1 (data `s = (3, 1)`), along the curve `A(tau) = e^(tau X) A_bal e^(-tau X)` for a "
                  "symmetric `X` in the group's Lie algebra, `A_bal` the balanced point of the orbit (`C_i = 0`, "
                  "least `||A||_F`), found by `NetworkBundle.balance` from a random point of it. Left: the curve "
                  "projected on two of its weights that vary along it, coloured by `tau`, the balanced point "
                  "starred; middle: the loss is constant along the orbit and equal to the critical value "
                  "`L_{1} = 0.5` to rounding (the largest deviation in the title); right: `||A(tau)||_F` is least at "
                  "the balanced point, `tau = 0`, and grows away from it.", _fig_fiber),
    GalleryFigure(10, "level-sets", "Trajectories on the level sets of the conservation laws",
                  "A sparse layered network (widths 2,3,3,2, edge density 0.6) trained from a random start of scale "
                  "0.8 on data with singular values 2, 1. For each hidden node `v`, with `in_v` and `out_v` the "
                  "weights into and out of `v`, `c_v = ||in_v||^2 - ||out_v||^2` is conserved (the matrix laws "
                  "`C_i` break on a sparse mask; the node laws survive). Left: one panel per hidden node (rows: "
                  "hidden layers 1 and 2; columns: units), each zoomed on its own path with equal axes: the point "
                  "`(||in_v||, ||out_v||)` stays on its hyperbola (dashed), coloured by time from the open circle "
                  "(t = 0) to the filled one (t = 30); a cross marks where a node turns back along its hyperbola "
                  "and retraces part of its way, which is why a path can reach beyond its end point. Right, "
                  "log-log: the weights move by O(1) while the balances drift only at the integration tolerance.",
                  _fig_level_sets),
    GalleryFigure(11, "descent", "Gradient descent against the gradient flow",
                  "The network 2,3,3,2 from one random start: the flow (black) and gradient descent at steps "
                  "`eta = 0.03 .. 1.5 eta*`, with `eta* = 2 / lambda_max` the stability threshold at the minimum the "
                  "flow reaches. Steps below the threshold converge like the flow; at 1.5 eta* the loss keeps "
                  "oscillating around 0.1. Middle and right: descent breaks the conservation laws, which the flow "
                  "keeps to rounding (values below 1e-12, whose size depends on the machine's arithmetic, are "
                  "drawn on that floor, in the grey band): one step changes `C_i` by exactly "
                  "`eta^2 (G_i G_i^T - G_(i+1)^T G_(i+1))` (fitted slope 2), the drift accumulated over the fixed "
                  "time t = 12 scales like eta (slope 1); open circles: the run above the threshold (dashed line), "
                  "left out of the fits.", _fig_descent),
    GalleryFigure(12, "sweep", "Escape laws from a sweep over scales, depths and seeds",
                  "`geodln.sweep` of the flow over the initial scale `eps` (each weight `eps N(0,1)`), depths 2 and 3 "
                  "(widths 2,2,2 and 2,2,2,2, data modes 3, 1) and 3 seeds. Left: the time `T_k` at which mode `k` "
                  "is half learnt; right: the time each run spent at the saddle `{1..k-1}` it learns mode `k` from "
                  "(the itinerary's exit minus entry time; depth 2 rests too briefly there to make a visit at most "
                  "scales). Dots: runs, circles: medians, dashed: the law of that saddle. Depth 3: from a small start "
                  "all three links of the next mode's path start at size `eps`, so the escape order is `m = 3` and "
                  "the times go like `eps^(2-m)` (slope -1; the stay on the start plateau bends at the largest scale, "
                  "where the start is hardly a plateau and the visit's ends are set by the speed threshold); "
                  "depth 2: strict saddles, `T_k = log(1/eps)/s_k + O(1)`. "
                  "The legends give the fitted slope and the theory's in brackets (for depth 2 the slope against "
                  "`log(1/eps)`, theory `1/s_k`), as returned by `plot_escape_laws`.", _fig_sweep),
]


def _by_name(only) -> list[GalleryFigure]:
    if not only:
        return list(GALLERY)
    names = {g.name: g for g in GALLERY}
    chosen = []
    for name in only:
        key = name.split("-", 1)[1] if name[:2].isdigit() and "-" in name else name
        if key not in names:
            raise ValueError(f"no gallery figure {name!r}; choose from {', '.join(names)}")
        chosen.append(names[key])
    return chosen


def gallery_readme() -> str:
    """The text of ``figures/README.md``: every figure with its caption and command."""
    lines = [_README_TITLE, "",
             "Made by `geodln figures` (all of them, as PNG and PDF, deterministic for `--seed 0`); one figure "
             "alone by the command under it. Each figure is built from the plotting functions of `geodln.plots`, "
             "which return matplotlib Figures to restyle.", ""]
    for g in GALLERY:
        lines += [f"## {g.number}. {g.title}", "", f"![{g.title}]({g.stem}.png)", "", g.caption, "",
                  f"`{_CMD.format(name=g.name)}`", ""]
    return "\n".join(lines)


def make_gallery(out="figures", only=None, formats=("png", "pdf"), seed: int = 0, progress: bool = True,
                 stream=None, force: bool = False) -> list[Path]:
    """Make the gallery figures and write them to ``out`` (with ``README.md`` for a full run).

    Every figure is made first and written only afterwards, each file
    atomically. A figure already in ``out`` that shows the same picture (its
    PNG equal to the new rendering at the tolerance of
    :func:`~geodln.plots.style.same_picture`: another machine's rounding moves
    a pixel, not a curve) is the same result and is left as it is, in every
    format; a figure without a PNG there is compared by bytes (regeneration is
    deterministic on one machine). Any other existing figure is replaced only
    with ``force``; a ``README.md`` that geodln did not write is never replaced.

    Parameters
    ----------
    out : path
        Output folder.
    only : sequence of str, optional
        Names (or ``NN-name`` stems) of the figures to make; default all.
    formats : sequence of str
        File formats, e.g. ``("png", "pdf")``.
    seed : int
        Figure ``NN`` draws from ``default_rng([seed, NN])``.
    progress : bool
        Report each figure and its time on ``stream`` (standard error).
    force : bool
        Replace figure files that differ from the new ones.

    Returns
    -------
    list of pathlib.Path
        The files written (none when ``out`` already holds the same figures).

    Raises
    ------
    ValueError
        On an unknown format or figure name, a ``README.md`` in ``out`` that
        is not the gallery's, or (without ``force``) an existing figure file
        that differs from the new one.
    """
    stream = sys.stderr if stream is None else stream
    formats = [f.strip().lower().lstrip(".") for f in formats if f.strip()]
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad or not formats:
        raise ValueError(f"unknown figure format {bad[0] if bad else ''!r}; use png, pdf or svg")
    chosen = _by_name(only)
    out = Path(out)
    readme = out / "README.md"
    if not only and readme.exists() and not readme.read_text(errors="replace").startswith(_README_TITLE):
        raise ValueError(f"{readme} was not written by geodln figures: refusing to replace it (choose another --out)")
    files, pictures = {}, {}
    start = time.monotonic()
    for i, g in enumerate(chosen, start=1):
        t0 = time.monotonic()
        if progress:
            stream.write(f"[{i}/{len(chosen)}] {g.stem}: {g.title} ... ")
            stream.flush()
        fig = g.make(np.random.default_rng([seed, g.number]))
        made = {out / f"{g.stem}.{fmt}": figure_bytes(fig, fmt) for fmt in formats}
        pictures[g.stem] = made.get(out / f"{g.stem}.png") or figure_bytes(fig, "png")
        files.update(made)
        if progress:
            stream.write(f"{time.monotonic() - t0:.1f} s\n")
    if not only:
        files[readme] = gallery_readme().encode()
    same = {stem for stem, png in pictures.items() if _shows_the_same(out / f"{stem}.png", png)}
    changed = [p for p, content in files.items()
               if p != readme and p.exists() and p.stem not in same and p.read_bytes() != content]
    if changed and not force:
        raise ValueError(f"{len(changed)} figure files in {out} differ from the new ones (e.g. {changed[0].name}) "
                         "beyond the tolerance of a picture; pass --force to replace them, or choose another --out. "
                         "Nothing was written.")
    # a file that shows the same figure (or has the same bytes) is the same result: left as it is
    writes = {p: content for p, content in files.items()
              if not (p.exists() and (p.read_bytes() == content or (p.stem in same and not force)))}
    with output_lock(out):
        for path, content in writes.items():
            with atomic_path(path) as tmp:
                tmp.write_bytes(content)
    if progress:
        stream.write(f"{len(chosen)} figures in {time.monotonic() - start:.1f} s -> {out}\n")
    return list(writes)


def _shows_the_same(path: Path, png: bytes) -> bool:
    """Whether the PNG at ``path`` (if any) is the same picture as ``png`` (:func:`~geodln.plots.style.same_picture`)."""
    return path.exists() and same_picture(path.read_bytes(), png)
