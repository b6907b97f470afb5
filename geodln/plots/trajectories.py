"""Trajectories against time: plateaus, learnt modes, closed forms, discretisation.

From a small start the loss ``L(t)`` rests on the critical values
``L_J = L_* + 1/2 sum_{k not in J} s_k^2`` of the top sets
``J = {}, {1}, {1, 2}, ...`` one after another while the singular values of
``W(t)`` are learnt one at a time; aligned starts follow closed forms
(:func:`geodln.init.aligned_mode_curve`). Gradient descent with step ``eta``
follows the flow below ``eta* = 2 / lambda_max`` but breaks its conservation
laws: one step changes ``C_i`` by exactly ``eta^2 (G_i G_i^T - G_{i+1}^T G_{i+1})``.
"""

from __future__ import annotations

from itertools import cycle

import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patheffects import withStroke
from matplotlib.textpath import TextToPath
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from ..dynamics.flow import Trajectory
from .style import STYLE, new_figure, set_label, styled

__all__ = ["plot_trajectory", "plot_mode_curves", "plot_descent_vs_flow"]

LABELLED_MODES = 10
"""Modes drawn in their own colour and named in the legend (and plateaus ``L_J`` named beside the axes):
a network of width 64 has 64 singular values, which a legend cannot name one by one."""


def _draw_ladder(ax, data, r_max: int) -> list[tuple[str, float]]:
    """Dashed lines at the critical values ``L_J`` of the top sets; returns their names and values for
    :func:`_label_ladder`, which runs once the axis limits are final."""
    ladder = []
    for k in range(0, min(r_max, max(data.rank, LABELLED_MODES), len(data.s)) + 1):  # zero modes add no plateau
        value = data.critical_value(range(1, k + 1))
        ax.axhline(value, color="0.5", ls="--", lw=0.7, zorder=0)
        ladder.append((rf"$L_{{{set_label(range(1, k + 1))}}}$", value))
    return ladder


def _label_ladder(ax, ladder, gap: float = 0.065) -> None:
    """Name each ladder line just right of the axes, pushed apart (with a leader) where lines are close."""
    def to_axes(v):
        return ax.transLimits.transform(ax.transScale.transform((1.0, v)))[1]

    shown = [(name, value, to_axes(value)) for name, value in ladder
             if (value > 0 or ax.get_yscale() != "log") and 0 <= to_axes(value) <= 1]
    shown.sort(key=lambda item: -item[2])
    ys = [y for _, _, y in shown]
    for i in range(1, len(ys)):  # push down what crowds the label above
        ys[i] = min(ys[i], ys[i - 1] - gap)
    if ys and ys[-1] < -0.03:  # and back up from the bottom edge
        ys[-1] = -0.03
        for i in range(len(ys) - 2, -1, -1):
            ys[i] = max(ys[i], ys[i + 1] + gap)
    for (name, value, y0), y in zip(shown, ys):
        moved = abs(y - y0) > 1e-3
        # x a fixed distance right of the axes (in points, so the layout does not feed back), y in axes fraction
        beside = blended_transform_factory(
            ax.transAxes + ScaledTranslation((12 if moved else 2) / 72, 0, ax.figure.dpi_scale_trans), ax.transAxes)
        ax.annotate(name, (1.0, value), xycoords=("axes fraction", "data"), xytext=(1.0, y), textcoords=beside,
                    fontsize=STYLE["fontsize"] - 1, va="center", ha="left", color="0.35", annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5, "shrinkA": 0, "shrinkB": 1} if moved else None)


def _draw_itinerary(ax, itinerary) -> list[tuple]:
    """Shade each visited interval; returns ``(J, t_enter, t_exit, shade)`` for :func:`_label_itinerary`."""
    shades = cycle(["0.92", "0.84"])
    visits = []
    for i, visit in enumerate(itinerary):
        J, t0, t1 = (visit.learned, visit.t_enter, visit.t_exit) if hasattr(visit, "learned") else visit
        shade = next(shades)
        ax.axvspan(t0, t1, color=shade, zorder=-1, lw=0,
                   label=r"time near a critical point of learnt set $J$ (itinerary)" if i == 0 else None)
        visits.append((J, t0, t1, shade))
    return visits


