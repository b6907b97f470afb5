"""Each initialisation guarantees a property: test exactly that property."""

import numpy as np
import pytest

from geodln import Data, init, layered, skip_connections, sparse_layered


def imbalances(top, theta):
    """``[C_1, ..., C_{h-1}]``, ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}``."""
    Ws = top.layer_weights(theta)
    return [Ws[i] @ Ws[i].T - Ws[i + 1].T @ Ws[i + 1] for i in range(len(Ws) - 1)]


# ------------------------------------------------------------------ small
@pytest.mark.parametrize(
    "top",
    [layered([30, 40, 30]), skip_connections([20, 30, 30, 20]), sparse_layered([30, 40, 40, 30], 0.5, seed=3)],
    ids=["layered", "skips", "sparse"],
)
def test_small_is_iid_gaussian_with_the_given_scale(top):
    scale = 0.03
    theta = init.small(top, scale=scale, seed=7)
    n = top.n_params
    assert theta.shape == (n,) and theta.dtype == np.float64 and n > 1000
    # Fixed seed, so deterministic; the bounds are also 7-8 standard errors wide,
    # so no seed could plausibly fail them: sd(mean) = scale/sqrt(n),
    # sd(std estimate) ~ scale/sqrt(2n) < 2.3% of scale here.
    assert abs(theta.mean()) < 8 * scale / np.sqrt(n)
    assert abs(theta.std() / scale - 1) < 0.15
    # Gaussian tails: the fraction beyond 2 sigma is 4.55%.
    assert abs(np.mean(np.abs(theta) > 2 * scale) - 0.0455) < 0.03


def test_small_reproducible_and_accepts_a_generator():
    top = layered([3, 4, 2])
    assert np.array_equal(init.small(top, seed=5), init.small(top, seed=5))
    assert not np.array_equal(init.small(top, seed=5), init.small(top, seed=6))
    assert np.array_equal(init.small(top, seed=np.random.default_rng(5)), init.small(top, seed=5))
    assert np.array_equal(init.small(top, scale=0.0, seed=1), np.zeros(top.n_params))


# ------------------------------------------------------------- orthogonal
def test_orthogonal_layers_are_scaled_semi_orthogonal():
    top = layered([3, 5, 2, 2, 4])
    scale = 1.7
    for W in top.layer_weights(init.orthogonal(top, scale=scale, seed=0)):
        d_out, d_in = W.shape
        gram = W @ W.T if d_out <= d_in else W.T @ W
        np.testing.assert_allclose(gram, scale**2 * np.eye(min(d_out, d_in)), atol=1e-13)


# --------------------------------------------------------------- balanced
@pytest.mark.parametrize("widths", [[3, 4, 4, 3], [2, 3, 3, 3, 2], [4, 2, 5, 3]])
def test_balanced_is_exactly_balanced(widths):
    top = layered(widths)
    theta = init.balanced(top, scale=2.0, seed=1)
    assert theta.shape == (top.n_params,)
    for C in imbalances(top, theta):
        assert np.abs(C).max() < 1e-12


def test_balanced_reproduces_a_given_map_of_low_enough_rank():
    top = layered([3, 4, 4, 3])
    M = np.random.default_rng(0).standard_normal((3, 3))
    theta = init.balanced(top, seed=2, end_to_end=M)
    np.testing.assert_allclose(top.end_to_end(theta), M, atol=1e-13)


def test_balanced_truncates_to_the_bottleneck_rank():
    top = layered([4, 2, 5, 4])  # r = min(widths) = 2
    M = np.random.default_rng(1).standard_normal((4, 4))
    U, s, Vt = np.linalg.svd(M)
    theta = init.balanced(top, seed=3, end_to_end=M)
    np.testing.assert_allclose(top.end_to_end(theta), (U[:, :2] * s[:2]) @ Vt[:2], atol=1e-13)
    assert max(np.abs(C).max() for C in imbalances(top, theta)) < 1e-12


# --------------------------------------------------------- delta_balanced
@pytest.mark.parametrize("delta", [1e-3, 0.1, 2.0, 50.0])
@pytest.mark.parametrize("widths", [[3, 4, 4, 3], [2, 3, 2]])
def test_delta_balanced_hits_delta(widths, delta):
    top = layered(widths)
    theta = init.delta_balanced(top, delta, scale=1.5, seed=4)
    worst = max(np.linalg.norm(C) for C in imbalances(top, theta))
    assert abs(worst - delta) <= 1e-10 * delta


def test_delta_balanced_with_zero_delta_is_balanced():
    top = layered([3, 4, 4, 3])
    theta = init.delta_balanced(top, 0.0, seed=5)
    assert max(np.abs(C).max() for C in imbalances(top, theta)) < 1e-12


