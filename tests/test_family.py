"""Every layered architecture is catalogable (issue 27): depth h = 2..4, widths 1..4 (and a sample of
widths up to 6), every spectrum length m = 1..min(d_0, d_h), whitened data.

Per architecture and m:

* ``count_strata`` equals the enumeration (in total and per learnt set);
* the catalog builds: in full up to :data:`FULL` strata (then its kinds and escape orders equal the
  counts'), above that with :data:`CAP` strata per learnt set (kept + left out = counted, per set);
* every record's class equals the mode-by-mode rule, read independently from the record's weights;
* on a sample of records the Hessian inertia equals that of a finite-difference Hessian of the loss
  ``1/2 ||Y - W_h ... W_1 X||_F^2`` alone (Richardson-extrapolated second differences).

The mode-by-mode rule (Achour, Malgouyres, Gerchinovitz 2024, read mode by mode as in DESIGN.md): at a
critical point with learnt set ``J``, ``r_max = min_i d_i``,

* global minimum iff ``J = {1, ..., min(r_max, m)}``;
* strict saddle if ``J`` is not the top ``|J|`` modes (a swap lowers L at second order);
* otherwise (``J`` the top ``|J| < min(r_max, m)`` modes) nonstrict iff *tightened*: for every unlearnt
  mode ``k <= m`` there are layers ``1 <= i < j <= h - 1`` with ``W_i ... W_1 v_k = 0``,
  ``rank(W_j ... W_{i+1}) = |J|`` and ``u_k^T W_h ... W_{j+1} = 0`` (three consecutive nonempty blocks, each
  needing a new link for mode ``k``: no path for it closes with fewer than three); strict if not.

At depth 2 no such split exists, so every saddle is strict.
"""

from collections import Counter
from itertools import product

import numpy as np
import pytest

from geodln import build_catalog, count_strata
from geodln.landscape.strata import enumerate_strata
from geodln.network.data import Data

FULL = 300  # strata: catalogs up to this size are built whole
CAP = 2  # strata per learnt set kept in a larger catalog
ZERO, NONZERO = 1e-8, 1e-4  # a product's singular value (relative to its layers' norms) is 0 / not 0
FD_STEP = 1e-3  # second differences at FD_STEP and 2 FD_STEP, extrapolated: error ~ FD_STEP^4, rounding ~ 1e-16 L / FD_STEP^2
FD_ZERO = 1e-6  # an FD Hessian eigenvalue is zero below this times max(1, max |lambda|)


def _spectrum(m):
    return [float(m + 1 - i) for i in range(m)]


def _layers(widths, A):
    """``[W_1, ..., W_h]`` from an adjacency matrix in the NetworkX convention (block (i-1, i) is W_i^T)."""
    edges = np.cumsum([0, *widths])
    return [A[edges[i - 1]:edges[i], edges[i]:edges[i + 1]].T for i in range(1, len(widths))]


def _loss(widths, params, X, Y):
    """``1/2 ||Y - W_h ... W_1 X||_F^2`` for a batch of parameter vectors (the layers' entries, row-major
    ``W_1, ..., W_h``), shape ``[B, n]`` -> ``[B]``."""
    params = np.atleast_2d(params)
    out, at = X[None], 0
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        W = params[:, at:at + d_in * d_out].reshape(-1, d_out, d_in)
        out, at = W @ out, at + d_in * d_out
    return 0.5 * ((Y[None] - out) ** 2).sum(axis=(1, 2))


def fd_inertia(widths, Ws, X, Y) -> tuple:
    """(negative, zero, positive) eigenvalues of the Hessian of the loss alone, by second differences.

    ``H_ab = [L(x + e_a + e_b) - L(x + e_a - e_b) - L(x - e_a + e_b) + L(x - e_a - e_b)] / (4 step^2)``,
    at ``step`` and ``2 step``, combined as ``(4 H(step) - H(2 step)) / 3`` (Richardson: the step^2 error
    cancels; the loss is a polynomial, so what is left is step^4 and rounding).
    """
    x = np.concatenate([W.ravel() for W in Ws])
    n = x.size

    def hessian(step):
        a, b = np.triu_indices(n)
        E = np.eye(n) * step
        pp, pm = x + E[a] + E[b], x + E[a] - E[b]
        mp, mm = x - E[a] + E[b], x - E[a] - E[b]
        upper = (_loss(widths, pp, X, Y) - _loss(widths, pm, X, Y) - _loss(widths, mp, X, Y)
                 + _loss(widths, mm, X, Y)) / (4 * step ** 2)
        H = np.zeros((n, n))
        H[a, b] = upper
        return H + np.triu(H, 1).T

    lam = np.linalg.eigvalsh((4 * hessian(FD_STEP) - hessian(2 * FD_STEP)) / 3)
    tol = FD_ZERO * max(1.0, np.abs(lam).max())
    return int((lam < -tol).sum()), int((np.abs(lam) <= tol).sum()), int((lam > tol).sum())


