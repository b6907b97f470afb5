"""Saddle-to-saddle statistics of a sweep (:func:`geodln.sweep`): itineraries and escape laws.

From a start of scale ``eps`` the flow of an ``h``-layer network rests near the
critical points ``J = {}, {1}, {1, 2}, ...`` one after another. Mode ``k`` is
learnt when the flow leaves ``{1..k-1}``; its half-learning time ``T_k``
follows the law of that saddle:

- nonstrict saddle of escape order ``m``: ``T_k ~ eps^(2 - m)`` (slope
  ``2 - m`` on log-log axes). From a small start all ``h`` links of mode
  ``k``'s path are of size ``eps``, so ``m = h`` at every top set
  ``{1..k-1}``: the mode grows like ``du/dt ~ u^(2 - 2/h)`` from ``u ~ eps^h``.
  (The point the flow shadows there may carry dangling links of size ``eps``
  that make it strict, with a negative curvature too small to matter: the
  law is set by the path the flow closes, not by that class);
- strict saddle (``h = 2``): exponential growth at rate ``2 s_k`` from
  ``u ~ eps^2``, so ``T_k = log(1/eps) / s_k + O(1)`` (slope ``1 / s_k``
  against ``log(1/eps)``, the gap being ``s_k``);
- aligned starts (``init="aligned"``): the closed form of Saxe et al. (2014),
  :func:`geodln.dynamics.closed_forms.half_learning_time`.
"""

from __future__ import annotations

import json
from itertools import product

import numpy as np
from matplotlib.ticker import NullFormatter

from ..dynamics.closed_forms import half_learning_time
from ..landscape.labels import itinerary_strings, parse_learned
from .style import STYLE, new_figure, set_label, styled

__all__ = ["plot_itineraries", "plot_escape_laws"]

_ARRAY_DIMS = ("seed", "visit", "mode")


def _points(ds, skip=()):
    """Every grid point as a dict ``{dim: value}`` over the grid dimensions (not seed/visit/mode, not ``skip``)."""
    dims = [d for d in ds["status"].dims if d not in _ARRAY_DIMS and d not in skip]
    for values in product(*(ds[d].values.tolist() for d in dims)):
        yield dict(zip(dims, values))


def _setting(ds, point: dict, key: str, default=None):
    """A parameter of a grid point: its coordinate, else the sweep's settings, else ``default``."""
    if key in point:
        return point[key]
    return json.loads(ds.attrs.get("settings") or "{}").get(key, default)


def _name(point: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in point.items()) or "all runs"


@styled
def plot_itineraries(ds, max_runs: int = 48):
    """The distribution of itineraries per grid point, and the visits of each run in time.

    Left: per grid point, the fraction of seeds that took each itinerary
    (stacked bars). Right: each run (up to ``max_runs``) as a row of its visits
    ``[t_enter, t_exit]`` on a log time axis, coloured by class.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep of the ``"flow"`` or ``"descent"`` task.
    max_runs : int
        Rows of the raster.

    Returns
    -------
    matplotlib.figure.Figure
    """
    texts = itinerary_strings(ds)
    points = list(_points(ds))
    flat = texts.reshape(len(points), -1)
    kinds_all = sorted({t for t in texts.ravel()}, key=lambda t: (-np.sum(texts == t), t))
    colors = {t: STYLE["colors"][i % len(STYLE["colors"])] for i, t in enumerate(kinds_all)}
    fig, (ax, ax2) = new_figure(2, height=max(2.8, 0.35 * len(points) + 1.6))
    for row, runs in enumerate(flat):
        left = 0.0
        for t in kinds_all:
            share = float(np.mean(runs == t))
            if share:
                ax.barh(row, share, left=left, color=colors[t], edgecolor="white", lw=0.5,
                        label=t if row == 0 or t not in flat[:row].ravel() else None)
                left += share
    ax.set_yticks(range(len(points)), [_name(p) for p in points])
    ax.invert_yaxis()
    ax.set_xlabel("fraction of seeds")
    ax.set_title("itineraries")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1, fontsize=STYLE["fontsize"] - 2)

    dims = ds["status"].dims
    enter = ds["visit_enter"].transpose(*dims, "visit").values.reshape(-1, ds.sizes["visit"])
    leave = ds["visit_exit"].transpose(*dims, "visit").values.reshape(-1, ds.sizes["visit"])
    kinds = ds["visit_kind"].transpose(*dims, "visit").values.reshape(-1, ds.sizes["visit"])
    t_end = np.asarray(ds["t_final"].values, dtype=float).reshape(-1)
    for row in range(min(max_runs, len(enter))):
        for a, b, kind in zip(enter[row], leave[row], kinds[row]):
            if kind:
                a = max(a, 1e-3 * t_end[row])  # a visit from t = 0 starts at the left edge of the log axis
                ax2.plot([a, b], [row, row], color=STYLE["kinds"][kind]["color"], lw=3, solid_capstyle="butt")
    for kind, look in STYLE["kinds"].items():
        ax2.plot([], [], color=look["color"], lw=3, label=look["label"])
    ax2.set_xscale("log")
    ax2.invert_yaxis()
    ax2.set_xlabel("time t")
    ax2.set_ylabel("run")
    ax2.set_title(f"visits of {min(max_runs, len(enter))} runs")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=STYLE["fontsize"] - 2)
    return fig


