"""Polynomial conservation laws of low degree, found by linear algebra and checked exactly.

A polynomial ``h = sum_m c_m theta^m`` is conserved by the flow of every loss
of ``phi`` iff ``X_oi h = 0`` for every generator ``X_oi = grad phi_oi``
(:mod:`geodln.laws.fields`): a linear system in the coefficients ``c``, with
integer entries. :func:`polynomial_laws` solves it for every monomial of
degree ``1..degree``:

1. the system splits into independent blocks (connected components of its
   sparsity pattern; for a layered network these include the degrees);
2. each block's null space is computed in floating point and put in reduced
   row echelon form over the monomials ordered by degree, then
   lexicographically: the echelon form of a rational subspace is unique and
   rational, so its entries are rounded to fractions and scaled to integers;
3. every law is then checked exactly, ``X_oi h = 0`` in integer arithmetic.

The space found contains every polynomial in the known balances of degree
``<= degree``; the laws functionally independent of the known ones (their
gradients raise the rank at a random point) are the ``new`` ones. A first
integral need not be polynomial, so finding none proves only that none of
degree ``<= degree`` exists. :func:`verify_law` checks a law along a
trajectory of the flow.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations_with_replacement
from math import lcm

import numpy as np

from ..network.data import Data
from ..dynamics.flow import GradientFlow
from ..network.topology import Topology
from .count import RANK_RTOL, _rank, known_law_gradients
from .fields import generators

__all__ = ["PolynomialLaw", "LawSearch", "polynomial_laws", "weight_names", "LawCheck", "verify_law"]

MAX_MONOMIALS = 20_000  # monomials of degree <= k in D variables; beyond this the search is refused


def weight_names(top: Topology) -> list[str]:
    """Readable names of the weights in ``theta`` order.

    A block from level ``a`` to level ``b`` is the matrix ``A_ab^T`` of shape
    ``(d_b, d_a)``: named ``W{b}`` for consecutive levels (for a layered
    network, exactly ``W_b``) and ``S{a}_{b}`` for a skip; ``W2[0,1]`` is the
    weight from node 1 of level 1 to node 0 of level 2.
    """
    names = []
    for blk in top.blocks:
        label = f"W{blk.b}" if blk.b == blk.a + 1 else f"S{blk.a}_{blk.b}"
        names += [f"{label}[{c},{r}]" for r, c in zip(blk.r, blk.c)]
    return names


@dataclass(frozen=True)
class PolynomialLaw:
    """A polynomial ``h(theta) = sum coef * prod theta[monomial]`` with integer coefficients.

    Attributes
    ----------
    terms : tuple of (int, tuple of int)
        ``(coefficient, monomial)``; a monomial is the sorted tuple of its
        variables' positions in ``theta`` (with repetition).
    names : tuple of str
        The weights' names (:func:`weight_names`), for printing.
    exact : bool
        True when ``X_oi h = 0`` was checked in exact integer arithmetic.
    """

    terms: tuple
    names: tuple = field(repr=False)
    exact: bool = False

    @property
    def degree(self) -> int:
        return max(len(m) for _, m in self.terms)

    def __call__(self, theta) -> float:
        theta = np.asarray(theta, dtype=float)
        return float(sum(c * np.prod(theta[list(m)]) for c, m in self.terms))

    def gradient(self, theta) -> np.ndarray:
        """``grad h(theta)``, shape=[n_params]."""
        theta = np.asarray(theta, dtype=float)
        g = np.zeros(theta.size)
        for c, m in self.terms:
            for pos, j in enumerate(m):
                g[j] += c * np.prod(theta[list(m[:pos] + m[pos + 1:])])
        return g

    def scale(self, theta) -> float:
        """``sum |coef * monomial|``: the size of ``h`` without cancellation, for relative checks."""
        theta = np.asarray(theta, dtype=float)
        return float(sum(abs(c * np.prod(theta[list(m)])) for c, m in self.terms))

    def __str__(self) -> str:
        out = []
        for c, m in self.terms:
            powers = defaultdict(int)
            for j in m:
                powers[j] += 1
            mono = " ".join(self.names[j] + (f"^{p}" if p > 1 else "") for j, p in sorted(powers.items()))
            mag = "" if abs(c) == 1 else f"{abs(c)} "
            out.append(("- " if c < 0 else "+ ") + mag + mono)
        text = " ".join(out)
        return text[2:] if text.startswith("+ ") else "-" + text[1:]


@dataclass(frozen=True)
class LawSearch:
    """The polynomial conservation laws of degree ``<= degree`` of a network.

    Attributes
    ----------
    degree : int
    laws : list of PolynomialLaw
        A basis of the space of conserved polynomials (no constant term),
        in reduced echelon form.
    new : list of PolynomialLaw
        Laws of ``laws`` functionally independent of the known laws and of
        each other (each raises the gradient rank at a random point).
    n_known : int
        Rank of the known laws' gradients at that point.
    n_monomials : int
        Unknowns of the linear system.
    """

    degree: int
    laws: list = field(repr=False)
    new: list
    n_known: int
    n_monomials: int
    network: str = ""

    def summary(self) -> str:
        lines = [f"polynomial laws of degree <= {self.degree} ({self.n_monomials} monomials): "
                 f"{len(self.laws)} independent polynomials, {len(self.new)} functionally new beyond "
                 f"the {self.n_known} known"]
        if not self.new:
            lines.append(f"  no polynomial law of degree <= {self.degree} is independent of the known laws "
                         "(a local first integral need not be polynomial)")
        for law in self.new:
            lines.append(f"  new (degree {law.degree}{', checked exactly' if law.exact else ''}): {law}")
        return "\n".join(lines)


def _generator_table(top: Topology) -> list[dict]:
    """Per generator: ``component -> [(monomial, coefficient)]``."""
    tables = []
    for gen in generators(top):
        table = defaultdict(list)
        for (comp, mono), c in gen.items():
            table[comp].append((mono, c))
        tables.append(table)
    return tables


def _apply(table: dict, poly: dict) -> dict:
    """``X h`` for a generator table ``X`` and a polynomial ``{monomial: coefficient}``, exactly."""
    out = defaultdict(int)
    for mono, c in poly.items():
        for pos, j in enumerate(mono):
            if pos and mono[pos - 1] == j:
                continue  # each distinct variable once, times its multiplicity
            mult = mono.count(j)
            rest = mono[:pos] + mono[pos + mult:] + (j,) * (mult - 1)
            for gmono, a in table.get(j, ()):
                out[tuple(sorted(rest + gmono))] += c * mult * a
    return {m: v for m, v in out.items() if v}


def polynomial_laws(top: Topology, degree: int = 4, seed=0) -> LawSearch:
    """Search the conserved polynomials of degree ``1..degree`` (see the module notes).

    Parameters
    ----------
    top : Topology
    degree : int
        Highest total degree searched.
    seed : int
        The random point of the independence test.

    Returns
    -------
    LawSearch

    See Also
    --------
    conservation_laws
        How many independent laws there are.

    Examples
    --------
    >>> from geodln import layered
    >>> found = polynomial_laws(layered([1, 1, 1]), degree=2)
    >>> [str(law) for law in found.laws]
    ['W1[0,0]^2 - W2[0,0]^2']
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not (isinstance(degree, int) and degree >= 1):
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    D = top.n_params
    monos = [m for k in range(1, degree + 1) for m in combinations_with_replacement(range(D), k)]
    if len(monos) > MAX_MONOMIALS:
        raise ValueError(f"{len(monos)} monomials of degree <= {degree} in {D} weights: more than "
                         f"{MAX_MONOMIALS}; lower the degree")
    tables = _generator_table(top)
    rows, cols, vals, row_index = [], [], [], {}
    for col, mono in enumerate(monos):
        for g, table in enumerate(tables):
            for out_mono, v in _apply(table, {mono: 1}).items():
                rows.append(row_index.setdefault((g, out_mono), len(row_index)))
                cols.append(col)
                vals.append(float(v))
    n_rows = max(len(row_index), 1)
    system = coo_matrix((vals, (rows, cols)), shape=(n_rows, len(monos))).tocsc()
    # blocks: columns linked through a shared row
    link = (abs(system).T @ abs(system)).tocsr()
    n_blocks, label = connected_components(link, directed=False)
    names = tuple(weight_names(top))
    laws = []
    for b in range(n_blocks):
        idx = np.flatnonzero(label == b)
        block = system[:, idx]
        block = block[np.unique(block.nonzero()[0])].toarray() if block.nnz else np.zeros((0, idx.size))
        for coefs in _rational_null_space(block):
            poly = {monos[idx[j]]: c for j, c in enumerate(coefs) if c}
            exact = all(not _apply(t, poly) for t in tables)
            laws.append(PolynomialLaw(tuple((c, m) for m, c in poly.items()), names, exact))
    laws.sort(key=lambda law: (law.degree, [m for _, m in law.terms]))
    theta = np.random.default_rng(seed).standard_normal(D)
    known = known_law_gradients(top, theta)
    rows_so_far = known if known.size else np.zeros((0, D))
    n_known = _rank(rows_so_far).rank if rows_so_far.size else 0
    rank, new = n_known, []
    for law in laws:
        trial = np.vstack([rows_so_far, law.gradient(theta)])
        r = _rank(trial).rank
        if r > rank:
            rows_so_far, rank = trial, r
            new.append(law)
    return LawSearch(degree=degree, laws=laws, new=new, n_known=n_known, n_monomials=len(monos),
                     network=repr(top))


