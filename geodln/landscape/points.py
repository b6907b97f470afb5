"""Critical points the user brings: what a given point is, and which critical point a slow state shadows.

:func:`analyze_point` takes any critical point of a fully connected layered
network (packed weights or an adjacency matrix) and returns the record a
catalog holds: ``J`` and ``L_J``, the stratum read off the ranks of the partial
products and the projections on the data's singular vectors
(:mod:`geodln.landscape.readout`), the class by the one rule
(:func:`geodln.landscape.critical.classify`, tightened read mode by mode), checked
against the exact Hessian (strict iff a negative eigenvalue) and, at a
nonstrict saddle, an explicit escape path of order ``m`` whose decrease
``L - L_J ~ -c eps^m`` is measured.

Criticality is certified by the distance to the critical set, not by the
gradient alone: near a saddle of order ``m`` the gradient shrinks like
``distance^(m-1)`` (noise of 1e-6 at an order-3 saddle whose Hessian vanishes
leaves a gradient of 1e-11). Every point is first projected
(:func:`_project`): a point critical to rounding, with an undoubted reading, is
its own projection; otherwise the small remnants are truncated (the layers'
singular values below the widest gap, see :attr:`Tolerances.plateau_gap`),
what they leave inside the other pieces is removed in the stratum's canonical
frame, the group brings the result back next to the weights, and Gauss-Newton
on the gradient with the layer ranks held fixed (Newton within the stratum)
lands on the critical set. The projection is what is classified, with its
distance from the weights; its Hessian must agree with its stratum's class.
:func:`nearest_critical_point` does the same for a point that is only nearly
critical (a plateau of a trajectory, weights trained elsewhere), within
:data:`NEAR`.

With weight decay the loss is ``F = L + lambda/2 ||theta||^2`` and its landscape
is its own: critical points are balanced (``W_{i+1}^T W_{i+1} = W_i W_i^T``),
only the orthogonal group is a symmetry, and local minima exist (the origin for
``h >= 3``, and for ``h = 2`` when ``lambda > sigma_1(Syx)``). A point is then a
``"local_minimum"`` (Hessian of ``F`` positive definite off the orthogonal
orbit) or a ``"strict_saddle"``; where the Hessian is singular beyond the orbit
no class is given (:func:`decayed_origin_kind`, :func:`decayed_mode_values`:
the closed forms).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ClassificationError, NotCriticalError
from ..dynamics.flow import GradientFlow
from ..dynamics.hessian import MATRIX_FREE_ABOVE, HessianOperator, hessian, inertia, matrix_free
from .critical import CriticalPoint, _grad_scale, classify, curvature, escape_along_curve
from .labels import format_learned
from .readout import read_stratum
from .strata import NULL
from .. import symmetry
from ..symmetry import algebra_dim, horizontal_basis, range_basis
from ..tolerances import DEFAULT_TOLERANCES, Tolerances

__all__ = ["analyze_point", "nearest_critical_point", "NearestCritical", "frame_link",
           "nearest_learned", "decayed_origin_kind", "decayed_mode_values"]

ALIGN_STEPS = 4
"""Gauss-Newton steps of :func:`_align` (each damped): the first removes the snap's first-order overshoot."""
NEWTON_MARGIN = 1e-2
"""Newton within the stratum stops at this fraction of the criticality tolerance: the point it lands
on is then critical with room to spare, whatever rounding the analysis adds on top of it."""
LSMR_TOL, LSMR_ITERATIONS = 1e-12, 100
"""The matrix-free Gauss-Newton step (:func:`_tangent_step_lsmr`) is solved to LSMR's ``atol = btol`` of
1e-12 (the dense ``lstsq`` is exact): the damped outer iteration needs a descent step, not digits, and
stops at :data:`NEWTON_MARGIN` of the criticality threshold; the cap bounds a stalled solve."""
LSMR_LOOSE = 1e-3
"""The loosest tolerance of a Gauss-Newton solve, in its first iterations (far from the critical set a step
only needs to be a descent direction; the tolerance tightens with ``||g|| / ||g_0||``)."""
NEWTON_STALL, NEWTON_STALL_STEPS = 0.5, 3
"""Newton within the stratum gives up when the gradient fell by less than half over 3 iterations: no
critical point of the stratum is near (the state leaves it), and the refusal comes after a few
iterations instead of 40 (a profile of the 32^5 itinerary found such stalled projections dominating)."""
# A projection onto the critical set is the point the user's weights shadow only when it is near them:
# within NEAR of the larger of ||theta|| and the weight size of one learnt mode (sqrt(h) s_1^(1/h)). Plateau
# states of a small start differ from their saddle by the remnants (1e-2 relative and less); a random
# point is typically its own size away from anything the projection finds.
NEAR = 0.1


def _check(flow: GradientFlow, theta) -> np.ndarray:
    if not isinstance(flow, GradientFlow):
        raise TypeError(f"flow must be a GradientFlow, got {type(flow).__name__}")
    top = flow.top
    if not top.is_fully_connected:
        raise ValueError(f"analyze_point needs a fully connected layered network, got {top!r}")
    flow.loss_fn.require_closed_form_critical_values("classifications of critical points")
    theta = np.asarray(theta, dtype=float)
    if theta.shape == (top.n, top.n):
        theta = top.pack(theta)
    theta = top.check_theta(theta).copy()
    if not np.all(np.isfinite(theta)):
        raise ValueError("the point contains NaN or inf")
    return theta


def _whitened_layers(flow: GradientFlow, theta) -> list:
    """``[W_1 Sxx^{1/2}, W_2, ..., W_h]``: the layers in the coordinates where the data are whitened."""
    Ws = [W.copy() for W in flow.top.layer_weights(theta)]
    data = flow.data
    if not data.whitened:
        Ws[0] = Ws[0] @ (data.Sxx @ data._inv_sqrt)  # Sxx^{1/2}
    return Ws