def _is_zero(M, norms) -> bool:
    """Whether ``M`` (a product of layers, or one applied to a vector) vanishes, relative to the product of
    its layers' spectral norms; an ambiguous size fails the test rather than being guessed."""
    size = np.linalg.norm(M, 2) / max(norms, 1e-300)
    assert size <= ZERO or size >= NONZERO, f"ambiguous: {size:.3g}"
    return size <= ZERO


def _rank(M, norms) -> int:
    sv = np.linalg.svd(M, compute_uv=False) / max(norms, 1e-300)
    assert not np.any((sv > ZERO) & (sv < NONZERO)), f"ambiguous singular values {sv}"
    return int((sv >= NONZERO).sum())


def _product(Ws, lo, hi):
    """``W_hi ... W_{lo+1}`` and the product of their spectral norms (identity for lo = hi)."""
    M = np.eye(Ws[lo].shape[1]) if lo < len(Ws) else np.eye(Ws[-1].shape[0])
    norms = 1.0
    for W in Ws[lo:hi]:
        M, norms = W @ M, norms * np.linalg.norm(W, 2)
    return M, norms


def mode_rule(Ws, data, learned, m) -> str:
    """The class by the mode-by-mode rule of the module docstring, from the weights alone."""
    h, J = len(Ws), tuple(learned)
    top = min(min(min(W.shape) for W in Ws), m)
    if J == tuple(range(1, top + 1)):
        return "global_minimum"
    if J != tuple(range(1, len(J) + 1)):
        return "strict_saddle"

    def closed_off(k):
        v, u = data.V[:, k - 1], data.U[:, k - 1]
        for i in range(1, h - 1):
            first, n1 = _product(Ws, 0, i)
            if not _is_zero(first @ v, n1):
                continue
            for j in range(i + 1, h):
                last, n3 = _product(Ws, j, h)
                if _rank(*_product(Ws, i, j)) == len(J) and _is_zero(u @ last, n3):
                    return True
        return False

    return "nonstrict_saddle" if all(closed_off(k) for k in range(1, m + 1) if k not in J) else "strict_saddle"


def check_member(widths, m, fd_records: int = 1, seed: int = 0, full: bool | None = None) -> tuple[int, int]:
    """All the checks of the module docstring on one architecture and spectrum length (``full``: build the
    whole catalog whatever its size; default: up to :data:`FULL` strata).

    Returns
    -------
    (records, fd) : the number of records read and of FD Hessians compared.
    """
    widths = list(widths)
    spectrum = _spectrum(m)
    counted = count_strata(widths, m)
    listed = Counter()
    for J, strata, _ in enumerate_strata(widths, m):
        listed[J] += len(strata)
    assert counted.total == sum(listed.values()) and dict(counted.by_learned) == {J: n for J, n in listed.items() if n}
    full = counted.total <= FULL if full is None else full
    catalog = build_catalog(widths, spectrum, seed=0, max_per_set=None if full else CAP)
    kept = Counter(tuple(r["learned"]) for r in catalog.records)
    left = {J: catalog.manifest.get("left_out", {}).get(" ".join(map(str, J)) or "-", 0) for J in listed}
    assert all(kept[J] + left[J] == listed[J] for J in listed), (widths, m)
    if full:
        assert len(catalog) == counted.total
        assert dict(Counter(r["kind"] for r in catalog.records)) == {k: n for k, n in counted.by_kind.items() if n}
        assert dict(Counter(r["escape_order"] for r in catalog.records if r["kind"] != "global_minimum")) == counted.by_order
    data = Data.from_spectrum(spectrum, widths[0], widths[-1], seed=0)  # the catalog's data (build_catalog's seed)
    X, Y = data.X, data.Y
    rng = np.random.default_rng(seed)
    sample = set(rng.choice(len(catalog), size=min(fd_records, len(catalog)), replace=False).tolist())
    for n, rec in enumerate(catalog.records):
        Ws = _layers(widths, catalog.point(rec))
        x = np.concatenate([W.ravel() for W in Ws])
        assert _loss(widths, x, X, Y)[0] == pytest.approx(rec["critical_value"], abs=1e-8 * spectrum[0] ** 2)
        assert rec["kind"] == mode_rule(Ws, data, rec["learned"], m), (widths, m, rec["stratum"])
        if n in sample:
            hess = rec["hessian"]
            assert fd_inertia(widths, Ws, X, Y) == (hess["negative"], hess["zero"], hess["positive"]), \
                (widths, m, rec["stratum"])
    return len(catalog), len(sample)