def _label_itinerary(ax, visits, data) -> None:
    """Write each ``J`` above its plateau ``L_J``, starting just after the plateau is entered.

    The loss never rises along the flow, so from the label's left edge on the
    curve lies below the label (the drop out of the plateau goes down);
    starting a little after ``t_enter`` keeps it off the drop in. A label
    that would run past the axes is moved left, but never onto the drop in;
    if it still does not fit it is left out (the plateau's ``L_J`` is named
    beside the axes anyway). Runs once the axis limits are final.
    """
    fontsize = STYLE["fontsize"] - 1
    fig_width_pt = ax.figure.get_figwidth() * 72
    axes_pt = ax.get_position().width * fig_width_pt  # before layout: no wider than after
    prop, measure = FontProperties(size=fontsize), TextToPath()

    def to_axes(t):
        return ax.transLimits.transform(ax.transScale.transform((t, 1.0)))[0]

    for J, t0, t1, shade in visits:
        text = f"$J = {set_label(J)}$"
        width = (measure.get_text_width_height_descent(text, prop, ismath=True)[0] + 4) / axes_pt
        start = to_axes(t0) if t0 > 0 or ax.get_xscale() != "log" else 0.0
        left = start + 0.02
        if left + width > 1.0:
            if 1.0 - width < start + 0.005:
                continue
            left = 1.0 - width
        ax.annotate(text, (left, data.critical_value(J)), xycoords=("axes fraction", "data"), xytext=(0, 3),
                    textcoords="offset points", ha="left", va="bottom", fontsize=fontsize, color="0.2",
                    path_effects=[withStroke(linewidth=2.5, foreground=shade)])  # ladder lines pass behind


def _draw_modes(ax, traj: Trajectory, keep, closed_form=None) -> None:
    """Mode strengths against the data's singular values (dotted): ``sigma_k(W)`` for whitened data,
    ``sigma_k(W Sxx^{1/2})`` otherwise, the quantity that equals ``s_k`` when mode ``k`` is learnt."""
    data, t = traj.flow.data, traj.t
    if data.whitened:
        strengths, name = traj.singular_values, "W"
    else:
        root = data.Sxx_sqrt
        strengths = np.array([np.linalg.svd(traj.end_to_end(i) @ root, compute_uv=False) for i in range(len(t))])
        name = r"W S_{xx}^{1/2}"
    colors = cycle(STYLE["colors"])
    for k in range(min(strengths.shape[1], LABELLED_MODES)):
        color = next(colors)
        ax.plot(t[keep], strengths[keep, k], color=color, lw=1.6, label=rf"$\sigma_{{{k + 1}}}({name})$")
        if k < len(data.s):
            ax.axhline(data.s[k], color=color, ls=":", lw=0.8)
    if strengths.shape[1] > LABELLED_MODES:  # a wide network: the rest as one grey family, one legend entry
        ax.plot(t[keep], strengths[keep, LABELLED_MODES:], color="0.55", lw=0.8)
        ax.plot([], [], color="0.55", lw=0.8, label=rf"$\sigma_k({name})$, $k > {LABELLED_MODES}$")
        for value in data.s[LABELLED_MODES:data.rank]:
            ax.axhline(value, color="0.55", ls=":", lw=0.6)
    if closed_form is not None:
        for i, (tc, uc) in enumerate(closed_form):
            tc, uc = np.asarray(tc, dtype=float), np.asarray(uc, dtype=float)
            if ax.get_xscale() == "log":
                tc, uc = tc[tc > 0], uc[tc > 0]
            ax.plot(tc, uc, color="k", ls=(0, (3, 2)), lw=0.9, label="closed form" if i == 0 else None)
    ax.set_xlabel(r"time $t$")
    ax.set_ylabel(rf"singular values of ${name}$")


def _log_spaced(t) -> bool:
    """Whether output times are (after a leading 0) a geometric grid over at least two decades."""
    pos = np.asarray(t, dtype=float)
    pos = pos[pos > 0]
    if len(pos) < 3 or pos[-1] / pos[0] < 100:
        return False
    ratios = np.diff(np.log(pos))
    return bool(np.allclose(ratios, ratios.mean(), rtol=1e-6))