def _law(ds, point: dict, k: int, spectrum: np.ndarray, depth: int):
    """The theory for mode ``k`` (1-based): (law name, predicted slope, curve eps -> T or None)."""
    s = float(spectrum[k - 1])
    if _setting(ds, point, "init", "small") == "aligned":
        return "saxe", None, lambda eps: np.array([half_learning_time(s, e**depth, depth) for e in eps])
    if depth == 2:
        return "log(1/eps)/s_k", 1.0 / s, None
    return f"eps^(2-m), m={depth}", 2.0 - depth, None


@styled
def plot_escape_laws(ds):
    """Escape times against the initial scale, with the theoretical laws and fitted slopes.

    Left: the half-learning time ``T_k`` of each mode; right: the time each
    run spent on its visit to ``{1..k-1}``, the saddle mode ``k`` is learnt
    from (``visit_exit - visit_enter``; the start plateau for ``k = 1``). One
    line per grid point (other than ``scale``) and mode: the median over seeds
    (dots: single runs), the law of the saddle (dashed; see the module
    docstring) and a least-squares fit over the scales:

    - nonstrict saddles (depth ``h >= 3``): the slope of ``log T`` against ``log eps``, theory ``2 - h``;
    - strict saddles (depth 2): the slope of ``T`` against ``log(1/eps)``, theory ``1 / s_k``;
    - aligned starts: the closed form itself; ``fitted``/``theory`` are the
      log-log slopes of the measured and closed-form times (half-learning
      times only: the stays have no closed form).

    Parameters
    ----------
    ds : xarray.Dataset
        A ``"flow"`` or ``"descent"`` sweep with a ``scale`` dimension of at
        least two values, and ``widths`` and ``spectrum`` as coordinates or settings.

    Returns
    -------
    fig : matplotlib.figure.Figure
    fits : list of dict
        One per fitted line: ``point`` (the grid point), ``mode`` (1-based),
        ``time`` (``"half_time"`` or ``"stay"``), ``law``, ``fitted``, ``theory``
        (slopes as above) and ``n_runs`` (runs used).

    Raises
    ------
    ValueError
        If ``ds`` has no ``scale`` dimension with two values or more.
    """
    if "scale" not in ds.dims or ds.sizes["scale"] < 2:
        raise ValueError("plot_escape_laws needs a sweep over 'scale' with at least two values")
    eps = np.asarray(ds["scale"].values, dtype=float)
    fig, axes = new_figure(2, height=4.2)
    fits, line = [], 0
    for point in _points(ds, skip=("scale",)):
        widths = [int(w) for w in str(_setting(ds, point, "widths")).split(",")]
        depth = len(widths) - 1
        default = ",".join(str(k) for k in range(min(widths[0], widths[-1]), 0, -1))
        spectrum = np.array([float(x) for x in str(_setting(ds, point, "spectrum", default)).split(",")])
        sel = ds.sel(point)
        half = sel["half_time"].transpose("scale", "seed", "mode").values
        for k in range(1, min(half.shape[2], len(spectrum)) + 1):
            if depth < 2:
                continue
            law, slope, curve = _law(ds, point, k, spectrum, depth)
            color = STYLE["colors"][line % len(STYLE["colors"])]
            name = f"${set_label(range(1, k))}\\to$ {k}" + (f", {_name(point)}" if point else "")
            stays = (law, slope if curve is None else None, None)  # no closed form for the stay of aligned starts
            for what, ax, T, theory in (("half_time", axes[0], half[:, :, k - 1], (law, slope, curve)),
                                        ("stay", axes[1], _stays(sel, k), stays)):
                fit = _draw_law(ax, eps, T, depth, *theory, color=color, name=name)
                if fit is not None:
                    fits.append({"point": point, "mode": k, "time": what, "law": law, **fit})
            line += 1
    for ax, ylabel, title in ((axes[0], r"half-learning time $T_k$", "mode $k$ half learnt"),
                              (axes[1], r"time at $\{1..k-1\}$", "time spent at the saddle it leaves")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(eps, [f"{e:g}" for e in eps])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(r"initial scale $\varepsilon$")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=STYLE["fontsize"] - 2.5, title="fitted slope (theory)", loc="upper center",
                      bbox_to_anchor=(0.5, -0.2), title_fontsize=STYLE["fontsize"] - 2)
    return fig, fits