def family(max_width: int = 4):
    """Every ``(widths, m)``: depth 2..4, widths 1..max_width, m = 1..min(d_0, d_h)."""
    for h in (2, 3, 4):
        for widths in product(range(1, max_width + 1), repeat=h + 1):
            for m in range(1, min(widths[0], widths[-1]) + 1):
                yield widths, m


def wide_sample(n: int, seed: int = 1):
    """``n`` random ``(widths, m)`` with depth 2..4 and widths 1..6, at least one width 5 or 6."""
    rng, out = np.random.default_rng(seed), []
    while len(out) < n:
        widths = tuple(int(w) for w in rng.integers(1, 7, size=int(rng.integers(3, 6))))
        if max(widths) >= 5:
            out.append((widths, int(rng.integers(1, min(widths[0], widths[-1]) + 1))))
    return out


FAMILY = list(family())
FAST = FAMILY[::97]  # 26 of 2520, every depth
WIDE = wide_sample(40)
WIDE_FAST = [WIDE[1], WIDE[3]]  # two small ones (20 and 38 strata)


def test_mode_rule_reads_the_hand_checked_points():
    """DESIGN.md's hand-checked points of 2,2,2,2 / Syx = diag(3, 1): the clean path learning mode 1 is
    nonstrict, the one learning mode 2 strict, the origin nonstrict, mode 1 plus a dangling link strict."""
    data = Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    v1, u1, v2, u2 = data.V[:, 0], data.U[:, 0], data.V[:, 1], data.U[:, 1]
    e1, e2 = np.eye(2)
    clean = [np.outer(e1, v1) * 3 ** (1 / 3), np.outer(e1, e1) * 3 ** (1 / 3), np.outer(u1, e1) * 3 ** (1 / 3)]
    assert mode_rule(clean, data, (1,), 2) == "nonstrict_saddle"
    wrong = [np.outer(e1, v2), np.outer(e1, e1), np.outer(u2, e1)]
    assert mode_rule(wrong, data, (2,), 2) == "strict_saddle"
    assert mode_rule([np.zeros((2, 2))] * 3, data, (), 2) == "nonstrict_saddle"
    dangling = [clean[0] + np.outer(e2, v2), clean[1], clean[2]]  # v_2 reaches layer 1: no first block kills it
    assert mode_rule(dangling, data, (1,), 2) == "strict_saddle"


@pytest.mark.parametrize("widths, m", FAST)
def test_family_sample(widths, m):
    check_member(widths, m)


@pytest.mark.parametrize("widths, m", WIDE_FAST)
def test_wide_sample(widths, m):
    check_member(widths, m)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_family_rest(depth):
    """The whole family at one depth (the fast sample excluded); one FD Hessian per catalog."""
    done = [check_member(widths, m, seed=n) for n, (widths, m) in enumerate(FAMILY) if len(widths) == depth + 1 and n % 97]
    print(f"depth {depth}: {len(done)} catalogs, {sum(r for r, _ in done)} records, {sum(f for _, f in done)} FD Hessians")


@pytest.mark.slow
def test_wide_rest():
    done = [check_member(widths, m, seed=n) for n, (widths, m) in enumerate(WIDE) if (widths, m) not in WIDE_FAST]
    print(f"widths up to 6: {len(done)} catalogs, {sum(r for r, _ in done)} records, {sum(f for _, f in done)} FD Hessians")
