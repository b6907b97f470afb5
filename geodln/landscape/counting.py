"""Counting strata of critical points without listing them.

:func:`count_strata` gives the number of strata that
:func:`geodln.landscape.strata.enumerate_strata` would list, per learnt set ``J`` and
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

Escape orders: strict saddles have order 2. A tightened stratum's order is its
least-order escape path (:meth:`Stratum.escape_order`), which sees only which
piece extents occur, the reaches ``S``, and which hidden layers keep an idle
coordinate. So the tightened count also keys the unlabelled pieces by the set
of extents present, convolves them with the modes' loads in full (the idle
layers depend on the total load), and runs the path search once per summary
(:func:`_curve_order`, the layer-level reading of :meth:`Stratum.path_for`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from math import prod
from numbers import Integral

import numpy as np

from .critical import KINDS, classify
from .strata import path_powers
from ..network.topology import check_widths

__all__ = ["StrataCount", "count_strata", "strata_per_set"]

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
    by_order : dict
        Escape order -> number of saddles (:meth:`geodln.Stratum.escape_order`):
        2 for every strict saddle, ``m >= 3`` for a nonstrict one, whose loss
        falls like ``-c eps^m`` along its shortest escape path (``None`` would
        mark a nonstrict saddle with no path in its free capacity).
    """

    total: int
    by_kind: dict = field(default_factory=dict)
    by_learned: dict = field(default_factory=dict)
    by_order: dict = field(default_factory=dict)


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
    """Any number (0, 1, 2, ...) of copies of a piece of the given cover (a nonzero 0/1 vector).

    ``out[x] = sum_k f[x - k step] = f[x] + out[x - step]``: one pass along the first covered axis, each
    slab adding the one before it shifted by one along the other covered axes (already final), so the
    cost is one sweep of the array, not one per copy.
    """
    axes = [a for a, s in enumerate(step) if s]
    out = f.copy()
    for i in range(1, f.shape[axes[0]]):
        dst, src = [slice(None)] * f.ndim, [slice(None)] * f.ndim
        dst[axes[0]], src[axes[0]] = i, i - 1
        for a in axes[1:]:
            dst[a], src[a] = slice(1, None), slice(0, -1)
        out[tuple(dst)] += out[tuple(src)]
    return out


def _pieces(states: dict, extent, step, track: bool) -> dict:
    """Each load distribution plus any number of pieces of one extent.

    With ``track``, split by whether at least one such piece occurs: the key
    (a frozenset of extents present) gains ``extent`` for that part.
    """
    new = {}
    for key, f in states.items():
        g = _add_unbounded(f, step)
        for k, part in ([(key, f), (key | {extent}, g - f)] if track else [(key, g)]):
            if any(part.flat):
                new[k] = new[k] + part if k in new else part
    return new


def _curve_order(h: int, reach, internal, foreign_in, foreign_out, idle) -> int | None:
    """Least escape order over every path for a mode of the given reach that may join foreign pieces.

    The layer-level reading of :meth:`geodln.landscape.strata.Stratum.path_for`:
    from layer ``i`` a new link enters layer ``j = i + 1`` at an idle coordinate
    (``j`` in ``idle``) or into a piece covering ``j``, riding it to its end:
    internal pieces ``(lo, hi)``, the mode's own input piece ``[0, b]``, its own
    output piece ``[a, h]`` (which finishes the path), foreign input pieces
    (ends in ``foreign_in``) and foreign output pieces (starts in
    ``foreign_out``, ridden to ``h - 1``). Each path is scored by
    :func:`geodln.landscape.strata.path_powers` from the links at which it lands
    in foreign pieces. None if no path lowers the loss.
    """
    b, a = reach
    orders = []

    def walk(i, n, xs, ys):
        j = i + 1
        if j == h or a <= j:
            powers = path_powers(n + 1, xs, ys)
            if powers is not None:
                orders.append(sum(powers) if powers else n + 1)
            return
        ends = ([j] if j in idle else []) + [hi for lo, hi in internal if lo <= j <= hi] + ([b] if b >= j else [])
        for t in ends:
            walk(t, n + 1, xs, ys)
        for hi in sorted(t for t in foreign_in if j <= t):
            walk(hi, n + 1, xs + [n + 1], ys)
        if any(lo <= j for lo in foreign_out):
            walk(h - 1, n + 1, xs, ys + [n + 1])

    walk(0, 0, [], [])
    if b > 0:
        walk(b, 0, [], [])
    return min(orders, default=None)