def _stays(sel, k: int) -> np.ndarray:
    """Time each run spent on its visit to ``{1..k-1}``, shape=[scale, seed] (NaN where it made none)."""
    J = tuple(range(1, k))
    dims = ("scale", "seed", "visit")
    hit = np.vectorize(lambda text: parse_learned(text) == J, otypes=[bool])(sel["visit_learned"].transpose(*dims).values)
    span = sel["visit_exit"].transpose(*dims).values - sel["visit_enter"].transpose(*dims).values
    return np.where(hit.any(axis=2), np.nansum(np.where(hit, span, 0.0), axis=2), np.nan)


def _draw_law(ax, eps, T, depth, law, slope, curve, color, name):
    """Runs (dots), medians over seeds (solid), the law (dashed); the fit as a dict, or None when the law has no
    slope or fewer than two scales have finite times."""
    ok = np.all(np.isfinite(T), axis=1)
    if ok.sum() < 2:
        return None
    med, x = np.median(T[ok], axis=1), np.log(eps[ok])
    if curve is not None:
        theory_T = curve(eps[ok])
        fitted, theory = np.polyfit(x, np.log(med), 1)[0], np.polyfit(x, np.log(theory_T), 1)[0]
    elif slope is None:
        fitted = theory = theory_T = None
    elif depth == 2:
        fitted, theory = np.polyfit(-x, med, 1)[0], slope
        theory_T = med.mean() + slope * (-x - (-x).mean())
    else:
        fitted, theory = np.polyfit(x, np.log(med), 1)[0], slope
        theory_T = np.exp(np.log(med).mean() + slope * (x - x.mean()))
    ax.plot(np.repeat(eps[ok], T.shape[1]), T[ok].ravel(), ".", color=color, alpha=0.35, ms=3)
    ax.plot(eps[ok], med, "o-", color=color, ms=4,
            label=name + ("" if fitted is None else f": {fitted:.2f} ({theory:.2f})"))
    if fitted is None:
        return None
    ax.plot(eps[ok], theory_T, "--", color="black", lw=0.8, zorder=3)
    return {"fitted": float(fitted), "theory": float(theory), "n_runs": int(ok.sum() * T.shape[1])}
