"""count_strata: counting strata by dynamic programming equals listing them."""

import time
from collections import Counter
from math import comb

import pytest

import geodln
from geodln.landscape.counting import count_strata, strata_per_set
from geodln.landscape.critical import stratum_kind
from geodln.landscape.strata import enumerate_strata

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
    by_learned, kinds, orders = {}, Counter(), Counter()
    for J, strata, left_out in enumerate_strata(widths, m):
        assert left_out == 0
        by_learned[J] = len(strata)
        kinds.update(stratum_kind(s) for s in strata)
        orders.update(s.escape_order() for s in strata if not s.is_global_min)
    counted = count_strata(widths, m)
    assert counted.by_learned == by_learned == strata_per_set(widths, m)
    assert list(counted.by_learned) == list(by_learned)  # same order as the enumerator
    assert counted.total == sum(by_learned.values())
    assert counted.by_kind == {k: kinds[k] for k in ("global_minimum", "strict_saddle", "nonstrict_saddle")}
    assert counted.by_order == dict(orders)  # escape orders, from the enumerator's own shortest paths
    assert counted.by_order.get(2, 0) == kinds["strict_saddle"]
    assert list(counted.by_order) == sorted(counted.by_order)


@pytest.mark.parametrize("widths, m", [((2, 2, 2, 2, 2), 1), ((3, 2, 3, 2, 3), 2), ((4, 2, 2, 4), 3),
                                       ((2, 2, 2, 2, 2, 2), 1), ((3, 3, 3, 3, 3), 1)])
def test_escape_orders_where_no_clean_path_exists(widths, m):
    """Architectures where some nonstrict strata close a path only through foreign pieces
    (null or other modes' input/output pieces), so both branches of the order count are used."""
    orders = Counter(s.escape_order() for _, strata, _ in enumerate_strata(widths, m) for s in strata
                     if not s.is_global_min)
    assert count_strata(widths, m).by_order == dict(orders)


@pytest.mark.parametrize("widths, m", [((10, 10, 10, 10), 10), ((12, 7, 9, 15), 4), ((30, 40, 50, 20), 6)])
def test_depth_three_orders_at_sizes_never_enumerated(widths, m):
    """Depth 3 by hand: a nonstrict stratum has every unlearnt mode without pieces (reach
    (0, 3)), so no piece may contain the gap {1, 2}: only p null inputs [0, 1] and q null
    outputs [2, 3], p <= min(d0 - m, d1 - r), q <= min(d3 - m, d2 - r), for each top set of
    size r < min(d1, d2, m). Every escape path has 3 links; it has order 3 unless both hidden
    layers are full of null pieces (p = d1 - r and q = d2 - r): then its middle link joins a
    null input to a null output, a cross term of order eps^2 in the loss, and the cheapest
    curve (link powers 1, 2, 1) has order 4."""
    d0, d1, d2, d3 = widths
    sizes = range(min(d1, d2, m))
    nonstrict = sum((min(d0 - m, d1 - r) + 1) * (min(d3 - m, d2 - r) + 1) for r in sizes)
    blocked = sum(d1 - r <= d0 - m and d2 - r <= d3 - m for r in sizes)
    counted = count_strata(widths, m)
    assert counted.by_order == {2: counted.by_kind["strict_saddle"], 3: nonstrict - blocked} | ({4: blocked} if blocked else {})
    assert counted.by_kind["nonstrict_saddle"] == nonstrict


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
    assert deep.by_order == {2: 1921, 3: 956, 4: 224, 5: 29, 6: 2}  # two strata escape at order 3 through a foreign piece
    assert big.by_order == {2: big.by_kind["strict_saddle"], 3: 10}


def test_per_set_counts_at_research_widths_are_the_full_count_s():
    """Without the classes (what build_catalog needs to refuse an oversized catalog): the same numbers
    per learnt set as the full count at widths 16^5 with 10 modes (~1e14 strata), each set of size r
    counted once."""
    counted = count_strata([16] * 5, 10)
    per_set = strata_per_set([16] * 5, 10)
    assert per_set == counted.by_learned and len(per_set) == 2 ** 10
    assert sum(per_set.values()) == counted.total == 103_288_226_147_475
    assert per_set[(1,)] == per_set[(10,)] and per_set[(1, 2, 3)] == per_set[(4, 8, 9)]


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