def nearest_learned(flow: GradientFlow, theta) -> tuple:
    """``J`` whose ``W_J`` is nearest the end-to-end map (mode ``k`` learnt when
    ``u_k^T W Sxx^{1/2} v_k > s_k / 2``), at most ``min_i d_i`` of them."""
    data = flow.data
    W = flow.top.end_to_end(theta) @ data.input_modes
    c = [data.U[:, k] @ W[:, k] / data.s[k] for k in range(data.rank)]
    order = [k + 1 for k in np.argsort(c)[::-1] if c[k] > 0.5][:min(flow.top.widths)]
    return tuple(sorted(int(k) for k in order))


def _not_critical(flow, theta, why: str, grad: float,
                  advice: str = "for weights that rest on a plateau of training, geodln.nearest_critical_point "
                                "(geodln classify does this) projects onto the critical point they shadow"
                  ) -> NotCriticalError:
    """The refusal of a point that is not critical, with the point's own numbers and the thresholds applied."""
    J = nearest_learned(flow, theta)
    value = flow.data.critical_value(J)
    return NotCriticalError(
        f"not a critical point: {why}; at these weights ||dL/dtheta|| = {grad:.3g} and L = {flow.loss(theta):.10g} "
        f"(the nearest critical value is L_J = {value:.10g}, J = {format_learned(J)}); {advice}", grad, value)


def frame_link(flow: GradientFlow, frames, mode: int, link) -> np.ndarray:
    """One new link ``(layer i, source, target)`` of an escape path as a packed direction (not normalised).

    ``source``/``target`` are slots of the canonical frame (``frames[j - 1]``
    is ``B_j``), or ``"v"``/``"u"`` for mode ``k``'s input and output vectors:
    the link is ``B_i e_t (B_{i-1}^{-1})_{s,:}`` added to ``W_i``.
    """
    top, data = flow.top, flow.data
    i, src, tgt = link
    if src == "v":
        row = data.V[:, mode - 1] if data.whitened else data._inv_sqrt @ data.V[:, mode - 1]
    else:
        B = frames[i - 2]
        row = np.linalg.solve(B.T, np.eye(B.shape[0])[:, src])  # row src of B^{-1}
    col = data.U[:, mode - 1] if tgt == "u" else frames[i - 1][:, tgt]
    Ws = [np.zeros((top.widths[j], top.widths[j - 1])) for j in range(1, top.depth + 1)]
    Ws[i - 1] = np.outer(col, row)
    return top.from_layer_weights(Ws)


def _similarity(top, frames) -> np.ndarray:
    """``S = blockdiag(I, B_1^{-T}, ..., B_{h-1}^{-T}, I)``: the group element (networkx convention)
    that moves the frame's canonical form to the point."""
    S = np.eye(top.n)
    for j, B in enumerate(frames, start=1):
        sl = top.level_slices[j]
        S[sl, sl] = np.linalg.solve(B, np.eye(B.shape[0])).T
    return S


def analyze_point(flow: GradientFlow, theta, tol: Tolerances | None = None) -> CriticalPoint:
    """Classify a critical point the user brings, with everything a catalog record holds.

    The point is first projected onto the critical set (:func:`_project`: itself when it is critical to
    rounding; else its small remnants truncated, the rest snapped onto the stratum they leave and Newton
    within the stratum), and the projection is what is classified. The weights are certified critical
    when their gradient is below the threshold *and* the projection is within ``critical_distance``:
    near a degenerate saddle of order ``m`` the gradient shrinks like ``distance^(m-1)`` and certifies nothing.

    Parameters
    ----------
    flow : GradientFlow
        A fully connected layered network on data (whitened or not), quadratic loss.
    theta : array-like, shape=[n_params] or [n, n]
        Packed weights, or the adjacency matrix.
    tol : Tolerances, optional
        ``gradient``, ``loss``, ``critical_rounding``, ``critical_distance`` (criticality), ``rank_zero``,
        ``rank_gap``, ``plateau_gap`` (rank decisions), ``inertia``, ``escape_order``, ``escape_drop``.

    Returns
    -------
    CriticalPoint
        Of the projection (``theta`` is the projection, ``distance`` and ``relative_distance`` how far it
        is from the weights given). ``stratum`` is None, and ``mixed`` says why, when a dangling piece
        carries a mixture of modes; ``ambiguous`` lists the rank decisions within the noise. The class is
        the stratum's (the rule of Achour et al., read mode by mode), and the Hessian at the projection
        agrees with it (strict iff a negative eigenvalue), or nothing is returned.

    Raises
    ------
    NotCriticalError
        When ``||grad|| > gradient * s_1^2``, the loss is not a critical value, or the projection is
        farther than ``critical_distance`` (relative).
    ClassificationError
        When the rule, the Hessian and the escape path disagree.

    See Also
    --------
    nearest_critical_point
        The certified critical point near weights that are not critical.

    Examples
    --------
    >>> import geodln
    >>> flow = geodln.GradientFlow(geodln.layered([2, 2, 2, 2]), geodln.Data(np.eye(2), np.diag([3.0, 1.0])))
    >>> cp = analyze_point(flow, np.zeros(flow.top.n_params))
    >>> cp.kind, cp.learned, cp.escape_order, cp.label, cp.distance
    ('nonstrict_saddle', [], 3, 'J={}', 0.0)
    """
    tol = DEFAULT_TOLERANCES if tol is None else tol
    theta = _check(flow, theta)
    if flow.weight_decay:
        return _classify_decayed(flow, theta, tol)
    grad = float(np.linalg.norm(flow.rhs(theta)))
    threshold = tol.gradient * tol.gradient_scale(flow.data)
    if not tol.is_critical(grad, flow.data):
        raise _not_critical(flow, theta, f"the gradient is above the threshold {threshold:.3g} (= {tol.gradient:g} s_1^2)",
                            grad)
    x, _ = _project(flow, theta, tol)
    distance = float(np.linalg.norm(x - theta))
    relative = distance / _size(flow, theta)
    if relative > tol.critical_distance:
        raise _not_critical(
            flow, theta, f"the gradient is below the threshold {threshold:.3g}, but the nearest critical point found "
            f"(truncation and Newton within the stratum) is at distance {distance:.3g} ({relative:.3g} relative, above "
            f"critical_distance = {tol.critical_distance:g}): near a degenerate saddle the gradient shrinks like a "
            "power of the distance and does not certify criticality", grad,
            "geodln.nearest_critical_point (geodln classify does this) projects onto that point and classifies it")
    return _classify_projection(flow, x, tol, distance, relative)


