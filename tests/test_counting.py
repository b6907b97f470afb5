"""count_strata: counting strata by dynamic programming equals listing them."""

import time
from collections import Counter
from math import comb

import pytest

import geodln
from geodln.counting import count_strata
from geodln.landscape import stratum_kind
from geodln.strata import enumerate_strata

ARCHITECTURES = [
    ((1, 1, 1), 1),
    ((2, 2, 2), 2),
    ((3, 2, 3), 2),            # bottleneck
    ((4, 2, 4), 3),            # bottleneck, null directions on both sides
    ((2, 2, 2, 2), 2),
    ((3, 3, 3, 3), 3),
    ((3, 2, 2, 3), 2),         # bottleneck
    ((4, 3, 3, 2), 2),         # d_0 != d_h
    ((2, 3, 3, 2), 1),
    ((4, 4, 4, 4), 2),
    ((4, 4, 4, 4), 4),
    ((2, 3, 2, 3, 2), 2),
    ((3, 3, 3, 3, 3), 3),
    ((3, 4, 2, 4, 3), 3),      # bottleneck in the middle
    ((5, 3, 3, 3, 4), 2),
    ((2, 2, 2, 2, 2, 2), 2),   # depth 5
    ((4, 3, 2, 3, 3, 4), 1),   # depth 5, bottleneck
    ((2, 2, 2, 2, 2, 2, 2), 2),  # depth 6
]


@pytest.mark.parametrize("widths, m", ARCHITECTURES, ids=lambda x: ",".join(map(str, x)) if isinstance(x, tuple) else str(x))
def test_count_equals_enumeration(widths, m):
    by_learned, kinds = {}, Counter()
    for J, strata, left_out in enumerate_strata(widths, m):
        assert left_out == 0
        by_learned[J] = len(strata)
        kinds.update(stratum_kind(s) for s in strata)
    counted = count_strata(widths, m)
    assert counted.by_learned == by_learned
    assert list(counted.by_learned) == list(by_learned)  # same order as the enumerator
    assert counted.total == sum(by_learned.values())
    assert counted.by_kind == {k: kinds[k] for k in ("global_minimum", "strict_saddle", "nonstrict_saddle")}


def _depth_two(d0, d1, d2, m, r):
    """Strata of d0, d1, d2 at a learnt set of size r, by hand.

    With h = 2 an unlearnt mode can have no piece (a_k - b_k >= 2 forces
    b_k = 0, a_k = 2) and there are no internal pieces, so a stratum is p null
    input pieces [0, 1] and q null output pieces [1, 2] with p <= d0 - m,
    q <= d2 - m and p + q <= d1 - r:
    N_r = sum_{p=0}^{min(d0-m, d1-r)} (min(d2 - m, d1 - r - p) + 1),
    which is (d0-m+1)(d2-m+1) when d1 - r >= (d0-m) + (d2-m), and
    (d1-r+1)(d1-r+2)/2 when d1 - r <= min(d0-m, d2-m). None is tightened
    (that needs a_k - b_k >= 3), so the classes are 1 global minimum per top
    set of size min(d1, m) and strict saddles otherwise.
    """
    c = d1 - r
    return sum(min(d2 - m, c - p) + 1 for p in range(min(d0 - m, c) + 1))


@pytest.mark.parametrize("widths, m", [((20, 60, 30), 3), ((50, 7, 40), 5), ((12, 9, 15), 4)])
def test_depth_two_formula_at_sizes_never_enumerated(widths, m):
    d0, d1, d2 = widths
    counted = count_strata(widths, m)
    r_top = min(d1, m)
    for r in range(r_top + 1):
        assert counted.by_learned[tuple(range(1, r + 1))] == _depth_two(d0, d1, d2, m, r)
    if widths == (20, 60, 30):
        assert counted.by_learned[()] == (20 - 3 + 1) * (30 - 3 + 1)
    if widths == (50, 7, 40):
        assert all(counted.by_learned[tuple(range(1, r + 1))] == (8 - r) * (9 - r) // 2 for r in range(6))
    total = sum(comb(m, r) * _depth_two(d0, d1, d2, m, r) for r in range(r_top + 1))
    assert counted.total == total
    assert counted.by_kind == {"global_minimum": _depth_two(d0, d1, d2, m, r_top),
                               "strict_saddle": total - _depth_two(d0, d1, d2, m, r_top),
                               "nonstrict_saddle": 0}


def test_large_networks_count_in_seconds():
    start = time.perf_counter()
    big = count_strata([10, 10, 10, 10], 10)
    deep = count_strata([2, 2, 2, 2, 2, 2, 2], 2)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"counting took {elapsed:.1f} s"
    assert big.total == sum(big.by_learned.values()) == sum(big.by_kind.values())
    assert len(big.by_learned) == 2 ** 10 and big.by_kind["global_minimum"] == 1
    assert deep.total == 3133  # the enumerator's count (issue 14)


def test_exported_and_frozen():
    assert geodln.count_strata is count_strata
    counted = geodln.count_strata([2, 2, 2], 2)
    assert isinstance(counted, geodln.StrataCount)
    with pytest.raises(AttributeError):
        counted.total = 0
    with pytest.raises(ValueError, match="do not fit"):
        count_strata([2, 2, 2], 3)
    for widths in ([2, 2.7, 2], [2, True, 2], [2, 0, 2], [3]):
        with pytest.raises(ValueError, match="widths|at least an input"):
            count_strata(widths, 1)
    with pytest.raises(ValueError, match="load states"):
        count_strata([2] + [100] * 8 + [2], 2)
