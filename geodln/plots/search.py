"""A numerical catalog as a picture: critical values by class, and the network at one point of each class.

For a network without closed-form critical points (a sparse mask, skip
connections) :func:`geodln.find_critical_points` lists what it found; this
figure shows the list (critical value ``L`` of every record, marked by its
class, with how many starts converged to it) above the network drawn at one
representative of each class (the record most starts reached), its edges
coloured by the weights ``A[j, k]`` there (:func:`geodln.plots.network.draw_graph`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..landscape.critical import KINDS
from ..catalog.store import catalog_topology
from .network import draw_graph
from .style import STYLE, new_figure, styled

__all__ = ["plot_numerical_catalog"]


def _representatives(records) -> list:
    """One record per class present, in :data:`KINDS` order: the one most starts converged to."""
    out = []
    for kind in KINDS:
        group = [r for r in records if r["kind"] == kind]
        if group:
            out.append(max(group, key=lambda r: (r.get("n_converged", 0), -r["critical_value"])))
    return out


@styled
def plot_numerical_catalog(catalog, title: str | None = None) -> Figure:
    """Critical values and classes of a numerical catalog, and its network at one point of each class.

    Parameters
    ----------
    catalog : Catalog
        Made by :func:`geodln.find_critical_points` (its manifest holds the topology).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes``: one network panel per class present (in the order of :data:`KINDS`), then, last, the
        values (records by increasing value, marker size growing with the number of starts that converged there).
    """
    records = sorted(catalog.records, key=lambda r: r["critical_value"])
    if not records:
        raise ValueError("the catalog has no records to draw")
    top = catalog_topology(catalog)
    reps = _representatives(records)
    fig, axes = new_figure(ncols=len(reps), nrows=2, height=5.8)
    axes = axes.reshape(2, len(reps))
    gs = axes[0, 0].get_gridspec()
    for ax in axes[0]:
        ax.remove()
    ax_v = fig.add_subplot(gs[0, :])
    counts = np.array([r.get("n_converged", 1) for r in records], dtype=float)
    seen = set()
    for i, (rec, n) in enumerate(zip(records, counts)):
        style = STYLE["kinds"][rec["kind"]]
        ax_v.scatter(i, rec["critical_value"], color=style["color"], marker=style["marker"], s=18 + 40 * np.sqrt(n / counts.max()),
                     edgecolors="k", linewidths=0.3, zorder=3, label=style["label"] if rec["kind"] not in seen else None)
        seen.add(rec["kind"])
    ax_v.set_xlabel("critical point found (by increasing value; size: starts that converged there)")
    ax_v.set_ylabel("critical value $L$")
    ax_v.xaxis.set_major_locator(MaxNLocator(integer=True))
    starts = catalog.manifest.get("starts", {})
    made = ", ".join(f"{n} {kind}" for kind, n in starts.items() if n)
    ax_v.set_title(f"{len(records)} critical points found numerically from {made} starts (not proven complete)")
    ax_v.legend(loc="upper left")
    for ax, rec in zip(axes[1], reps):
        A = catalog.point(rec)
        draw_graph(ax, top, A)
        h = rec["hessian"]
        order = "" if rec["escape_order"] is None or rec["kind"] == "strict_saddle" else f"\nescape order {rec['escape_order']}"
        value = round(rec["critical_value"], 10) + 0.0  # a global minimum's 1e-31 is zero
        ax.set_title(f"{STYLE['kinds'][rec['kind']]['label']}: L = {value:.4g}\n"
                     f"Hessian -/0/+ = {h['negative']}/{h['zero']}/{h['positive']}{order}", fontsize=STYLE["fontsize"] - 1)
        ax.set_xticks(range(top.depth + 1), [str(i) for i in range(top.depth + 1)])  # narrow panels: numbers only
        ax.set_xlabel("layer")
        ax.set_ylabel("")
    if title is not None:
        fig.suptitle(title)
    return fig