def _classify_projection(flow: GradientFlow, theta, tol: Tolerances, distance: float = 0.0,
                         relative: float = 0.0) -> CriticalPoint:
    """The record of a projection onto the critical set: certified (gradient, loss) at ``theta`` itself,
    the stratum read at the point's own noise, its class by the rule, and the Hessian that must agree."""
    top, data = flow.top, flow.data
    grad = float(np.linalg.norm(flow.rhs(theta)))
    if not tol.is_critical(grad, data):
        raise _not_critical(flow, theta, f"the gradient is above the threshold {tol.gradient * tol.gradient_scale(data):.3g} "
                            f"(= {tol.gradient:g} s_1^2)", grad)
    noise = max(tol.rank_zero, grad / _grad_scale(flow, theta))
    reading = read_stratum(_whitened_layers(flow, theta), data.U, data.s, data.V, data.rank, noise, tol.rank_gap)
    J, stratum = reading.learned, reading.stratum
    value, loss = data.critical_value(J), flow.loss(theta)
    if not tol.at_level(loss, value, data):
        raise _not_critical(flow, theta, f"its loss is not the critical value of the modes it carries "
                            f"(|L - L_J| above {tol.loss * tol.gradient_scale(data):.3g} = {tol.loss:g} s_1^2)", grad)
    lam, full, hor, orbit = curvature(flow, theta, tol)
    tight = stratum.tightened() if stratum is not None else reading.tightened(data.rank, top.depth)
    kind = classify(J, data.rank, min(top.widths), tight)
    unsure, label = bool(reading.ambiguous), (stratum.label if stratum is not None else f"J={format_learned(J)} (mixed)")
    order = None if kind == "global_minimum" else (
        stratum.escape_order() if stratum is not None else (2 if kind == "strict_saddle" else None))
    if (full.negative > 0) != (kind == "strict_saddle"):  # never a class that contradicts the stratum it names
        raise ClassificationError(
            f"{label}: the rule says {kind} (escape order {order}) but the Hessian at the point analysed has "
            f"{full.negative} negative eigenvalues (smallest {full.min:.3g}, zero band {full.tol:.3g}); it lies at "
            f"distance {distance:.3g} ({relative:.3g} relative) from the weights given"
            + (f", with rank decisions within the noise: {reading.ambiguous}" if unsure else ""))
    if (full.zero - orbit != hor.zero or hor.negative != full.negative) and not unsure:
        raise ClassificationError(f"{label}: the vertical space ({orbit}) is not in the Hessian kernel")
    if stratum is not None and kind != "global_minimum" and (order is None or (order == 2) != (kind == "strict_saddle")):
        raise ClassificationError(f"{label}: the escape path has order {order}, Achour et al. say {kind}")
    escape = None
    if kind == "nonstrict_saddle" and reading.frames is not None and order is not None and order >= 3:
        escape = _measure_escape(flow, theta, stratum, reading.frames, value, tol, unsure, label)
    return CriticalPoint(
        stratum=stratum, theta=theta, learned=list(J), critical_value=value, loss=loss, kind=kind,
        hessian=full, horizontal_hessian=hor, eigenvalues=lam, orbit_dim=orbit,
        stabilizer_dim=algebra_dim(top) - orbit, layer_ranks=[reading.ranks[(i - 1, i)] for i in range(1, top.depth + 1)],
        escape_order=order, escape=escape, grad_norm=grad, tightened=tight,
        similarity=None if reading.frames is None else _similarity(top, reading.frames),
        ambiguous=reading.ambiguous, frames=reading.frames, mixed=reading.mixed,
        distance=distance, relative_distance=relative,
    )


def _measure_escape(flow, theta, stratum, frames, value, tol: Tolerances, unsure: bool, label: str) -> dict:
    """The loss decrease along the escape path's links (in the point's own frame) at two step sizes."""
    path = stratum.escape_path()
    links = [frame_link(flow, frames, path.mode, link) for link in path.links]
    if path.powers:  # a curve: its links grow at different powers of eps (foreign pieces' cross terms)
        return escape_along_curve(flow, theta, path, [D / np.linalg.norm(D) for D in links], tol, label, unsure)
    D = np.sum(links, axis=0)
    D /= np.linalg.norm(D)
    steps = (tol.escape_drop ** (1 / path.order), 0.5 * tol.escape_drop ** (1 / path.order))
    drops = [value - flow.loss(theta + eps * D) for eps in steps]
    fitted = float(np.log(drops[0] / drops[1]) / np.log(2.0)) if min(drops) > 0 else float("nan")
    if not (min(drops) > 0 and abs(fitted - path.order) < tol.escape_order) and not unsure:
        raise ClassificationError(
            f"{label}: along the escape path of order {path.order} the loss drops {drops} (fitted order {fitted:.2f})")
    return {"mode": path.mode, "links": path.link_names(), "eps": list(steps), "decrease": drops,
            "measured_order": fitted, "direction": D}


