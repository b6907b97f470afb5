"""Geometry of the symmetry group on geomstats: fibers, quotient, balanced section, level sets.

The hidden-layer group ``G`` (``GL(d_i)`` on every fully connected hidden
level, node rescalings on the others) acts on a network by block-diagonal
similarity of its adjacency matrix,

    S . A = S A S^{-1},   S = blockdiag(I, S_1, ..., S_{h-1}, I),

which in layer form (``A``'s block ``(i-1, i)`` is ``W_i^T``) reads
``W_i -> S_i^{-T} W_i S_{i-1}^T``, i.e. ``W_i -> G_i W_i G_{i-1}^{-1}`` with
``G_i = S_i^{-T}``. The end-to-end map ``W``, hence every loss, is invariant;
the fiber through ``A`` is its orbit ``{exp(Xi) A exp(-Xi) ...}``, with tangent
(vertical) space ``{[Xi, A] : Xi in g}`` and horizontal space its Frobenius
orthogonal complement.

Metric. ``||A||_F`` (the Euclidean metric of the packed weights) is invariant
under the orthogonal subgroup ``K = O(d_1) x ... x O(d_{h-1})`` only. So the
quotient *metric* (:attr:`NetworkBundle.quotient`, geomstats'
``QuotientMetric``) and :meth:`NetworkBundle.quotient_distance`,

    d([A], [B]) = min_{k in K} ||A - k B k^T||_F,

exist for ``group="O"`` alone; for ``group="GL"`` only the pointwise
vertical/horizontal split is meaningful (the horizontal space is not carried
to itself by the action, and the distance between orbits would be 0 whenever
one orbit closure meets another).

Balanced section (Kempf-Ness). With ``g = k + p`` (skew + symmetric), for
``X`` in ``p``

    d/dt|_0 1/2 ||e^{tX} A e^{-tX}||_F^2 = <[X, A], A> = -<C(A), X>,
    C(A) = P_g(A^T A - A A^T),

and ``C``'s diagonal blocks are exactly the conserved quantities of the flow,
``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` (for sparse levels, whose group is the
diagonal torus, the node-wise laws). ``C`` is K-equivariant,
``C(k A k^T) = k C(A) k^T``, and it is the gradient of the norm along the
complementary directions ``p``: that is the moment map of ``K`` in the sense of
Kempf-Ness (and of Richardson-Slodowy for real groups): identify ``p = i k``,
then ``<C(A), X>`` is the Hamiltonian of ``X`` for the Kaehler structure of
``V + iV``. Its conservation along the flow is Noether's theorem for a
gradient flow: the gradient of a G-invariant loss is orthogonal to every
``[X, A]``, and ``d/dt <C, X> = -2 <dA/dt, [X, A]> = 0``. The flow commutes
with ``K`` but not with ``G``; it moves along a level set ``{C = C0}``, which
each GL orbit crosses in K-orbits. The function ``g -> ||g . A||^2`` is
convex along ``t -> e^{tX}``, ``X in p``; its minimisers on a closed orbit are
the points with ``C = 0`` (one K-orbit), and a non-closed orbit has no
minimiser: its infimum is attained on the unique closed orbit in its closure.
For a fully connected chain the closed orbits are classified by ``W``: the
balanced point is ``W_i = Q_i diag(s^{1/h}) Q_{i-1}^T`` (``Q_0 = V``,
``Q_h = U`` from ``W = U diag(s) V^T``), and the orbit of ``A`` is closed iff
``rank W_i = rank W`` for every ``i`` (no dangling partial paths).

geomstats supplies the Lie groups (``GeneralLinear``, ``SpecialOrthogonal``,
their ``exp``/``log``), ``ProductManifold``, the ``GroupAction`` and
``FiberBundle`` base classes and ``QuotientMetric``. Written by hand here,
because geomstats 2.8.0 has none of it: the action of a product of groups on
the hidden levels of a network (:class:`HiddenLayerAction`), the bundle over
packed weight vectors (:class:`HiddenLayerFiberBundle`, whose
``is_vertical``/``is_horizontal`` are overridden because geomstats assumes
matrix-shaped points), and alignment (geomstats' own needs an autodiff
backend): block Procrustes by coordinate ascent with closed-form SVD steps,
restarts (the problem is nonconvex) and the Riemannian gradient reported as
residual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import warnings

import numpy as np

with warnings.catch_warnings():
    # geomstats 2.8.0's backend importer raises an ImportWarning on import (fatal under -W error)
    warnings.simplefilter("ignore", ImportWarning)
    from geomstats.geometry.euclidean import Euclidean
    from geomstats.geometry.fiber_bundle import AlignerAlgorithm, FiberBundle
    from geomstats.geometry.general_linear import GeneralLinear
    from geomstats.geometry.group_action import GroupAction
    from geomstats.geometry.product_manifold import ProductManifold
    from geomstats.geometry.quotient_metric import QuotientMetric
    from geomstats.geometry.special_orthogonal import SpecialOrthogonal

from . import symmetry as sy
from .flow import GradientFlow
from .topology import Topology

__all__ = [
    "NetworkBundle",
    "HiddenLayerAction",
    "HiddenLayerFiberBundle",
    "ProcrustesAligner",
    "Alignment",
    "Balanced",
]

_GROUPS = ("GL", "O")
# above this many entries of the dense bracket matrix, project with LSQR
_DENSE_LIMIT = 20_000


@dataclass(frozen=True)
class _Level:
    """A hidden level: its position in the node order and whether it carries GL(d) or a torus."""

    level: int
    sl: slice
    full: bool  # full GL(d) block (else node rescalings only)

    @property
    def d(self) -> int:
        return self.sl.stop - self.sl.start


@dataclass(frozen=True)
class Alignment:
    """Result of :meth:`NetworkBundle.align`: ``k . B`` as close as possible to ``A``.

    Attributes
    ----------
    aligned : ndarray, shape=[n, n]
        ``k B k^T``.
    k : ndarray, shape=[n, n]
        The orthogonal block-diagonal group element.
    distance : float
        ``||A - k B k^T||_F``, the quotient distance found.
    gradient_norm : float
        Norm of the Riemannian gradient of ``||A - k B k^T||^2`` over ``K`` at
        ``k`` (``sqrt(sum_l ||k_l^T M_l - M_l^T k_l||^2)``): 0 at a critical
        point, the residual to check.
    restart_distances : ndarray, shape=[n_starts]
        The distance reached from each start (greedy forward, greedy
        backward, then random): how nonconvex the problem was.
    """

    aligned: np.ndarray
    k: np.ndarray
    distance: float
    gradient_norm: float
    restart_distances: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Balanced:
    """Result of :meth:`NetworkBundle.balance`; unpacks as ``(A, S, closed)``.

    Attributes
    ----------
    A : ndarray, shape=[n, n]
        The balanced point ``S A S^{-1}`` (``C = 0``) when the orbit is closed;
        otherwise the balanced point of the closed orbit in the closure of the
        orbit (the limit of the norm-decreasing stretch), taken at the point of
        its K-orbit nearest to the input.
    S : ndarray or None, shape=[n, n]
        Block-diagonal symmetric positive-definite group element with
        ``A_balanced = S A S^{-1}``; None when the orbit is not closed (no
        group element reaches the limit).
    closed : bool
        Whether the GL orbit of the input is closed.
    residual : float
        ``max |C(A_balanced)|`` (entries of the conserved quantities).
    distance : float
        ``||A_input - A_balanced||_F``: for a non-closed orbit, the distance
        from the input to the K-orbit of its limit (a lower bound on the
        length of any path to the limit).
    norm : float
        ``||A_balanced||_F``, the infimum of ``||g . A||_F`` over ``G``.
    message : str
        What happened, in words.
    """

    A: np.ndarray
    S: np.ndarray | None
    closed: bool
    residual: float
    distance: float
    norm: float
    message: str

    def __iter__(self):
        return iter((self.A, self.S, self.closed))


class NetworkBundle:
    """The fiber bundle of a network under its hidden-layer group, in adjacency form.

    Every method takes ``(n, n)`` adjacency matrices in the NetworkX
    convention of :class:`~geodln.topology.Topology` (``A[j, k]`` is the weight
    of the edge ``j -> k``; zero off the mask).

    Parameters
    ----------
    top : Topology
        Any topology. A hidden level whose incident blocks are all fully
        connected carries ``GL(d)`` (or ``O(d)``); any other hidden level
        carries node rescalings (or sign flips): for sparse masks and DAGs a
        subgroup of all the symmetries that keep the mask (see
        :mod:`geodln.symmetry`).
    group : {"GL", "O"}
        The full group ``G`` or its orthogonal subgroup ``K``.

    Attributes
    ----------
    top : Topology
    group : str
    dim : int
        Dimension of the group (``sum d_i^2`` or ``sum d_i (d_i - 1) / 2`` over
        fully connected hidden levels, plus ``d_i`` or 0 over the others).
    lie_groups : geomstats.geometry.product_manifold.ProductManifold or None
        ``GeneralLinear(d_i)`` or ``SpecialOrthogonal(d_i)`` over the hidden
        levels with a continuous group (None when there is none); their
        ``exp``/``log`` are used by :meth:`exp`, :meth:`log`.
    total_space : geomstats.geometry.euclidean.Euclidean
        The packed weights ``R^{n_params}`` with the group action and the
        fiber bundle (:class:`HiddenLayerFiberBundle`) attached.
    fiber_bundle : HiddenLayerFiberBundle
    quotient : geomstats.geometry.euclidean.Euclidean or None
        For ``group="O"``: the quotient, equipped with geomstats'
        ``QuotientMetric`` wired to :meth:`align` (points are packed weights,
        identified with their orbits). None for ``"GL"`` (no invariant metric).

    Examples
    --------
    >>> import numpy as np
    >>> from geodln import layered
    >>> top = layered([2, 3, 2])
    >>> bundle = NetworkBundle(top, "GL")
    >>> A = top.adjacency(np.arange(1.0, 13.0))
    >>> bundle.dim, bundle.orbit_dim(A), bundle.stabilizer_dim(A)  # GL(1) on the idle direction
    (9, 8, 1)
    >>> S = bundle.random_group_element(seed=0)
    >>> bool(np.allclose(top.end_to_end(top.pack(bundle.act(S, A))), top.end_to_end(top.pack(A))))
    True
    """

    def __init__(self, top: Topology, group: str = "GL"):
        if not isinstance(top, Topology):
            raise TypeError(f"top must be a Topology, got {type(top).__name__}")
        if group not in _GROUPS:
            raise ValueError(f"group must be 'GL' or 'O', got {group!r}")
        self.top, self.group = top, group
        self._mask = sy.algebra_mask(top)
        self._part = "all" if group == "GL" else "skew"
        self._basis = sy.part_basis(top, self._part)  # (dim g, dim) in mask coordinates
        self._JK = np.nonzero(self._mask)
        self.dim = int(self._basis.shape[1])
        self._levels = []
        factors = []
        for level in range(1, top.depth):
            sl = top.level_slices[level]
            full = bool(self._mask[sl, sl].sum() == (sl.stop - sl.start) ** 2)
            self._levels.append(_Level(level, sl, full))
            if group == "GL":
                factors.append(GeneralLinear(sl.stop - sl.start))
            elif full and sl.stop - sl.start > 1:
                factors.append(SpecialOrthogonal(sl.stop - sl.start))
        self._factor_levels = [lv for lv in self._levels if group == "GL" or (lv.full and lv.d > 1)]
        self.lie_groups = ProductManifold(factors) if factors else None
        self.total_space = Euclidean(top.n_params)
        self.total_space.equip_with_group_action(HiddenLayerAction(self))
        aligner = ProcrustesAligner(self.total_space, self) if group == "O" else None
        self.fiber_bundle = HiddenLayerFiberBundle(self.total_space, self, aligner=aligner)
        self.total_space.fiber_bundle = self.fiber_bundle
        self.quotient = None
        if group == "O":
            self.quotient = Euclidean(top.n_params, equip=False)
            self.quotient.equip_with_metric(QuotientMetric, total_space=self.total_space)

    def __repr__(self) -> str:
        return f"NetworkBundle({self.top!r}, group={self.group!r})"

    # ----------------------------------------------------------- checks
    def _check_point(self, A, name: str = "A") -> np.ndarray:
        """``A`` as a float (n, n) array on the mask, or a clear error."""
        A = np.asarray(A, dtype=float)
        n = self.top.n
        if A.shape != (n, n):
            raise ValueError(f"{name} has shape {A.shape}; expected an ({n}, {n}) adjacency matrix")
        if not np.all(np.isfinite(A)):
            raise ValueError(f"{name} contains NaN or inf")
        try:
            self.top.pack(A)
        except ValueError as err:
            raise ValueError(f"{name} is not a weight matrix of this topology: {err}") from None
        return A

    def _check_xi(self, Xi) -> np.ndarray:
        Xi = np.asarray(Xi, dtype=float)
        n = self.top.n
        if Xi.shape != (n, n):
            raise ValueError(f"Xi has shape {Xi.shape}; expected ({n}, {n})")
        if not np.all(np.isfinite(Xi)):
            raise ValueError("Xi contains NaN or inf")
        if np.any(Xi[self._mask == 0] != 0):
            raise ValueError(
                "Xi has entries outside the Lie algebra: it must be block diagonal on the hidden levels "
                "(diagonal on levels with sparse connections), zero on the input and output levels"
            )
        if self.group == "O" and np.abs(Xi + Xi.T).max(initial=0.0) > 1e-12 * max(np.abs(Xi).max(initial=0.0), 1e-300):
            raise ValueError("Xi is not skew-symmetric: the Lie algebra of the orthogonal group is skew; use group='GL'")
        return Xi

    def _check_group_element(self, S) -> np.ndarray:
        return sy.check_group_element(self.top, S, orthogonal=self.group == "O")

    # ------------------------------------------------------------ group
    def exp(self, Xi) -> np.ndarray:
        """The group element ``exp(Xi)``, shape=[n, n], by geomstats' group exponential per level.

        Parameters
        ----------
        Xi : array-like, shape=[n, n]
            An element of the Lie algebra (block diagonal on the hidden
            levels; skew for ``group="O"``).
        """
        Xi = self._check_xi(Xi)
        S = np.eye(self.top.n)
        for lv, factor in zip(self._factor_levels, self._factors()):
            S[lv.sl, lv.sl] = factor.exp(Xi[lv.sl, lv.sl])
        return S

    def log(self, S) -> np.ndarray:
        """The principal logarithm ``Xi`` of a group element near the identity, shape=[n, n].

        Uses geomstats' group logarithm per level; ``exp(log(S)) = S`` for
        ``S`` in the image of the exponential (e.g. no negative eigenvalues).
        """
        S = self._check_group_element(S)
        Xi = np.zeros_like(S)
        for lv, factor in zip(self._factor_levels, self._factors()):
            if np.linalg.det(S[lv.sl, lv.sl]) < 0:
                raise ValueError(f"S has no real logarithm on hidden level {lv.level}: its block has "
                                 "determinant < 0 (not in the identity component of the group)")
            block = np.real_if_close(factor.log(S[lv.sl, lv.sl]), tol=1e6)
            if np.iscomplexobj(block):
                raise ValueError(f"S has no real logarithm on hidden level {lv.level} (a negative eigenvalue)")
            Xi[lv.sl, lv.sl] = block
        return Xi * self._mask

    def _factors(self):
        return [] if self.lie_groups is None else self.lie_groups.factors

    def random_algebra_element(self, seed=None, scale: float = 1.0) -> np.ndarray:
        """A random ``Xi`` in the Lie algebra, shape=[n, n].

        Gaussian entries of standard deviation ``scale / sqrt(d_i)`` on each
        hidden level (for ``"O"`` the skew part of such a matrix).
        """
        rng = np.random.default_rng(seed)
        Xi = np.zeros((self.top.n, self.top.n))
        for lv in self._levels:
            block = rng.standard_normal((lv.d, lv.d)) * scale / np.sqrt(lv.d)
            Xi[lv.sl, lv.sl] = block
        Xi *= self._mask
        return 0.5 * (Xi - Xi.T) if self.group == "O" else Xi

    def random_group_element(self, seed=None, scale: float = 1.0) -> np.ndarray:
        """A random group element ``S``, shape=[n, n] (:func:`geodln.symmetry.random_group_element`).

        ``"GL"``: ``Q_1 diag(exp(U(-scale, scale))) Q_2`` per level (Haar ``Q_i``,
        so both connected components), ``"O"``: Haar ``O(d_i)`` blocks;
        random signs on node-rescaling levels.

        Parameters
        ----------
        seed : int or numpy.random.Generator, optional
        scale : float
            Log-spread of the GL elements' singular values (``cond(S_i) <= e^{2 scale}``).
        """
        return sy.random_group_element(self.top, seed, self.group, spread=scale)

    def act(self, S, A) -> np.ndarray:
        """The action ``S . A = S A S^{-1}``, shape=[n, n] (in layers: ``W_i -> S_i^{-T} W_i S_{i-1}^T``).

        Raises
        ------
        ValueError
            If ``S`` is not in the group (wrong pattern, singular block, not
            orthogonal for ``"O"``) or ``A`` is not a point of the topology.
        """
        S, A = self._check_group_element(S), self._check_point(A)
        return self._act(S, A)

    def _act(self, S: np.ndarray, A: np.ndarray) -> np.ndarray:
        return sy.act(self.top, S, A)

    def fiber_point(self, A, Xi) -> np.ndarray:
        """The point ``exp(Xi) A exp(-Xi)`` of the fiber through ``A``, shape=[n, n].

        Parameters
        ----------
        A : array-like, shape=[n, n]
        Xi : array-like, shape=[n, n]
            Lie algebra element (block diagonal on hidden levels, zero on the
            input and output levels; skew for ``"O"``).
        """
        A = self._check_point(A)
        return self._act(self.exp(Xi), A)

    def sample_fiber(self, A, n_samples: int = 10, seed=None, scale: float = 1.0) -> np.ndarray:
        """Random points ``S_k . A`` of the fiber through ``A``, shape=[n_samples, n, n]."""
        A = self._check_point(A)
        rng = np.random.default_rng(seed)
        return np.array([self._act(self.random_group_element(rng, scale), A) for _ in range(int(n_samples))])

    # ------------------------------------------------- vertical / horizontal
    def _bracket_matrix(self, A: np.ndarray) -> np.ndarray:
        return sy.vertical_matrix(self.top, self.top.pack(A)) @ self._basis

    def vertical_space(self, A) -> np.ndarray:
        """An orthonormal basis of the vertical space ``{[Xi, A] : Xi in the algebra}``.

        Returns
        -------
        ndarray, shape=[orbit_dim, n, n]
            Orthonormal in the Frobenius inner product, each zero off the mask.
        """
        A = self._check_point(A)
        Q = sy.range_basis(self._bracket_matrix(A))
        return np.array([self.top.adjacency(q) for q in Q.T]).reshape(Q.shape[1], self.top.n, self.top.n)

    def vertical_projection(self, A, V, method: str = "auto") -> np.ndarray:
        """Orthogonal projection of a tangent vector onto the vertical space at ``A``.

        Parameters
        ----------
        A : array-like, shape=[n, n]
            The base point.
        V : array-like, shape=[n, n]
            A tangent vector (zero off the mask).
        method : {"auto", "dense", "lsqr"}
            ``"dense"``: an SVD of the bracket matrix (exact, ``O(n_params
            dim^2)``); ``"lsqr"``: matrix-free preconditioned LSQR
            (:func:`geodln.symmetry.solve_vertical`), for wide networks;
            ``"auto"`` picks dense for small bracket matrices.

        Returns
        -------
        ndarray, shape=[n, n]
        """
        A, V = self._check_point(A), self._check_point(V, "V")
        return self.top.adjacency(self._vertical_packed(self.top.pack(A), self.top.pack(V), method))

    def _vertical_packed(self, theta, v, method: str = "auto") -> np.ndarray:
        if method not in ("auto", "dense", "lsqr"):
            raise ValueError(f"method must be 'auto', 'dense' or 'lsqr', got {method!r}")
        if method == "auto":
            method = "dense" if self.top.n_params * self.dim <= _DENSE_LIMIT else "lsqr"
        if self.dim == 0:
            return np.zeros_like(v)
        if method == "dense":
            Q = sy.range_basis(sy.vertical_matrix(self.top, theta) @ self._basis)
            return Q @ (Q.T @ v)
        return sy.solve_vertical(self.top, theta, v, part=self._part).vertical

    def horizontal_projection(self, A, V, method: str = "auto") -> np.ndarray:
        """``V`` minus its vertical part: the component Frobenius-orthogonal to the fiber, shape=[n, n]."""
        V = self._check_point(V, "V")
        return V - self.vertical_projection(A, V, method)

    def is_vertical(self, A, V, rtol: float = 1e-9) -> bool:
        """Whether ``||horizontal part of V|| <= rtol ||V||``."""
        V = self._check_point(V, "V")
        return bool(np.linalg.norm(self.horizontal_projection(A, V)) <= rtol * np.linalg.norm(V))

    def is_horizontal(self, A, V, rtol: float = 1e-9) -> bool:
        """Whether ``||vertical part of V|| <= rtol ||V||``."""
        V = self._check_point(V, "V")
        return bool(np.linalg.norm(self.vertical_projection(A, V)) <= rtol * np.linalg.norm(V))

    def orbit_dim(self, A) -> int:
        """Dimension of the orbit (fiber) through ``A``: the rank of ``Xi -> [Xi, A]``."""
        A = self._check_point(A)
        return int(sy.range_basis(self._bracket_matrix(A)).shape[1])

    def stabilizer_dim(self, A) -> int:
        """Dimension of the stabiliser of ``A``: ``dim G`` minus :meth:`orbit_dim`."""
        return self.dim - self.orbit_dim(A)

    # -------------------------------------------------------- moment map
    def moment_map(self, A) -> np.ndarray:
        """The conserved quantities as one matrix: ``C(A) = P_g(A^T A - A A^T)``, shape=[n, n].

        Its diagonal block on a fully connected hidden level ``i`` is
        ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``; on a node-rescaling level it is
        the diagonal of node balances (squared in-weights minus squared
        out-weights). It is the moment map of the orthogonal action (see the
        module docstring) and is conserved by the gradient flow of any loss.

        Examples
        --------
        >>> import numpy as np
        >>> from geodln import layered
        >>> top = layered([1, 1, 1])
        >>> NetworkBundle(top).moment_map(top.adjacency([3.0, 2.0]))[1, 1]  # w1^2 - w2^2
        np.float64(5.0)
        """
        A = self._check_point(A)
        return self._moment(A)

    def _moment(self, A: np.ndarray) -> np.ndarray:
        return sy.moment_map(self.top, self.top.pack(A))

    # ------------------------------------------------------------ align
    def align(self, A, B, n_restarts: int = 8, seed=0, tol: float = 1e-14, max_sweeps: int = 2000) -> Alignment:
        """Move ``B`` along its orbit under ``K`` to the point nearest to ``A`` (block Procrustes).

        Maximises ``<A, k B k^T>`` over ``k`` in ``K`` by block coordinate
        ascent: with the other blocks fixed, level ``l`` solves the Procrustes
        problem ``max <k_l, M_l>``,
        ``M_l = sum_b A_lb k_b B_lb^T + sum_a A_al^T k_a B_al``, in closed form
        (``k_l = U V^T`` from the SVD of ``M_l``; a sign per node on
        node-rescaling levels). The problem is nonconvex, so it starts from a
        greedy forward sweep, a greedy backward sweep and ``n_restarts``
        Haar-random points, and keeps the best.

        Parameters
        ----------
        A, B : array-like, shape=[n, n]
        n_restarts : int
            Number of random starts besides the two greedy ones.
        seed : int or numpy.random.Generator
            For the random starts.
        tol : float
            Stop a run when a sweep improves ``<A, k B k^T>`` by less than
            ``tol (||A||^2 + ||B||^2)``.
        max_sweeps : int

        Returns
        -------
        Alignment

        Raises
        ------
        ValueError
            For ``group="GL"``: the Frobenius metric is not GL-invariant, so
            there is no quotient distance to align for.
        """
        if self.group != "O":
            raise ValueError(
                "alignment needs an invariant metric, and the Frobenius metric is invariant under the "
                "orthogonal group only: use NetworkBundle(top, 'O')"
            )
        A, B = self._check_point(A), self._check_point(B, "B")
        rng = np.random.default_rng(seed)
        scale = float(np.sum(A * A) + np.sum(B * B)) or 1.0
        starts = ["forward", "backward"] + [None] * int(n_restarts)
        best, dists = None, []
        for start in starts:
            k = self._procrustes(A, B, start, rng, tol * scale, max_sweeps)
            aligned = self._act_orthogonal(k, B)
            dist = float(np.linalg.norm(A - aligned))
            dists.append(dist)
            if best is None or dist < best[0]:
                best = (dist, k, aligned)
        dist, k, aligned = best
        return Alignment(aligned, k, dist, self._procrustes_gradient(A, B, k), np.array(dists))

    def _act_orthogonal(self, k: np.ndarray, B: np.ndarray) -> np.ndarray:
        out = np.zeros_like(B)
        for blk in self.top.blocks:
            out[blk.rows, blk.cols] = k[blk.rows, blk.rows] @ B[blk.rows, blk.cols] @ k[blk.cols, blk.cols].T
        return out

    def _procrustes_matrix(self, A, B, k, lv: _Level, known=None) -> np.ndarray:
        """``M_l``, using only neighbours in ``known`` (levels 0 and h are always known)."""
        M = np.zeros((lv.d, lv.d))
        h = self.top.depth
        for blk in self.top.blocks:
            if blk.a == lv.level and (known is None or blk.b in known or blk.b == h):
                M += A[blk.rows, blk.cols] @ k[blk.cols, blk.cols] @ B[blk.rows, blk.cols].T
            elif blk.b == lv.level and (known is None or blk.a in known or blk.a == 0):
                M += A[blk.rows, blk.cols].T @ k[blk.rows, blk.rows] @ B[blk.rows, blk.cols]
        return M

    @staticmethod
    def _best_block(M: np.ndarray, full: bool) -> np.ndarray:
        if full:
            U, _, Vt = np.linalg.svd(M)
            return U @ Vt
        return np.diag(np.where(np.diag(M) < 0, -1.0, 1.0))

    def _procrustes(self, A, B, start, rng, tol, max_sweeps) -> np.ndarray:
        k = np.eye(self.top.n)
        levels = self._levels
        if start in ("forward", "backward"):
            known = set()
            for lv in levels if start == "forward" else levels[::-1]:
                k[lv.sl, lv.sl] = self._best_block(self._procrustes_matrix(A, B, k, lv, known), lv.full)
                known.add(lv.level)
        else:
            k = sy.random_group_element(self.top, rng, "O")
        value = float(np.sum(A * self._act_orthogonal(k, B)))
        for _ in range(max_sweeps):
            for lv in levels + levels[-2::-1]:  # forward then backward
                k[lv.sl, lv.sl] = self._best_block(self._procrustes_matrix(A, B, k, lv), lv.full)
            new = float(np.sum(A * self._act_orthogonal(k, B)))
            if new - value <= tol:
                break
            value = new
        return k

    def _procrustes_gradient(self, A, B, k) -> float:
        total = 0.0
        for lv in self._levels:
            if lv.full:
                KM = k[lv.sl, lv.sl].T @ self._procrustes_matrix(A, B, k, lv)
                total += float(np.sum((KM - KM.T) ** 2))
        return float(np.sqrt(total))

    def quotient_distance(self, A, B, n_restarts: int = 8, seed=0) -> float:
        """``min_{k in K} ||A - k B k^T||_F``, the distance between the orbits of ``A`` and ``B``.

        Only for ``group="O"`` (see :meth:`align`, which this calls).

        Examples
        --------
        >>> import numpy as np
        >>> from geodln import layered
        >>> top = layered([2, 3, 3, 2])
        >>> bundle = NetworkBundle(top, "O")
        >>> A = top.adjacency(np.random.default_rng(0).standard_normal(top.n_params))
        >>> B = bundle.act(bundle.random_group_element(seed=1), A)
        >>> bool(bundle.quotient_distance(A, B) < 1e-10 < np.linalg.norm(A - B))
        True
        """
        return self.align(A, B, n_restarts=n_restarts, seed=seed).distance

    # ---------------------------------------------------------- balance
    def balance(self, A, rtol: float = 1e-10) -> Balanced:
        """Move ``A`` along its GL orbit to the balanced point ``C = 0`` (Kempf-Ness).

        The balanced point minimises ``||S A S^{-1}||_F`` over the group; it
        exists iff the orbit is closed, and is then unique up to ``K``: it is
        the canonical representative of ``A`` in the quotient. ``S`` is
        symmetric positive definite (pure stretching, no rotation), and always
        taken in the full group ``G`` (whatever ``group`` is).

        For a fully connected layered network the answer is in closed form:
        with ``W = U diag(s) V^T`` of rank ``r``, ``P_i = W_i ... W_1`` and
        ``N_i`` an orthonormal basis of ``ker W_{i+1}``,
        ``F_i = [P_i V_r diag(s_r^{-i/h}), N_i]`` and ``S_i = (F_i F_i^T)^{1/2}``
        (one refinement pass cleans up rounding). Otherwise a damped Newton
        iteration on the convex function ``X -> ||e^X A e^{-X}||^2`` over
        symmetric ``X`` (the Newton step is ``-xi / 2`` with ``[xi, A]`` the
        symmetric-vertical part of ``A``, a least-squares problem); there the
        verdict "not closed" is a heuristic (the stretch ``|X|`` accumulated
        before the residual vanished exceeds 15, or no convergence), whereas
        for fully connected chains it is exact (a rank test).

        Not closed (dangling partial paths, which the group can shrink toward
        zero; for a chain: some ``rank W_i > rank W``): no group element
        reaches the infimum. Then ``closed`` is False, ``S`` is None, the
        message says so, and ``A`` is the balanced point of the closed orbit
        in the closure, at the point of its K-orbit nearest to the input.

        Parameters
        ----------
        A : array-like, shape=[n, n]
        rtol : float
            Relative rank tolerance (singular values below ``rtol`` times the
            largest possible count as zero) and, for the iterative method, the
            target ``max |C| <= rtol ||A||^2``.

        Returns
        -------
        Balanced
            Unpacks as ``(A_balanced, S, closed)``.

        Examples
        --------
        >>> import numpy as np
        >>> from geodln import layered
        >>> top = layered([2, 2, 2, 2])
        >>> bundle = NetworkBundle(top)
        >>> A = top.adjacency(np.random.default_rng(0).standard_normal(top.n_params))
        >>> A_bal, S, closed = bundle.balance(A)
        >>> closed, bool(np.abs(bundle.moment_map(A_bal)).max() < 1e-10)
        (True, True)
        >>> bool(np.allclose(bundle.act(S, A), A_bal))
        True
        """
        A = self._check_point(A)
        if not self._levels:
            return Balanced(A.copy(), np.eye(self.top.n), True, 0.0, 0.0, float(np.linalg.norm(A)), "no hidden level: nothing to balance")
        if self.top.is_fully_connected:
            return self._balance_chain(A, rtol)
        return self._balance_newton(A, rtol)

    def _result(self, A0, A, S, closed, message) -> Balanced:
        return Balanced(A, S, closed, float(np.abs(self._moment(A)).max(initial=0.0)), float(np.linalg.norm(A0 - A)), float(np.linalg.norm(A)), message)

    def _chain_svds(self, A: np.ndarray):
        """Layer matrices, their SVDs and the SVD of ``W`` (one SVD per matrix, reused)."""
        theta = self.top.pack(A)
        Ws = self.top.layer_weights(theta)
        return Ws, [np.linalg.svd(Wi) for Wi in Ws], np.linalg.svd(self.top.end_to_end(theta))

    def _balance_chain(self, A0: np.ndarray, rtol: float) -> Balanced:
        top, h = self.top, self.top.depth
        Ws, svds, (U, s, Vt) = self._chain_svds(A0)
        norms = [sv[0] if sv.size else 0.0 for _, sv, _ in svds]
        r = int(np.sum(s > rtol * np.prod(norms))) if np.prod(norms) > 0 else 0
        ranks = [int(np.sum(sv > rtol * ni)) for (_, sv, _), ni in zip(svds, norms)]
        if all(rank == r for rank in ranks):
            S = self._chain_stretch(Ws, svds, s, Vt, r)
            A = self._act(S, A0)
            if np.abs(self._moment(A)).max(initial=0.0) > 1e-13 * max(np.sum(A * A), 1.0):
                # rounding from an ill-conditioned S: one more pass from the nearly balanced point, then
                # keep the SPD polar factor P = k^T S_2 S of the product (P . A0 = k^T A k, still balanced)
                Ws2, svds2, (_, s2, Vt2) = self._chain_svds(A)
                S2 = self._chain_stretch(Ws2, svds2, s2, Vt2, r)
                A, S = self._act(S2, A), S2 @ S
                k = np.eye(top.n)
                for lv in self._levels:
                    U_, sig, Vt_ = np.linalg.svd(S[lv.sl, lv.sl])
                    k[lv.sl, lv.sl] = U_ @ Vt_
                    S[lv.sl, lv.sl] = (Vt_.T * sig) @ Vt_
                A = self._act_orthogonal(k.T, A)
            return self._result(A0, A, S, True, "closed orbit: balanced by S (symmetric positive definite)")
        # not closed: the closed orbit in the closure is the balanced chain over W
        sr = s[:r] ** (1.0 / h)
        frames = [Vt[:r].T] + [np.eye(top.widths[i])[:, :r] for i in range(1, h)] + [U[:, :r]]
        B = top.adjacency(top.from_layer_weights([(frames[i] * sr) @ frames[i - 1].T for i in range(1, h + 1)]))
        bundle_o = self if self.group == "O" else NetworkBundle(top, "O")
        A = bundle_o.align(A0, B).aligned
        bad = [i + 1 for i, rank in enumerate(ranks) if rank != r]
        message = (
            f"orbit not closed: rank W = {r} but rank W_i > {r} for i in {bad} (dangling partial paths, "
            "which the group shrinks toward zero); no group element balances A. Returned: the balanced "
            "point of the closed orbit in its closure, nearest to A"
        )
        return self._result(A0, A, None, False, message)

    def _chain_stretch(self, Ws, svds, s, Vt, r: int) -> np.ndarray:
        """``S`` with ``S . A`` balanced, for a closed orbit of a fully connected chain of rank ``r``.

        ``F_i = [P_i V_r diag(s_r^{-i/h}), N_i]`` maps the balanced frame to
        ``A``'s (image of the partial product, then ``ker W_{i+1}``), and
        ``S_i = (F_i F_i^T)^{1/2}`` is the SPD factor of the map to a balanced point.
        """
        top, h = self.top, self.top.depth
        P = Vt[:r].T
        S = np.eye(top.n)
        for i in range(1, h):
            P = Ws[i - 1] @ P
            F = np.hstack([P * s[:r] ** (-i / h), svds[i][2][r:].T])
            lam, E = np.linalg.eigh(F @ F.T)
            block = (E * np.sqrt(lam)) @ E.T
            S[top.level_slices[i], top.level_slices[i]] = 0.5 * (block + block.T)
        return S

    def _balance_newton(self, A0: np.ndarray, rtol: float, max_iter: int = 200, max_log_stretch: float = 30.0) -> Balanced:
        """Damped Newton on ``phi(X) = 1/2 ||e^X A e^{-X}||^2`` over symmetric ``X`` in ``g``.

        At ``X = 0`` the gradient is ``-C`` and the Hessian ``2 L_p^T L_p``
        (``L_p`` the bracket on symmetric matrices), so the Newton step is
        ``Y = -1/2 L_p^+ a``: minus half the symmetric-vertical component of
        ``A`` itself. On a closed orbit it converges quadratically, the steps
        shrinking with the residual. On a non-closed orbit the infimum is at
        infinity: ``C -> 0`` while the steps stay of order 1 and the stretch
        ``sum |Y|`` grows without bound; either sign ends the iteration.
        """
        top = self.top
        A, S = A0.copy(), np.eye(top.n)
        # quadratic convergence: aim at the rounding level, not at rtol
        target = max(1e-14, rtol * 1e-4) * max(float(np.sum(A0 * A0)), 1e-300)
        stretch = 0.0
        gl = self if self.group == "GL" else NetworkBundle(top, "GL")
        for _ in range(max_iter):
            C = self._moment(A)
            theta = top.pack(A)
            Y = -0.5 * sy.solve_vertical(top, theta, theta, part="sym").xi
            step = float(np.linalg.norm(Y, 2))
            if np.abs(C).max(initial=0.0) <= target:
                if step <= 1e-6 and stretch <= 0.5 * max_log_stretch:
                    return self._result(A0, A, S, True, "closed orbit: balanced by S (symmetric positive definite)")
                break  # negligible gradient yet an O(1) Newton step: the minimum is at infinity
            if step > 1.0:  # trust region: at most a factor e per step and level
                Y, step = Y / step, 1.0
            slope = -float(np.sum(C * Y))  # d/dt phi(tY) at 0, negative
            norm2, t = float(np.sum(A * A)), 1.0
            # Armijo backtracking, unless the predicted decrease is below the rounding of ||A||^2
            while t > 1e-12 and -slope > 1e-15 * norm2:
                E = gl.exp(t * Y)
                A_new = self._act(E, A)
                if 0.5 * np.sum(A_new * A_new) <= 0.5 * norm2 + 1e-4 * t * slope:
                    break
                t *= 0.5
            if -slope <= 1e-15 * norm2:
                E = gl.exp(Y)
                A_new = self._act(E, A)
            A, S = A_new, E @ S
            stretch += t * step
            if stretch > max_log_stretch:
                break
        else:
            stretch = max(stretch, max_log_stretch)  # no convergence in max_iter steps: treat as not closed
        message = (
            "orbit not closed (by the heuristic of the iterative method: the norm decreases toward its "
            f"infimum while the stretch exp(X) grows, |X| = {stretch:.3g}); no group element balances A. "
            "Returned: the last iterate, close to the balanced limit in the orbit closure"
        )
        return self._result(A0, A * (np.abs(A) > 1e-12 * np.abs(A).max(initial=0.0)), None, False, message)

    # ------------------------------------------------- conserved level sets
    def to_conserved_level(self, A, C0, tol: float = 1e-12, max_iter: int = 50) -> np.ndarray:
        """Move ``A`` along its GL orbit (symmetric directions) onto the level set ``{C = C0}``.

        Newton's method on ``C(e^Y A e^{-Y}) = C0`` over symmetric ``Y``: the
        differential of ``C`` along ``[Y, A]`` is ``-2 L^T L Y`` with ``L`` the
        bracket, solved by least squares. The loss (a function of ``W``) is
        unchanged, and the normal space of the level set at the result is
        exactly the symmetric part of the vertical space.

        Parameters
        ----------
        A : array-like, shape=[n, n]
        C0 : array-like, shape=[n, n]
            The target value of :meth:`moment_map`.

        Returns
        -------
        ndarray, shape=[n, n]

        Raises
        ------
        ValueError
            If Newton's method does not reach the level set (the orbit does
            not meet it, or ``A`` starts too far from it).
        """
        A = self._check_point(A)
        C0 = np.asarray(C0, dtype=float)
        if C0.shape != A.shape:
            raise ValueError(f"C0 has shape {C0.shape}; expected {A.shape}")
        if not np.all(np.isfinite(C0)) or not np.allclose(C0, C0.T, rtol=0, atol=1e-12 * max(1.0, np.abs(C0).max())):
            raise ValueError("C0 must be a finite symmetric matrix (a value of the moment map)")
        if np.any(C0[self._mask == 0] != 0):
            raise ValueError("C0 has entries outside the Lie algebra's pattern: no point of the orbit can reach it")
        sym = sy.part_basis(self.top, "sym")
        J, K = self._JK
        gl = self if self.group == "GL" else NetworkBundle(self.top, "GL")
        scale = max(float(np.sum(A * A)), np.abs(C0).max(initial=0.0), 1e-300)
        for _ in range(max_iter):
            gap = self._moment(A) - C0
            if np.abs(gap).max(initial=0.0) <= tol * scale:
                return A
            Lp = sy.vertical_matrix(self.top, self.top.pack(A)) @ sym
            y = np.linalg.lstsq(Lp.T @ Lp, sym.T @ gap[J, K] / 2.0, rcond=1e-12)[0]
            Y = np.zeros_like(A)
            Y[J, K] = sym @ y
            A = self._act(gl.exp(Y), A)
        raise ValueError(
            f"could not reach the level set C = C0 along the orbit of A in {max_iter} Newton steps "
            f"(max |C - C0| = {np.abs(self._moment(A) - C0).max():.3g}); start closer to it"
        )

    def sample_conserved_level(self, A0, n_samples: int = 10, scale: float = 0.1, seed=None) -> np.ndarray:
        """Random points of the level set ``{C = C(A0)}`` of the conserved quantities.

        Each sample is ``A0`` plus Gaussian noise of size ``scale ||A0|| /
        sqrt(n_params)`` per weight, moved back onto the level set along its
        own GL orbit by :meth:`to_conserved_level`.

        Returns
        -------
        ndarray, shape=[n_samples, n, n]
        """
        A0 = self._check_point(A0)
        rng = np.random.default_rng(seed)
        C0 = self._moment(A0)
        step = scale * max(np.linalg.norm(A0), 1.0) / np.sqrt(self.top.n_params)
        return np.array([
            self.to_conserved_level(A0 + step * self.top.adjacency(rng.standard_normal(self.top.n_params)), C0)
            for _ in range(int(n_samples))
        ])


# ------------------------------------------------------------- geomstats side


class HiddenLayerAction(GroupAction):
    """The action ``(S, theta) -> pack(S A S^{-1})`` on packed weights (geomstats interface).

    Parameters
    ----------
    bundle : NetworkBundle

    Attributes
    ----------
    group_elem_shape : tuple
        ``(n, n)``: group elements are block-diagonal adjacency-size matrices.
    """

    def __init__(self, bundle: NetworkBundle):
        self._bundle = bundle
        self.group_elem_shape = (bundle.top.n, bundle.top.n)

    def __call__(self, group_elem, point):
        """Act on one packed point or a batch.

        Parameters
        ----------
        group_elem : array-like, shape=[..., n, n]
        point : array-like, shape=[..., n_params]

        Returns
        -------
        ndarray, shape=[..., n_params]
        """
        b, top = self._bundle, self._bundle.top
        S, x = np.asarray(group_elem, dtype=float), np.asarray(point, dtype=float)
        if S.ndim == 2 and x.ndim == 1:
            return top.pack(b.act(S, top.adjacency(x)))
        shape = np.broadcast_shapes(S.shape[:-2], x.shape[:-1])
        S = np.broadcast_to(S, shape + S.shape[-2:]).reshape((-1,) + S.shape[-2:])
        x = np.broadcast_to(x, shape + x.shape[-1:]).reshape(-1, x.shape[-1])
        return np.array([self(Sk, xk) for Sk, xk in zip(S, x)]).reshape(shape + (top.n_params,))


class HiddenLayerFiberBundle(FiberBundle):
    """geomstats ``FiberBundle`` over the packed weights ``R^{n_params}``.

    Points and tangent vectors are packed vectors (shape ``[..., n_params]``),
    so ``is_vertical``/``is_horizontal`` are overridden (geomstats' versions
    reduce over the last two axes, assuming matrices). The base is identified
    with a local horizontal section (geomstats' default ``lift`` and
    ``riemannian_submersion`` are the identity), so the quotient metric's
    inner product is the Frobenius product of horizontal projections.

    Parameters
    ----------
    total_space : geomstats Euclidean
    bundle : NetworkBundle
    aligner : AlignerAlgorithm or None
        :class:`ProcrustesAligner` for the orthogonal group.
    """

    def __init__(self, total_space, bundle: NetworkBundle, aligner=None):
        super().__init__(total_space, aligner=aligner)
        self._bundle = bundle

    def _batched(self, func, tangent_vec, base_point):
        v, x = np.asarray(tangent_vec, dtype=float), np.asarray(base_point, dtype=float)
        if v.ndim == 1 and x.ndim == 1:
            return func(v, x)
        shape = np.broadcast_shapes(v.shape[:-1], x.shape[:-1])
        v = np.broadcast_to(v, shape + v.shape[-1:]).reshape(-1, v.shape[-1])
        x = np.broadcast_to(x, shape + x.shape[-1:]).reshape(-1, x.shape[-1])
        return np.array([func(vk, xk) for vk, xk in zip(v, x)]).reshape(shape + (v.shape[-1],))

    def vertical_projection(self, tangent_vec, base_point):
        """Vertical component, shape=[..., n_params]."""
        return self._batched(lambda v, x: self._bundle._vertical_packed(x, v), tangent_vec, base_point)

    def horizontal_projection(self, tangent_vec, base_point):
        """Horizontal component, shape=[..., n_params]."""
        return np.asarray(tangent_vec, dtype=float) - self.vertical_projection(tangent_vec, base_point)

    def is_vertical(self, tangent_vec, base_point, atol=1e-10):
        """Whether every entry of the horizontal component is within ``atol`` of 0, shape=[...]."""
        return np.all(np.abs(self.horizontal_projection(tangent_vec, base_point)) <= atol, axis=-1)

    def is_horizontal(self, tangent_vec, base_point, atol=1e-10):
        """Whether every entry of the vertical component is within ``atol`` of 0, shape=[...]."""
        return np.all(np.abs(self.vertical_projection(tangent_vec, base_point)) <= atol, axis=-1)


class ProcrustesAligner(AlignerAlgorithm):
    """geomstats aligner for packed points: :meth:`NetworkBundle.align` with a fixed seed.

    Parameters
    ----------
    total_space : geomstats Euclidean
    bundle : NetworkBundle
        With ``group="O"``.
    n_restarts : int
    seed : int
    """

    def __init__(self, total_space, bundle: NetworkBundle, n_restarts: int = 8, seed: int = 0):
        super().__init__(total_space)
        self._bundle, self.n_restarts, self.seed = bundle, n_restarts, seed

    def align(self, point, base_point):
        """``point`` moved along its orbit to the point nearest ``base_point``, shape=[..., n_params]."""
        b, top = self._bundle, self._bundle.top
        p, q = np.asarray(point, dtype=float), np.asarray(base_point, dtype=float)
        if p.ndim == 1 and q.ndim == 1:
            res = b.align(top.adjacency(q), top.adjacency(p), n_restarts=self.n_restarts, seed=self.seed)
            return top.pack(res.aligned)
        shape = np.broadcast_shapes(p.shape[:-1], q.shape[:-1])
        p = np.broadcast_to(p, shape + p.shape[-1:]).reshape(-1, p.shape[-1])
        q = np.broadcast_to(q, shape + q.shape[-1:]).reshape(-1, q.shape[-1])
        return np.array([self.align(pk, qk) for pk, qk in zip(p, q)]).reshape(shape + (p.shape[-1],))