def _escape_order(h: int, used, present, idle) -> int | None:
    """Escape order of a tightened stratum from what its paths see.

    ``used``: the reaches ``(b_k, a_k)`` of the unlearnt modes; ``present``:
    extents of the unlabelled pieces that occur; ``idle``: hidden layers with
    an idle coordinate. As :meth:`geodln.landscape.strata.Stratum.escape_order`: the
    least order over the modes of their paths (:func:`_curve_order`; no path of
    a tightened stratum has fewer than 3 links). A mode's own pieces are not
    foreign to it; a foreign piece of the same extent is never cheaper than its
    own, so dropping its extent from the foreign ones changes no order.
    """
    internal = [(lo, hi) for lo, hi in present if 0 < lo and hi < h]
    ins = {hi for lo, hi in present if lo == 0} | {b for b, _ in used if b > 0}
    outs = {lo for lo, hi in present if hi == h} | {a for _, a in used if a < h}
    orders = [_curve_order(h, (b, a), internal, ins - {b}, outs - {a}, idle) for b, a in used]
    return min((o for o in orders if o is not None), default=None)


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

    def start(self) -> np.ndarray:
        """The load distribution of no pieces at all."""
        f = np.zeros(self.shape, dtype=object)
        f[(0,) * (self.h - 1)] = 1
        return f

    def others(self, gaps=(), track: bool = False) -> dict:
        """Load distributions of the unlabelled pieces (null inputs, null
        outputs, internal) that contain none of the ``gaps``.

        Keyed by the frozenset of piece extents ``(a, b)`` that occur (with
        ``track``), else one entry under the empty set.
        """
        h, d0, dh, m = self.h, self.widths[0], self.widths[-1], self.n_modes

        def ok(lo, hi):
            return not any(lo <= g0 and hi >= g1 for g0, g1 in gaps)

        states = {frozenset(): self.start()}
        for extent in [(a, b) for a in range(1, h) for b in range(a + 1, h)]:
            if ok(*extent):
                states = _pieces(states, extent, _cover(*extent, h), track)
        for limit, extents in ((d0 - m, [(0, b) for b in range(1, h)]), (dh - m, [(a, h) for a in range(1, h)])):
            extents = [e for e in extents if ok(*e)]
            if limit <= 0 or not extents:
                continue
            # null pieces on one side: at most ``limit`` in all, counted on a leading axis
            for key, f in states.items():
                states[key] = np.zeros((limit + 1,) + f.shape, dtype=object)
                states[key][0] = f
            for extent in extents:
                states = _pieces(states, extent, (1,) + _cover(*extent, h), track)
            states = {key: f.sum(axis=0) for key, f in states.items()}
        return states

    def combine(self, modes: np.ndarray, others: np.ndarray) -> int:
        """``sum over x + y <= c of modes[x] * others[y]``."""
        cum = others
        for axis in range(cum.ndim):
            cum = np.cumsum(cum, axis=axis)
        return int((modes * cum[(slice(None, None, -1),) * cum.ndim]).sum())

    def count(self) -> int:
        """Strata for one learnt set of size ``r``."""
        f = self.start()
        steps = [self.reach_cover(q) for q in self.reaches(2)]
        for _ in range(self.n_modes - self.r):
            f = sum(_shift(f, s) for s in steps)
        return self.combine(f, self.others()[frozenset()])

    def by_idle(self, modes: np.ndarray, others: np.ndarray) -> dict:
        """``modes[x] * others[y]`` summed over ``x + y <= c``, grouped by the
        hidden layers left with an idle coordinate (``x_i + y_i < c_i``)."""
        total = np.zeros(self.shape, dtype=object)
        for x in map(tuple, np.argwhere(modes != 0)):
            total[tuple(slice(xi, None) for xi in x)] += modes[x] * others[tuple(slice(0, n - xi) for xi, n in zip(x, self.shape))]
        full = np.indices(self.shape) == (np.array(self.shape) - 1).reshape((-1,) + (1,) * len(self.shape))
        code = sum(full[i].astype(int) << i for i in range(len(self.shape)))
        return {frozenset(i + 1 for i in range(len(self.shape)) if not c >> i & 1): int(total[code == c].sum())
                for c in np.unique(code)}

    def tightened_orders(self) -> Counter:
        """Tightened strata for one learnt set of size ``r``, by escape order."""
        h, reaches = self.h, self.reaches(3)
        states = {frozenset(): self.start()}
        for _ in range(self.n_modes - self.r):
            new = {}
            for used, f in states.items():
                for q in reaches:
                    key, g = used | {q}, _shift(f, self.reach_cover(q))
                    new[key] = new[key] + g if key in new else g
            states = new
        orders, cache = Counter(), {}
        for used, f in states.items():
            gaps = tuple(sorted((b + 1, a - 1) for b, a in used))
            # a mode's own pieces must not contain another mode's gap
            if any((b > 0 and b >= g1) or (a < h and a <= g0) for b, a in used for g0, g1 in gaps):
                continue
            if gaps not in cache:
                cache[gaps] = self.others(gaps, track=True)
            for present, g in cache[gaps].items():
                for idle, n in self.by_idle(f, g).items():
                    if n:
                        orders[_escape_order(h, used, present, idle)] += n
        return orders


