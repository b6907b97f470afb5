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
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.textpath import TextToPath

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
    catalog : geodln.catalog.store.Catalog
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
    names = [f"${set_label(J)}$" for J in groups]
    fig, (ax_v, ax_i) = new_figure(nrows=2, height=4.8, sharex=True, gridspec_kw={"height_ratios": [1.4, 1]})
    spans = _group_spans([len(recs) for recs in groups.values()], names, STYLE["fontsize"] - 1)
    centers, seen, xs = [], set(), []
    inertia = {key: [] for key in ("negative", "zero", "positive")}
    x0 = 0.0
    for (J, recs), span in zip(groups.items(), spans):
        first = x0 + (span - len(recs)) / 2  # the strata of a group centred in its span
        for i, rec in enumerate(recs):
            style = STYLE["kinds"][rec["kind"]]
            ax_v.scatter([first + i], [rec["critical_value"]], c=style["color"], marker=style["marker"],
                         s=60 if rec["kind"] == "global_minimum" else 22, edgecolors="k", linewidths=0.3, zorder=3,
                         label=style["label"] if rec["kind"] not in seen else None)
            seen.add(rec["kind"])
            for key in inertia:
                inertia[key].append(rec["hessian"][key])
            xs.append(first + i)
        centers.append(first + (len(recs) - 1) / 2)
        x0 += span + 1  # a gap between groups
        for ax in (ax_v, ax_i):
            ax.axvline(x0 - 1, color="0.8", lw=0.6, zorder=0)
    bottom = np.zeros(len(xs))
    for key, color in STYLE["inertia"].items():
        vals = np.array(inertia[key], dtype=float)
        ax_i.bar(xs, vals, bottom=bottom, width=0.9, color=color, label=f"{key} eigenvalues", linewidth=0)
        bottom += vals
    ax_v.set_ylabel(r"critical value $L_J$")
    ax_v.legend(loc="center left", bbox_to_anchor=(0.02, 0.45))
    params = catalog.manifest.get("parameters", {})
    if title is None:
        title = (f"catalog: widths {','.join(map(str, params.get('widths', [])))}, "
                 f"$s$ = {','.join(f'{v:g}' for v in params.get('spectrum', []))}: {len(records)} strata")
    ax_v.set_title(title)
    ax_i.set_ylabel("number of Hessian\neigenvalues")
    ax_i.set_xticks(centers, names)
    ax_i.tick_params(axis="x", length=0)
    ax_i.set_xlabel(r"learnt set of modes $J$ (one column per stratum)")
    fig.legend(*ax_i.get_legend_handles_labels(), loc="outside lower center", ncols=3,
               title="inertia of the Hessian at each stratum's representative")
    ax_i.set_xlim(-1, x0 - 1)
    return fig


def _group_spans(sizes, names, fontsize: float) -> list[int]:
    """Columns given to each group: its strata, or more where its label would not fit under them.

    The axes are taken as nearly the figure's width; the labels' widths are
    measured from their text, so narrow groups are padded just enough.
    """
    measure = TextToPath()
    prop = FontProperties(size=fontsize)
    label_in = max(measure.get_text_width_height_descent(n, prop, ismath=True)[0] for n in names) / 72 + 0.12
    axes_in = STYLE["width"] - 0.9
    least = 1
    for _ in range(10):  # a fixed point: the padding changes the width of one column
        total = sum(max(n, least) for n in sizes) + len(sizes)
        need = int(np.ceil(label_in * total / axes_in))
        if need == least:
            break
        least = need
    return [max(n, least) for n in sizes]


