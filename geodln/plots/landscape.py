"""The loss landscape: critical values, Hessian spectra, and the time spent near saddles.

A catalog lists the strata of critical points with their critical values
``L_J`` and the inertia ``(n_-, n_0, n_+)`` of the Hessian at a
representative. A strict saddle (a negative eigenvalue, escape order
``m = 2``) is left in a time ``~ log(1/eps)`` from distance ``eps``; a
nonstrict one (order ``m >= 3``, where the loss falls like ``-c eps^m``) in
a time ``~ eps^(2 - m)``.
"""

from __future__ import annotations

from itertools import cycle

import numpy as np
from matplotlib.figure import Figure

from .style import STYLE, new_figure, set_label, styled

__all__ = ["plot_catalog", "plot_hessian_spectrum", "plot_escape_times"]


@styled
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
    fig, (ax_v, ax_i) = new_figure(nrows=2, height=4.6, sharex=True, gridspec_kw={"height_ratios": [1.4, 1]})
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
        names.append(f"${set_label(J)}$")
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


@styled
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
    fig, axes = new_figure(ncols=len(spectra), sharey=True, height=3.0)
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


@styled
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
    fig, (ax,) = new_figure(width=STYLE["width"] * 0.6, height=3.2)
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