@dataclass(frozen=True)
class NearestCritical:
    """The critical point a nearly critical state shadows.

    Attributes
    ----------
    point : CriticalPoint
        Its analysis (``point.theta`` is the critical point, shape=[n_params]).
    distance : float
        ``||theta* - theta||`` in the packed weights.
    truncated : int
        How many singular values of the layers were set to zero.
    grad_norm : float
        ``||dL/dtheta||`` at the given state.
    relative_distance : float
        ``distance / max(||theta||, sqrt(h) s_1^(1/h))``, at most :data:`NEAR` (else no point is returned).
    loss : float
        ``L`` at the given state (``point.loss`` is ``L`` at the critical point, ``point.grad_norm`` its gradient:
        the certificate, recomputed there).
    """

    point: CriticalPoint = field(repr=False)
    distance: float
    truncated: int
    grad_norm: float
    relative_distance: float = 0.0
    loss: float = float("nan")

    @property
    def theta(self) -> np.ndarray:
        return self.point.theta


def _truncate(flow: GradientFlow, theta, gap: float) -> tuple[np.ndarray, int, float]:
    """Zero the layers' singular values below the widest gap (ratio >= ``gap``) under ``s_1^(1/h)``.

    Returns the truncated weights, how many values were zeroed, and the cut over ``s_1^(1/h)`` (the
    geometric middle of the gap: the size, relative to the weights, that separates remnants from pieces;
    0 when nothing is cut)."""
    top, data = flow.top, flow.data
    Ws = top.layer_weights(theta)
    unit = float(data.s[0]) ** (1 / top.depth)
    svds = [np.linalg.svd(W, full_matrices=False) for W in Ws]
    values = np.concatenate([sv for _, sv, _ in svds]) / unit
    ladder = np.sort(np.concatenate([[1.0], values[(values > 0) & (values <= 1.0)]]))[::-1]
    if ladder.size < 2:
        return theta, 0, 0.0
    ratios = ladder[:-1] / np.maximum(ladder[1:], 1e-300)
    j = int(np.argmax(ratios))
    if ratios[j] < gap:
        return theta, 0, 0.0
    # the middle of the gap: cutting at ladder[j + 1] itself would keep or drop that value by rounding
    cut = float(np.sqrt(ladder[j] * ladder[j + 1]))
    out, count = [], 0
    for U, sv, Vt in svds:
        keep = sv > cut * unit
        count += int(np.sum((~keep) & (sv > 0)))
        out.append((U * (sv * keep)) @ Vt)
    return top.from_layer_weights(out), count, cut


def _snap(flow: GradientFlow, theta, cut: float) -> np.ndarray:
    """The truncated point moved onto the stratum its pieces name: in the canonical frame read at the
    noise ``cut`` (relative), every coordinate of ``B_i^{-1} W_i B_{i-1}`` off the stratum's links is zeroed.

    Truncation removes the remnants' own singular values but not what they leave inside the pieces that
    stay (an input piece carrying ``v_1 + 1e-6 v_2``, a product ``W_2 W_1`` of size 1e-6 between two pieces
    that only touch): those put the point in a generic (mixed) stratum next to the one it shadows. The
    input and output frames are the data's modes followed by an orthonormal basis of their complement
    (null pieces may carry any null direction); the hidden ones are the reading's ``B_i``. A point
    without a canonical reading is returned as it is.
    """
    top, data = flow.top, flow.data
    m = data.rank
    reading = read_stratum(_whitened_layers(flow, theta), data.U, data.s, data.V, m, cut, 1.0)
    if reading.frames is None:
        return theta
    stratum, h = reading.stratum, top.depth
    bases = ([np.column_stack([data.V[:, :m], horizontal_basis(data.V[:, :m])])] + list(reading.frames)
             + [np.column_stack([data.U[:, :m], horizontal_basis(data.U[:, :m])])])
    masks = [np.zeros((top.widths[i], top.widths[i - 1]), dtype=bool) for i in range(1, h + 1)]
    slots = stratum.slots()
    for idx, p in enumerate(stratum.all_pieces()):
        for i in range(p.a + 1, p.b + 1):  # the link of piece p from layer i - 1 to layer i
            rows = ([p.target - 1] if p.target != NULL else list(range(m, top.widths[h]))) if i == h else [slots[i][idx]]
            cols = ([p.source - 1] if p.source != NULL else list(range(m, top.widths[0]))) if i == 1 else [slots[i - 1][idx]]
            masks[i - 1][np.ix_(rows, cols)] = True
    Ws = []
    for i, (W, mask) in enumerate(zip(_whitened_layers(flow, theta), masks), start=1):
        left, right = bases[i], bases[i - 1]
        canonical = np.linalg.solve(left, W @ right)
        Ws.append(left @ np.linalg.solve(right.T, (canonical * mask).T).T)
    if not data.whitened:
        Ws[0] = Ws[0] @ data._inv_sqrt  # back from W_1 Sxx^{1/2}
    return top.from_layer_weights(Ws)


