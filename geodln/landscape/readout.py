"""Reading the path picture off a point: interval pieces, the modes they carry, and a canonical frame.

A layered network is a representation of the path quiver ``0 -> 1 -> ... -> h``
and splits into interval pieces ``[a, b]`` whose multiplicities come from the
ranks ``r(a, b) = rank(W_b ... W_{a+1})`` (``r(a, a) = d_a``)::

    n[a, b] = r(a, b) - r(a-1, b) - r(a, b+1) + r(a-1, b+1)

(``r = 0`` outside ``0 <= a <= b <= h``). In the whitened coordinates
``W_1' = W_1 Sxx^{1/2}`` of the data's modes ``M = Syx Sxx^{-1/2} = sum s_k u_k v_k^T``,
an unlearnt mode ``k`` reaches layer ``b_k = max{b : W_b ... W_1 v_k != 0}`` on
the input side and is reached from ``a_k = min{a : u_k^T W_h ... W_{a+1} != 0}``
on the output side: the input pieces ``[0, b]`` carry the modes with
``b_k = b`` (the rest are "null", orthogonal to every mode), the output
pieces ``[a, h]`` those with ``a_k = a``. This is the stratum of
:mod:`geodln.landscape.strata` exactly when the kernels ``ker(W_b ... W_1)`` and images
``im(W_h ... W_{a+1})`` split along the modes (a piece carrying ``v_1 + v_2``
does not: the point is then "mixed" and has no canonical stratum).

A frame is then built layer by layer (pieces started at layer ``a`` get
vectors at ``a`` independent of everything already there, and are carried
forward by the ``W_i``): in the bases ``B_i`` the network is the stratum's
canonical form, so an escape path's links (``[layer, slot, slot]``) become
rank-one terms ``B_i e_t (B_{i-1}^{-1})_{s,:}`` of the point's own ``W_i``.

Every rank decision compares a singular value with the rounding scale of the
product (the product of its layers' spectral norms): zero at or below ``z``,
nonzero at or above ``gap * z``, *ambiguous* in between (listed, with the
product and its singular values; decided at the geometric midpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .strata import NULL, Piece, Stratum
from ..symmetry import horizontal_basis, range_basis

__all__ = ["Reading", "read_stratum"]


@dataclass
class Reading:
    """What the ranks of a point say.

    Attributes
    ----------
    learned : tuple of int
        ``J``: the modes ``k`` with ``u_k^T W' v_k > s_k / 2``.
    ranks : dict
        ``{(a, b): rank(W_b ... W_{a+1})}`` for ``0 <= a < b <= h``.
    multiplicity : dict
        ``{(a, b): n[a, b]}`` (``a <= b``; ``a = b`` counts idle dimensions).
    reach_in, reach_out : dict
        ``{k: b_k}`` and ``{k: a_k}`` for the unlearnt modes.
    stratum : Stratum or None
        None when the point is mixed (see ``mixed``).
    frames : list of ndarray or None
        ``B_1, ..., B_{h-1}`` (``(d_i, d_i)``): the canonical frame at each hidden layer.
    ambiguous : list of dict
        ``{"product", "singular_values", "threshold"}`` for every rank decision
        within the noise.
    mixed : str
        Why the point has no canonical stratum ("" when it has one).
    """

    learned: tuple
    ranks: dict
    multiplicity: dict
    reach_in: dict
    reach_out: dict
    stratum: Stratum | None
    frames: list | None = field(repr=False)
    ambiguous: list
    mixed: str = ""

    def tightened(self, n_modes: int, depth: int) -> bool:
        """Achour et al.'s tightened condition, mode by mode, from the reaches and ranks
        (the same rule as :meth:`Stratum.tightened`, for mixed points too)."""
        r = len(self.learned)
        for k in range(1, n_modes + 1):
            if k in self.learned:
                continue
            b_k, a_k = self.reach_in[k], self.reach_out[k]
            if not any(b_k < i and self.ranks[(i, j)] == r and a_k > j
                       for i in range(1, depth - 1) for j in range(i + 1, depth)):
                return False
        return True


class _Decider:
    """The rank rule with its noise level ``z`` and ambiguity band ``[z, gap z]``."""

    def __init__(self, z: float, gap: float):
        self.z, self.gap, self.ambiguous = z, gap, []

    def count(self, values, scale: float, name: str) -> int:
        values = np.atleast_1d(np.asarray(values, dtype=float))
        if scale <= 0:
            return 0
        rel = values / scale
        unsure = (rel > self.z) & (rel < self.gap * self.z)
        if np.any(unsure):
            self.ambiguous.append({"product": name, "singular_values": values.tolist(),
                                   "threshold": [self.z * scale, self.gap * self.z * scale]})
        return int(np.sum(rel >= np.sqrt(self.gap) * self.z))


def _product(Ws, a: int, b: int, d_a: int) -> np.ndarray:
    P = np.eye(d_a)
    for W in Ws[a:b]:
        P = W @ P
    return P


def _name(a: int, b: int) -> str:
    return " ".join(f"W{i}" for i in range(b, a, -1))


def read_stratum(Ws, U, s, V, n_modes: int, z: float, gap: float) -> Reading:
    """Read the pieces, the modes they carry and a canonical frame off layer matrices.

    Parameters
    ----------
    Ws : list of ndarray
        ``[W_1', W_2, ..., W_h]`` in whitened coordinates (``W_1' = W_1 Sxx^{1/2}``),
        ``W_i`` of shape ``(d_i, d_{i-1})``.
    U : ndarray, shape=[d_h, >= n_modes]
    s : ndarray, shape=[>= n_modes]
    V : ndarray, shape=[d_0, >= n_modes]
        The data's modes ``M = sum s_k u_k v_k^T``.
    n_modes : int
        Number of nonzero modes.
    z, gap : float
        The rank rule (see the module docstring).

    Returns
    -------
    Reading
    """
    h = len(Ws)
    widths = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    norms = [np.linalg.norm(W, 2) for W in Ws]
    rule = _Decider(z, gap)
    P = {(a, b): _product(Ws, a, b, widths[a]) for a in range(h) for b in range(a + 1, h + 1)}
    nu = {(a, b): float(np.prod(norms[a:b])) for (a, b) in P}
    sv = {key: np.linalg.svd(M, compute_uv=False) for key, M in P.items()}
    ranks = {key: rule.count(sv[key], nu[key], _name(*key)) for key in P}
    Um, Vm, sm = U[:, :n_modes], V[:, :n_modes], s[:n_modes]
    W = P[(0, h)]
    learned = tuple(k for k in range(1, n_modes + 1) if Um[:, k - 1] @ W @ Vm[:, k - 1] > 0.5 * sm[k - 1])
    unlearnt = [k for k in range(1, n_modes + 1) if k not in learned]

    def r(a, b):
        if a < 0 or b > h:
            return 0
        return widths[a] if a == b else ranks[(a, b)]

    mult = {(a, b): r(a, b) - r(a - 1, b) - r(a, b + 1) + r(a - 1, b + 1) for a in range(h + 1) for b in range(a, h + 1)}
    reach_in, reach_out = {}, {}
    for k in unlearnt:
        v, u = Vm[:, k - 1], Um[:, k - 1]
        carried = [b for b in range(1, h) if rule.count(np.linalg.norm(P[(0, b)] @ v), nu[(0, b)],
                                                        f"{_name(0, b)} v{k}")]
        reach_in[k] = max(carried, default=0)
        carried = [a for a in range(1, h) if rule.count(np.linalg.norm(u @ P[(a, h)]), nu[(a, h)],
                                                        f"u{k}^T {_name(a, h)}")]
        reach_out[k] = min(carried, default=h)
    reading = Reading(learned, ranks, mult, reach_in, reach_out, None, None, rule.ambiguous)
    pieces, why = _pieces(h, widths, learned, unlearnt, mult, reach_in, reach_out, n_modes)
    if not why:
        why = _split_check(P, ranks, widths, h, Um, Vm, learned, reach_in, reach_out, z)
    if why:
        reading.mixed = why
        return reading
    reading.stratum = Stratum(tuple(widths), learned, tuple(pieces), n_modes)
    reading.frames, why = _frames(reading.stratum, Ws, P, ranks, widths, Um, Vm, sm)
    if why:
        reading.stratum, reading.frames, reading.mixed = None, None, why
    return reading


def _pieces(h, widths, learned, unlearnt, mult, reach_in, reach_out, n_modes):
    """The non-complete pieces in the enumeration's order, or the reason there are none."""
    if mult[(0, h)] != len(learned):
        return None, f"{mult[(0, h)]} complete paths but {len(learned)} modes learnt"
    if any(n < 0 for n in mult.values()):
        return None, "the ranks of the partial products are not those of a quiver representation"
    inputs, outputs, internal = [], [], []
    n_null_in = n_null_out = 0
    for b in range(1, h):
        labels = [k for k in unlearnt if reach_in[k] == b]
        if len(labels) > mult[(0, b)]:
            return None, f"{len(labels)} modes reach layer {b} on {mult[(0, b)]} input pieces [0,{b}]"
        n_null_in += mult[(0, b)] - len(labels)
        inputs += [Piece(0, b, k, None) for k in labels] + [Piece(0, b, NULL, None)] * (mult[(0, b)] - len(labels))
    for a in range(1, h):
        labels = [k for k in unlearnt if reach_out[k] == a]
        if len(labels) > mult[(a, h)]:
            return None, f"{len(labels)} modes are reached from layer {a} on {mult[(a, h)]} output pieces [{a},{h}]"
        n_null_out += mult[(a, h)] - len(labels)
        outputs += [Piece(a, h, None, k) for k in labels] + [Piece(a, h, None, NULL)] * (mult[(a, h)] - len(labels))
    if n_null_in > widths[0] - n_modes or n_null_out > widths[-1] - n_modes:
        return None, "more input or output pieces than modes and null directions"
    for a in range(1, h):
        for b in range(a + 1, h):
            internal += [Piece(a, b)] * mult[(a, b)]
    return inputs + outputs + internal, ""


