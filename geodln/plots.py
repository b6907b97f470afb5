"""Figures (the only module that imports matplotlib).

Every function returns a ``matplotlib.figure.Figure`` built with the
object-oriented API (no pyplot state), so it can be restyled or saved by the
caller; :func:`save_figure` writes one atomically.
"""

from __future__ import annotations

from itertools import cycle

import numpy as np
from matplotlib.figure import Figure

from .files import atomic_path
from .flow import Trajectory

__all__ = ["STYLE", "plot_trajectory", "save_figure"]

# One style for every figure: Okabe-Ito colour-blind-safe palette, sizes that
# fit a two-column journal page.
STYLE = {
    "colors": ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"],
    "width": 7.0,
    "height": 2.8,
    "fontsize": 9,
}


def _figure(ncols: int = 1, nrows: int = 1, height: float | None = None) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(STYLE["width"], height or STYLE["height"] * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols))
    for ax in axes.ravel():
        ax.tick_params(labelsize=STYLE["fontsize"] - 1)
    return fig, axes


def plot_trajectory(traj: Trajectory, log_time: bool | None = None, log_loss: bool = False) -> Figure:
    """Loss and end-to-end singular values against time.

    Left: ``L(t)`` with the ladder of critical values ``L_J`` for the top
    sets ``J = {}, {1}, {1, 2}, ...`` (up to ``r_max``) dashed: a small start
    rests on these plateaus one after another. Right: the singular values of
    ``W(t)`` with the data's ``s_k`` dashed.

    Parameters
    ----------
    traj : Trajectory
    log_time : bool, optional
        Logarithmic time axis; default when the output times are log-spaced.
    log_loss : bool
        Logarithmic loss axis (linear by default, which shows plateaus best).

    Returns
    -------
    matplotlib.figure.Figure
    """
    data, top = traj.flow.data, traj.flow.top
    t = traj.t
    if log_time is None:
        log_time = len(t) > 3 and t[1] > 0 and t[2] / t[1] > 1.5
    keep = t > 0 if log_time else slice(None)
    fig, (ax_loss, ax_sv) = _figure(ncols=2)
    fs = STYLE["fontsize"]
    ax_loss.plot(t[keep], traj.loss[keep], color=STYLE["colors"][0], lw=1.5, label=r"$L(t)$")
    for k in range(0, min(min(top.widths), len(data.s)) + 1):
        value = data.critical_value(range(1, k + 1))
        ax_loss.axhline(value, color="0.5", ls="--", lw=0.7)
        J = ",".join(str(j) for j in range(1, k + 1))
        label = rf"$L_{{\{{{J}\}}}}$" if k else r"$L_\emptyset$"
        ax_loss.annotate(label, (0.99, value), xycoords=("axes fraction", "data"),
                         xytext=(0, 2), textcoords="offset points", fontsize=fs - 1, va="bottom", ha="right",
                         color="0.35")
    if log_loss:
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel(r"time $t$", fontsize=fs)
    ax_loss.set_ylabel(r"loss $L = \frac{1}{2}\|Y - WX\|_F^2$", fontsize=fs)
    ax_loss.set_title(r"loss (dashed: critical values $L_J$)", fontsize=fs)
    colors = cycle(STYLE["colors"])
    for k in range(traj.singular_values.shape[1]):
        color = next(colors)
        ax_sv.plot(t[keep], traj.singular_values[keep, k], color=color, lw=1.5, label=rf"$\sigma_{k + 1}(W)$")
        if k < len(data.s):
            ax_sv.axhline(data.s[k], color=color, ls="--", lw=0.7)
    ax_sv.set_xlabel(r"time $t$", fontsize=fs)
    ax_sv.set_ylabel(r"singular values of $W(t)$", fontsize=fs)
    ax_sv.set_title(r"modes (dashed: data $s_k$)", fontsize=fs)
    ax_sv.legend(fontsize=fs - 1, frameon=False)
    for ax in (ax_loss, ax_sv):
        if log_time:
            ax.set_xscale("log")
    return fig


def save_figure(fig: Figure, path, **kwargs) -> None:
    """Save ``fig`` to ``path`` atomically (the format from the extension)."""
    suffix = "." + str(path).rsplit(".", 1)[-1]
    with atomic_path(path, suffix=suffix) as tmp:
        fig.savefig(tmp, dpi=kwargs.pop("dpi", 150), **kwargs)