def _align(flow: GradientFlow, x, theta, steps: int = ALIGN_STEPS) -> np.ndarray:
    """``g . x`` for the group element ``g = exp(Xi)`` that brings ``x`` nearest ``theta`` (Gauss-Newton on
    ``||exp(Xi) . x - theta||`` with ``d/dXi (exp(Xi) . x) = [Xi, A]``: :func:`geodln.symmetry.vertical_matrix`, or
    above :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE` weights :func:`geodln.symmetry.solve_vertical`).

    The group moves along the critical set and keeps the stratum, so a snapped point (:func:`_snap`,
    an oblique projection in the canonical frame, which may overshoot by the frame's conditioning) comes
    back next to the weights it shadows without leaving the critical set.
    """
    top = flow.top
    J, K = np.nonzero(symmetry.algebra_mask(top))
    for _ in range(steps):
        miss = np.linalg.norm(theta - x)
        if matrix_free(top.n_params):  # LSQR on the bracket's products: no D x dim g matrix
            Xi = symmetry.solve_vertical(top, x, theta - x).xi
        else:
            Xi = np.zeros((top.n, top.n))
            Xi[J, K] = np.linalg.lstsq(symmetry.vertical_matrix(top, x), theta - x, rcond=None)[0]
        for _ in range(20):  # damped: a step must bring the point nearer
            trial = top.pack(symmetry.act(top, symmetry.group_exp(top, Xi), top.adjacency(x)))
            if np.linalg.norm(theta - trial) < miss:
                break
            Xi = 0.5 * Xi
        else:
            return x
        x = trial
    return x


def _at_rounding(flow: GradientFlow, theta, tol: Tolerances) -> bool:
    """Whether the point is its own projection onto the critical set: its gradient below the threshold and at
    most ``critical_rounding`` of the size it would have without cancellation (see :class:`Tolerances`), and
    its stratum read without a doubt (no rank decision within the noise, no mixed piece).

    Neither test alone suffices. At pieces that touch but do not chain, noise of size ``e`` leaves a gradient
    of relative size ``e^2``, at rounding for ``e = 1e-8``; it shows in the ranks instead, as values in the
    ambiguity band or as pieces carrying a mixture of modes. Noise larger than that band shows in the gradient.
    """
    data = flow.data
    grad = float(np.linalg.norm(flow.rhs(theta)))
    scale = _grad_scale(flow, theta)
    if not (tol.is_critical(grad, data) and grad <= tol.critical_rounding * scale):
        return False
    reading = read_stratum(_whitened_layers(flow, theta), data.U, data.s, data.V, data.rank,
                           max(tol.rank_zero, grad / scale), tol.rank_gap)
    return reading.stratum is not None and not reading.ambiguous


def _project(flow: GradientFlow, theta, tol: Tolerances) -> tuple[np.ndarray, int]:
    """The point of the critical set a state shadows, and how many singular values were truncated.

    A point critical to rounding is its own projection. Otherwise the small remnants are truncated
    (:func:`_truncate`), what they leave in the other pieces is removed (:func:`_snap`), and Newton
    within the stratum (:func:`_newton_in_stratum`) lands on the critical set.
    """
    if _at_rounding(flow, theta, tol):
        return theta, 0
    x, truncated, cut = _truncate(flow, theta, tol.plateau_gap)
    if truncated:
        x = _align(flow, _snap(flow, x, cut), theta)
    return _newton_in_stratum(flow, x, tol), truncated


def _size(flow: GradientFlow, theta) -> float:
    """``max(||theta||, sqrt(h) s_1^(1/h))``: the size distances are relative to (the weights, or one learnt mode's)."""
    return max(float(np.linalg.norm(theta)), np.sqrt(flow.top.depth) * float(flow.data.s[0]) ** (1 / flow.top.depth))