def count_strata(widths, n_modes: int) -> StrataCount:
    """Count the strata of critical points of a layered network, without listing them.

    Agrees with :func:`geodln.landscape.strata.enumerate_strata` (same learnt sets, same
    strata) and with :func:`geodln.landscape.critical.stratum_kind` per class, but runs
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

    See Also
    --------
    build_catalog
        List, analyse and classify the strata.
    enumerate_strata
        The strata themselves, learnt set by learnt set.

    Examples
    --------
    >>> c = count_strata([2, 2, 2, 2], 2)
    >>> c.total, c.by_kind, c.by_learned[()]
    (26, {'global_minimum': 1, 'strict_saddle': 23, 'nonstrict_saddle': 2}, 17)
    >>> count_strata([10, 10, 10, 10], 10).total
    5367676
    """
    widths, n_modes = _checked(widths, n_modes)
    r_max = min(widths)
    by_kind = dict.fromkeys(KINDS, 0)
    by_learned, by_order = {}, Counter()
    for r, layout, n in _per_size(widths, n_modes):
        tight = None
        for J in combinations(range(1, n_modes + 1), r):
            by_learned[J] = n
            # the one classification rule decides; only where "tightened" matters are those strata counted
            if_tight, if_not = classify(J, n_modes, r_max, True), classify(J, n_modes, r_max, False)
            if if_tight == if_not:
                by_kind[if_tight] += n
                by_order[2] += n * (if_tight == "strict_saddle")  # J not the top |J| modes: a swap lowers the loss
                continue
            tight = layout.tightened_orders() if tight is None else tight
            by_kind[if_tight] += tight.total()
            by_kind[if_not] += n - tight.total()
            by_order.update(tight)
            by_order[2] += n - tight.total()
    by_order = {order: n for order, n in sorted(by_order.items(), key=lambda item: (item[0] is None, item[0] or 0)) if n}
    return StrataCount(sum(by_learned.values()), by_kind, by_learned, by_order)


def strata_per_set(widths, n_modes: int) -> dict:
    """The number of strata of each learnt set: :attr:`StrataCount.by_learned` without the classes.

    The classes need the tightened strata counted apart (most of
    :func:`count_strata`'s time at width); the numbers per set do not: at widths
    ``64^5`` with 10 modes (about ``1.1e20`` strata) they take half a minute.

    Parameters
    ----------
    widths : sequence of int
    n_modes : int

    Returns
    -------
    dict
        ``J`` (sorted tuple of 1-based modes) -> int, in the enumerator's order.

    Examples
    --------
    >>> strata_per_set([2, 2, 2, 2], 2)
    {(): 17, (1,): 4, (2,): 4, (1, 2): 1}
    """
    widths, n_modes = _checked(widths, n_modes)
    return {J: n for r, _, n in _per_size(widths, n_modes) for J in combinations(range(1, n_modes + 1), r)}


def _checked(widths, n_modes) -> tuple:
    """``(widths, n_modes)`` as Python ints, or a ValueError saying what cannot be counted."""
    widths = check_widths(widths)
    if isinstance(n_modes, bool) or not isinstance(n_modes, Integral) or n_modes < 0:
        raise ValueError(f"n_modes must be a non-negative integer, got {n_modes!r}")
    widths, n_modes = tuple(int(w) for w in widths), int(n_modes)
    states = prod(w + 1 for w in widths[1:-1])
    if states > MAX_STATES:
        raise ValueError(f"counting widths {list(widths)} needs {states:,} load states (at most {MAX_STATES:,})")
    if n_modes > min(widths[0], widths[-1]):
        raise ValueError(f"{n_modes} modes do not fit d_0 = {widths[0]}, d_h = {widths[-1]}")
    return widths, n_modes


def _per_size(widths, n_modes):
    """``(r, layout, n)`` for each size ``r`` of a learnt set: ``n`` strata for each set of that size."""
    h = len(widths) - 1
    for r in range(min(min(widths), n_modes) + 1):
        layout = _Layout(widths, n_modes, r)
        yield r, layout, int(r == n_modes) if h == 1 else layout.count()  # h = 1: no pieces, critical iff all learnt
