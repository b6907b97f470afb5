"""Initialisations: starting weights with a guaranteed structure.

Every function returns a packed weight vector ``theta`` (float64, shape
``[top.n_params]``, see :class:`geodln.network.topology.Topology`) and takes ``seed``
(an int, a ``numpy.random.Generator`` or None) for its random choices.

Notation as in the design notes: layer maps ``W_i`` of shape
``(d_i, d_{i-1})``, ``i = 1..h``, end-to-end map ``W = W_h ... W_1``, balance
matrices ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` (``i = 1..h-1``, conserved by
the flow of a fully connected layered network), ``r_max = min_i d_i``.

- :func:`small`: iid Gaussian weights, any topology.
- :func:`orthogonal`: every ``W_i`` a scaled (semi-)orthogonal matrix.
- :func:`balanced`: ``C_i = 0`` (0-balanced) with a chosen end-to-end map.
- :func:`delta_balanced`: ``max_i ||C_i||_F = delta`` exactly (Arora, Cohen,
  Golowich, Hu 2019).
- :func:`aligned`: spectral start sharing the singular vectors of the data,
  balanced across layers (Saxe, McClelland, Ganguli 2014).
- :func:`decoupled`: the same frames with free per-layer scalars.

The last three are built by one construction, a chain of orthonormal frames
``F_0, ..., F_h`` (``F_i`` of shape ``(d_i, r)``, ``F_i^T F_i = I_r``) with
per-layer diagonal scalings ``w_i`` in ``R^r``:

    W_i = F_i diag(w_i) F_{i-1}^T,   so   W = F_h diag(w_1 * ... * w_h) F_0^T

and ``C_i = F_i diag(w_i^2 - w_{i+1}^2) F_i^T``: the chain is balanced iff
``|w_i| = |w_{i+1}|`` for every hidden layer.

The closed forms of an aligned start's mode strengths (Saxe, McClelland,
Ganguli 2014), :func:`saxe_logistic` (depth 2) and :func:`aligned_mode_curve`
(any depth), live in :mod:`geodln.dynamics.closed_forms` and are named here
too (``geodln.init.aligned_mode_curve``).
"""

from __future__ import annotations

import numpy as np

from .. import symmetry
from ..network.data import Data, random_orthogonal
from ..network.topology import Topology
from .closed_forms import aligned_mode_curve, saxe_logistic  # public here too: geodln.init.aligned_mode_curve

__all__ = [
    "small",
    "orthogonal",
    "balanced",
    "delta_balanced",
    "aligned",
    "decoupled",
    "by_name",
    "saxe_logistic",
    "aligned_mode_curve",
]


# ---------------------------------------------------------------- checks
def _check_scale(scale) -> float:
    scale = float(scale)
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    return scale


def _require_layers(top, name: str) -> None:
    """Raise unless ``top`` is a fully connected layered network (dense W_i)."""
    if not isinstance(top, Topology):
        raise TypeError(f"top must be a Topology, got {type(top).__name__}")
    if top.is_fully_connected:
        return
    why = "has skip connections" if not top.is_layered else "is a sparse layered network (masked W_i)"
    raise ValueError(
        f"the {name} initialisation needs a fully connected layered network with dense layer "
        f"matrices W_i, but {top!r} {why}; use small(top, ...) for a general topology"
    )


def _check_data(top: Topology, data) -> None:
    if not isinstance(data, Data):
        raise TypeError(f"data must be a Data, got {type(data).__name__}")
    data.check_fits(top)


def _check_modes(top: Topology, n_modes: int, what: str) -> None:
    r_max = min(top.widths)
    if n_modes > r_max:
        raise ValueError(
            f"{what} sets {n_modes} modes, but the network's narrowest layer has width "
            f"r_max = min(widths) = {r_max}, so its end-to-end map has rank at most {r_max}; "
            f"give at most {r_max} modes"
        )


