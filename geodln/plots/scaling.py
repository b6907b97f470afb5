"""How geodln's costs grow with the network: the scaling benchmark's table drawn on log-log axes.

The table is what ``tests/benchmarks/scaling.py`` writes (and the repository ships) in
``tests/benchmarks/results/scaling.json``: one row per measurement, ``kind`` ``"flow"``
(a solver integrating widths ``d^(h+1)`` on ``[0, T]``: ``s_per_time``, ``peak_mb``) or
``"classify"`` (:func:`geodln.analyze_point` on a constructed critical point: ``seconds``,
``peak_mb``), each with its number of weights ``D``; and the fitted exponents ``a`` of
``cost ~ D^a``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .style import STYLE, new_figure, styled

__all__ = ["plot_scaling", "load_scaling"]

SHIPPED = "tests/benchmarks/results/scaling.json"
"""The results file the repository ships, relative to its root."""


def load_scaling(path=None) -> dict:
    """The scaling benchmark's results: ``{"settings", "table", "exponents"}``.

    Parameters
    ----------
    path : str or Path, optional
        Default :data:`SHIPPED` in the repository that holds this package.

    Returns
    -------
    dict
        ``"settings"`` (the options and machine of the run), ``"table"`` (a list of row dicts:
        ``kind``, ``width``, ``depth``, ``D``, ``status`` and the costs), ``"exponents"``
        (``{"flow/<solver>" or "classify/analyze_point": {"time", "memory", "D_range"}}``) and,
        after partial re-runs, ``"updates"``.
    """
    path = Path(path) if path is not None else Path(__file__).resolve().parents[2] / SHIPPED
    return json.loads(path.read_text())


def _ok(table, **match) -> list:
    return sorted((r for r in table if r.get("status") == "ok" and all(r.get(k) == v for k, v in match.items())),
                  key=lambda r: r["D"])


def _series(ax, rows, x, y, label, color, marker):
    if rows:
        ax.loglog([r[x] for r in rows], [r[y] for r in rows], marker=marker, ms=4, color=color, label=label)


def _slope_label(name, fits, key, which) -> str:
    fit = fits.get(key)
    return name if fit is None else f"{name} ($D^{{{fit[which]:.2f}}}$)"


@styled
def plot_scaling(results):
    """Seconds per unit time and peak memory of the flow against ``D`` and depth; classification against ``D``.

    Panels: (a) the flow's seconds per unit time against the number of weights ``D``
    (widths 8-512 at depth 4), one line per solver, its fitted exponent in the legend;
    (b) the same against depth at width 32; (c) the flow's peak memory against ``D``;
    (d) :func:`geodln.analyze_point`'s time and peak memory against ``D``. The dotted
    grey guides are ``D^1`` and ``D^2`` through the first point of each panel.

    Parameters
    ----------
    results : dict
        ``{"table": [...], "exponents": {...}}`` as :func:`load_scaling` returns
        (the shipped file is :data:`SHIPPED`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    table, fits = results["table"], results.get("exponents", {})
    fig, axes = new_figure(2, 2, height=5.0)
    solvers = sorted({r["solver"] for r in table if r["kind"] == "flow"}, key=lambda s: (s != "auto", s))
    markers = "osD^v<>"
    for i, s in enumerate(solvers):
        color, marker = STYLE["colors"][i % len(STYLE["colors"])], markers[i % len(markers)]
        wide = _ok(table, kind="flow", solver=s, depth=4)
        _series(axes[0], wide, "D", "s_per_time", _slope_label(s, fits, f"flow/{s}", "time"), color, marker)
        deep = sorted(_ok(table, kind="flow", solver=s, width=32), key=lambda r: r["depth"])
        if deep:
            axes[1].semilogy([r["depth"] for r in deep], [r["s_per_time"] for r in deep], marker=marker, ms=4,
                             color=color, label=s)
        _series(axes[2], wide, "D", "peak_mb", _slope_label(s, fits, f"flow/{s}", "memory"), color, marker)
    rows = _ok(table, kind="classify")
    _series(axes[3], rows, "D", "seconds", _slope_label("time (s)", fits, "classify/analyze_point", "time"),
            STYLE["colors"][0], "o")
    _series(axes[3], rows, "D", "peak_mb", _slope_label("peak memory (MB)", fits, "classify/analyze_point",
                                                        "memory"), STYLE["colors"][1], "s")
    for ax in (axes[0], axes[2], axes[3]):
        _guides(ax)
    titles = ("(a) flow: seconds per unit time, depth 4", "(b) flow: seconds per unit time, width 32",
              "(c) flow: peak memory (MB), depth 4", "(d) analyze_point at a critical point, depth 3")
    # the lines rise to the right from the guides' start: their legends go below them, on the right
    places = ("lower right", "lower left", "lower right", "lower right")
    xlabels = ("weights D", "depth h", "weights D", "weights D")
    ylabels = ("seconds per unit time", "seconds per unit time", "peak memory (MB)", "seconds or MB")
    for ax, title, xlabel, ylabel, place in zip(axes, titles, xlabels, ylabels, places):
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if ax.lines:
            ax.legend(loc=place, fontsize=STYLE["fontsize"] - 2)
    return fig


def _guides(ax) -> None:
    """Dotted grey ``D^1`` and ``D^2`` from the lowest left point of the axis' lines, within the data's range."""
    if not ax.lines:
        return
    x0 = min(float(np.min(ln.get_xdata())) for ln in ax.lines)
    y0 = min(float(np.min(ln.get_ydata())) for ln in ax.lines)
    x1 = max(float(np.max(ln.get_xdata())) for ln in ax.lines)
    ylim = ax.get_ylim()
    for power in (1, 2):
        x_end = min(x1, x0 * (ylim[1] / y0) ** (1.0 / power))  # where the guide leaves the panel
        xs = np.array([x0, x_end])
        ax.loglog(xs, y0 * (xs / x0) ** power, ":", color="#999999", lw=0.8, zorder=0)
        ax.annotate(f"$D^{power}$", (x_end, y0 * (x_end / x0) ** power), fontsize=STYLE["fontsize"] - 2,
                    color="#777777", ha="right", va="top")
    ax.set_ylim(ylim)
