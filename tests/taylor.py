"""Derivative checks by slope (as pymanopt's diagnostics): the remainder of a Taylor
expansion of order k must fall like eps^(k+1) over a range of step sizes."""

import numpy as np

EPS = np.logspace(-4, -1.5, 11)  # eleven step sizes, all on the linear piece of a unit direction


def remainder_slope(remainder, eps=EPS) -> float:
    """Least-squares slope of ``log |remainder(eps)|`` against ``log eps``.

    Parameters
    ----------
    remainder : callable
        ``eps -> f(x + eps v) - (Taylor polynomial of f at x)(eps v)``.
    eps : ndarray
        Step sizes.
    """
    rem = np.abs([remainder(e) for e in eps])
    assert np.all(rem > 0), "a remainder vanished exactly: the direction or the point is degenerate"
    return float(np.polyfit(np.log(eps), np.log(rem), 1)[0])