def _meet_dim(A: np.ndarray, B: np.ndarray, z: float) -> int:
    """``dim(span A ∩ span B)`` for orthonormal bases: principal angles below ``sqrt(z)``
    (the subspaces of a point critical to ``z`` are accurate to about that)."""
    if A.shape[1] == 0 or B.shape[1] == 0:
        return 0
    cosines = np.linalg.svd(A.T @ B, compute_uv=False)
    return int(np.sum(cosines >= np.cos(np.sqrt(z))))


def _split_check(P, ranks, widths, h, Um, Vm, learned, reach_in, reach_out, z) -> str:
    """The kernels of ``W_b ... W_1`` and images of ``W_h ... W_{a+1}`` split along the modes
    exactly as the labels say (else a piece carries a mixture of modes)."""
    Nin, Nout = horizontal_basis(Vm), horizontal_basis(Um)
    for b in range(1, h):
        _, _, Vt = np.linalg.svd(P[(0, b)])
        K = Vt[ranks[(0, b)]:].T
        inside = sum(1 for k in reach_in if reach_in[k] < b)
        if _meet_dim(K, Vm, z) != inside or _meet_dim(K, Vm, z) + _meet_dim(K, Nin, z) != K.shape[1]:
            return f"ker({_name(0, b)}) is not spanned by modes and null directions"
    for a in range(1, h):
        Ub, _, _ = np.linalg.svd(P[(a, h)])
        Im = Ub[:, :ranks[(a, h)]]
        inside = len(learned) + sum(1 for k in reach_out if reach_out[k] <= a)
        if _meet_dim(Im, Um, z) != inside or _meet_dim(Im, Um, z) + _meet_dim(Im, Nout, z) != Im.shape[1]:
            return f"im({_name(a, h)}) is not spanned by modes and null directions"
    return ""


