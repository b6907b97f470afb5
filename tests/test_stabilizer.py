"""The Hessian's spectrum block by block from the stabiliser (issue 26): equal to the dense spectrum at any
point with free directions, whatever the loss, the data or the weight decay, and refused when a block leaks."""

import numpy as np
import pytest

import geodln
from geodln.dynamics import hessian as hz
from geodln.dynamics import stabilizer as st


def _low_rank_layers(rng, widths, max_rank):
    """Layers of random ranks up to ``max_rank`` (0 included), moved by random invertible maps."""
    layers = []
    for i in range(1, len(widths)):
        k = int(rng.integers(0, min(widths[i], widths[i - 1], max_rank) + 1))
        layers.append(rng.standard_normal((widths[i], k)) @ rng.standard_normal((k, widths[i - 1])))
    return layers


def _flow(rng, widths, whitened=True, loss="quadratic", weight_decay=0.0):
    s = np.sort(rng.uniform(0.5, 4.0, size=int(rng.integers(1, min(widths[0], widths[-1]) + 1))))[::-1]
    data = geodln.Data.from_spectrum(s, widths[0], widths[-1], seed=int(rng.integers(1000)))
    if not whitened:  # the same targets through a random input correlation
        X = rng.standard_normal((widths[0], 3 * widths[0]))
        data = geodln.Data(X, rng.standard_normal((widths[-1], widths[0])) @ X)
    return geodln.GradientFlow(geodln.layered(widths), data, loss=loss, weight_decay=weight_decay)


def _random_case(rng):
    widths = [int(w) for w in rng.integers(1, 8, size=int(rng.integers(3, 6)))]
    options = rng.choice([{}, {"whitened": False}, {"loss": "logcosh"}, {"weight_decay": 0.3}])
    flow = _flow(rng, widths, **options)
    theta = flow.top.from_layer_weights(_low_rank_layers(rng, widths, int(rng.integers(0, 4))))
    return flow, theta, options


@pytest.mark.parametrize("seed", range(8))
def test_blocks_partition_the_weights(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        flow, theta, _ = _random_case(rng)
        blocks = st.stabilizer_blocks(flow, theta)
        assert sum(b.size * b.multiplicity for b in blocks) == flow.top.n_params
        for b in blocks:  # each span's directions are orthonormal: L and R have orthonormal columns
            for _, L, R in b.spans:
                assert np.allclose(L.T @ L, np.eye(L.shape[1]), atol=1e-12)
                assert np.allclose(R.T @ R, np.eye(R.shape[1]), atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_block_spectrum_is_the_dense_spectrum_at_any_point(seed):
    """Not only at critical points: the stabiliser fixes any point with free directions. 30 random points
    per seed (300 in all): widths 1-7, depth 2-4, random ranks, whitened or not, three losses, decay."""
    rng = np.random.default_rng(100 + seed)
    for _ in range(30):
        flow, theta, options = _random_case(rng)
        lam = st.block_spectrum(flow, theta)
        assert lam is not None, options
        dense = np.linalg.eigvalsh(hz.hessian(flow, theta))
        size = max(1.0, float(np.abs(dense).max()))
        assert lam.shape == dense.shape
        assert np.allclose(lam, dense, rtol=0, atol=1e-11 * size), (flow.top.widths, options)


def test_a_full_rank_network_has_one_block_of_every_weight():
    rng = np.random.default_rng(3)
    widths = (3, 4, 4, 3)
    flow = _flow(rng, widths)
    theta = flow.top.from_layer_weights([rng.standard_normal((widths[i], widths[i - 1])) for i in range(1, 4)])
    (core,) = st.stabilizer_blocks(flow, theta)
    assert core.name == "core" and core.size == flow.top.n_params and core.multiplicity == 1


def test_the_origin_of_a_two_layer_network_in_closed_form():
    """At the origin of ``h = 2`` the Hessian's nonzero eigenvalues are ``+-s_k``, each ``d_1`` times."""
    rng = np.random.default_rng(0)
    flow = _flow(rng, (5, 7, 4))
    lam = st.block_spectrum(flow, np.zeros(flow.top.n_params))
    s = flow.data.s[:flow.data.rank]
    expected = np.sort(np.concatenate([np.repeat(s, 7), -np.repeat(s, 7), np.zeros(flow.top.n_params - 14 * s.size)]))
    assert np.allclose(lam, expected, atol=1e-12)


def test_a_direction_wrongly_called_free_is_refused(monkeypatch):
    """The leak check can fail: declare a used direction of a hidden level free and the block structure
    breaks; the spectrum is then not returned (the caller uses the Hessian's range instead)."""
    rng = np.random.default_rng(5)
    widths = (4, 6, 6, 4)
    flow = _flow(rng, widths)
    layers = _low_rank_layers(rng, widths, 2)
    layers[1] = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 6))
    layers[0] = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 4))
    theta = flow.top.from_layer_weights(layers)
    assert st.block_spectrum(flow, theta) is not None
    splits = st._level_splits

    def wrong(flow, theta):
        out = splits(flow, theta)
        K, N = out[1]
        out[1] = (K[:, 1:], np.hstack([K[:, :1], N]))  # a used direction moved to the free ones
        return out

    monkeypatch.setattr(st, "_level_splits", wrong)
    assert st.block_spectrum(flow, theta) is None


