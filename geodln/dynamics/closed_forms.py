"""Closed forms of the flow on special starts: aligned modes and balanced chains.

Two scalar motions carry every closed form of the package (Saxe, McClelland,
Ganguli 2014; the design notes' path picture):

- a mode of an aligned (balanced, spectral) start, of end-to-end strength
  ``u``, obeys ``du/dt = h u^(2-2/h) (s - u)``: :func:`saxe_logistic` (``h = 2``),
  :func:`aligned_mode_curve` (any depth), :func:`half_learning_time`;
- a balanced chain of ``m`` links of size ``w`` closing a path for a mode of
  singular value ``s`` obeys ``dw/dt = w^(m-1) (s - w^m)``, so near the saddle
  ``dw/dt ~ s w^(m-1)``: :func:`chain_time_scale` (``m >= 3``) and
  :func:`scalar_escape_time` (the escape of a scalar network of depth ``h``,
  a chain of ``m = h`` links, until the loss has halved).

Every function is independent of any ODE solver (the tests compare them with
the network's flow).
"""

from __future__ import annotations

import numpy as np

__all__ = ["saxe_logistic", "aligned_mode_curve", "half_learning_time", "chain_time_scale", "scalar_escape_time"]


def saxe_logistic(s: float, u0: float, t):
    """The strength ``u(t)`` of one mode of an aligned depth-2 start: the logistic curve.

    For whitened data each mode of an :func:`geodln.init.aligned` start of depth ``h = 2``
    obeys ``du/dt = 2 u (s - u)`` (Saxe et al. 2014), solved by

        u(t) = s e^{2st} / (e^{2st} - 1 + s/u0) = s / (1 + (s/u0 - 1) e^{-2st}),

    evaluated in the second form, which does not overflow for large ``t``.

    Parameters
    ----------
    s : float
        The mode's singular value, > 0.
    u0 : float
        Initial strength ``u(0)``, > 0 (above ``s`` the curve falls to ``s``).
    t : float or array-like, shape=[...]
        Times.

    Returns
    -------
    u : ndarray, shape=[...] (the shape of ``t``)

    Examples
    --------
    >>> float(saxe_logistic(2.0, 0.01, 0.0)), float(saxe_logistic(2.0, 0.01, 50.0))
    (0.01, 2.0)
    """
    s, u0 = float(s), float(u0)
    if not (s > 0 and u0 > 0):
        raise ValueError(f"need s > 0 and u0 > 0, got s = {s}, u0 = {u0}")
    t = np.asarray(t, dtype=float)
    return s / (1.0 + (s / u0 - 1.0) * np.exp(-2.0 * s * t))


def aligned_mode_curve(s: float, u0: float, depth: int, n: int = 300, top: float = 0.9995):
    """The closed-form strength of one mode of an aligned (balanced, spectral) start.

    ``du/dt = h u^(2-2/h) (s - u)`` (Saxe et al. 2014) is solved for the time
    as a function of the strength: with ``u = x^h``,

        t(u) = int_{u0^(1/h)}^{u^(1/h)} dx / (x^(h-1) (s - x^h)),

    which is ``log(u (s - u0) / (u0 (s - u))) / (2 s)`` for ``h = 2`` (the
    inverse of :func:`saxe_logistic`) and a quadrature otherwise (independent
    of any ODE solver).

    Parameters
    ----------
    s : float
        The mode's singular value, > 0.
    u0 : float
        Initial strength, ``0 < u0 < s``.
    depth : int
        ``h >= 1``.
    n : int
        Number of points of the curve.
    top : float
        The curve stops at ``u = top * s``.

    Returns
    -------
    t, u : ndarray, shape=[n] each

    Examples
    --------
    >>> t, u = aligned_mode_curve(2.0, 0.01, 2, n=5)
    >>> bool(np.allclose(saxe_logistic(2.0, 0.01, t), u, rtol=1e-12))
    True
    """
    if not 0 < u0 < s:
        raise ValueError(f"need 0 < u0 < s, got u0 = {u0}, s = {s}")
    h = int(depth)
    u = u0 + (top * s - u0) * (1 - np.cos(np.linspace(0, np.pi, n))) / 2
    u = np.concatenate([[u0], np.geomspace(u0, top * s, n)[1:]]) if u0 < 1e-2 * s else u
    if h == 2:
        return np.log(u * (s - u0) / (u0 * (s - u))) / (2 * s), u
    x = u ** (1.0 / h)
    from scipy.integrate import quad  # on first use, keeping `import geodln` fast

    pieces = [quad(lambda y: 1.0 / (y ** (h - 1) * (s - y**h)), a, b, epsabs=0, epsrel=1e-12)[0]
              for a, b in zip(x[:-1], x[1:])]
    return np.concatenate([[0.0], np.cumsum(pieces)]), u