def _finite_array(x, name: str, ndim: int) -> np.ndarray:
    try:
        x = np.array(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric {ndim}-D array: {err}") from None
    if x.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x


# ----------------------------------------------------------- frame chain
def _chain(top: Topology, left: np.ndarray, right: np.ndarray, scalars: np.ndarray, rng) -> np.ndarray:
    """``theta`` of ``W_i = F_i diag(scalars[i-1]) F_{i-1}^T`` with random hidden frames.

    Parameters
    ----------
    top : Topology
        Fully connected layered, ``r <= min(widths)``.
    left : ndarray, shape=[d_h, r]
        Output frame ``F_h`` (orthonormal columns).
    right : ndarray, shape=[d_0, r]
        Input frame ``F_0`` (orthonormal columns).
    scalars : ndarray, shape=[h, r]
        Row ``i-1`` is the diagonal ``w_i`` of layer ``i``.
    rng : numpy.random.Generator
        Draws the hidden frames ``F_i``, the first ``r`` columns of Haar
        orthogonal ``d_i x d_i`` matrices.
    """
    r = scalars.shape[1]
    hidden = [random_orthogonal(d, rng)[:, :r] for d in top.widths[1:-1]]
    frames = [right, *hidden, left]
    return top.from_layer_weights([(frames[i] * scalars[i - 1]) @ frames[i - 1].T for i in range(1, top.depth + 1)])


def _max_imbalance(top: Topology, theta: np.ndarray) -> float:
    """``max_i ||C_i||_F`` over the hidden layers (0 for depth 1)."""
    return max((np.linalg.norm(C) for C in symmetry.layer_balances(top, theta)), default=0.0)


# -------------------------------------------------------- initialisations
def small(top: Topology, scale: float = 1e-2, seed=None) -> np.ndarray:
    """Independent Gaussian weights ``theta_e ~ N(0, scale^2)`` on every edge.

    Works for every topology (sparse layers, skip connections, any DAG): the
    weights are drawn directly in packed form.

    Parameters
    ----------
    top : Topology
        The network.
    scale : float, >= 0
        Standard deviation of each weight (0 gives the origin, a critical point).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    theta : ndarray, shape=[n_params]

    Examples
    --------
    >>> from geodln import skip_connections
    >>> small(skip_connections([2, 3, 2]), scale=0.1, seed=0).shape
    (16,)
    """
    if not isinstance(top, Topology):
        raise TypeError(f"top must be a Topology, got {type(top).__name__}")
    return _check_scale(scale) * np.random.default_rng(seed).standard_normal(top.n_params)


def orthogonal(top: Topology, scale: float = 1.0, seed=None) -> np.ndarray:
    """Every layer a scaled random (semi-)orthogonal matrix.

    ``W_i = scale * O_i`` with ``O_i`` a block of a Haar orthogonal
    ``max(d_i, d_{i-1})``-square matrix, so ``W_i W_i^T = scale^2 I_{d_i}``
    when ``d_i <= d_{i-1}`` and ``W_i^T W_i = scale^2 I_{d_{i-1}}`` otherwise.

    Parameters
    ----------
    top : Topology
        A fully connected layered network.
    scale : float, >= 0
        The common singular value of every ``W_i``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    theta : ndarray, shape=[n_params]

    Raises
    ------
    ValueError
        If ``top`` is not fully connected layered, or ``scale < 0``.

    Examples
    --------
    >>> from geodln import layered
    >>> top = layered([3, 2, 4])
    >>> W1, W2 = top.layer_weights(orthogonal(top, scale=2.0, seed=0))
    >>> np.allclose(W1 @ W1.T, 4 * np.eye(2)), np.allclose(W2.T @ W2, 4 * np.eye(2))
    (True, True)
    """
    _require_layers(top, "orthogonal")
    scale, rng = _check_scale(scale), np.random.default_rng(seed)
    pairs = zip(top.widths[1:], top.widths[:-1])
    return top.from_layer_weights([scale * random_orthogonal(max(d, e), rng)[:d, :e] for d, e in pairs])


def balanced(top: Topology, scale: float = 1.0, seed=None, end_to_end=None) -> np.ndarray:
    """A 0-balanced network, ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1} = 0``, with a chosen end-to-end map.

    With the SVD ``M = U S V^T`` of the target end-to-end map truncated to its
    top ``r = min(widths)`` singular triples and random orthonormal frames
    ``Q_i`` of shape ``(d_i, r)`` for the hidden layers,

        W_1 = Q_1 S^{1/h} V^T,  W_i = Q_i S^{1/h} Q_{i-1}^T,  W_h = U S^{1/h} Q_{h-1}^T,

    so ``C_i = Q_i (S^{2/h} - S^{2/h}) Q_i^T = 0`` (to rounding) and
    ``W_h ... W_1 = U S V^T``, the best rank-``r`` approximation of ``M``
    (``M`` itself when its rank is at most ``r``).

    Parameters
    ----------
    top : Topology
        A fully connected layered network of depth ``h``.
    scale : float, >= 0
        Standard deviation of the entries of the random Gaussian target
        ``M``; unused when ``end_to_end`` is given.
    seed : int or numpy.random.Generator, optional
    end_to_end : array-like, shape=[d_h, d_0], optional
        The target map ``M``; default ``scale`` times a standard Gaussian matrix.

    Returns
    -------
    theta : ndarray, shape=[n_params]

    Raises
    ------
    ValueError
        If ``top`` is not fully connected layered, ``scale < 0``, or
        ``end_to_end`` has the wrong shape or non-finite entries.

    Examples
    --------
    >>> from geodln import layered
    >>> top = layered([2, 3, 3, 2])
    >>> M = np.array([[2.0, 1.0], [0.0, 1.0]])
    >>> W1, W2, W3 = top.layer_weights(balanced(top, seed=0, end_to_end=M))
    >>> C1, C2 = W1 @ W1.T - W2.T @ W2, W2 @ W2.T - W3.T @ W3
    >>> bool(np.allclose(W3 @ W2 @ W1, M)), float(max(np.abs(C1).max(), np.abs(C2).max())) < 1e-12
    (True, True)
    """
    _require_layers(top, "balanced")
    scale, rng = _check_scale(scale), np.random.default_rng(seed)
    shape = (top.widths[-1], top.widths[0])
    if end_to_end is None:
        M = scale * rng.standard_normal(shape)
    else:
        M = _finite_array(end_to_end, "end_to_end", 2)
        if M.shape != shape:
            raise ValueError(f"end_to_end has shape {M.shape}; the network's end-to-end map is d_h x d_0 = {shape}")
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    r = min(top.widths)
    roots = np.tile(s[:r] ** (1.0 / top.depth), (top.depth, 1))
    return _chain(top, U[:, :r], Vt[:r].T, roots, rng)


_MAX_DELTA = 1e100  # weights ~ sqrt(delta): 1e50, far from overflow even in products of several layers


def delta_balanced(top: Topology, delta: float, scale: float = 1.0, seed=None) -> np.ndarray:
    """A delta-balanced network: ``max_i ||C_i||_F = delta`` exactly.

    Arora, Cohen, Golowich and Hu (2019) call weights delta-balanced when
    ``||W_{i+1}^T W_{i+1} - W_i W_i^T||_F <= delta`` for every hidden layer
    ``i``; this start sits on the boundary, ``max_i ||C_i||_F = delta``.
    Construction: a 0-balanced start ``theta_0`` (:func:`balanced` with
    ``scale``) plus ``eps * xi`` along a standard Gaussian direction ``xi``,
    with ``eps > 0`` a root of ``max_i ||C_i(theta_0 + eps xi)||_F = delta``
    found by ``scipy.optimize.brentq`` (each ``C_i`` is quadratic in ``eps``,
    so the imbalance grows without bound and a bracket exists).

    Parameters
    ----------
    top : Topology
        A fully connected layered network (depth >= 2 when ``delta > 0``).
    delta : float, >= 0
        The target imbalance; ``0`` returns the 0-balanced start itself.
    scale : float, >= 0
        Scale of the 0-balanced start (see :func:`balanced`).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    theta : ndarray, shape=[n_params]
        ``max_i ||C_i||_F = delta`` to relative ``1e-10``.

    Raises
    ------
    ValueError
        If ``top`` is not fully connected layered, ``delta < 0``, ``delta > 0``
        for a depth-1 network (no hidden layer, no ``C_i``), ``scale < 0``,
        ``delta > 1e100`` (the weights would overflow), or ``delta`` is so
        small that rounding in ``C_i`` (about ``1e-16 ||W_i||^2``) prevents
        hitting it to relative ``1e-10``.

    Examples
    --------
    >>> from geodln import layered
    >>> top = layered([2, 3, 3, 2])
    >>> W1, W2, W3 = top.layer_weights(delta_balanced(top, 0.25, seed=0))
    >>> C1, C2 = W1 @ W1.T - W2.T @ W2, W2 @ W2.T - W3.T @ W3
    >>> round(float(max(np.linalg.norm(C1), np.linalg.norm(C2))), 12)
    0.25
    """
    _require_layers(top, "delta_balanced")
    delta = float(delta)
    if not (np.isfinite(delta) and delta >= 0):
        raise ValueError(f"delta must be a finite number >= 0, got {delta!r}")
    if delta > _MAX_DELTA:
        raise ValueError(f"delta = {delta:g} is too large: the weights grow like sqrt(delta), and the balance "
                         f"matrices and products of layers overflow float64; use delta <= {_MAX_DELTA:g}")
    rng = np.random.default_rng(seed)
    theta0 = balanced(top, scale, rng)
    if delta == 0:
        return theta0
    if top.depth < 2:
        raise ValueError(
            f"a depth-1 network has no hidden layer and no balance matrices C_i, so delta = {delta!r} "
            "is impossible; use delta = 0"
        )
    xi = rng.standard_normal(top.n_params)
    floor = _max_imbalance(top, theta0)  # rounding of the 0-balanced start, ~1e-16 ||W_i||^2

    def excess(eps):
        return _max_imbalance(top, theta0 + eps * xi) - delta

    theta = theta0
    if floor < delta:
        hi = 1.0
        while excess(hi) <= 0:  # each C_i is quadratic in eps with a nonzero eps^2 term: this ends
            hi *= 2.0
        from scipy.optimize import brentq  # on first use, keeping `import geodln` fast

        eps = brentq(excess, 0.0, hi, xtol=np.finfo(float).tiny, rtol=4 * np.finfo(float).eps, maxiter=2000)
        theta = theta0 + eps * xi
    if not abs(_max_imbalance(top, theta) - delta) <= 1e-10 * delta:
        raise ValueError(
            f"delta = {delta:g} is too close to the rounding level of the balance matrices of this start "
            f"(the 0-balanced start already has max ||C_i||_F = {floor:.3g}) to be hit to relative 1e-10; "
            "choose a larger delta or a smaller scale"
        )
    return theta


def aligned(top: Topology, data: Data, strengths, seed=None) -> np.ndarray:
    """Spectral (aligned) start: the network shares the singular vectors of the data, balanced.

    With the data's modes ``u_k, v_k`` (columns of ``data.U``, ``data.V``),
    ``a = strengths`` (``m' = len(a)`` modes) and random orthonormal frames
    ``Q_i`` of shape ``(d_i, m')``,

        W_1 = Q_1 diag(a^{1/h}) V_m'^T,  W_i = Q_i diag(a^{1/h}) Q_{i-1}^T,
        W_h = U_m' diag(a^{1/h}) Q_{h-1}^T,

    so ``W = U_m' diag(a) V_m'^T`` (mode ``k`` has end-to-end strength ``a_k``,
    modes past ``m'`` have 0) and every layer carries ``a_k^{1/h}`` (``C_i = 0``).
    For whitened data the flow keeps this form, and each mode strength
    ``u_k(t) = u_k^T W(t) v_k`` obeys the scalar ODE (Saxe et al. 2014)

        du/dt = h u^{2 - 2/h} (s_k - u),

    for ``h = 2`` the logistic ``u(t) = s e^{2st} / (e^{2st} - 1 + s/u_0)``
    (:func:`saxe_logistic`; any depth: :func:`aligned_mode_curve`).

    Parameters
    ----------
    top : Topology
        A fully connected layered network of depth ``h`` with ``d_0 = data.d_in``
        and ``d_h = data.d_out``.
    data : Data
        The data; only its modes ``U, V`` are used.
    strengths : array-like, shape=[m']
        End-to-end strengths ``a_k >= 0`` of the first ``m' <= min(widths)`` modes.
    seed : int or numpy.random.Generator, optional
        Draws the hidden frames.

    Returns
    -------
    theta : ndarray, shape=[n_params]

    Raises
    ------
    ValueError
        If ``top`` is not fully connected layered, does not match the data,
        ``strengths`` is not 1-D and finite, has a negative entry, or has more
        than ``min(widths)`` entries.

    Examples
    --------
    >>> from geodln import layered, Data
    >>> data = Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    >>> top = layered([2, 3, 3, 2])
    >>> W = top.end_to_end(aligned(top, data, [0.5, 0.1], seed=1))
    >>> np.round(data.U.T @ W @ data.V, 12) + 0.0
    array([[0.5, 0. ],
           [0. , 0.1]])
    """
    _require_layers(top, "aligned")
    _check_data(top, data)
    a = _finite_array(strengths, "strengths", 1)
    if np.any(a < 0):
        raise ValueError(
            f"strengths must be >= 0 (a balanced layer carries a_k^(1/h)), got {a.tolist()}; "
            "use decoupled(...) for signed layer scalars"
        )
    _check_modes(top, a.size, "strengths")
    return decoupled(top, data, np.tile(a ** (1.0 / top.depth), (top.depth, 1)), seed)  # equal layer scalars


def decoupled(top: Topology, data: Data, layer_strengths, seed=None) -> np.ndarray:
    """Decoupled start: the aligned frames with free (signed, unbalanced) layer scalars.

    With ``w = layer_strengths`` of shape ``(h, m')``, the data's modes and
    random orthonormal hidden frames ``F_i`` (``F_0 = V_m'``, ``F_h = U_m'``),

        W_i = F_i diag(w_{i1}, ..., w_{im'}) F_{i-1}^T.

    For whitened data the flow keeps this form and the modes do not couple:
    mode ``k``'s scalars ``w_{1k}(t), ..., w_{hk}(t)`` (``w_{ik} = F_{i,k}^T W_i F_{i-1,k}``)
    follow the scalar network ODE

        dw_i/dt = (prod_{j != i} w_j) (s_k - prod_j w_j),

    with ``u_k^T W v_k = prod_i w_{ik}`` and ``w_i^2 - w_{i+1}^2`` conserved.

    Parameters
    ----------
    top : Topology
        A fully connected layered network of depth ``h`` matching the data.
    data : Data
        The data; only its modes ``U, V`` are used.
    layer_strengths : array-like, shape=[h, m']
        ``layer_strengths[i-1, k]`` is layer ``i``'s scalar on mode ``k``
        (any sign), ``m' <= min(widths)``.
    seed : int or numpy.random.Generator, optional
        Draws the hidden frames.

    Returns
    -------
    theta : ndarray, shape=[n_params]

    Raises
    ------
    ValueError
        If ``top`` is not fully connected layered, does not match the data,
        ``layer_strengths`` is not a finite ``(h, m')`` array, or
        ``m' > min(widths)``.

    Examples
    --------
    >>> from geodln import layered, Data
    >>> data = Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    >>> top = layered([2, 4, 2])
    >>> W = top.end_to_end(decoupled(top, data, [[2.0, -1.0], [0.25, 0.5]], seed=1))
    >>> np.round(data.U.T @ W @ data.V, 12) + 0.0
    array([[ 0.5,  0. ],
           [ 0. , -0.5]])
    """
    _require_layers(top, "decoupled")
    _check_data(top, data)
    w = _finite_array(layer_strengths, "layer_strengths", 2)
    if w.shape[0] != top.depth:
        raise ValueError(
            f"layer_strengths has shape {w.shape}; it needs one row per layer, shape (h, m') = ({top.depth}, m')"
        )
    _check_modes(top, w.shape[1], "layer_strengths")
    return _chain(top, data.U[:, : w.shape[1]], data.V[:, : w.shape[1]], w, np.random.default_rng(seed))


_BY_NAME = {f.__name__: f for f in (small, orthogonal, balanced, delta_balanced, aligned, decoupled)}


def by_name(name: str):
    """The initialisation function called ``name`` (for command lines and configs).

    Parameters
    ----------
    name : {"small", "orthogonal", "balanced", "delta_balanced", "aligned", "decoupled"}

    Returns
    -------
    callable

    Raises
    ------
    ValueError
        For an unknown name; the message lists the choices.

    Examples
    --------
    >>> by_name("balanced") is balanced
    True
    """
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown initialisation {name!r}; choose one of {', '.join(_BY_NAME)}") from None
