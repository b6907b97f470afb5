"""``geodln classify`` at real widths (issue 26): the orbit dimension from the layers' ranks, the bound on the
Hessian's rank that sizes the matrix-free analysis, its memory, and the refusal when a machine has too little."""

import resource
import subprocess
import sys

import numpy as np
import pytest

import geodln
from geodln import symmetry
from geodln.dynamics import hessian as hz
from geodln.dynamics.stabilizer import analysis_memory
from geodln.landscape.critical import curvature, orbit_dim_from_ranks
from geodln.landscape.strata import Piece, Stratum
from geodln.tolerances import DEFAULT_TOLERANCES as TOL

SPECTRUM = [10.0, 9, 8, 7, 6, 5, 4, 3, 2, 1]


def _random_low_rank(rng, widths):
    """Layers of random ranks (0 up to full), shape (d_i, d_{i-1}) each."""
    layers = []
    for i in range(1, len(widths)):
        k = int(rng.integers(0, min(widths[i], widths[i - 1]) + 1))
        layers.append(rng.standard_normal((widths[i], k)) @ rng.standard_normal((k, widths[i - 1])))
    return layers


@pytest.mark.parametrize("seed", range(6))
def test_orbit_dimension_from_ranks_is_the_bracket_rank(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        widths = [int(w) for w in rng.integers(1, 6, size=int(rng.integers(2, 6)))]
        top, layers = geodln.layered(widths), _random_low_rank(rng, widths)
        bracket = symmetry.bracket_operator(top, top.from_layer_weights(layers))
        M = bracket.matmat(np.eye(bracket.shape[1])) if bracket.shape[1] else np.zeros((top.n_params, 0))
        rank = symmetry.range_basis(M).shape[1] if M.shape[1] else 0
        assert orbit_dim_from_ranks(widths, hz.partial_ranks(layers)) == rank


@pytest.mark.parametrize("seed", range(4))
def test_the_hessian_rank_bound_bounds_the_rank(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        widths = [int(w) for w in rng.integers(2, 6, size=int(rng.integers(2, 6)))]
        top = geodln.layered(widths)
        s = np.sort(rng.uniform(1, 5, size=min(widths[0], widths[-1])))[::-1]
        flow = geodln.GradientFlow(top, geodln.Data.from_spectrum(s, widths[0], widths[-1], seed=seed))
        theta = top.from_layer_weights(_random_low_rank(rng, widths))
        H = hz.hessian(flow, theta)
        lam = np.abs(np.linalg.eigvalsh(H))
        rank = int(np.sum(lam > 1e-10 * max(1.0, lam.max())))
        assert rank <= hz.hessian_rank_capacity(flow, theta)


def _constructed(widths, learned, pieces, seed=1):
    """A constructed critical point of the stratum (``J`` and pieces known), moved by an orthogonal element."""
    top = geodln.layered(widths)
    modes = SPECTRUM[:min(len(SPECTRUM), min(widths[0], widths[-1]) - 2)]  # room for a null input piece
    data = geodln.Data.from_spectrum(modes, widths[0], widths[-1], seed=0)
    stratum = Stratum(widths, learned, pieces, data.rank)
    rng = np.random.default_rng(seed)
    S = symmetry.random_group_element(top, rng, "GL", 0.0)
    return geodln.GradientFlow(top, data), top.pack(symmetry.act(top, S, stratum.canonical_adjacency(top, data, rng))), stratum


CASES = [((6, 6, 6, 6), (1, 3), (Piece(0, 1, 0), Piece(1, 2))), ((8, 8, 8, 8, 8), (2,), (Piece(1, 3),)),
         ((10, 12, 12, 10), (1, 2), ())]
SLOW_CASES = [((20, 20, 20, 20, 20), (1, 3), (Piece(0, 2, 0), Piece(2, 3))), ((25, 25, 25, 25), (1, 2, 4), (Piece(1, 2),))]


def _same_inertia(monkeypatch, widths, learned, pieces):
    flow, theta, stratum = _constructed(widths, learned, pieces)
    assert flow.top.n_params <= 2000
    monkeypatch.setattr(hz, "MATRIX_FREE_ABOVE", 10 ** 9)
    dense = curvature(flow, theta, TOL)
    monkeypatch.setattr(hz, "MATRIX_FREE_ABOVE", 0)
    free = curvature(flow, theta, TOL)
    for a, b in ((dense.full, free.full), (dense.horizontal, free.horizontal)):
        assert (a.negative, a.zero, a.positive) == (b.negative, b.zero, b.positive)
    assert dense.orbit_dim == free.orbit_dim
    neg = dense.eigenvalues < -dense.full.tol
    assert np.allclose(free.eigenvalues[neg], dense.eigenvalues[neg], rtol=1e-8, atol=0)
    assert (free.full.negative > 0) == (stratum.escape_order() == 2)


@pytest.mark.parametrize("widths, learned, pieces", CASES)
def test_matrix_free_inertia_equals_dense_on_constructed_points(monkeypatch, widths, learned, pieces):
    _same_inertia(monkeypatch, widths, learned, pieces)


@pytest.mark.slow
@pytest.mark.parametrize("widths, learned, pieces", SLOW_CASES)
def test_matrix_free_inertia_equals_dense_up_to_2000_weights(monkeypatch, widths, learned, pieces):
    _same_inertia(monkeypatch, widths, learned, pieces)


def _write(tmp_path, widths, learned, pieces):
    flow, theta, stratum = _constructed(widths, learned, pieces)
    path = tmp_path / "w.npz"
    np.savez(path, **{f"W{i + 1}": W for i, W in enumerate(flow.top.layer_weights(theta))})
    return path, flow, theta, stratum


def _classify(path, *extra):
    return subprocess.run([sys.executable, "-m", "geodln.cli", "classify", "--weights", str(path), "--spectrum",
                           ",".join(map(str, SPECTRUM)), *extra], capture_output=True, text=True)


def test_classify_refuses_beyond_the_memory_limit(tmp_path):
    path, flow, theta, _ = _write(tmp_path, (60, 60, 60, 60), (1, 3), (Piece(0, 1, 0),))
    need = analysis_memory(flow, theta)
    out = _classify(path, "--memory-limit", f"{0.5 * need / 1e9:.6g}")
    assert out.returncode == 2
    assert "needs up to" in out.stderr and "more than" in out.stderr and "--memory-limit" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_a_256_wide_constructed_point_is_classified_within_memory(tmp_path):
    widths, learned, pieces = (256, 256, 256, 256), (1, 3), (Piece(0, 1, 0), Piece(1, 2))
    path, flow, theta, stratum = _write(tmp_path, widths, learned, pieces)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = _classify(path, "--json")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert out.returncode == 0, out.stderr
    assert peak_kb > before or before == 0
    assert peak_kb < 2 * 1024 ** 2, f"peak resident {peak_kb / 1024 ** 2:.2f} GB"
    import json
    rec = json.loads(out.stdout)
    assert rec["learned"] == [1, 3] and rec["kind"] == "strict_saddle" and rec["stratum"] == stratum.label
    h = rec["hessian"]
    assert h["negative"] > 0 and h["negative"] + h["zero"] + h["positive"] == flow.top.n_params
    ranks = {(a, b): stratum.partial_rank(a, b) for a in range(3) for b in range(a + 1, 4)}
    assert rec["orbit_dim"] == orbit_dim_from_ranks(widths, ranks)
    smallest, _ = hz.lanczos_extremes(flow, theta, k=2)
    assert abs(smallest[0] - h["min"]) <= 1e-6 * abs(h["min"])