def half_learning_time(s: float, u0: float, depth: int) -> float:
    """The time an aligned mode takes from strength ``u0`` to ``s / 2``.

    ``du/dt = h u^(2 - 2/h) (s - u)`` (Saxe et al. 2014); for ``h = 2`` it is
    ``log((s - u0) / u0) / (2 s)``, for ``h >= 3`` about
    ``u0^(2/h - 1) / ((h - 2) s)`` when ``u0 << s``.

    Parameters
    ----------
    s : float
        The mode's singular value, > 0.
    u0 : float
        Initial end-to-end strength, ``0 < u0 < s / 2``.
    depth : int
        Number of layers ``h >= 1``.

    Returns
    -------
    float

    Examples
    --------
    >>> import math
    >>> round(half_learning_time(2.0, 0.01, 2), 6) == round(math.log(199) / 4, 6)
    True
    """
    return float(aligned_mode_curve(s, u0, depth, top=0.5)[0][-1])


def chain_time_scale(w0, m: int, s: float):
    """The time a balanced chain of ``m >= 3`` links takes to leave a saddle from link size ``w0``.

    Near the saddle ``dw/dt = s w^(m-1)``, which blows up at
    ``t* = w0^(2-m) / ((m - 2) s)``: the chain's escape (with ``+``) or its
    return (the opposite orientation, ``dw/dt = -s w^(m-1)``, halves ``w`` in
    a time of that order) is set by ``t*``, hence ``~ eps^(2-m)``.

    Parameters
    ----------
    w0 : float or array-like, shape=[...]
        Initial size of each link, > 0.
    m : int
        Number of links (the escape order), ``m >= 3``.
    s : float
        The mode's singular value, > 0.

    Returns
    -------
    float or ndarray, shape=[...]

    Examples
    --------
    >>> chain_time_scale(0.1, 3, 2.0)
    5.0
    """
    return w0 ** (2 - m) / ((m - 2) * s)


def scalar_escape_time(depth: int, s: float, eps):
    """Leading-order escape time of the scalar network of depth ``h`` from ``eps`` along its balanced direction.

    Every weight starts at ``x0 = eps / sqrt(h)`` and follows
    ``dx/dt = x^(h-1) (s - x^h)`` until the loss halves, at ``x^h = s (1 - 1/sqrt 2)``.
    Strict (``h = 2``, unstable eigenvalue ``s``): the logistic solution,
    ``t = log((s/x0^2 - 1) / (s/p* - 1)) / (2 s)``, i.e. ``log(1/eps)/s + c``.
    Nonstrict (``h >= 3``): the time is dominated by the start,
    :func:`chain_time_scale` ``(x0, h, s)``, i.e. ``~ eps^(2-h)``.

    Parameters
    ----------
    depth : int
        ``h >= 2``.
    s : float
        The data's singular value, > 0.
    eps : float or array-like, shape=[...]
        Distance of the start from the saddle (the origin).

    Returns
    -------
    ndarray, shape=[...]
    """
    h = depth
    x0 = np.asarray(eps, dtype=float) / np.sqrt(h)
    if h == 2:
        p_star = s * (1 - 1 / np.sqrt(2))
        return np.log((s / x0**2 - 1) / (s / p_star - 1)) / (2 * s)
    return chain_time_scale(x0, h, s)
