"""Counting strata of critical points without listing them.

:func:`count_strata` gives the number of strata that
:func:`geodln.strata.enumerate_strata` would list, per learnt set ``J`` and
per class, by dynamic programming over the loads of the hidden layers.

Method
------
Fix ``r = |J|`` and the free capacity ``c_i = d_i - r`` of each hidden layer
``1 <= i <= h - 1`` (layers ``0`` and ``h`` never bind: ``d_0 - r`` is exactly
the ``m - r`` mode labels plus the ``d_0 - m`` null labels, likewise at
``h``). Every non-complete piece covers a contiguous run of hidden layers, so
a multiset of pieces is admissible iff its *load vector* ``x`` (pieces
covering each hidden layer) satisfies ``x <= c``. The DP state is that load
vector, an array of shape ``(c_1 + 1, ..., c_{h-1} + 1)`` holding how many
partial multisets reach each load:

* internal pieces ``[a, b]``: unbounded multiplicity;
* null input pieces ``[0, b]`` (and null outputs ``[a, h]``): at most
  ``d_0 - m`` (``d_h - m``) in all, tracked by one extra counter axis;
* each of the ``m - r`` unlearnt modes ``k`` (labelled, so processed one after
  the other) picks its reach ``(b_k, a_k)`` with ``a_k - b_k >= 2``: an input
  piece ``[0, b_k]`` if ``b_k > 0`` and an output piece ``[a_k, h]`` if ``a_k < h``.

The count depends on ``J`` only through ``r``. For the class, only top sets
with ``r < min(r_max, m)`` need more: such a stratum is nonstrict iff it is
tightened (:meth:`Stratum.tightened`). Since widening a split ``(i, j)`` only
removes pieces spanning it, mode ``k`` has a valid split iff ``a_k - b_k >= 3``
and no non-complete piece contains its *gap* ``[b_k + 1, a_k - 1]``. The
tightened count therefore adds the set ``S`` of reaches used by the modes to
the state (modes restricted to ``a_k - b_k >= 3``) and, per ``S``, allows only
the pieces that contain no gap of ``S``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from math import prod
from numbers import Integral

import numpy as np

from .landscape import KINDS, classify
from .topology import check_widths

__all__ = ["StrataCount", "count_strata"]

MAX_STATES = 2_000_000  # hidden-layer load vectors held at once (object arrays of Python ints)


@dataclass(frozen=True)
class StrataCount:
    """How many strata of critical points a layered network has.

    Attributes
    ----------
    total : int
        All strata, over every learnt set.
    by_kind : dict
        ``"global_minimum"``, ``"strict_saddle"``, ``"nonstrict_saddle"`` -> int.
    by_learned : dict
        ``J`` (sorted tuple of 1-based modes) -> int, for every
        ``|J| <= min(min(widths), m)``, in the enumerator's order.
    """

    total: int
    by_kind: dict = field(default_factory=dict)
    by_learned: dict = field(default_factory=dict)


def _shift(f: np.ndarray, step) -> np.ndarray:
    """``g[x] = f[x - step]`` (zero where ``x - step`` leaves the array): loads past capacity are dropped."""
    g = np.zeros_like(f)
    dst = tuple(slice(s, None) for s in step)
    src = tuple(slice(0, n - s) if s < n else slice(0, 0) for s, n in zip(step, f.shape))
    g[dst] = f[src]
    return g


def _cover(lo: int, hi: int, h: int) -> tuple:
    """Indicator over hidden layers ``1..h-1`` of the run ``lo..hi`` (clipped)."""
    return tuple(int(lo <= i <= hi) for i in range(1, h))


def _add_unbounded(f: np.ndarray, step) -> np.ndarray:
    """Any number (0, 1, 2, ...) of copies of a piece of the given cover."""
    out, g = f.copy(), f
    while True:
        g = _shift(g, step)
        if not any(g.flat):
            return out
        out = out + g


def _add_limited(f: np.ndarray, steps, limit: int) -> np.ndarray:
    """A multiset of pieces of the given covers, at most ``limit`` of them in all."""
    if limit <= 0 or not steps:
        return f
    g = np.zeros((limit + 1,) + f.shape, dtype=object)
    g[0] = f
    for step in steps:
        g = _add_unbounded(g, (1,) + tuple(step))
    return g.sum(axis=0)


@dataclass(frozen=True)
class _Layout:
    widths: tuple
    n_modes: int
    r: int

    @property
    def h(self) -> int:
        return len(self.widths) - 1

    @property
    def shape(self) -> tuple:
        return tuple(w - self.r + 1 for w in self.widths[1:-1])

    def reaches(self, slack: int) -> list:
        """``(b, a)`` with ``a - b >= slack``, ``0 <= b``, ``a <= h``."""
        h = self.h
        return [(b, a) for b in range(h) for a in range(1, h + 1) if a - b >= slack]

    def reach_cover(self, reach) -> tuple:
        b, a = reach
        return tuple(x + y for x, y in zip(_cover(1, b, self.h), _cover(a, self.h - 1, self.h)))

    def others(self, gaps=()) -> np.ndarray:
        """Load distribution of the unlabelled pieces (null inputs, null outputs,
        internal) that contain none of the ``gaps``."""
        h, d0, dh, m = self.h, self.widths[0], self.widths[-1], self.n_modes

        def ok(lo, hi):
            return not any(lo <= g0 and hi >= g1 for g0, g1 in gaps)

        f = np.zeros(self.shape, dtype=object)
        f[(0,) * (h - 1)] = 1
        for a in range(1, h):
            for b in range(a + 1, h):
                if ok(a, b):
                    f = _add_unbounded(f, _cover(a, b, h))
        f = _add_limited(f, [_cover(1, b, h) for b in range(1, h) if ok(0, b)], d0 - m)
        f = _add_limited(f, [_cover(a, h - 1, h) for a in range(1, h) if ok(a, h)], dh - m)
        return f

    def combine(self, modes: np.ndarray, others: np.ndarray) -> int:
        """``sum over x + y <= c of modes[x] * others[y]``."""
        cum = others
        for axis in range(cum.ndim):
            cum = np.cumsum(cum, axis=axis)
        return int((modes * cum[(slice(None, None, -1),) * cum.ndim]).sum())

    def count(self) -> int:
        """Strata for one learnt set of size ``r``."""
        f = np.zeros(self.shape, dtype=object)
        f[(0,) * (self.h - 1)] = 1
        steps = [self.reach_cover(q) for q in self.reaches(2)]
        for _ in range(self.n_modes - self.r):
            f = sum(_shift(f, s) for s in steps)
        return self.combine(f, self.others())

    def count_tightened(self) -> int:
        """Tightened strata for one learnt set of size ``r``."""
        h, reaches = self.h, self.reaches(3)
        start = np.zeros(self.shape, dtype=object)
        start[(0,) * (h - 1)] = 1
        states = {frozenset(): start}
        for _ in range(self.n_modes - self.r):
            new = {}
            for used, f in states.items():
                for q in reaches:
                    key, g = used | {q}, _shift(f, self.reach_cover(q))
                    new[key] = new[key] + g if key in new else g
            states = new
        total, cache = 0, {}
        for used, f in states.items():
            gaps = tuple(sorted((b + 1, a - 1) for b, a in used))
            # a mode's own pieces must not contain another mode's gap
            if any((b > 0 and b >= g1) or (a < h and a <= g0) for b, a in used for g0, g1 in gaps):
                continue
            if gaps not in cache:
                cache[gaps] = self.others(gaps)
            total += self.combine(f, cache[gaps])
        return total


def count_strata(widths, n_modes: int) -> StrataCount:
    """Count the strata of critical points of a layered network, without listing them.

    Agrees with :func:`geodln.strata.enumerate_strata` (same learnt sets, same
    strata) and with :func:`geodln.landscape.stratum_kind` per class, but runs
    a dynamic programme over the hidden-layer loads (see the module docstring),
    so 10,10,10,10 with 10 modes takes well under a second.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_h)``.
    n_modes : int
        Number ``m`` of distinct nonzero data singular values, ``m <= min(d_0, d_h)``.

    Returns
    -------
    StrataCount

    Examples
    --------
    >>> c = count_strata([2, 2, 2, 2], 2)
    >>> c.total, c.by_kind, c.by_learned[()]
    (26, {'global_minimum': 1, 'strict_saddle': 23, 'nonstrict_saddle': 2}, 17)
    >>> count_strata([10, 10, 10, 10], 10).total
    5367676
    """
    widths = check_widths(widths)
    if isinstance(n_modes, bool) or not isinstance(n_modes, Integral) or n_modes < 0:
        raise ValueError(f"n_modes must be a non-negative integer, got {n_modes!r}")
    widths, n_modes = tuple(int(w) for w in widths), int(n_modes)
    h, r_max = len(widths) - 1, min(widths)
    states = prod(w + 1 for w in widths[1:-1])
    if states > MAX_STATES:
        raise ValueError(f"counting widths {list(widths)} needs {states:,} load states (at most {MAX_STATES:,})")
    if n_modes > min(widths[0], widths[-1]):
        raise ValueError(f"{n_modes} modes do not fit d_0 = {widths[0]}, d_h = {widths[-1]}")
    by_kind = dict.fromkeys(KINDS, 0)
    by_learned = {}
    for r in range(min(r_max, n_modes) + 1):
        layout = _Layout(widths, n_modes, r)
        n = int(r == n_modes) if h == 1 else layout.count()  # h = 1: no pieces, critical iff every mode is learnt
        tight = None
        for J in combinations(range(1, n_modes + 1), r):
            by_learned[J] = n
            # the one classification rule decides; only where "tightened" matters are those strata counted
            if_tight, if_not = classify(J, n_modes, r_max, True), classify(J, n_modes, r_max, False)
            if if_tight == if_not:
                by_kind[if_tight] += n
                continue
            tight = layout.count_tightened() if tight is None else tight
            by_kind[if_tight] += tight
            by_kind[if_not] += n - tight
    return StrataCount(sum(by_learned.values()), by_kind, by_learned)
