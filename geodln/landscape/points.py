"""Critical points the user brings: what a given point is, and which critical point a slow state shadows.

:func:`analyze_point` takes any critical point of a fully connected layered
network (packed weights or an adjacency matrix) and returns the record a
catalog holds: ``J`` and ``L_J``, the stratum read off the ranks of the partial
products and the projections on the data's singular vectors
(:mod:`geodln.landscape.readout`), the class by the one rule
(:func:`geodln.landscape.critical.classify`, tightened read mode by mode), checked
against the exact Hessian (strict iff a negative eigenvalue) and, at a
nonstrict saddle, an explicit escape path of order ``m`` whose decrease
``L - L_J ~ -c eps^m`` is measured. Rank decisions within the point's noise
are listed in ``ambiguous`` instead of being guessed.

:func:`nearest_critical_point` handles a point that is only nearly critical
(a plateau of a trajectory, weights trained elsewhere): the small remnants
are truncated (the layers' singular values below the widest gap, see
:attr:`Tolerances.plateau_gap`) and Gauss-Newton on the gradient with the
layer ranks held fixed (Newton within the stratum) lands on the critical
set; the result is analysed as above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ClassificationError, NotCriticalError
from ..dynamics.flow import GradientFlow
from ..dynamics.hessian import HessianOperator, hessian, matrix_free
from .critical import CriticalPoint, _grad_scale, classify, curvature, escape_along_curve
from .labels import format_learned
from .readout import read_stratum
from ..symmetry import algebra_dim, range_basis
from ..tolerances import DEFAULT_TOLERANCES, Tolerances

__all__ = ["analyze_point", "nearest_critical_point", "NearestCritical", "frame_link",
           "nearest_learned"]

NEWTON_MARGIN = 1e-2
"""Newton within the stratum stops at this fraction of the criticality tolerance: the point it lands
on is then critical with room to spare, whatever rounding the analysis adds on top of it."""
LSMR_TOL, LSMR_ITERATIONS = 1e-12, 100
"""The matrix-free Gauss-Newton step (:func:`_tangent_step_lsmr`) is solved to LSMR's ``atol = btol`` of
1e-12 (the dense ``lstsq`` is exact): the damped outer iteration needs a descent step, not digits, and
stops at :data:`NEWTON_MARGIN` of the criticality threshold; the cap bounds a stalled solve."""
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
    if flow.weight_decay:
        raise ValueError(f"classifying points of a flow with weight decay ({flow.weight_decay:g}) is not implemented: "
                         "the decayed loss L + lambda/2 ||theta||^2 has a landscape of its own (local minima, e.g. the "
                         "origin for depth >= 3), which the strata of L do not describe; classify with "
                         "weight_decay=0, or study the decayed flow with GradientFlow.integrate")
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

    Parameters
    ----------
    flow : GradientFlow
        A fully connected layered network on data (whitened or not), quadratic loss.
    theta : array-like, shape=[n_params] or [n, n]
        Packed weights, or the adjacency matrix.
    tol : Tolerances, optional
        ``gradient``, ``loss`` (criticality), ``rank_zero``, ``rank_gap``
        (rank decisions), ``inertia``, ``escape_order``, ``escape_drop``.

    Returns
    -------
    CriticalPoint
        ``stratum`` is None, and ``mixed`` says why, when a dangling piece
        carries a mixture of modes; ``ambiguous`` lists the rank decisions
        within the noise (when it is not empty and the rule and the Hessian
        disagree, the Hessian decides: strict iff it has a negative eigenvalue).

    Raises
    ------
    NotCriticalError
        When ``||grad|| > gradient * s_1^2`` or the loss is not a critical value.
    ClassificationError
        When the rule, the Hessian and the escape path disagree on an unambiguous point.

    See Also
    --------
    nearest_critical_point
        The certified critical point near weights that are not critical.

    Examples
    --------
    >>> import geodln
    >>> flow = geodln.GradientFlow(geodln.layered([2, 2, 2, 2]), geodln.Data(np.eye(2), np.diag([3.0, 1.0])))
    >>> cp = analyze_point(flow, np.zeros(flow.top.n_params))
    >>> cp.kind, cp.learned, cp.escape_order, cp.label
    ('nonstrict_saddle', [], 3, 'J={}')
    """
    tol = DEFAULT_TOLERANCES if tol is None else tol
    theta = _check(flow, theta)
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
    unsure, label = bool(reading.ambiguous), (stratum.label if stratum is not None else f"J={set(J)} (mixed)")
    if (full.negative > 0) != (kind == "strict_saddle"):
        if not unsure:
            raise ClassificationError(f"{label}: {kind} but the Hessian has {full.negative} negative eigenvalues")
        kind = "strict_saddle" if full.negative else ("global_minimum" if kind == "global_minimum" else "nonstrict_saddle")
    if (full.zero - orbit != hor.zero or hor.negative != full.negative) and not unsure:
        raise ClassificationError(f"{label}: the vertical space ({orbit}) is not in the Hessian kernel")
    order = stratum.escape_order() if stratum is not None else (2 if kind == "strict_saddle" else None)
    if kind == "global_minimum":
        order = None
    if stratum is not None and not unsure and kind != "global_minimum" and (order is None or (order == 2) != (kind == "strict_saddle")):
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


