"""The loss landscape: every critical point, its Hessian, and its class.

A stratum (:mod:`geodln.landscape.strata`) is turned into a checked critical point:
its canonical representative is moved off the coordinate axes by a random
element of the hidden-layer group, then

- the gradient norm and the loss are measured (critical, at ``L_J``);
- the Hessian's inertia is computed on the full space and on the horizontal
  space (the orthogonal complement of the fiber's tangent space), with the
  orbit and stabiliser dimensions;
- the class is decided twice, by the path rule (escape order ``m``: 2 for a
  swap or a path closed with at most two new links, strict; ``m >= 3``,
  nonstrict) and by Achour, Malgouyres and Gerchinovitz (JMLR 2024): a global
  minimum iff ``J`` is the top ``min(r_max, m)`` modes; a strict saddle when
  ``J`` is not a top set; for a top set with ``|J| < r_max``, nonstrict iff the
  network is *tightened*;
- both are checked against the numbers: strict iff the Hessian has a negative
  eigenvalue; nonstrict implies a positive semidefinite Hessian and an
  explicit direction (the new path's links) along which ``L - L_J`` falls like
  ``-c eps^m``, measured at two step sizes. Any disagreement raises
  :class:`ClassificationError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..network.data import Data
from ..errors import ClassificationError
from ..dynamics.flow import GradientFlow
from ..dynamics.stabilizer import block_spectrum
from ..dynamics.hessian import (Inertia, hessian, hessian_rank_capacity, hessian_vector_product, horizontal_hessian, inertia,
                                low_rank_spectrum, matrix_free, operator_range, partial_ranks)
from .strata import EscapePath, Stratum, check_distinct_spectrum
from .labels import format_learned
from .. import symmetry
from ..symmetry import algebra_dim, bracket_operator
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from ..network.topology import Topology, layered

__all__ = ["KINDS", "DECAYED_KINDS", "classify", "Curvature", "curvature", "stratum_kind", "point_tightened", "point_kind", "CriticalPoint", "analyze_stratum",
           "path_direction", "loss_order", "CriticalTrace", "trace_critical_set", "orbit_dim_from_ranks"]

KINDS = ("global_minimum", "strict_saddle", "nonstrict_saddle")
# With weight decay (L + lambda/2 ||theta||^2) local minima exist and nonstrict saddles are not classified:
# the classes of :func:`geodln.analyze_point` on a decayed flow (catalogs, of the loss L alone, keep KINDS)
DECAYED_KINDS = ("local_minimum", "strict_saddle")
# the fields a catalog record leads with (its schema's FIELDS, in the order of the shipped catalogs),
# before the references to its arrays and the fields of the stratum and the measurements
_CATALOG_HEAD = ("learned", "critical_value", "kind", "hessian", "horizontal_hessian", "orbit_dim", "stabilizer_dim",
                 "layer_ranks", "escape_order", "grad_norm")
_CATALOG_TAIL = ("stratum", "pieces", "loss", "tightened", "escape")


@dataclass
class CriticalPoint:
    """A checked critical point representing one stratum.

    Attributes
    ----------
    stratum : Stratum
    theta : ndarray, shape=[n_params]
        The representative (moved by a random group element).
    learned : list of int
        ``J``, sorted 1-based.
    critical_value : float
        ``L_J``.
    loss : float
        The loss measured at ``theta``.
    kind : str
        One of :data:`KINDS`.
    hessian, horizontal_hessian : Inertia
    eigenvalues : ndarray, shape=[n_params]
        The Hessian spectrum, increasing.
    orbit_dim, stabilizer_dim : int
    layer_ranks : list of int
    escape_order : int or None
    escape : dict or None
        For nonstrict saddles: the mode, the links ``[layer i, from, to]``
        added to ``W_i`` (``v_k``/``u_k``: the data's mode vectors, ``e_c``: the
        ``c``-th coordinate of the stratum's canonical frame at that layer), the
        loss decrease at two step sizes and the measured order.
    grad_norm : float
    tightened : bool
    similarity : ndarray, shape=[n, n] or None
        The group element ``S`` with ``A = S A_canonical S^{-1}`` (None for a
        point without a canonical stratum).
    ambiguous : list of dict
        Rank decisions within the numerical noise of the point
        (:func:`geodln.analyze_point`): ``{"product", "singular_values", "threshold"}``.
    frames : list of ndarray or None
        For a point read by :func:`geodln.analyze_point`: the bases ``B_i`` of
        the hidden layers in which it is its stratum's canonical form.
    mixed : str
        Why the point has no canonical stratum (a piece carries a mixture of
        modes); ``""`` otherwise.
    weight_decay : float
        ``lambda`` of a point of the decayed loss ``L + lambda/2 ||theta||^2`` (:func:`geodln.analyze_point`
        on a flow with weight decay: ``kind`` is one of :data:`DECAYED_KINDS`, ``critical_value`` and ``loss``
        are the decayed loss, ``learned`` the modes the end-to-end map carries); 0 otherwise.
    distance, relative_distance : float
        For a point read by :func:`geodln.analyze_point`: ``||theta - theta_given||`` from the weights given to
        their projection onto the critical set (``theta``, the point analysed), and that over
        ``max(||theta_given||, sqrt(h) s_1^(1/h))``; 0 for a point that is critical to rounding.
    """

    stratum: Stratum
    theta: np.ndarray = field(repr=False)
    learned: list
    critical_value: float
    loss: float
    kind: str
    hessian: Inertia
    horizontal_hessian: Inertia
    eigenvalues: np.ndarray = field(repr=False)
    orbit_dim: int
    stabilizer_dim: int
    layer_ranks: list
    escape_order: int | None
    escape: dict | None
    grad_norm: float
    tightened: bool
    similarity: np.ndarray | None = field(repr=False)
    ambiguous: list = field(default_factory=list)
    frames: list | None = field(default=None, repr=False)
    mixed: str = ""
    distance: float = 0.0
    relative_distance: float = 0.0
    weight_decay: float = 0.0

    @property
    def label(self) -> str:
        """The stratum's label, ``J={...} (mixed)``, or ``J={...} (weight decay lambda)``."""
        if self.stratum is not None:
            return self.stratum.label
        if self.weight_decay:
            return f"J={format_learned(self.learned)} (weight decay {self.weight_decay:g})"
        return f"J={format_learned(self.learned)} (mixed)"

    def to_record(self, rid: str | None = None, arrays: dict | None = None) -> dict:
        """The point as a JSON-ready record: the package's one record builder.

        Parameters
        ----------
        rid : str, optional
            The id of a catalog record (:func:`geodln.build_catalog`): then the
            catalog's record, led by ``id`` and the schema's fields. Without
            it, the record of a point on its own (what ``geodln classify
            --json`` prints): the measured loss beside ``L_J``, and the
            reading's ``ambiguous`` and ``mixed``, the distance from the
            weights given (absolute and relative) and ``weight_decay`` at the end.
        arrays : dict, optional
            With ``rid``: ``{field: file}``, the array files holding this
            point's arrays under the key ``rid`` (e.g. ``{"point":
            "arrays/points.npz"}``), recorded as ``{"file", "key"}`` references.

        Returns
        -------
        dict
            ``learned``, ``critical_value``, ``loss``, ``kind``, ``hessian`` and
            ``horizontal_hessian`` (:meth:`Inertia.as_dict`), ``orbit_dim``,
            ``stabilizer_dim``, ``layer_ranks``, ``escape_order``, ``grad_norm``,
            ``stratum`` (the label), ``pieces`` (``[a, b, source, target]``,
            None without a stratum), ``tightened`` (None at a global minimum)
            and ``escape`` (without its direction array).
        """
        fields = {
            "learned": list(self.learned), "critical_value": self.critical_value, "loss": self.loss, "kind": self.kind,
            "hessian": self.hessian.as_dict(), "horizontal_hessian": self.horizontal_hessian.as_dict(),
            "orbit_dim": self.orbit_dim, "stabilizer_dim": self.stabilizer_dim, "layer_ranks": self.layer_ranks,
            "escape_order": self.escape_order, "grad_norm": self.grad_norm, "stratum": self.label,
            "pieces": None if self.stratum is None else [[p.a, p.b, p.source, p.target] for p in self.stratum.pieces],
            "tightened": self.tightened if self.kind != "global_minimum" else None,
            "escape": None if self.escape is None else {k: v for k, v in self.escape.items() if k != "direction"},
        }
        if rid is None:
            return fields | {"ambiguous": self.ambiguous, "mixed": self.mixed, "distance": self.distance,
                             "relative_distance": self.relative_distance, "weight_decay": self.weight_decay}
        return ({"id": rid} | {k: fields[k] for k in _CATALOG_HEAD}
                | {name: {"file": file, "key": rid} for name, file in (arrays or {}).items()}
                | {k: fields[k] for k in _CATALOG_TAIL})


def classify(learned, n_modes: int, r_max: int, tightened: bool) -> str:
    """The class of a critical point that learns the modes ``J``: the package's one classification rule.

    Achour, Malgouyres and Gerchinovitz (JMLR 2024): a global minimum iff
    ``J`` is the top ``min(r_max, m)`` modes; a strict saddle when ``J`` is not
    the top ``|J|`` modes; for a top set with ``|J| < min(r_max, m)``,
    nonstrict iff the point is *tightened*. "Tightened" is read mode by mode
    (:meth:`Stratum.tightened` for a stratum, :func:`point_tightened` for a
    point): the plain reading, one split of the layers for all modes, calls
    strict some points whose Hessian vanishes identically (e.g.
    ``J={} + v1[0,1] [3,4]u2`` in widths 3,3,3,3,3).

    Parameters
    ----------
    learned : iterable of int
        ``J``, 1-based mode indices.
    n_modes : int
        ``m``, the number of nonzero data modes.
    r_max : int
        ``min_i d_i``, the largest rank of the end-to-end map.
    tightened : bool

    Returns
    -------
    str
        One of :data:`KINDS`.

    Examples
    --------
    >>> classify([1], n_modes=2, r_max=2, tightened=True), classify([2], 2, 2, True)
    ('nonstrict_saddle', 'strict_saddle')
    """
    J = tuple(sorted(int(k) for k in learned))
    is_top = J == tuple(range(1, len(J) + 1))
    if is_top and len(J) == min(r_max, n_modes):
        return "global_minimum"
    if not is_top:
        return "strict_saddle"
    return "nonstrict_saddle" if tightened else "strict_saddle"


def stratum_kind(stratum: Stratum) -> str:
    """:func:`classify` for a stratum (its tightened condition is combinatorial)."""
    return classify(stratum.learned, stratum.n_modes, min(stratum.widths), stratum.tightened())


def point_tightened(flow: GradientFlow, theta, learned, tolerances: Tolerances = DEFAULT_TOLERANCES) -> bool:
    """Whether a point at or near a critical point with learnt set ``J`` is tightened, mode by mode.

    For every unlearnt mode ``k`` there must be a split of the layers into
    three nonempty consecutive blocks ``[1..i], [i+1..j], [j+1..h]`` with
    ``W_i ... W_1 x_k ~ 0``, ``rank(W_j ... W_{i+1}) = |J|`` and
    ``u_k^T W_h ... W_{j+1} ~ 0`` (``x_k = Sxx^{1/2} v_k`` is the input side of
    mode ``k``, ``v_k`` for whitened data). A product of ``p`` of the ``h``
    layers counts as zero below ``(plateau_rank * max(1, s_1))^(p/h)``.

    Parameters
    ----------
    flow : GradientFlow
        A layered network (sparse masks allowed).
    theta : array-like, shape=[n_params]
    learned : iterable of int
    tolerances : Tolerances
    """
    top, data = flow.top, flow.data
    Ws = top.layer_weights(theta)
    h, learned = len(Ws), {int(k) for k in learned}
    cut = tolerances.plateau_rank * max(1.0, float(data.s[0]))
    X = data.input_modes

    def product(a, b):  # W_b ... W_{a+1}
        P = np.eye(top.widths[a])
        for W in Ws[a:b]:
            P = W @ P
        return P

    def vanishes(x, layers):
        return np.linalg.norm(x) <= cut ** (layers / h)

    splits = [(i, j) for i in range(1, h - 1) for j in range(i + 1, h)
              if np.sum(np.linalg.svd(product(i, j), compute_uv=False) > cut ** ((j - i) / h)) == len(learned)]
    for k in range(1, data.rank + 1):
        if k not in learned and not any(vanishes(product(0, i) @ X[:, k - 1], i)
                                        and vanishes(data.U[:, k - 1] @ product(j, h), h - j) for i, j in splits):
            return False
    return True


def point_kind(flow: GradientFlow, theta, learned, tolerances: Tolerances = DEFAULT_TOLERANCES) -> str:
    """:func:`classify` for a point at or near a critical point that learns ``J``.

    Networks with skip connections have no layer split: a top set short of
    the global minimum is reported strict there.
    """
    top, data = flow.top, flow.data
    J = tuple(sorted(int(k) for k in learned))
    r_max = min(top.widths)
    needs_split = J == tuple(range(1, len(J) + 1)) and len(J) < min(r_max, data.rank)
    tight = needs_split and top.is_layered and point_tightened(flow, theta, J, tolerances)
    return classify(J, data.rank, r_max, tight)


class Curvature(NamedTuple):
    """The second-order picture at a critical point (see :func:`curvature`)."""

    eigenvalues: np.ndarray
    full: Inertia
    horizontal: Inertia
    orbit_dim: int


def curvature(flow: GradientFlow, theta, tolerances: Tolerances = DEFAULT_TOLERANCES) -> Curvature:
    """Hessian spectrum, its inertia on the whole space and on the horizontal space, and the orbit dimension.

    Parameters
    ----------
    theta : array-like, shape=[n_params]
        A critical point.
    tolerances : Tolerances
        ``inertia`` with the data's Hessian scale ``s_1^(2-2/h)``.

    Returns
    -------
    Curvature
        ``eigenvalues`` (shape=[n_params], increasing), ``full`` and
        ``horizontal`` inertia, ``orbit_dim`` (n_params minus the horizontal dimension).

    Notes
    -----
    Above :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE` weights nothing of size ``D x D`` is formed:
    the spectrum comes block by block from the orthogonal group that fixes the point
    (:func:`geodln.dynamics.stabilizer.block_spectrum`, memory ``O(t^2 + D)`` with ``t`` the dimension of
    the directions the point uses), and the orbit dimension from the layers' partial ranks.
    """
    scale = tolerances.hessian_scale(flow.data, flow.top.depth)
    if matrix_free(flow.top.n_params):
        return _curvature_matrix_free(flow, theta, tolerances, scale)
    H = hessian(flow, theta)
    lam = np.linalg.eigvalsh(H)
    Hh, Qh = horizontal_hessian(flow, theta, H)
    hor = inertia(np.linalg.eigvalsh(Hh), tolerances.inertia, scale) if Qh.shape[1] else inertia([])
    return Curvature(lam, inertia(lam, tolerances.inertia, scale), hor, flow.top.n_params - Qh.shape[1])


def _curvature_matrix_free(flow: GradientFlow, theta, tol: Tolerances, scale: float) -> Curvature:
    """:func:`curvature` from products: the full spectrum block by block from the stabiliser
    (:func:`geodln.dynamics.stabilizer.block_spectrum`, memory ``O(t^2 + D)``; from the Hessian's range,
    ``O(D rank H)``, where it does not apply), the orbit dimension from the layers' partial ranks
    (:func:`orbit_dim_from_ranks`, no basis of the fiber), and the horizontal spectrum, which is the full one
    less ``orbit_dim`` of its zeros when the fiber lies in the kernel."""
    top = flow.top
    lam = block_spectrum(flow, theta, scale) if top.is_fully_connected else None
    if lam is None:
        lam = low_rank_spectrum(flow, theta, capacity=hessian_rank_capacity(flow, theta))
    full = inertia(lam, tol.inertia, scale)
    orbit = orbit_dim_from_ranks(top.widths, partial_ranks(top.layer_weights(theta)))
    bracket = bracket_operator(top, theta)
    # one random vertical direction in the kernel puts the whole fiber there, with probability one
    v = bracket.matvec(np.random.default_rng(0).standard_normal(bracket.shape[1]))
    in_kernel = orbit == 0 or np.linalg.norm(hessian_vector_product(flow, theta, v)) <= full.tol * np.linalg.norm(v)
    if in_kernel and full.zero >= orbit:
        hor_lam = np.delete(lam, np.argsort(np.abs(lam), kind="stable")[:orbit])  # the orbit's zeros
    else:  # the fiber is not flat (not a critical point, to the tolerances): its own restricted spectrum
        V = operator_range(bracket.matmat, bracket.shape[1], top.n_params, capacity=orbit)
        hor_lam = low_rank_spectrum(flow, theta, vertical=V)
    hor = inertia(hor_lam, tol.inertia, scale) if hor_lam.size else inertia([])
    return Curvature(lam, full, hor, orbit)


def orbit_dim_from_ranks(widths, ranks: dict) -> int:
    """The dimension of the hidden-layer group's orbit through a layered network, from its partial ranks.

    The network is a representation of the quiver ``0 -> 1 -> ... -> h`` and splits into interval pieces
    ``[a, b]`` of multiplicity ``n[a, b] = r(a, b) - r(a-1, b) - r(a, b+1) + r(a-1, b+1)`` (``r(a, a) = d_a``,
    ``r = 0`` out of range). The stabiliser's Lie algebra is the endomorphisms ``xi`` of the representation
    with ``xi_0 = 0`` and ``xi_h = 0``: ``Hom([a, b], [c, d])`` is one-dimensional iff ``c <= a <= d <= b``,
    supported on the layers ``a .. d``, so it survives iff ``1 <= a`` and ``d <= h - 1``. The orbit
    dimension is ``sum_{i=1}^{h-1} d_i^2`` minus that count (equal to the rank of ``xi -> [xi, A]``).

    Parameters
    ----------
    widths : sequence of int, length h + 1
    ranks : dict
        ``(a, b) -> r(a, b)`` for ``0 <= a < b <= h`` (:func:`partial_ranks`).

    Examples
    --------
    >>> orbit_dim_from_ranks([2, 2, 2], {(0, 1): 0, (1, 2): 0, (0, 2): 0})  # the origin: GL(2) fixes it
    0
    """
    h = len(widths) - 1

    def r(a, b):
        if a < 0 or b > h:
            return 0
        return int(widths[a]) if a == b else ranks[(a, b)]

    n = {(a, b): r(a, b) - r(a - 1, b) - r(a, b + 1) + r(a - 1, b + 1) for a in range(h + 1) for b in range(a, h + 1)}
    stab = sum(n[(a, b)] * n[(c, d)] for (a, b) in n for (c, d) in n if c <= a <= d <= b and a >= 1 and d <= h - 1)
    return int(sum(int(w) ** 2 for w in widths[1:-1]) - stab)


def analyze_stratum(stratum: Stratum, data: Data, seed=None, spread: float = 0.0,
                    tolerances: Tolerances = DEFAULT_TOLERANCES) -> CriticalPoint:
    """Build a random representative of ``stratum`` and check everything about it.

    Parameters
    ----------
    stratum : Stratum
    data : Data
        Whitened data whose modes the stratum refers to.
    seed : int or numpy.random.Generator, optional
        Draws the dangling weights and the group element.
    spread : float
        Log-range of the group element's singular values (see
        :func:`geodln.symmetry.random_group_element`). The default 0 moves the
        representative by an orthogonal element: the inertia and the class are
        the same for any element of ``GL`` (the Hessian transforms by
        congruence), but the flow commutes with the orthogonal group only, so
        only there do the escape paths of :mod:`geodln.landscape.saddles` stay exactly
        invariant.
    tolerances : Tolerances
        ``gradient``, ``loss``, ``inertia``, ``escape_order``, ``escape_drop``.

    Raises
    ------
    ValueError
        When the data's nonzero singular values are not distinct (a repeated
        value is outside the stratification).
    ClassificationError
        When the representative is not critical, its loss is not ``L_J``, or
        the rule, the escape path and the Hessian disagree.
    """
    tol = tolerances
    rng = np.random.default_rng(seed)
    top = layered(stratum.widths)
    data.check_fits(top)
    check_distinct_spectrum(data.s[: data.rank], tol.spectral_gap)  # outside the stratification: refused here
    flow = GradientFlow(top, data)
    S = symmetry.random_group_element(top, rng, "GL", spread)
    theta = top.pack(symmetry.act(top, S, stratum.canonical_adjacency(top, data, rng)))
    grad_norm = float(np.linalg.norm(flow.rhs(theta)))
    value, loss = data.critical_value(stratum.learned), flow.loss(theta)
    if not (tol.is_critical(grad_norm, data) and tol.at_level(loss, value, data)):
        raise ClassificationError(f"{stratum.label}: representative has |grad| = {grad_norm:.2e}, loss {loss} vs L_J = {value}")
    lam, full, hor, orbit = curvature(flow, theta, tol)
    kind = stratum_kind(stratum)
    _check_escape_order(stratum, kind)
    if (full.negative > 0) != (kind == "strict_saddle"):
        raise ClassificationError(f"{stratum.label}: {kind} but the Hessian has {full.negative} negative eigenvalues")
    if full.zero - orbit != hor.zero or hor.negative != full.negative:
        raise ClassificationError(f"{stratum.label}: the vertical space ({orbit}) is not in the Hessian kernel")
    escape = _measure_escape(stratum, flow, S, theta, tol) if kind == "nonstrict_saddle" else None
    return CriticalPoint(
        stratum=stratum, theta=theta, learned=list(stratum.learned), critical_value=value, loss=loss, kind=kind,
        hessian=full, horizontal_hessian=hor, eigenvalues=lam, orbit_dim=orbit,
        stabilizer_dim=algebra_dim(top) - orbit, layer_ranks=stratum.layer_ranks(),
        escape_order=stratum.escape_order(), escape=escape, grad_norm=grad_norm, tightened=stratum.tightened(),
        similarity=S,
    )


def _check_escape_order(stratum: Stratum, kind: str) -> None:
    """The path picture's evidence must agree with the class: no escape at a global minimum,
    a swap or a path of at most two new links (order 2) at a strict saddle, order ``m >= 3`` at a
    nonstrict one."""
    order = stratum.escape_order()
    if kind == "global_minimum":
        return
    if order is None:
        raise ClassificationError(f"{stratum.label}: no escape path closes, yet it is not a global minimum")
    if (order == 2) != (kind == "strict_saddle"):
        raise ClassificationError(f"{stratum.label}: the escape path has order {order}, Achour et al. say {kind}")


def path_direction(stratum: Stratum, top: Topology, data: Data, path, S: np.ndarray, signs=None) -> np.ndarray:
    """The unit packed direction of an escape path's new links (oriented by ``signs``),
    moved by the group element ``S``."""
    D = top.pack(symmetry.act(top, S, stratum.link_matrix(top, data, path, signs)))
    return D / np.linalg.norm(D)


def loss_order(flow: GradientFlow, theta, direction, order: int, tolerances: Tolerances = DEFAULT_TOLERANCES):
    """The change of the loss along ``direction`` at two step sizes, and the order it fits.

    Along an escape path of order ``m`` the loss moves like ``c eps^m``; the
    step sizes have ``eps^m = escape_drop`` and half of it, so the change
    stays far above rounding for any order.

    Parameters
    ----------
    flow : GradientFlow
    theta : array-like, shape=[n_params]
        A critical point.
    direction : array-like, shape=[n_params]
        Unit direction.
    order : int
        The order ``m`` expected (it only chooses the step sizes).
    tolerances : Tolerances

    Returns
    -------
    steps : tuple of float
    drops : list of float
        ``L(theta) - L(theta + eps d)`` (positive when the loss falls).
    measured : float
        ``log2`` of the ratio of the two changes (nan when they differ in sign or vanish).
    """
    theta = np.asarray(theta, dtype=float)
    value = flow.loss(theta)
    steps = (tolerances.escape_drop ** (1 / order), 0.5 * tolerances.escape_drop ** (1 / order))
    drops = [value - flow.loss(theta + eps * np.asarray(direction)) for eps in steps]
    same_sign = drops[0] * drops[1] > 0
    measured = float(np.log(drops[0] / drops[1]) / np.log(2.0)) if same_sign else float("nan")
    return steps, drops, measured


def curve_drops(flow: GradientFlow, theta, path, dirs, tolerances: Tolerances = DEFAULT_TOLERANCES):
    """The change of the loss along an escape path's curve at two step sizes, and the order it fits.

    The curve is ``theta + sum_l c_l eps^{w_l} D_l`` with ``D_l`` the unit
    direction of link ``l`` (``dirs[l]``, shape=[n_params]: moved by the
    stratum's group element, or read in a point's own frame) and ``w_l`` the path's powers
    (:func:`geodln.landscape.strata.path_powers`): ``L`` moves like
    ``eps^T (-alpha c + beta c^2)``, ``T = sum w_l``, where ``c`` is the size
    of the link common to the blocking segments (every other ``c_l = 1``) and
    ``beta`` their cross terms' cost at equality. ``c = min(1, alpha / 2 beta)``
    is read off the losses at ``c = 1, 2`` on the smaller step.

    Returns
    -------
    steps : tuple of float
        ``eps`` with ``eps^T = escape_drop`` and half of it.
    drops : list of float
        ``L(theta) - L(curve(eps))`` (positive when the loss falls).
    measured : float
        ``log2`` of the ratio of the two drops (nan when they differ in sign or vanish).
    scale : float
        The size ``c`` used.
    """
    theta, powers = np.asarray(theta, dtype=float), np.array(path.link_powers())
    tuned = int(np.argmax(powers)) if np.any(powers > 1) else 0
    value = flow.loss(theta)

    def drop(eps, c):
        sizes = eps ** powers * np.where(np.arange(powers.size) == tuned, c, 1.0)
        return value - flow.loss(theta + np.tensordot(sizes, dirs, axes=1))

    steps = (tolerances.escape_drop ** (1 / path.order), 0.5 * tolerances.escape_drop ** (1 / path.order))
    f1, f2 = -drop(steps[1], 1.0), -drop(steps[1], 2.0)
    beta = (f2 - 2 * f1) / 2
    alpha = beta - f1
    scale = min(1.0, alpha / (2 * beta)) if beta > 0 and alpha > 0 else 1.0
    drops = [drop(eps, scale) for eps in steps]
    same_sign = drops[0] * drops[1] > 0
    measured = float(np.log(drops[0] / drops[1]) / np.log(2.0)) if same_sign else float("nan")
    return steps, drops, measured, scale


def escape_along_curve(flow: GradientFlow, theta, path, dirs, tolerances: Tolerances, label: str,
                       unsure: bool = False) -> dict:
    """The escape record of a path whose links grow at different powers (:func:`curve_drops` along ``dirs``),
    or a ClassificationError when the loss does not fall at the path's order (unless ``unsure``)."""
    steps, drops, order, scale = curve_drops(flow, theta, path, dirs, tolerances)
    if not (min(drops) > 0 and abs(order - path.order) < tolerances.escape_order) and not unsure:
        raise ClassificationError(f"{label}: along the escape curve of order {path.order} (link powers "
                                  f"{list(path.powers)}) the loss drops {drops} (fitted order {order:.2f})")
    return {"mode": path.mode, "links": path.link_names(), "powers": list(path.powers), "scale": scale,
            "eps": list(steps), "decrease": drops, "measured_order": order}


def _measure_escape(stratum, flow, S, theta, tol: Tolerances) -> dict:
    """Loss decrease along the new path's links (or its curve) at two step sizes, and the fitted order."""
    path = stratum.escape_path()
    if path.powers:
        dirs = [path_direction(stratum, flow.top, flow.data, EscapePath(path.mode, (link,)), S) for link in path.links]
        return escape_along_curve(flow, theta, path, dirs, tol, stratum.label)
    D = path_direction(stratum, flow.top, flow.data, path, S)
    steps, drops, order = loss_order(flow, theta, D, path.order, tol)
    if not (min(drops) > 0 and abs(order - path.order) < tol.escape_order):
        raise ClassificationError(
            f"{stratum.label}: along the escape path of order {path.order} the loss drops {drops} (fitted order {order:.2f})")
    return {"mode": path.mode, "links": path.link_names(), "eps": list(steps),
            "decrease": drops, "measured_order": order}


# ------------------------------------------------------- the critical set


@dataclass(frozen=True)
class CriticalTrace:
    """Curves ``t -> exp(t Xi_k) A* exp(-t Xi_k)`` through a critical point.

    Attributes
    ----------
    t : ndarray, shape=[T]
    directions : ndarray, shape=[k, n, n]
        The Lie algebra directions ``Xi_k`` (unit Frobenius norm).
    points : ndarray, shape=[k, T, n, n]
    loss : ndarray, shape=[k, T]
    grad_norm : ndarray, shape=[k, T]
        ``||dL/dA||_F`` at each point.
    grad_scale : ndarray, shape=[k, T]
        The size the gradient would have without cancellation,
        ``(||dL/dW|| + ||Syx||) max_i prod_{j != i} ||W_j||_2`` (for a DAG
        ``||A||_F^{h-1}`` replaces the product): rounding makes
        ``grad_norm / grad_scale`` about machine precision at a critical point.
    norm : ndarray, shape=[k, T]
        ``||A||_F``.
    critical_value : float
        ``L(A*)``.
    """

    t: np.ndarray
    directions: np.ndarray = field(repr=False)
    points: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    grad_norm: np.ndarray = field(repr=False)
    grad_scale: np.ndarray = field(repr=False)
    norm: np.ndarray = field(repr=False)
    critical_value: float = 0.0

    @property
    def max_loss_deviation(self) -> float:
        """``max |L - L(A*)|`` over the traced points."""
        return float(np.abs(self.loss - self.critical_value).max())

    @property
    def max_relative_gradient(self) -> float:
        """``max grad_norm / grad_scale`` over the traced points."""
        return float((self.grad_norm / self.grad_scale).max())


def _grad_scale(flow: GradientFlow, theta: np.ndarray) -> float:
    top = flow.top
    err = np.linalg.norm(flow.loss_fn.gradient(top.end_to_end(theta), flow.data)) + np.linalg.norm(flow.data.Syx)
    if top.is_layered:
        norms = np.array([np.linalg.norm(W, 2) for W in top.layer_weights(theta)])
        prods = [np.prod(np.delete(norms, i)) for i in range(norms.size)]
        return float(err * max(max(prods), 1e-300))
    return float(err * max(np.linalg.norm(theta) ** (top.depth - 1), 1e-300))


def trace_critical_set(
    flow: GradientFlow,
    A_star,
    directions=None,
    n_directions: int = 2,
    t_max: float = 2.0,
    n_points: int = 21,
    seed=None,
    rtol: float = 1e-8,
) -> CriticalTrace:
    """Trace the critical set through a critical point ``A*`` along fiber directions.

    The loss is constant on the GL orbit of ``A*`` and every point of it is
    critical (``dL(g.A) = dL(A) o g^{-1}``), so the curves
    ``t -> exp(t Xi) A* exp(-t Xi)`` lie in the critical set at the value
    ``L(A*)``. Along a symmetric ``Xi`` with ``[Xi, A*] != 0``,
    ``||exp(t Xi) A* exp(-t Xi)||^2 = sum_ab |A~_ab|^2 e^{2t(l_a - l_b)}`` (in
    the eigenbasis of ``Xi``) is convex in ``t`` and unbounded in at least one
    direction: the critical set is unbounded.

    Parameters
    ----------
    flow : GradientFlow
    A_star : array-like, shape=[n, n]
        A critical point (e.g. a catalog representative).
    directions : array-like, shape=[k, n, n], optional
        Lie algebra elements of ``G``; default ``n_directions`` random
        symmetric ones, with their stabiliser component removed (so each curve
        moves), normalised to unit Frobenius norm.
    t_max : float
        The curves are sampled at ``n_points`` times in ``[-t_max, t_max]``.
    seed : int or numpy.random.Generator, optional
    rtol : float
        ``A*`` must satisfy ``||dL/dA|| <= rtol * grad_scale``.

    Returns
    -------
    CriticalTrace

    Raises
    ------
    ValueError
        If ``A_star`` is not a critical point of the flow's loss, or a
        direction is outside the Lie algebra.
    """
    if not isinstance(flow, GradientFlow):
        raise TypeError(f"flow must be a GradientFlow, got {type(flow).__name__}")
    top = flow.top
    A_star = np.asarray(A_star, dtype=float)
    if A_star.shape != (top.n, top.n) or not np.all(np.isfinite(A_star)):
        raise ValueError(f"A_star must be a finite ({top.n}, {top.n}) adjacency matrix, got shape {A_star.shape}")
    theta = top.pack(A_star)
    g0, scale0 = float(np.linalg.norm(flow.rhs(theta))), _grad_scale(flow, theta)
    if g0 > rtol * scale0:
        raise ValueError(
            f"A_star is not a critical point: ||dL/dA|| = {g0:.3g} > {rtol:g} * {scale0:.3g}; "
            "trace from a critical point (e.g. a catalog representative)"
        )
    if directions is None:
        rng = np.random.default_rng(seed)
        sym = symmetry.part_basis(top, "sym")
        moving = symmetry.range_basis((symmetry.vertical_matrix(top, theta) @ sym).T).T  # symmetric directions that move A*
        if moving.shape[0] == 0:
            raise ValueError("the group fixes A_star (its orbit is a point): there is nothing to trace")
        J, K = np.nonzero(symmetry.algebra_mask(top))
        dirs = []
        for _ in range(int(n_directions)):
            y = moving.T @ (moving @ rng.standard_normal(sym.shape[1]))
            Xi = np.zeros((top.n, top.n))
            Xi[J, K] = sym @ y
            dirs.append(Xi / np.linalg.norm(Xi))
        directions = np.array(dirs)
    directions = np.array([symmetry.check_algebra_element(top, Xi) for Xi in np.asarray(directions, dtype=float)])
    t = np.linspace(-t_max, t_max, int(n_points))
    points = np.array([[symmetry.act(top, symmetry.group_exp(top, tk * Xi), A_star) for tk in t] for Xi in directions])
    thetas = [[top.pack(P) for P in row] for row in points]
    return CriticalTrace(
        t=t,
        directions=directions,
        points=points,
        loss=np.array([[flow.loss(x) for x in row] for row in thetas]),
        grad_norm=np.array([[np.linalg.norm(flow.rhs(x)) for x in row] for row in thetas]),
        grad_scale=np.array([[_grad_scale(flow, x) for x in row] for row in thetas]),
        norm=np.linalg.norm(points, axis=(-2, -1)),
        critical_value=float(flow.loss(theta)),
    )