def test_the_memory_estimate_bounds_the_block_matrices():
    rng = np.random.default_rng(2)
    for _ in range(20):
        flow, theta, _ = _random_case(rng)
        largest = max(b.size for b in st.stabilizer_blocks(flow, theta))
        assert st.block_memory(flow, theta) >= 8 * (largest ** 2 + flow.top.n_params)


def test_rounding_level_hessians_are_not_leaks():
    """Records of the 3^5 catalog whose Hessian vanishes to rounding (J = {} with pieces that do not chain):
    their products are ~1e-16, the leaks as large, and the comparison is floored by the problem's scale."""
    from pathlib import Path

    from geodln.catalog.store import Catalog
    from geodln.tolerances import DEFAULT_TOLERANCES as TOL

    catalog = Catalog.load(Path(__file__).parent.parent / "catalogs" / "w3-3-3-3-3_s3-2-1")
    par = catalog.manifest["parameters"]
    top = geodln.layered(par["widths"])
    data = geodln.Data.from_spectrum(par["spectrum"], par["widths"][0], par["widths"][-1], seed=par["seed"])
    flow, scale = geodln.GradientFlow(top, data), TOL.hessian_scale(data, top.depth)
    flat = 0
    for rec in [r for r in catalog.records if r["learned"] == []][:60]:
        theta = top.pack(catalog.point(rec))
        dense = np.linalg.eigvalsh(hz.hessian(flow, theta))
        flat += float(np.abs(dense).max()) < 1e-12
        lam = st.block_spectrum(flow, theta, scale)
        assert lam is not None and np.allclose(lam, dense, rtol=0, atol=1e-11 * max(scale, np.abs(dense).max()))
    assert flat >= 5  # the case this test is about occurs


@pytest.mark.parametrize("seed", range(4))
def test_block_eigenpairs_are_eigenpairs_with_the_dense_multiplicities(seed):
    rng = np.random.default_rng(300 + seed)
    for _ in range(15):
        flow, theta, _ = _random_case(rng)
        lam, counts, V = st.block_eigenpairs(flow, theta, 1e-8)
        H = hz.hessian(flow, theta)
        dense = np.linalg.eigvalsh(H)
        size = max(1.0, float(np.abs(dense).max()))
        assert np.allclose(np.linalg.norm(V, axis=0), 1.0)
        assert np.allclose(H @ V, V * lam, atol=1e-10 * size)
        outside = dense[np.abs(dense) > 1e-8 * np.abs(dense).max()] if dense.size else dense
        assert np.allclose(np.sort(np.repeat(lam, counts)), outside, atol=1e-10 * size)


def test_local_manifolds_matrix_free_equal_the_dense_ones(monkeypatch):
    """geodln saddles' directions at width: the same dimensions and eigenvalues, one vector per eigenspace."""
    from pathlib import Path

    from geodln.catalog.store import Catalog
    from geodln.landscape.saddles import local_manifolds

    catalog = Catalog.load(Path(__file__).parent.parent / "catalogs" / "w3-3-3-3-3_s3-2-1")
    par = catalog.manifest["parameters"]
    top = geodln.layered(par["widths"])
    data = geodln.Data.from_spectrum(par["spectrum"], par["widths"][0], par["widths"][-1], seed=par["seed"])
    flow = geodln.GradientFlow(top, data)
    records = [r for r in catalog.records if r["kind"] != "global_minimum"][::40]
    fewer = 0
    for rec in records:
        theta = top.pack(catalog.point(rec))
        monkeypatch.setattr(hz, "MATRIX_FREE_ABOVE", 10 ** 9)
        dense = local_manifolds(flow, theta)
        monkeypatch.setattr(hz, "MATRIX_FREE_ABOVE", 0)
        free = local_manifolds(flow, theta)
        assert (free.unstable_dim, free.stable_dim, free.center_dim) == (dense.unstable_dim, dense.stable_dim,
                                                                         dense.center_dim)
        for a, b in ((dense.unstable, free.unstable), (dense.stable, free.stable)):
            hessian_a = sorted(d.eigenvalue for d in a if d.order == 2)
            hessian_b = sorted(x for d in b if d.order == 2 for x in [d.eigenvalue] * d.multiplicity)
            assert np.allclose(hessian_a, hessian_b, atol=1e-10)
        fewer += len(free.stable) < len(dense.stable)
    assert len(records) >= 20 and fewer > 0  # multiplicities were used