def _truncated(W: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rank-``r`` truncation ``U_r S_r V_r^T`` of ``W``, with ``U_r`` (p, r) and ``V_r`` (q, r)."""
    U, sv, Vt = np.linalg.svd(W)
    Ur, Vr = U[:, :r], Vt[:r].T
    return (Ur * sv[:r]) @ Vr.T, Ur, Vr


def _fixed_rank(W: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """The rank-``r`` truncation of ``W`` and an orthonormal basis of the tangent space of the
    rank-``r`` matrices there, ``{U M V^T + U_p V^T + U V_p^T}`` (columns: flattened matrices)."""
    Wr, Ur, Vr = _truncated(W, r)
    p, q = W.shape
    E = np.eye(p * q).reshape(p * q, p, q)
    PU, PV = Ur @ Ur.T, Vr @ Vr.T
    T = (PU @ E + E @ PV - PU @ E @ PV).reshape(p * q, p * q).T
    return Wr, range_basis(T)


def _newton_in_stratum(flow: GradientFlow, theta, tol: Tolerances, iterations: int = 40) -> np.ndarray:
    """Gauss-Newton on ``dL/dtheta = 0`` with the layer ranks held fixed (the steps stay in the
    tangent space of the fixed-rank matrices and are retracted by truncated SVDs), so that no
    piece the truncation removed comes back.

    It stops early once the gradient has stalled (:data:`NEWTON_STALL`): a state with no critical point
    of its stratum nearby is then refused after a few iterations instead of ``iterations``."""
    top = flow.top
    ranks = [range_basis(W).shape[1] for W in top.layer_weights(theta)]  # the truncation's ranks, rounding aside
    x = np.asarray(theta, dtype=float)
    norms = []
    for _ in range(iterations):
        g = flow.gradient(x)
        norms.append(float(np.linalg.norm(g)))
        if tol.is_critical(norms[-1], flow.data, fraction=NEWTON_MARGIN) or _stalled(norms):
            break
        if matrix_free(top.n_params):
            x, frames = _retract(top, x, ranks)
            # inexact solves while far away (Eisenstat-Walker forcing ||g|| / ||g_0||), exact near the end
            step = _tangent_step_lsmr(flow, x, frames, max(LSMR_TOL, min(LSMR_LOOSE, norms[-1] / norms[0])))
        else:
            x, step = _tangent_step_dense(flow, x, ranks)
        g = flow.gradient(x)
        for _ in range(30):  # damped: a step must lower the gradient
            trial = _retract(top, x + step, ranks)[0]
            if np.linalg.norm(flow.gradient(trial)) < np.linalg.norm(g):
                break
            step = 0.5 * step
        x = trial
    return _retract(top, x, ranks)[0]


def _stalled(norms: list) -> bool:
    """Whether the gradient norm fell by less than the factor :data:`NEWTON_STALL` over the last
    :data:`NEWTON_STALL_STEPS` iterations (Gauss-Newton near a critical point falls far faster: quadratically,
    or linearly by much more than that at a degenerate one)."""
    k = NEWTON_STALL_STEPS
    return len(norms) > k and norms[-1] > NEWTON_STALL * norms[-1 - k]


def _retract(top, x, ranks) -> tuple[np.ndarray, list]:
    """The layers truncated to their ranks (packed), and each layer's ``(U_r, V_r)``."""
    layers = [_truncated(W, r) for W, r in zip(top.layer_weights(x), ranks)]
    return top.from_layer_weights([Wr for Wr, _, _ in layers]), [(Ur, Vr) for _, Ur, Vr in layers]


def _tangent_step_dense(flow: GradientFlow, x, ranks) -> tuple[np.ndarray, np.ndarray]:
    """The retracted point and the Gauss-Newton step ``T argmin ||H T c + g||`` with ``T`` an orthonormal
    basis of the fixed-rank tangent space (dense: ``H`` and ``T`` formed, ``lstsq``)."""
    top = flow.top
    Ws, bases = zip(*(_fixed_rank(W, r) for W, r in zip(top.layer_weights(x), ranks)))
    x = top.from_layer_weights(Ws)
    # the layer-wise tangent bases, as packed directions
    cols = []
    for i, T in enumerate(bases):
        for c in T.T:
            Ds = [np.zeros_like(W) for W in Ws]
            Ds[i] = c.reshape(Ws[i].shape)
            cols.append(top.from_layer_weights(Ds))
    T = np.array(cols).T
    return x, T @ np.linalg.lstsq(hessian(flow, x) @ T, -flow.gradient(x), rcond=None)[0]


def _tangent_step_lsmr(flow: GradientFlow, x, frames, rtol: float = LSMR_TOL) -> np.ndarray:
    """The step of :func:`_tangent_step_dense` without a ``D x D`` matrix: ``P s`` for ``s`` the
    minimal-norm solution of ``min ||H P s + g||`` by LSMR, ``P`` the orthogonal projector onto the
    fixed-rank tangent space, ``D -> P_U D + D P_V - P_U D P_V`` layer by layer (``H P`` and ``P H`` are
    adjoint, and LSMR from zero keeps ``s`` in ``range(P H)``, the tangent space), to LSMR's
    ``atol = btol = rtol``."""
    from scipy.sparse.linalg import LinearOperator, lsmr  # on first use, keeping `import geodln` fast

    top, op = flow.top, HessianOperator(flow, x)

    def project(v):
        v = np.ravel(v)
        out = np.empty_like(v)
        # a fully connected network's layer matrices are views into the packed vector: written in place
        for D, O, (U, V) in zip(top.layer_weights(v), top.layer_weights(out), frames):
            UD = U @ (U.T @ D)
            O[...] = UD + ((D - UD) @ V) @ V.T
        return out

    A = LinearOperator((top.n_params, top.n_params), dtype=float, matvec=lambda s: op(project(s)),
                       rmatvec=lambda y: project(op(np.ravel(y))))
    s = lsmr(A, -flow.gradient(x), atol=rtol, btol=rtol, maxiter=LSMR_ITERATIONS)[0]
    return project(s)


def nearest_critical_point(flow: GradientFlow, theta, tol: Tolerances | None = None) -> NearestCritical:
    """The critical point a slow, nearly critical state shadows, analysed.

    How: a state on a plateau is a critical point plus small remnants (the
    weights a small start has not grown yet, or the noise of training). The
    layers' singular values, over the natural weight scale ``s_1^(1/h)``, are
    split at their widest gap (if it is at least ``tol.plateau_gap``) and the
    ones below are set to zero; then Gauss-Newton on the gradient (the exact
    Hessian as Jacobian), with every layer's rank held fixed, lands on the
    critical set of that stratum: Newton within the stratum, so that the
    remnants do not come back as dangling pieces, and what the remnants leave inside the other pieces is
    removed (the point is snapped onto the stratum they name). A point that is critical to rounding is
    returned as it is.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params] or [n, n]
    tol : Tolerances, optional

    Returns
    -------
    NearestCritical

    Raises
    ------
    NotCriticalError
        If no critical point is reached, or the one reached is farther than
        :data:`NEAR` (relative) from ``theta``: then the weights shadow none.
        The message gives the numbers at ``theta`` and at the point reached.

    See Also
    --------
    analyze_point
        Classify weights that are critical already.
    read_weights
        Read trained weights from a file.
    itinerary
        The critical points a trajectory visits.
    """
    tol = DEFAULT_TOLERANCES if tol is None else tol
    theta = _check(flow, theta)
    grad0, loss0 = float(np.linalg.norm(flow.rhs(theta))), flow.loss(theta)
    if flow.weight_decay:
        x, truncated = _newton_decayed(flow, theta, tol), 0
    else:
        x, truncated = _project(flow, theta, tol)
    distance = float(np.linalg.norm(x - theta))
    size = _size(flow, theta)
    threshold = tol.gradient * tol.gradient_scale(flow.data)
    reached = (f"the projection onto the critical set of its stratum (truncation, then Gauss-Newton with the layer "
               f"ranks fixed) ended at distance {distance:.3g} ({distance / size:.3g} relative) with ||dL/dtheta|| = "
               f"{np.linalg.norm(flow.rhs(x)):.3g} and L = {flow.loss(x):.10g}")
    advice = ("these weights are not at or near a critical point (not on a plateau): train further, or "
              "integrate the flow from them (geodln.GradientFlow.integrate, geodln flow) until the loss rests")
    if distance > NEAR * size:
        raise _not_critical(flow, theta, f"{reached}, farther than {NEAR:g} relative (gradient threshold "
                            f"{threshold:.3g})", grad0, advice)
    try:
        point = (_classify_decayed(flow, x, tol, distance, distance / size) if flow.weight_decay
                 else _classify_projection(flow, x, tol, distance, distance / size))
    except NotCriticalError:
        raise _not_critical(flow, theta, f"{reached}, which is not critical (gradient threshold {threshold:.3g})",
                            grad0, advice) from None
    return NearestCritical(point, distance, truncated, grad0, distance / size, loss0)


# ------------------------------------------------------------ weight decay
# The decayed loss F = L + lambda/2 ||theta||^2 has critical points G_i + lambda W_i = 0 (G_i = dL/dW_i).
# Since G_{i+1}^T W_{i+1} = W_i G_i^T for every theta (both are -(W_i..W_1) E^T (W_h..W_{i+1}) with
# E = Syx - W Sxx), a critical point is balanced: lambda (W_i W_i^T - W_{i+1}^T W_{i+1}) =
# W_i Gam_i^T - Gam_{i+1}^T W_{i+1} = 0, Gam_i = G_i + lambda W_i the decayed gradient. F keeps only the
# orthogonal symmetry O(d_1) x ... x O(d_{h-1}) (||theta|| is not GL-invariant): its orbit's tangent is the
# Hessian kernel the theory predicts, and a critical point is a local minimum when the Hessian is positive
# definite on its complement, a strict saddle when it has a negative eigenvalue; otherwise (a kernel beyond
# the orbit) the second order does not decide and no class is given.


def decayed_origin_kind(flow: GradientFlow) -> str | None:
    """The class of the origin for the decayed loss ``L + lambda/2 ||theta||^2``, in closed form.

    The Hessian of ``L`` at the origin vanishes for ``h >= 3`` (``W`` is of order ``h`` in the weights), so
    the decayed Hessian is ``lambda I``: a strict local minimum for every ``lambda > 0``. For ``h = 2`` the
    second-order part of ``L`` is ``-tr((W_2 W_1)^T Syx)``, with Hessian eigenvalues ``+-sigma_k(Syx)``
    (each ``d_1`` times) and zeros: the decayed Hessian has ``lambda +- sigma_k``, a local minimum iff
    ``lambda > sigma_1(Syx)``, a strict saddle iff ``lambda < sigma_1(Syx)``.

    Returns
    -------
    str or None
        ``"local_minimum"``, ``"strict_saddle"``, or None at ``lambda = sigma_1`` (the Hessian is singular
        there: a degenerate case the second order does not decide) or without weight decay.

    Examples
    --------
    >>> import geodln
    >>> data = geodln.Data(np.eye(2), np.diag([3.0, 1.0]))
    >>> [decayed_origin_kind(geodln.GradientFlow(geodln.layered(w), data, weight_decay=2.0)) for w in ([2, 2, 2], [2, 2, 2, 2])]
    ['strict_saddle', 'local_minimum']
    """
    lam = flow.weight_decay
    if not lam:
        return None
    if flow.top.depth >= 3:
        return "local_minimum"
    sigma = float(np.linalg.svd(flow.data.Syx, compute_uv=False)[0])
    return None if lam == sigma else ("local_minimum" if lam > sigma else "strict_saddle")


def decayed_mode_values(s: float, weight_decay: float, depth: int) -> np.ndarray:
    """The nonzero critical points of the scalar decayed problem of one mode, in closed form.

    A mode of singular value ``s`` carried by every layer with the same (balanced) value ``a`` has
    ``F(a) = 1/2 (s - a^h)^2 + h lambda a^2 / 2``, and ``F'(a) = 0`` is ``a = 0`` or
    ``a^{h-1} (s - a^h) = lambda a``. For ``h = 2``: ``a = sqrt(s - lambda)`` when ``s > lambda``. For
    ``h >= 3``, ``g(a) = a^{h-2} (s - a^h)`` rises from 0 to its maximum at ``a_*^h = (h-2) s / (2h-2)``
    and falls: two roots when ``g(a_*) > lambda`` (the smaller a saddle of ``F``, the larger a minimum),
    one double root when equal, none below.

    Parameters
    ----------
    s : float
        The mode's singular value (whitened data: of ``Syx``).
    weight_decay : float
        ``lambda > 0``.
    depth : int
        ``h >= 2``.

    Returns
    -------
    ndarray, shape=[0], [1] or [2]
        The values ``a > 0``, increasing; the mode's end-to-end value is ``a^h``.

    Examples
    --------
    >>> np.round(decayed_mode_values(3.0, 1.0, 2), 6).tolist(), decayed_mode_values(3.0, 5.0, 3).size
    ([1.414214], 0)
    """
    from scipy.optimize import brentq  # on first use, keeping `import geodln` fast

    h, lam = int(depth), float(weight_decay)
    if h < 2 or not lam > 0 or not s > 0:
        raise ValueError(f"need depth >= 2, weight_decay > 0 and s > 0, got {depth}, {weight_decay}, {s}")
    if h == 2:
        return np.array([np.sqrt(s - lam)]) if s > lam else np.zeros(0)

    def g(a):
        return a ** (h - 2) * (s - a ** h) - lam

    peak = ((h - 2) * s / (2 * h - 2)) ** (1 / h)
    if g(peak) < 0:
        return np.zeros(0)
    if g(peak) == 0:
        return np.array([peak])
    return np.array([brentq(g, 0.0, peak, xtol=1e-15), brentq(g, peak, s ** (1 / h), xtol=1e-15)])


def _classify_decayed(flow: GradientFlow, theta, tol: Tolerances, distance: float = 0.0,
                      relative: float = 0.0) -> CriticalPoint:
    """The class of a critical point of the decayed loss, by the Hessian modulo the orthogonal orbit."""
    top, data, lam = flow.top, flow.data, flow.weight_decay
    grad = float(np.linalg.norm(flow.rhs(theta)))  # the decayed gradient
    value = flow.loss(theta)
    if not tol.is_critical(grad, data):
        raise NotCriticalError(
            f"not a critical point of the decayed loss L + {lam:g}/2 ||theta||^2: ||dF/dtheta|| = {grad:.3g}, above the "
            f"threshold {tol.gradient * tol.gradient_scale(data):.3g} (= {tol.gradient:g} s_1^2), F = {value:.10g}; "
            "geodln.nearest_critical_point projects nearby weights onto one (Newton on the decayed gradient)", grad, value)
    if matrix_free(top.n_params):
        raise ClassificationError(f"classifying points of a decayed flow forms the dense Hessian, limited to "
                                  f"{MATRIX_FREE_ABOVE} weights ({top.n_params} here): not implemented above")
    H = hessian(flow, theta)  # of the decayed loss: lambda I added
    lam_full = np.linalg.eigvalsh(H)
    scale = max(tol.hessian_scale(data, top.depth), lam)
    full = inertia(lam_full, tol.inertia, scale)
    # the orthogonal orbit's tangent; directions shorter than rank_zero of one mode's weight size s_1^(1/h)
    # are rounding (a point within rounding of the origin has no orbit)
    U, sv, _ = np.linalg.svd(symmetry.vertical_matrix(top, theta) @ symmetry.part_basis(top, "skew"), full_matrices=False)
    keep = sv > tol.rank_zero * float(data.s[0]) ** (1 / top.depth)
    orbit_basis = range_basis(U[:, keep] * sv[keep])
    orbit = orbit_basis.shape[1]
    Q = horizontal_basis(orbit_basis) if orbit else np.eye(top.n_params)
    hor = inertia(np.linalg.eigvalsh(Q.T @ H @ Q), tol.inertia, scale) if Q.shape[1] else inertia([])
    if orbit and np.linalg.norm(H @ orbit_basis, 2) > full.tol:
        raise ClassificationError(f"the orthogonal orbit ({orbit} directions) is not in the Hessian kernel of the "
                                  f"decayed loss (||H V|| = {np.linalg.norm(H @ orbit_basis, 2):.3g}): not critical")
    if full.negative:
        kind = "strict_saddle"
    elif hor.zero == 0:
        kind = "local_minimum"
    else:
        raise ClassificationError(
            f"a critical point of the decayed loss (lambda = {lam:g}) whose Hessian is singular beyond the orthogonal "
            f"symmetry ({hor.zero} zero eigenvalues off the {orbit}-dimensional orbit, none negative; smallest "
            f"{full.min:.3g}, zero band {full.tol:.3g}): a degenerate point, which the second order does not classify "
            "and geodln's theory of the decayed landscape does not cover")
    origin = decayed_origin_kind(flow) if not np.any(theta) else None
    if origin is not None and origin != kind:
        raise ClassificationError(f"the origin: the closed form says {origin} for lambda = {lam:g} and depth "
                                  f"{top.depth}, the Hessian ({full.negative} negative, min {full.min:.3g}) says {kind}")
    W = top.end_to_end(theta) @ data.input_modes
    learned = [k + 1 for k in range(data.rank) if data.U[:, k] @ W[:, k] > tol.rank_zero * max(1.0, float(data.s[0]))]
    skew = symmetry.part_basis(top, "skew").shape[1]
    return CriticalPoint(
        stratum=None, theta=theta, learned=learned, critical_value=value, loss=value, kind=kind, hessian=full,
        horizontal_hessian=hor, eigenvalues=lam_full, orbit_dim=orbit, stabilizer_dim=skew - orbit,
        layer_ranks=[int(np.linalg.matrix_rank(Wi)) for Wi in top.layer_weights(theta)],
        escape_order=2 if kind == "strict_saddle" else None, escape=None, grad_norm=grad, tightened=False,
        similarity=None, distance=distance, relative_distance=relative, weight_decay=lam)


def _newton_decayed(flow: GradientFlow, theta, tol: Tolerances, iterations: int = 50) -> np.ndarray:
    """Damped Newton on the decayed gradient: the least-squares step ``H s = -g`` (the orthogonal orbit's
    directions, in the kernel, are not moved), halved until the gradient falls."""
    x = np.asarray(theta, dtype=float)
    g = flow.gradient(x)
    for _ in range(iterations):
        if tol.is_critical(np.linalg.norm(g), flow.data, fraction=NEWTON_MARGIN):
            break
        step = np.linalg.lstsq(hessian(flow, x), -g, rcond=None)[0]
        for _ in range(30):
            trial = x + step
            g_trial = flow.gradient(trial)
            if np.linalg.norm(g_trial) < np.linalg.norm(g):
                break
            step = 0.5 * step
        else:
            return x
        x, g = trial, g_trial
    return x
