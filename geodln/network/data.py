"""Training data and its second-order statistics.

Inputs ``X`` (d_0 x N) and targets ``Y`` (d_h x N) enter the quadratic loss
only through ``Sxx = X X^T``, ``Syx = Y X^T`` and ``Syy = Y Y^T``:

    L(W) = 1/2 ||Y - W X||_F^2 = 1/2 tr(Syy) - tr(W^T Syx) + 1/2 tr(W Sxx W^T).

Its minimum over all W is ``L_* = 1/2 (tr Syy - tr(Syx Sxx^{-1} Syx^T))``.
The modes of the data are the singular triples of ``M = Syx Sxx^{-1/2}``
(``= Syx`` for whitened data, ``Sxx = I``): the critical end-to-end maps learn
a subset J of them and have loss ``L_J = L_* + 1/2 sum_{k not in J} s_k^2``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Data"]


class Data:
    """A data set ``(X, Y)`` with its statistics and the SVD of its modes.

    Parameters
    ----------
    X : array-like, shape=[d_in, N]
        Inputs, one sample per column.
    Y : array-like, shape=[d_out, N]
        Targets, one sample per column.

    Attributes
    ----------
    Sxx : ndarray, shape=[d_in, d_in]
        ``X X^T``, positive definite.
    Syx : ndarray, shape=[d_out, d_in]
        ``Y X^T``.
    Syy : ndarray, shape=[d_out, d_out]
        ``Y Y^T``.
    U : ndarray, shape=[d_out, m]
        Left singular vectors ``u_k`` of the modes ``M = Syx Sxx^{-1/2}``.
    s : ndarray, shape=[m]
        Singular values ``s_1 >= ... >= s_m`` of ``M``, ``m = min(d_in, d_out)``.
    V : ndarray, shape=[d_in, m]
        Right singular vectors ``v_k`` of ``M``.
    loss_floor : float
        ``L_*``, the smallest loss any linear map reaches.
    W_ls : ndarray, shape=[d_out, d_in]
        The least-squares map ``Syx Sxx^{-1}`` that reaches it.

    Raises
    ------
    ValueError
        If X or Y is not a finite 2-D array, their sample counts differ, or
        ``Sxx`` is singular (fewer than d_in independent samples).

    Examples
    --------
    >>> import numpy as np
    >>> data = Data(np.eye(2), np.array([[3.0, 0.0], [0.0, 1.0]]))
    >>> data.s, data.loss_floor
    (array([3., 1.]), 0.0)
    """

    def __init__(self, X, Y):
        X, Y = _finite_matrix(X, "X"), _finite_matrix(Y, "Y")
        if X.shape[1] != Y.shape[1]:
            raise ValueError(f"X has {X.shape[1]} samples (columns) but Y has {Y.shape[1]}" + _layout_hint(X, Y))
        self.X, self.Y = X, Y
        self.Sxx, self.Syx, self.Syy = X @ X.T, Y @ X.T, Y @ Y.T
        evals, evecs = np.linalg.eigh(self.Sxx)
        if evals[0] <= 1e-12 * max(evals[-1], np.finfo(float).tiny):
            rank = int(np.sum(evals > 1e-12 * evals[-1])) if evals[-1] > 0 else 0
            raise ValueError(
                f"Sxx = X X^T is singular (rank {rank} < d_in = {X.shape[0]}): the inputs need "
                f"{X.shape[0]} linearly independent samples" + _layout_hint(X, Y)
            )
        self.whitened = bool(np.allclose(self.Sxx, np.eye(len(evals)), rtol=0, atol=1e-12))
        self._inv_sqrt = (evecs / np.sqrt(evals)) @ evecs.T  # Sxx^{-1/2}
        modes = self.Syx if self.whitened else self.Syx @ self._inv_sqrt
        U, s, Vt = np.linalg.svd(modes, full_matrices=False)
        self.U, self.s, self.V = U, s, Vt.T
        self.loss_floor = float(max(0.5 * (np.trace(self.Syy) - np.sum(s**2)), 0.0))
        self.W_ls = np.linalg.solve(self.Sxx, self.Syx.T).T  # least-squares map Syx Sxx^{-1}

    @property
    def d_in(self) -> int:
        return self.X.shape[0]

    @property
    def d_out(self) -> int:
        return self.Y.shape[0]

    @property
    def n_samples(self) -> int:
        return self.X.shape[1]

    @property
    def Sxx_sqrt(self) -> np.ndarray:
        """``Sxx^{1/2}``, shape=[d_in, d_in]: ``W Sxx^{1/2}`` has singular values ``s_k`` at ``W = W_J``."""
        return self.Sxx @ self._inv_sqrt

    @property
    def input_modes(self) -> np.ndarray:
        """``Sxx^{1/2} V``, shape=[d_in, m]: the input side of each mode.

        ``W_J`` maps ``Sxx^{1/2} v_k`` to ``s_k u_k`` for ``k`` in ``J``; a network
        that does not carry mode ``k`` sends this vector to zero (``v_k`` itself
        for whitened data).
        """
        return self.V if self.whitened else self.Sxx_sqrt @ self.V

    @property
    def rank(self) -> int:
        """Number of nonzero modes (singular values above ``1e-12 s_1``): the ones that can be learnt."""
        return int(np.sum(self.s > 1e-12 * self.s[0])) if self.s.size and self.s[0] > 0 else 0

    def __repr__(self) -> str:
        return f"Data(d_in={self.d_in}, d_out={self.d_out}, N={self.n_samples}, s={np.round(self.s, 6).tolist()})"

    def check_fits(self, top) -> None:
        """Raise ``ValueError`` unless the network ``top`` maps ``d_in`` inputs to ``d_out`` outputs."""
        if (top.widths[0], top.widths[-1]) != (self.d_in, self.d_out):
            raise ValueError(
                f"the network maps {top.widths[0]} inputs to {top.widths[-1]} outputs, "
                f"but the data have d_in = {self.d_in} and d_out = {self.d_out}"
            )

    def critical_value(self, learned) -> float:
        """``L_J = L_* + 1/2 sum_{k not in J} s_k^2`` for a set J of learnt modes.

        Parameters
        ----------
        learned : iterable of int
            1-based indices of the learnt modes.
        """
        learned = set(int(k) for k in learned)
        bad = [k for k in learned if not 1 <= k <= len(self.s)]
        if bad:
            raise ValueError(f"mode {bad[0]} does not exist: modes are numbered 1..{len(self.s)}")
        rest = [self.s[k - 1] ** 2 for k in range(1, len(self.s) + 1) if k not in learned]
        return self.loss_floor + 0.5 * float(np.sum(rest))

    def critical_map(self, learned) -> np.ndarray:
        """The end-to-end map ``W_J`` that learns the modes ``J``, shape=[d_out, d_in].

        ``W_J = sum_{k in J} s_k u_k v_k^T Sxx^{-1/2}`` (no last factor for
        whitened data); its loss is :meth:`critical_value`.
        """
        idx = [k - 1 for k in learned]
        W = (self.U[:, idx] * self.s[idx]) @ self.V[:, idx].T
        return W if self.whitened else W @ self._inv_sqrt

    def global_min_value(self, max_rank: int) -> float:
        """Smallest loss of an end-to-end map of rank at most ``max_rank`` (the top modes learnt)."""
        return self.critical_value(range(1, min(max_rank, len(self.s)) + 1))

    @classmethod
    def from_moments(cls, Sxx, Syx, Syy) -> "Data":
        """Data with exactly the given second moments: all the loss and its flow depend on.

        With ``Z`` the symmetric square root of the joint moment matrix
        ``[[Sxx, Syx^T], [Syx, Syy]]`` (positive semidefinite), ``X`` is its
        first ``d_in`` rows and ``Y`` the rest (``d_in + d_out`` samples), so
        ``X X^T = Sxx``, ``Y X^T = Syx`` and ``Y Y^T = Syy`` up to rounding.

        Parameters
        ----------
        Sxx : array-like, shape=[d_in, d_in]
        Syx : array-like, shape=[d_out, d_in]
        Syy : array-like, shape=[d_out, d_out]

        Raises
        ------
        ValueError
            If the shapes do not fit together or the joint matrix is not
            positive semidefinite (no data set has these moments).

        Examples
        --------
        >>> data = Data.from_moments(np.diag([4.0, 1.0]), np.array([[2.0, 0.0]]), np.array([[2.0]]))
        >>> bool(np.allclose(data.Syx, [[2.0, 0.0]])), round(data.loss_floor, 12)
        (True, 0.5)
        """
        Sxx, Syx, Syy = (_finite_matrix(M, name) for M, name in ((Sxx, "Sxx"), (Syx, "Syx"), (Syy, "Syy")))
        d_in, d_out = Sxx.shape[0], Syy.shape[0]
        if Sxx.shape != (d_in, d_in) or Syy.shape != (d_out, d_out) or Syx.shape != (d_out, d_in):
            raise ValueError(f"moments of shapes Sxx {Sxx.shape}, Syx {Syx.shape}, Syy {Syy.shape} do not fit "
                             "together: need (d_in, d_in), (d_out, d_in), (d_out, d_out)")
        joint = np.block([[Sxx, Syx.T], [Syx, Syy]])
        joint = 0.5 * (joint + joint.T)
        evals, evecs = np.linalg.eigh(joint)
        if evals[0] < -1e-10 * max(abs(evals[-1]), 1.0):
            raise ValueError(f"the moments are not those of any data set: [[Sxx, Syx^T], [Syx, Syy]] has the "
                             f"negative eigenvalue {evals[0]:.3g}")
        Z = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
        return cls(Z[:d_in], Z[d_in:])

    @classmethod
    def from_spectrum(cls, singular_values, d_in: int, d_out: int, seed=None) -> "Data":
        """Whitened data whose ``Syx`` has exactly the given singular values.

        ``X`` is a random orthogonal ``d_in x d_in`` matrix (so ``Sxx = I``)
        and ``Y = Syx X`` with ``Syx = U diag(s) V^T`` for random orthonormal
        ``U, V``; hence ``L_* = 0`` and every critical value is
        ``1/2 sum_{k not in J} s_k^2``.

        Parameters
        ----------
        singular_values : sequence of float
            ``s_1 >= ... >= s_m > 0`` with ``m <= min(d_in, d_out)``.
        d_in, d_out : int
            Input and output dimensions.
        seed : int or numpy.random.Generator, optional

        Examples
        --------
        >>> data = Data.from_spectrum([3, 2, 1], d_in=3, d_out=4, seed=0)
        >>> np.allclose(data.s[:3], [3, 2, 1]), round(data.critical_value([1]), 12)
        (True, 2.5)
        """
        s = np.asarray(singular_values, dtype=float)
        if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
            raise ValueError(f"singular_values must be a nonempty 1-D sequence of finite numbers, got {s.tolist()}")
        if np.any(s <= 0) or np.any(np.diff(s) > 0):
            raise ValueError(f"singular_values must be positive and sorted in decreasing order, got {s.tolist()}")
        for name, d in (("d_in", d_in), ("d_out", d_out)):
            if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 1:
                raise ValueError(f"{name} must be a positive integer, got {d!r}")
        if s.size > min(d_in, d_out):
            raise ValueError(
                f"{s.size} singular values given, but Syx is {d_out} x {d_in} (d_out x d_in) "
                f"and has at most {min(d_in, d_out)}"
            )
        rng = np.random.default_rng(seed)
        U = random_orthogonal(d_out, rng)[:, : s.size]
        V = random_orthogonal(d_in, rng)[:, : s.size]
        X = random_orthogonal(d_in, rng)
        return cls(X, (U * s) @ V.T @ X)


def _layout_hint(X, Y) -> str:
    """Advice when the arrays look like ``(N, d)``, the layout of ML frameworks, and their transposes would fit."""
    if X.shape[0] == Y.shape[0] and X.shape[0] != X.shape[1] and np.linalg.matrix_rank(X.T) == X.shape[1]:
        return (f". X {X.shape} and Y {Y.shape} look like (N, d) arrays, samples as rows (the layout of PyTorch, "
                f"flax and scikit-learn); geodln takes X (d_in, N) and Y (d_out, N), samples as columns: "
                "pass X.T and Y.T")
    return ""


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random orthogonal ``d x d`` matrix (QR with sign fix)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def _finite_matrix(M, name: str) -> np.ndarray:
    try:
        M = np.array(M, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric 2-D array: {err}") from None
    if M.ndim != 2 or 0 in M.shape:
        raise ValueError(f"{name} must be a nonempty 2-D array (features x samples), got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(M))[0])
        raise ValueError(f"{name} contains NaN or inf, first at {name}[{bad[0]}, {bad[1]}]")
    return M