@styled
def plot_hessian_spectrum(spectra, kinds=None, tol=None, rtol: float = 1e-8) -> Figure:
    """Sorted Hessian eigenvalues at several critical points, one panel each, the zero band shaded.

    The y axis is symmetric-logarithmic, linear inside the zero band
    ``|lambda| <= tol`` (the eigenvalues counted as zero, as in
    :func:`geodln.dynamics.hessian.inertia`), logarithmic outside.

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
def plot_escape_times(eps, times, labels, orders=None, theory=None) -> Figure:
    """Time spent near a saddle against the initial distance ``eps``, each law on the axes that straighten it.

    Along an escape path of order ``m`` the loss falls like ``-c eps^m``, so
    the flow leaves in a time ``~ eps^(2 - m)`` for a nonstrict saddle
    (``m >= 3``): a line of slope ``2 - m`` on log-log axes (left panel); and
    in ``~ log(1/eps) / lambda`` for a strict one (``m = 2``, ``-lambda`` the
    negative Hessian eigenvalue), which is a line only on semilog axes: the
    strict series get a second panel with a linear time axis, where the fitted
    slope ``dt / d log(1/eps)`` is compared with the theory's.

    Parameters
    ----------
    eps : array-like, shape=[K], or sequence of such (one per series)
        Initial distances from the saddle.
    times : sequence of array-like, each shape=[K]
        Escape times of each series.
    labels : sequence of str
    orders : sequence of int, optional
        Escape order ``m`` of each series; ``m <= 2`` marks a strict saddle
        (semilog panel). Without it every series is taken as a power law.
    theory : sequence of (array-like, shape=[K], or None), optional
        Predicted escape times of each series, drawn as solid lines; without
        them the fits are drawn, dashed.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [log-log]`` or ``[log-log, semilog]`` when a series is
        strict; one legend below the panels, in ``fig.legends[0]``, giving
        each fitted slope beside the theory's.
    """
    times = [np.asarray(t, dtype=float) for t in times]
    eps_list = [np.asarray(eps, dtype=float)] * len(times) if np.ndim(eps[0]) == 0 else \
        [np.asarray(e, dtype=float) for e in eps]
    if not (len(eps_list) == len(times) == len(labels)):
        raise ValueError(f"{len(times)} series of times, {len(eps_list)} of eps and {len(labels)} labels")
    orders = [None] * len(times) if orders is None else list(orders)
    theory = [None] * len(times) if theory is None else [None if th is None else np.asarray(th, dtype=float)
                                                         for th in theory]
    if not len(orders) == len(theory) == len(times):
        raise ValueError(f"{len(times)} series but {len(orders)} orders and {len(theory)} theory curves")
    strict = [m is not None and m <= 2 for m in orders]
    fig, axes = new_figure(ncols=2 if any(strict) else 1, height=3.1,
                           width=None if any(strict) else STYLE["width"] * 0.6)
    ax_log, ax_semi = axes[0], (axes[1] if any(strict) else None)
    markers = cycle(["o", "s", "D", "^"])
    handles, texts = [], []
    for i, (e, t, label, m, th) in enumerate(zip(eps_list, times, labels, orders, theory)):
        if e.shape != t.shape or (th is not None and th.shape != t.shape):
            raise ValueError(f"series {label!r}: {e.size} values of eps, {t.size} times"
                             + ("" if th is None else f" and {th.size} theory values"))
        color, marker = STYLE["colors"][i % 8], next(markers)
        axs = [ax_log, ax_semi] if strict[i] else [ax_log]
        for ax in axs:
            handle, = ax.plot(e, t, marker=marker, ls="none", color=color, ms=5, zorder=3)
        if strict[i]:  # t = a + b log(1/eps): a line on the semilog panel
            slope, icpt = np.polyfit(np.log(1 / e), t, 1)
            fit = icpt + slope * np.log(1 / e)
            text = rf"{label}: semilog slope $dt/d\log(1/\varepsilon)$ = {slope:.2f}"
            if th is not None:
                text += f" (theory {np.polyfit(np.log(1 / e), th, 1)[0]:.2f})"
        else:
            slope, icpt = np.polyfit(np.log(e), np.log(t), 1)
            fit = np.exp(icpt) * e**slope
            text = f"{label}: log-log slope {slope:.2f}" + ("" if m is None else f" (theory {2 - m})")
        for ax in axs:
            if th is not None:
                ax.plot(e, th, color=color, lw=1.0, zorder=2)
            else:
                ax.plot(e, fit, color=color, lw=0.8, ls="--", zorder=2)
        handles.append(handle)
        texts.append(text)
    ax_log.set_xscale("log")
    ax_log.set_yscale("log")
    ax_log.set_xlabel(r"initial distance $\varepsilon$ from the saddle")
    ax_log.set_ylabel(r"escape time $t_{\mathrm{esc}}(\varepsilon)$")
    lines = "theory" if any(th is not None for th in theory) else "fits"
    ax_log.set_title(f"log-log: power laws are lines ({lines}: solid)" if lines == "theory"
                     else "log-log: power laws are lines (dashed: fits)")
    if ax_semi is not None:
        ax_semi.set_xscale("log")
        ax_semi.set_xlabel(r"initial distance $\varepsilon$ (log scale)")
        ax_semi.set_ylabel(r"escape time $t_{\mathrm{esc}}$ (linear scale)")
        ax_semi.set_title(r"semilog: $t \sim \log(1/\varepsilon)$ is a line")
    if lines == "theory":
        handles.append(Line2D([], [], color="0.3", lw=1.0))
        texts.append("theory: the leading-order escape laws")
    fig.legend(handles, texts, loc="outside lower center", ncols=1)
    return fig