def _truncate(flow: GradientFlow, theta, gap: float) -> tuple[np.ndarray, int]:
    """Zero the layers' singular values below the widest gap (ratio >= ``gap``) under ``s_1^(1/h)``."""
    top, data = flow.top, flow.data
    Ws = top.layer_weights(theta)
    unit = float(data.s[0]) ** (1 / top.depth)
    svds = [np.linalg.svd(W, full_matrices=False) for W in Ws]
    values = np.concatenate([sv for _, sv, _ in svds]) / unit
    ladder = np.sort(np.concatenate([[1.0], values[(values > 0) & (values <= 1.0)]]))[::-1]
    if ladder.size < 2:
        return theta, 0
    ratios = ladder[:-1] / np.maximum(ladder[1:], 1e-300)
    j = int(np.argmax(ratios))
    if ratios[j] < gap:
        return theta, 0
    # the middle of the gap: cutting at ladder[j + 1] itself would keep or drop that value by rounding
    cut = np.sqrt(ladder[j] * ladder[j + 1]) * unit
    out, count = [], 0
    for U, sv, Vt in svds:
        keep = sv > cut
        count += int(np.sum((~keep) & (sv > 0)))
        out.append((U * (sv * keep)) @ Vt)
    return top.from_layer_weights(out), count


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
    piece the truncation removed comes back."""
    top = flow.top
    ranks = [range_basis(W).shape[1] for W in top.layer_weights(theta)]  # the truncation's ranks, rounding aside
    x = np.asarray(theta, dtype=float)
    for _ in range(iterations):
        g = flow.gradient(x)
        if tol.is_critical(np.linalg.norm(g), flow.data, fraction=NEWTON_MARGIN):
            break
        if matrix_free(top.n_params):
            x, frames = _retract(top, x, ranks)
            step = _tangent_step_lsmr(flow, x, frames)
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


def _tangent_step_lsmr(flow: GradientFlow, x, frames) -> np.ndarray:
    """The step of :func:`_tangent_step_dense` without a ``D x D`` matrix: ``P s`` for ``s`` the
    minimal-norm solution of ``min ||H P s + g||`` by LSMR, ``P`` the orthogonal projector onto the
    fixed-rank tangent space, ``D -> P_U D + D P_V - P_U D P_V`` layer by layer (``H P`` and ``P H`` are
    adjoint, and LSMR from zero keeps ``s`` in ``range(P H)``, the tangent space)."""
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
    s = lsmr(A, -flow.gradient(x), atol=LSMR_TOL, btol=LSMR_TOL, maxiter=LSMR_ITERATIONS)[0]
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
    remnants do not come back as dangling pieces. A point that already is
    critical is returned as it is.

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
    if tol.is_critical(grad0, flow.data):
        return NearestCritical(analyze_point(flow, theta, tol), 0.0, 0, grad0, 0.0, loss0)
    x, truncated = _truncate(flow, theta, tol.plateau_gap)
    x = _newton_in_stratum(flow, x, tol)
    distance = float(np.linalg.norm(x - theta))
    size = max(float(np.linalg.norm(theta)), np.sqrt(flow.top.depth) * float(flow.data.s[0]) ** (1 / flow.top.depth))
    threshold = tol.gradient * tol.gradient_scale(flow.data)
    reached = (f"the projection onto the critical set of its stratum (Gauss-Newton with the layer ranks fixed) "
               f"ended at distance {distance:.3g} ({distance / size:.3g} relative) with ||dL/dtheta|| = "
               f"{np.linalg.norm(flow.rhs(x)):.3g} and L = {flow.loss(x):.10g}")
    advice = ("these weights are not at or near a critical point (not on a plateau): train further, or "
              "integrate the flow from them (geodln.GradientFlow.integrate, geodln flow) until the loss rests")
    if distance > NEAR * size:
        raise _not_critical(flow, theta, f"the gradient is above the threshold {threshold:.3g}, and {reached}, "
                            f"farther than {NEAR:g} relative", grad0, advice)
    try:
        point = analyze_point(flow, x, tol)
    except NotCriticalError:
        raise _not_critical(flow, theta, f"the gradient is above the threshold {threshold:.3g}, and {reached}, "
                            "which is not critical either", grad0, advice) from None
    return NearestCritical(point, distance, truncated, grad0, distance / size, loss0)