# ---------------------------------------------------------------- aligned
def test_aligned_end_to_end_is_the_data_modes_with_the_given_strengths():
    data = Data.from_spectrum([3.0, 2.0, 1.0], 3, 4, seed=0)
    top = layered([3, 5, 4, 4])  # r_max = 3
    a = np.array([0.7, 0.0, 0.2])
    theta = init.aligned(top, data, a, seed=1)
    np.testing.assert_allclose(top.end_to_end(theta), (data.U * a) @ data.V.T, atol=1e-13)
    assert max(np.abs(C).max() for C in imbalances(top, theta)) < 1e-12


def test_aligned_with_fewer_strengths_leaves_the_other_modes_at_zero():
    data = Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=0)
    top = layered([3, 3, 3])
    W = top.end_to_end(init.aligned(top, data, [0.5], seed=1))
    np.testing.assert_allclose(data.U.T @ W @ data.V, np.diag([0.5, 0.0, 0.0]), atol=1e-13)


# -------------------------------------------------------------- decoupled
def test_decoupled_layers_carry_the_given_scalars():
    data = Data.from_spectrum([3.0, 2.0], 2, 3, seed=0)
    top = layered([2, 4, 3, 3])
    w = np.array([[0.5, -1.0], [2.0, 0.3], [-0.4, 0.6]])
    theta = init.decoupled(top, data, w, seed=1)
    W = top.end_to_end(theta)
    np.testing.assert_allclose(data.U.T @ W @ data.V, np.diag(w.prod(axis=0)), atol=1e-13)
    # C_i = F_i diag(w_i^2 - w_{i+1}^2) F_i^T: its nonzero spectrum is w_i^2 - w_{i+1}^2
    for i, C in enumerate(imbalances(top, theta)):
        ev = np.linalg.eigvalsh(C)
        expected = np.concatenate([w[i] ** 2 - w[i + 1] ** 2, np.zeros(len(ev) - w.shape[1])])
        np.testing.assert_allclose(ev, np.sort(expected), atol=1e-13)


def test_by_name_returns_each_function():
    for name in ["small", "orthogonal", "balanced", "delta_balanced", "aligned", "decoupled"]:
        assert init.by_name(name) is getattr(init, name)


# ----------------------------------------------------------------- errors
DATA33 = Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=0)
ERRORS = {
    "skip connections": (lambda: init.orthogonal(skip_connections([2, 3, 2])), "skip connections"),
    "sparse layers": (lambda: init.balanced(sparse_layered([3, 4, 3], 0.5, seed=0)), "sparse"),
    "negative scale": (lambda: init.small(layered([2, 2]), scale=-1.0), "scale"),
    "nan scale": (lambda: init.orthogonal(layered([2, 2]), scale=np.nan), "scale"),
    "end_to_end shape": (lambda: init.balanced(layered([3, 4, 2]), end_to_end=np.ones((3, 2))), r"\(2, 3\)"),
    "negative delta": (lambda: init.delta_balanced(layered([2, 2, 2]), -0.1), "delta"),
    "delta without hidden layer": (lambda: init.delta_balanced(layered([2, 2]), 0.1), "no hidden layer"),
    "delta below rounding": (lambda: init.delta_balanced(layered([3, 3, 3]), 1e-20, scale=10.0, seed=0), "rounding"),
    "data mismatch": (lambda: init.aligned(layered([3, 3, 2]), DATA33, [1.0]), "d_out = 3"),
    "negative strength": (lambda: init.aligned(layered([3, 3, 3]), DATA33, [1.0, -0.5]), ">= 0"),
    "strengths not 1-D": (lambda: init.aligned(layered([3, 3, 3]), DATA33, [[1.0]]), "1-D"),
    "too many strengths": (lambda: init.aligned(layered([3, 2, 3]), DATA33, [1.0, 1.0, 1.0]), "r_max"),
    "layer_strengths rows": (lambda: init.decoupled(layered([3, 3, 3]), DATA33, np.ones((3, 2))), r"\(2, m'\)"),
    "too many layer modes": (lambda: init.decoupled(layered([3, 2, 3]), DATA33, np.ones((2, 3))), "r_max"),
    "unknown name": (lambda: init.by_name("xavier"), "small, orthogonal, balanced"),
}


@pytest.mark.parametrize("case", list(ERRORS), ids=list(ERRORS))
def test_bad_input_raises_a_clear_value_error(case):
    call, message = ERRORS[case]
    with pytest.raises(ValueError, match=message):
        call()


def test_non_topology_is_a_type_error():
    with pytest.raises(TypeError, match="Topology"):
        init.small([3, 3], seed=0)
