"""Exact polynomial vector fields on the packed weights, and their Lie brackets.

The end-to-end map of a network is a polynomial in the weights: entry
``phi_oi(theta)`` is the sum, over the paths from input ``i`` to output ``o``,
of the product of the weights along the path. The vector fields
``X_M(theta) = grad_theta <M, phi(theta)>`` (Marcotte, Gribonval and Peyre
2023) are spanned by the gradients ``X_oi = grad phi_oi``: polynomials with
0/1 coefficients. Their brackets ``[X, Y] = DY X - DX Y`` are polynomials with
integer coefficients, computed here exactly (Python integers, no rounding, no
finite differences); only the evaluation at a point is floating point.

A field is a dict ``{(component, monomial): coefficient}``; a monomial is the
sorted tuple of the indices of its variables, with repetition
(``(0, 0, 3)`` is ``theta_0^2 theta_3``). Exact linear dependence between
fields is decided by Gaussian elimination modulo the prime ``2^31 - 1``: a
dependence it finds holds over the rationals unless the prime divides every
maximal minor of the integer coefficient matrix (this never happens for the
small integer coefficients here, and a missed field would only make a count
stop a step early, which the final rank check at the point would show).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from ..network.topology import Topology

__all__ = ["paths", "generators", "bracket", "evaluate", "independent", "MAX_TERMS"]

PRIME = 2_147_483_647  # 2^31 - 1: products of two residues stay below 2^63
MAX_TERMS = 200_000  # a field with more terms than this is out of reach of exact brackets


def paths(top: Topology) -> dict[tuple[int, int], list[tuple[int, ...]]]:
    """The input -> output paths as sorted tuples of edge indices (positions in ``theta``).

    Returns
    -------
    dict
        ``(o, i) -> [edges of each path from input i to output o]``; ``o`` and
        ``i`` index the output and input levels. ``phi_oi`` is the sum of the
        products of ``theta`` over these tuples.
    """
    src, tgt = top.edge_index
    out_edges = defaultdict(list)
    for e, (j, k) in enumerate(zip(src, tgt)):
        out_edges[int(j)].append((e, int(k)))
    d0, first_out = top.widths[0], top.n - top.widths[-1]
    found = defaultdict(list)
    for i in range(d0):
        stack = [(i, ())]
        while stack:  # depth-first over a DAG: every path is visited once
            node, used = stack.pop()
            if node >= first_out:
                found[(node - first_out, i)].append(tuple(sorted(used)))
                continue
            for e, k in out_edges[node]:
                stack.append((k, used + (e,)))
            if sum(len(p) for p in found.values()) > MAX_TERMS:
                raise ValueError(f"{top!r} has more than {MAX_TERMS} path terms: too large for the exact count")
    return dict(found)


def generators(top: Topology) -> list[dict]:
    """The fields ``X_oi = grad phi_oi``, one per (output, input) pair connected by a path.

    ``X_M = sum_oi M_oi X_oi``. Component ``e`` of ``X_oi`` is the sum, over
    the paths through edge ``e``, of the product of the other weights.
    """
    fields = []
    found = paths(top)
    for key in sorted(found):
        field = defaultdict(int)
        for path in found[key]:
            for pos, e in enumerate(path):
                field[(e, path[:pos] + path[pos + 1:])] += 1
        fields.append(dict(field))
    return fields


def _derivatives(field: dict) -> dict[int, list]:
    """``j -> [(component, monomial of d/dtheta_j, coefficient)]`` for every variable ``j``."""
    table = defaultdict(list)
    for (comp, mono), coef in field.items():
        for j, mult in Counter(mono).items():
            cut = mono.index(j)
            table[j].append((comp, mono[:cut] + mono[cut + 1:], coef * mult))
    return table


def _by_component(field: dict) -> dict[int, list]:
    table = defaultdict(list)
    for (comp, mono), coef in field.items():
        table[comp].append((mono, coef))
    return table


def bracket(X: dict, Y: dict, dX=None, dY=None) -> dict:
    """The Lie bracket ``[X, Y] = DY X - DX Y``, exactly.

    Component ``i``: ``sum_j X_j d_j Y_i - Y_j d_j X_i``. ``dX``, ``dY`` are
    the derivative tables of ``X`` and ``Y`` when already known (they are
    reused across the brackets of one field with every generator).

    Examples
    --------
    >>> X = {(0, ()): 1}            # d/dtheta_0
    >>> Y = {(1, (0,)): 1}          # theta_0 d/dtheta_1
    >>> bracket(X, Y)               # [X, Y] = d/dtheta_1
    {(1, ()): 1}
    """
    out = defaultdict(int)
    for F, dG, sign in ((X, dY if dY is not None else _derivatives(Y), 1),
                        (Y, dX if dX is not None else _derivatives(X), -1)):
        for j, terms in _by_component(F).items():
            for comp, rest, c in dG.get(j, ()):
                for mono, a in terms:
                    out[(comp, tuple(sorted(rest + mono)))] += sign * a * c
    return {key: c for key, c in out.items() if c}


def evaluate(fields: list[dict], theta: np.ndarray) -> np.ndarray:
    """The fields' values at ``theta``, shape=[len(fields), len(theta)]."""
    theta = np.asarray(theta, dtype=float)
    values = np.zeros((len(fields), theta.size))
    for row, field in zip(values, fields):
        if not field:
            continue
        comps = np.fromiter((k[0] for k in field), int, len(field))
        coefs = np.fromiter((float(c) for c in field.values()), float, len(field))
        monos = np.array([np.prod(theta[list(k[1])]) for k in field])
        np.add.at(row, comps, coefs * monos)
    return values


class _Echelon:
    """Exact span of integer vectors modulo ``PRIME``, grown one vector at a time."""

    def __init__(self):
        self.pivots: dict = {}  # key -> reduced row (dict key -> residue) with 1 at key

    def add(self, vec: dict) -> bool:
        """Reduce ``vec`` against the span; keep it and return True if it is independent."""
        row = {k: c % PRIME for k, c in vec.items() if c % PRIME}
        for key in list(row):  # the basis is reduced: subtracting a pivot row adds no pivot key
            if key not in row:
                continue
            if key in self.pivots:
                c = row[key]
                for k2, v2 in self.pivots[key].items():
                    val = (row.get(k2, 0) - c * v2) % PRIME
                    if val:
                        row[k2] = val
                    else:
                        row.pop(k2, None)
        if not row:
            return False
        lead = min(row, key=_order)
        inv = pow(row[lead], PRIME - 2, PRIME)
        row = {k: (v * inv) % PRIME for k, v in row.items()}
        for other in self.pivots.values():  # keep the basis reduced
            if lead in other:
                c = other[lead]
                for k2, v2 in row.items():
                    val = (other.get(k2, 0) - c * v2) % PRIME
                    if val:
                        other[k2] = val
                    else:
                        other.pop(k2, None)
        self.pivots[lead] = row
        return True


def _order(key):
    comp, mono = key
    return (len(mono), mono, comp)


def independent(candidates: list[dict], span: "_Echelon | None" = None) -> tuple[list[dict], "_Echelon"]:
    """The candidates that are linearly independent of ``span`` and of each other, exactly.

    Returns the kept fields (in order) and the grown span.
    """
    span = _Echelon() if span is None else span
    kept = [f for f in candidates if span.add(f)]
    return kept, span