@styled
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
        :func:`geodln.itinerary`.
    closed_form : sequence of (t, u) pairs, optional
        One curve per mode: times ``t`` (shape=[K]) and the mode strength
        ``u`` (shape=[K]) predicted by a closed form (e.g. an aligned start).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes = [loss, singular values]``; their legends sit below them,
        ``fig.legends = [loss, singular values]``.
    """
    data, top = traj.flow.data, traj.flow.top
    t = traj.t
    if log_time is None:
        log_time = _log_spaced(t)
    keep = t > 0 if log_time else slice(None)
    fig, (ax_loss, ax_sv) = new_figure(ncols=2, height=3.2)
    for ax in (ax_loss, ax_sv):
        if log_time:
            ax.set_xscale("log")
    ax_loss.plot(t[keep], traj.loss[keep], color=STYLE["colors"][0], lw=1.6, label=r"loss $L(t)$")
    ladder = _draw_ladder(ax_loss, data, min(top.widths))
    ax_loss.plot([], [], color="0.5", ls="--", lw=0.7, label=r"critical values $L_J$ of the sets $J$ of learnt modes")
    visits = _draw_itinerary(ax_loss, itinerary) if itinerary else []
    if log_loss:
        ax_loss.set_yscale("log")
    else:  # room above the highest plateau for its label
        low, high = ax_loss.get_ylim()
        ax_loss.set_ylim(low, high + 0.06 * (high - low))
    _label_ladder(ax_loss, ladder)
    _label_itinerary(ax_loss, visits, data)
    ax_loss.set_xlabel(r"time $t$")
    ax_loss.set_ylabel(r"loss $L = \frac{1}{2}\|Y - WX\|_F^2$")
    ax_loss.set_title("loss: plateaus at the critical values")
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="outside lower left", ncols=1)
    _draw_modes(ax_sv, traj, keep, closed_form)
    ax_sv.set_title("modes, learnt one at a time")
    handles, labels = ax_sv.get_legend_handles_labels()
    fig.legend(handles + [Line2D([], [], color="0.4", ls=":", lw=0.8)], labels + [r"data $s_k$"],
               loc="outside lower right", ncols=2)  # below the panel: no curve is ever hidden
    return fig


@styled
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
        One axes per trajectory, all on the same time and value axes (so the
        panels compare directly); one legend for all, below them.
    """
    trajs = list(trajs)
    if not trajs:
        raise ValueError("give at least one trajectory")
    closed_forms = [None] * len(trajs) if closed_forms is None else list(closed_forms)
    if len(closed_forms) != len(trajs):
        raise ValueError(f"{len(closed_forms)} closed forms for {len(trajs)} trajectories")
    fig, axes = new_figure(ncols=len(trajs), sharex=True, sharey=True)
    for i, (ax, traj, cf) in enumerate(zip(axes, trajs, closed_forms)):
        if log_time:
            ax.set_xscale("log")
        _draw_modes(ax, traj, traj.t > 0 if log_time else slice(None), cf)
        if i:
            ax.set_ylabel("")
        ax.set_title(titles[i] if titles else f"depth {traj.flow.top.depth}")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.4", ls=":", lw=0.8))
    labels.append(r"data singular values $s_k$")
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    return fig


# Values below this are rounding (losses of order one, balances of order one, float64): they are drawn on
# it, so that their machine-dependent size (1e-16 to 1e-13 under different BLAS builds) moves no pixel.
ROUNDING_FLOOR = 1e-12


@styled
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
    fig, (ax_l, ax_t, ax_e) = new_figure(ncols=3, height=3.4)
    floor = ROUNDING_FLOOR
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
    for ax in (ax_l, ax_t):  # machine-independent limits: the rounding floor, the decade above the data
        top = max(line.get_ydata().max() for line in ax.lines if len(line.get_ydata()))
        ax.set_ylim(floor / 6, 10.0 ** np.ceil(np.log10(top) + 0.1))
        ax.axhspan(floor / 6, floor, color="0.92", lw=0, zorder=0)
        ax.annotate("rounding", (0.98, floor / 2.6), xycoords=("axes fraction", "data"), ha="right", va="center",
                    fontsize=STYLE["fontsize"] - 3, color="0.4")
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
    shown = np.concatenate([one[one > 0], end[end > 0]])
    if shown.size:  # headroom above the data for the legend
        low, high = shown.min(), shown.max()
        ax_e.set_ylim(low / 2, high * (high / low) ** 0.45)
    ax_e.set_xlabel(r"step $\eta$")
    ax_e.set_ylabel(r"drift $\max|Q - Q(0)|$")
    ax_e.set_title(r"drift against the step")
    ax_e.legend(loc="upper left", fontsize=STYLE["fontsize"] - 2)
    return fig
