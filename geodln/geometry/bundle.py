"""The fiber bundle of a network under its hidden-layer group: :class:`NetworkBundle`.

The group ``G`` (``GL(d_i)`` per fully connected hidden level, node rescalings
on the others) or its orthogonal subgroup ``K`` acts by
``S . A = S A S^{-1}``; the fiber through ``A`` is its orbit
``{exp(Xi) A exp(-Xi) ...}``, the vertical space ``{[Xi, A] : Xi in g}`` its
tangent space, the horizontal space the Frobenius complement, and
``dim orbit = rank (Xi -> [Xi, A])``. The action, the bracket, the rank rule
and the moment map come from :mod:`geodln.symmetry`, the Lie groups and their
exp/log per level from geomstats; alignment and balancing are thin methods
over :mod:`.alignment` and :mod:`.balance`.
"""

from __future__ import annotations

import numpy as np
from geomstats.geometry.general_linear import GeneralLinear
from geomstats.geometry.product_manifold import ProductManifold
from geomstats.geometry.special_orthogonal import SpecialOrthogonal

from .. import symmetry as sy
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from ..network.topology import Topology
from . import alignment, balance
from .adapters import geomstats_spaces
from .alignment import Alignment
from .balance import Balanced

__all__ = ["NetworkBundle"]

_GROUPS = ("GL", "O")
_METHODS = ("auto", "dense", "lsqr")