def _rational_null_space(block: np.ndarray, max_denominator: int = 1000) -> list[list[int]]:
    """Integer vectors spanning the null space of an integer matrix (rows of its echelon form)."""
    n = block.shape[1]
    if block.shape[0] == 0:
        return [[int(i == j) for i in range(n)] for j in range(n)]
    if block.shape[0] > 4 * n:
        gram = block.T @ block  # integer entries: exact in float64 at these sizes
        w, v = np.linalg.eigh(gram)
        null = v[:, w <= RANK_RTOL**2 * max(w.max(), 1.0) * 1e2]
    else:
        _, s, vt = np.linalg.svd(block)
        r = int(np.sum(s > RANK_RTOL * s[0])) if s.size else 0
        null = vt[r:].T
    if null.shape[1] == 0:
        return []
    E = _echelon(null.T)
    out = []
    for row in E:
        fracs = [Fraction(x).limit_denominator(max_denominator) for x in row]
        scale = lcm(*(f.denominator for f in fracs))
        ints = [int(f * scale) for f in fracs]
        g = np.gcd.reduce([abs(i) for i in ints if i]) if any(ints) else 1
        out.append([i // int(g) for i in ints])
    return out


def _echelon(M: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Reduced row echelon form of a full-row-rank matrix, pivots left to right."""
    M = np.array(M, dtype=float)
    r = 0
    for c in range(M.shape[1]):
        if r == M.shape[0]:
            break
        p = r + int(np.argmax(np.abs(M[r:, c])))
        if abs(M[p, c]) <= tol * np.abs(M).max():
            continue
        M[[r, p]] = M[[p, r]]
        M[r] /= M[r, c]
        others = np.arange(M.shape[0]) != r
        M[others] -= np.outer(M[others, c], M[r])
        r += 1
    M[np.abs(M) < tol] = 0.0
    return M[:r]


@dataclass(frozen=True)
class LawCheck:
    """A law followed along a trajectory of the flow.

    Attributes
    ----------
    drift : float
        ``max_t |h(theta(t)) - h(theta(0))| / scale`` with ``scale`` the size
        of ``h`` at the start without cancellation (``PolynomialLaw.scale``)
        or ``max(1, |h(theta(0))|)`` for a plain function.
    verified : bool
        ``drift <= tol``.
    moved : float
        ``||theta(T) - theta(0)|| / ||theta(0)||``: the trajectory went somewhere.
    """

    drift: float
    verified: bool
    moved: float


def verify_law(top: Topology, law, seed=0, t_end: float = 3.0, tol: float = 1e-8, loss=None,
               scale: float = 0.7) -> LawCheck:
    """Integrate the flow from a random start and check that ``law`` stays constant.

    Parameters
    ----------
    law : PolynomialLaw or callable
        ``h(theta) -> float``.
    seed : int
        Seeds the data (whitened, spectrum ``3, 2, 1, ...``) and the start
        (normal weights times ``scale``).
    t_end, tol : float
    loss : Loss, str or None
        Any loss of ``W``: a law of the count holds for all of them.
    """
    rng = np.random.default_rng(seed)
    d_in, d_out = top.widths[0], top.widths[-1]
    spectrum = np.arange(min(d_in, d_out), 0, -1, dtype=float) + 1.0
    flow = GradientFlow(top, Data.from_spectrum(spectrum, d_in, d_out, seed=rng), loss=loss)
    theta0 = scale * rng.standard_normal(top.n_params)
    traj = flow.integrate(theta0, t_end, rtol=1e-12, atol=1e-14, n_points=41)
    values = np.array([law(x) for x in traj.theta])
    size = law.scale(theta0) if isinstance(law, PolynomialLaw) else max(1.0, abs(values[0]))
    drift = float(np.abs(values - values[0]).max() / max(size, 1e-300))
    moved = float(np.linalg.norm(traj.theta[-1] - theta0) / np.linalg.norm(theta0))
    return LawCheck(drift=drift, verified=drift <= tol, moved=moved)