def _new_directions(candidates: np.ndarray, taken: np.ndarray, count: int) -> np.ndarray:
    """``count`` vectors in the span of ``candidates`` independent of ``taken`` (columns)."""
    if count == 0:
        return candidates[:, :0]
    Q = range_basis(taken) if taken.shape[1] else taken
    R = candidates - Q @ (Q.T @ candidates)
    _, _, Vt = np.linalg.svd(R, full_matrices=False)
    return candidates @ Vt[:count].T


def _frames(stratum: Stratum, Ws, P, ranks, widths, Um, Vm, sm):
    """The bases ``B_1 .. B_{h-1}`` in which the network is the stratum's canonical form."""
    h = stratum.depth
    pieces = stratum.all_pieces()
    vec = [dict() for _ in range(h + 1)]  # vec[i][piece index]: the piece's vector at layer i
    idle = [None] * (h + 1)
    Nin, Nout = horizontal_basis(Vm), horizontal_basis(Um)

    def kernel(a, b):  # ker(W_b ... W_{a+1}) at layer a: none for b = a, everything for b > h
        if b == a:
            return np.zeros((widths[a], 0))
        if b > h:
            return np.eye(widths[a])
        _, _, Vt = np.linalg.svd(P[(a, b)])
        return Vt[ranks[(a, b)]:].T

    for a in range(h):
        alive = [vec[a][i] for i in vec[a]]
        starting = [i for i, p in enumerate(pieces) if p.a == a]
        chosen = {}
        for b in range(a, h + 1):
            here = [i for i in starting if pieces[i].b == b]
            if a == 0:
                nulls = [i for i in here if pieces[i].source == NULL]
                for i in here:
                    if pieces[i].source != NULL:
                        chosen[i] = Vm[:, pieces[i].source - 1]
                if nulls:
                    taken = Nin @ (Nin.T @ kernel(0, b))
                    new = _new_directions(Nin @ (Nin.T @ kernel(0, b + 1)), taken, len(nulls))
                    chosen.update(zip(nulls, new.T))
                continue
            if b == h:
                nulls = [i for i in here if pieces[i].target == NULL]
                for i in here:
                    if pieces[i].target != NULL:
                        chosen[i] = np.linalg.lstsq(P[(a, h)], Um[:, pieces[i].target - 1], rcond=None)[0]
                if nulls:
                    U0, _, _ = np.linalg.svd(P[(a - 1, h)])
                    U1, _, _ = np.linalg.svd(P[(a, h)])
                    before, now = U0[:, :ranks[(a - 1, h)]], U1[:, :ranks[(a, h)]]
                    ys = _new_directions(Nout @ (Nout.T @ now), Nout @ (Nout.T @ before), len(nulls))
                    chosen.update(zip(nulls, np.linalg.lstsq(P[(a, h)], ys, rcond=None)[0].T))
                continue
            count = len(here) if b > a else stratum.widths[a] - stratum.load()[a]  # b = a: idle dimensions
            taken = np.column_stack(alive + list(chosen.values()) + [kernel(a, b)])
            new = _new_directions(kernel(a, b + 1), taken, count)
            if b == a:
                idle[a] = new
            else:
                chosen.update(zip(here, new.T))
        for i, x in chosen.items():
            vec[a][i] = x
            for layer in range(a + 1, min(pieces[i].b, h - 1) + 1):
                vec[layer][i] = Ws[layer - 1] @ vec[layer - 1][i]
    frames = []
    for i in range(1, h):
        cols = [vec[i][j] for j in sorted(vec[i])]  # slot order = all_pieces order
        B = np.column_stack(cols + [idle[i]] if idle[i] is not None else cols)
        if B.shape != (widths[i], widths[i]) or np.linalg.cond(B) > 1e12:
            return None, f"no canonical frame at layer {i}"
        frames.append(B)
    return frames, ""