class NetworkBundle:
    """The fiber bundle of a network under its hidden-layer group, in adjacency form.

    Every method takes ``(n, n)`` adjacency matrices in the NetworkX
    convention of :class:`~geodln.network.topology.Topology` (``A[j, k]`` is the weight
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
    tolerances : Tolerances
        ``dense_limit`` switches the vertical projection from a dense SVD to LSQR.

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

    def __init__(self, top: Topology, group: str = "GL", tolerances: Tolerances = DEFAULT_TOLERANCES):
        if not isinstance(top, Topology):
            raise TypeError(f"top must be a Topology, got {type(top).__name__}")
        if group not in _GROUPS:
            raise ValueError(f"group must be 'GL' or 'O', got {group!r}")
        self.top, self.group, self.tolerances = top, group, tolerances
        self._mask = sy.algebra_mask(top)
        self._part = "all" if group == "GL" else "skew"
        self._basis = sy.part_basis(top, self._part)  # (dim g, dim) in mask coordinates
        self.dim = int(self._basis.shape[1])
        # (level, slice) of the levels with a continuous factor: all of them for GL; for O the O(d) levels
        # with d > 1 (the orthogonal group of a node-rescaling level is a finite group of sign flips)
        self._factor_levels = [(lv.level, lv.sl) for lv in sy.hidden_levels(top)
                               if group == "GL" or (lv.full and lv.sl.stop - lv.sl.start > 1)]
        factor = GeneralLinear if group == "GL" else SpecialOrthogonal
        factors = [factor(sl.stop - sl.start) for _, sl in self._factor_levels]
        self.lie_groups = ProductManifold(factors) if factors else None
        self.total_space, self.fiber_bundle, self.quotient = geomstats_spaces(self)

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
        Xi = sy.check_algebra_element(self.top, Xi)
        if self.group == "O" and np.abs(Xi + Xi.T).max(initial=0.0) > 1e-12 * max(np.abs(Xi).max(initial=0.0), 1e-300):
            raise ValueError("Xi is not skew-symmetric: the Lie algebra of the orthogonal group is skew; use group='GL'")
        return Xi

    def _check_group_element(self, S) -> np.ndarray:
        return sy.check_group_element(self.top, S, orthogonal=self.group == "O")

    # ------------------------------------------------------------ group
    def _factors(self):
        return [] if self.lie_groups is None else self.lie_groups.factors

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
        for (_, sl), factor in zip(self._factor_levels, self._factors()):
            S[sl, sl] = factor.exp(Xi[sl, sl])
        return S

    def log(self, S) -> np.ndarray:
        """The principal logarithm ``Xi`` of a group element near the identity, shape=[n, n].

        Uses geomstats' group logarithm per level; ``exp(log(S)) = S`` for
        ``S`` in the image of the exponential (e.g. no negative eigenvalues).

        Parameters
        ----------
        S : array-like, shape=[n, n]
        """
        S = self._check_group_element(S)
        Xi = np.zeros_like(S)
        for (level, sl), factor in zip(self._factor_levels, self._factors()):
            if np.linalg.det(S[sl, sl]) < 0:
                raise ValueError(f"S has no real logarithm on hidden level {level}: its block has "
                                 "determinant < 0 (not in the identity component of the group)")
            block = np.real_if_close(factor.log(S[sl, sl]), tol=1e6)
            if np.iscomplexobj(block):
                raise ValueError(f"S has no real logarithm on hidden level {level} (a negative eigenvalue)")
            Xi[sl, sl] = block
        return Xi * self._mask

    def random_algebra_element(self, seed=None, scale: float = 1.0) -> np.ndarray:
        """A random ``Xi`` in the Lie algebra, shape=[n, n].

        Gaussian entries of standard deviation ``scale / sqrt(d_i)`` on each
        hidden level (for ``"O"`` the skew part of such a matrix).

        Parameters
        ----------
        seed : int or numpy.random.Generator, optional
        scale : float
        """
        rng = np.random.default_rng(seed)
        Xi = np.zeros((self.top.n, self.top.n))
        for sl in self.top.level_slices[1:-1]:
            d = sl.stop - sl.start
            Xi[sl, sl] = rng.standard_normal((d, d)) * scale / np.sqrt(d)
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

        Parameters
        ----------
        S : array-like, shape=[n, n]
            A group element.
        A : array-like, shape=[n, n]

        Raises
        ------
        ValueError
            If ``S`` is not in the group (wrong pattern, singular block, not
            orthogonal for ``"O"``) or ``A`` is not a point of the topology.
        """
        S, A = self._check_group_element(S), self._check_point(A)
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
        return sy.act(self.top, self.exp(Xi), A)

    def sample_fiber(self, A, n_samples: int = 10, seed=None, scale: float = 1.0) -> np.ndarray:
        """Random points ``S_k . A`` of the fiber through ``A``, shape=[n_samples, n, n].

        Parameters
        ----------
        A : array-like, shape=[n, n]
        n_samples : int
        seed : int or numpy.random.Generator, optional
        scale : float
            As in :meth:`random_group_element`.
        """
        A = self._check_point(A)
        rng = np.random.default_rng(seed)
        return np.array([sy.act(self.top, self.random_group_element(rng, scale), A) for _ in range(int(n_samples))])

    # ------------------------------------------------- vertical / horizontal
    def _bracket_matrix(self, A: np.ndarray) -> np.ndarray:
        """``Xi -> pack([Xi, A])`` on an orthonormal basis of the group's algebra, shape=[n_params, dim]."""
        return sy.vertical_matrix(self.top, self.top.pack(A)) @ self._basis

    def vertical_space(self, A) -> np.ndarray:
        """An orthonormal basis of the vertical space ``{[Xi, A] : Xi in the algebra}``.

        Parameters
        ----------
        A : array-like, shape=[n, n]

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
        if method not in _METHODS:
            raise ValueError(f"method must be 'auto', 'dense' or 'lsqr', got {method!r}")
        if self.dim == 0:
            return np.zeros_like(V)
        if method == "auto":
            # above this many entries of the dense bracket matrix (n_params x dim G), project with LSQR
            method = "dense" if self.top.n_params * self.dim <= self.tolerances.dense_limit else "lsqr"
        v = self.top.pack(V)
        if method == "dense":
            Q = sy.range_basis(self._bracket_matrix(A))
            return self.top.adjacency(Q @ (Q.T @ v))
        return self.top.adjacency(sy.solve_vertical(self.top, self.top.pack(A), v, part=self._part).vertical)

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
        out-weights). It is the moment map of the orthogonal action
        (:func:`geodln.symmetry.moment_map`, :mod:`geodln.geometry.balance`)
        and is conserved by the gradient flow of any loss.

        Examples
        --------
        >>> import numpy as np
        >>> from geodln import layered
        >>> top = layered([1, 1, 1])
        >>> NetworkBundle(top).moment_map(top.adjacency([3.0, 2.0]))[1, 1]  # w1^2 - w2^2
        np.float64(5.0)
        """
        A = self._check_point(A)
        return sy.moment_map(self.top, self.top.pack(A))

    # ------------------------------------------------------------ align
    def _require_orthogonal(self) -> None:
        if self.group != "O":
            raise ValueError(
                "alignment needs an invariant metric, and the Frobenius metric is invariant under the "
                "orthogonal group only: use NetworkBundle(top, 'O')"
            )

    def align(self, A, B, n_restarts: int = 8, seed=0, tol: float = 1e-14, max_sweeps: int = 2000) -> Alignment:
        """Move ``B`` along its orbit under ``K`` to the point nearest to ``A`` (block Procrustes).

        Maximises ``<A, k B k^T>`` over ``k`` in ``K`` by block coordinate
        ascent with closed-form SVD steps, from two greedy sweeps and
        ``n_restarts`` random starts (:func:`geodln.geometry.alignment.align`).

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
        self._require_orthogonal()
        A, B = self._check_point(A), self._check_point(B, "B")
        return alignment.align(self.top, A, B, n_restarts, seed, tol, max_sweeps)

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
        for fully connected chains it is exact (a rank test). See
        :mod:`geodln.geometry.balance`.

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
        return balance.balance(self.top, self._check_point(A), rtol)

    # ------------------------------------------------- conserved level sets
    def to_conserved_level(self, A, C0, tol: float = 1e-12, max_iter: int = 50) -> np.ndarray:
        """Move ``A`` along its GL orbit (symmetric directions) onto the level set ``{C = C0}``.

        Newton's method on ``C(e^Y A e^{-Y}) = C0`` over symmetric ``Y``
        (:func:`geodln.geometry.balance.to_conserved_level`). The loss (a
        function of ``W``) is unchanged, and the normal space of the level set
        at the result is exactly the symmetric part of the vertical space.

        Parameters
        ----------
        A : array-like, shape=[n, n]
        C0 : array-like, shape=[n, n]
            The target value of :meth:`moment_map`.
        tol : float
            Stop at ``max |C - C0| <= tol max(||A||^2, max |C0|)``.
        max_iter : int

        Returns
        -------
        ndarray, shape=[n, n]

        Raises
        ------
        ValueError
            If Newton's method does not reach the level set (the orbit does
            not meet it, or ``A`` starts too far from it).
        """
        return balance.to_conserved_level(self.top, self._check_point(A), C0, tol, max_iter)

    def sample_conserved_level(self, A0, n_samples: int = 10, scale: float = 0.1, seed=None) -> np.ndarray:
        """Random points of the level set ``{C = C(A0)}`` of the conserved quantities.

        Each sample is ``A0`` plus Gaussian noise of size ``scale ||A0|| /
        sqrt(n_params)`` per weight, moved back onto the level set along its
        own GL orbit by :meth:`to_conserved_level`.

        Parameters
        ----------
        A0 : array-like, shape=[n, n]
        n_samples : int
        scale : float
        seed : int or numpy.random.Generator, optional

        Returns
        -------
        ndarray, shape=[n_samples, n, n]
        """
        return balance.sample_conserved_level(self.top, self._check_point(A0), n_samples, scale, seed)
