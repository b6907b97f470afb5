"""The infinitesimal group action: vertical/horizontal split, invariance, orbit dimensions."""

import numpy as np
import pytest
from scipy.linalg import expm

import geodln
from geodln import symmetry as sy
from conftest import data_for


def _random_algebra(top, rng, scale=1.0):
    Xi = np.zeros((top.n, top.n))
    mask = sy.algebra_mask(top) == 1
    Xi[mask] = scale * rng.standard_normal(mask.sum())
    return Xi


def test_bracket_adjoint_is_its_transpose(top, rng):
    """(That brackets are vertical is part of the split battery in test_geometry.py.)"""
    theta, u = rng.standard_normal(top.n_params), rng.standard_normal(top.n_params)
    Xi = _random_algebra(top, rng)
    v = sy.bracket(top, Xi, theta)
    assert u @ v == pytest.approx(np.vdot(sy.bracket_adjoint(top, u, theta), Xi), rel=1e-12)
    np.testing.assert_allclose(sy.vertical_matrix(top, theta) @ Xi[sy.algebra_mask(top) == 1], v, atol=1e-13)


def test_loss_is_constant_on_the_orbit(top, rng):
    """(That the gradient is horizontal is part of the split battery in test_geometry.py.)"""
    flow = geodln.GradientFlow(top, data_for(top))
    theta = rng.standard_normal(top.n_params)
    S = expm(_random_algebra(top, rng, 0.3))
    moved = top.pack(sy.act(top, S, top.adjacency(theta)))  # a finite group element keeps the mask
    assert flow.loss(moved) == pytest.approx(flow.loss(theta), rel=1e-11)
    np.testing.assert_allclose(top.end_to_end(moved), top.end_to_end(theta), atol=1e-11)


@pytest.mark.parametrize("widths, stabilizer", [([3, 2, 3], 0), ([2, 3, 3, 2], 1), ([3, 4, 5, 2], 5), ([2, 4, 2], 4)])
def test_generic_orbit_and_stabilizer_dimensions(rng, widths, stabilizer):
    """Generic stabiliser of a chain: the hidden GL elements fixing every W_i."""
    top = geodln.layered(widths)
    theta = rng.standard_normal(top.n_params)
    assert sy.algebra_dim(top) == sum(d * d for d in widths[1:-1])
    assert sy.stabilizer_dim(top, theta) == stabilizer
    assert sy.orbit_dim(top, theta) + sy.stabilizer_dim(top, theta) == sy.algebra_dim(top)


def test_rank_deficient_points_have_larger_stabilisers(rng):
    top = geodln.layered([2, 2, 2, 2])
    W1, W2, W3 = (rng.standard_normal((2, 2)) for _ in range(3))
    assert sy.orbit_dim(top, top.from_layer_weights([W1, W2, W3])) == 8  # generic: free action
    assert sy.orbit_dim(top, np.zeros(top.n_params)) == 0  # the origin is fixed by all of G
    zero = np.zeros((2, 2))
    # W_1 = W_2 = 0, W_3 invertible: G_2 = I is forced, G_1 is free
    assert sy.stabilizer_dim(top, top.from_layer_weights([zero, zero, W3])) == 4
    # rank-1 W_1 and W_2 with ker W_2 meeting the complement: G_1 = I + u w^T, W_2 u = 0
    u = np.array([1.0, 2.0])
    W1r, W2r = np.outer(W1[:, 0], [1.0, 0.5]), np.outer(W2[:, 0], [2.0, -1.0])  # W2r u = 0
    assert sy.stabilizer_dim(top, top.from_layer_weights([W1r, W2r, W3])) == 1 and np.allclose(W2r @ u, 0)


def test_sparse_levels_carry_node_rescalings_that_keep_mask_and_map(rng):
    """The modelled subgroup on a sparse mask: one scaling per hidden node, each a true symmetry."""
    top = geodln.sparse_layered([3, 4, 4, 2], density=0.5, seed=5)
    assert sy.algebra_dim(top) == 8
    theta = rng.standard_normal(top.n_params)
    A = top.adjacency(theta)
    moved = sy.act(top, expm(_random_algebra(top, rng)), A)
    np.testing.assert_allclose(top.end_to_end(top.pack(moved)), top.end_to_end(theta), atol=1e-12)


def test_xi_outside_the_algebra_is_rejected():
    top = geodln.layered([2, 2, 2])
    Xi = np.zeros((top.n, top.n))
    Xi[0, 0] = 1.0  # the input level is not acted on
    with pytest.raises(ValueError, match="outside the Lie algebra"):
        sy.bracket(top, Xi, np.ones(top.n_params))


# ------------------------------------------------------------- the finite group


@pytest.mark.parametrize("group", ["GL", "O"])
def test_blockwise_action_equals_the_dense_similarity(top, rng, group):
    """The one place a dense inverse appears: S A S^-1 computed densely equals the block-wise action,
    and the dense product vanishes off the mask (the group keeps every topology's mask)."""
    A = top.adjacency(rng.standard_normal(top.n_params))
    S = sy.check_group_element(top, sy.random_group_element(top, rng, group), orthogonal=group == "O")
    dense = S @ A @ np.linalg.inv(S)
    np.testing.assert_allclose(sy.act(top, S, A), dense, atol=1e-12 * np.abs(A).max())
    np.testing.assert_allclose(dense * (1 - top.mask), 0, atol=1e-12 * np.abs(A).max())


def test_action_is_a_group_action_that_keeps_the_end_to_end_map(top, rng):
    A = top.adjacency(rng.standard_normal(top.n_params))
    S, T = sy.random_group_element(top, rng), sy.random_group_element(top, rng)
    np.testing.assert_allclose(sy.act(top, S, sy.act(top, T, A)), sy.act(top, S @ T, A), atol=1e-11)
    np.testing.assert_allclose(sy.act(top, np.eye(top.n), A), A, atol=0)
    np.testing.assert_allclose(top.end_to_end(top.pack(sy.act(top, S, A))), top.end_to_end(top.pack(A)), atol=1e-11)


def test_random_elements_are_haar_on_the_orthogonal_group():
    """E[tr Q] = 0 and E[tr Q^2] = 1 for Haar O(d) (any d): a biased sign fix would shift them."""
    top = geodln.layered([1, 3, 1])
    blocks = [sy.random_group_element(top, seed, "O")[1:4, 1:4] for seed in range(4000)]
    assert all(np.allclose(Q.T @ Q, np.eye(3)) for Q in blocks[:20])
    assert abs(np.mean([np.trace(Q) for Q in blocks])) < 0.05
    assert np.mean([np.trace(Q @ Q) for Q in blocks]) == pytest.approx(1.0, abs=0.08)
    assert 0.45 < np.mean([np.linalg.det(Q) > 0 for Q in blocks]) < 0.55  # both components


def test_group_exp_and_membership_checks(top, rng):
    Xi = _random_algebra(top, rng, 0.4)
    np.testing.assert_allclose(sy.group_exp(top, Xi), expm(Xi), atol=1e-12)
    with pytest.raises(ValueError, match="identity on the input"):
        sy.check_group_element(top, 2 * np.eye(top.n))
    with pytest.raises(ValueError, match="not orthogonal"):
        sy.check_group_element(top, sy.random_group_element(top, rng, "GL", spread=1.0), orthogonal=True)


# ---------------------------------------------------------------- the moment map


def test_moment_map_holds_the_layer_and_node_balances(top, rng):
    theta = rng.standard_normal(top.n_params)
    A = top.adjacency(theta)
    C = sy.moment_map(top, theta)
    full = A.T @ A - A @ A.T
    np.testing.assert_allclose(C, full * sy.algebra_mask(top), atol=1e-12)
    np.testing.assert_allclose(sy.node_balances(top, theta), np.diag(full)[top.hidden], atol=1e-12)
    for (sl, C_i) in zip(top.level_slices[1:-1], sy.layer_balances(top, theta)):
        np.testing.assert_allclose(C_i, full[sl, sl], atol=1e-12)
    if top.is_layered:
        Ws = top.layer_weights(theta)
        for i, C_i in enumerate(sy.layer_balances(top, theta)):
            np.testing.assert_allclose(C_i, Ws[i] @ Ws[i].T - Ws[i + 1].T @ Ws[i + 1], atol=1e-12)


def test_moment_map_is_conserved_and_equivariant(top, rng):
    """Conserved by the flow on every topology (Noether), and C(k.A) = k C(A) k^T under the orthogonal group."""
    flow = geodln.GradientFlow(top, data_for(top))
    theta = 0.7 * rng.standard_normal(top.n_params)
    traj = flow.integrate(theta, 2.0, n_points=3, rtol=1e-11, atol=1e-13)
    C0 = sy.moment_map(top, theta)
    assert np.abs(sy.moment_map(top, traj.final) - C0).max() < 1e-8
    k = sy.random_group_element(top, rng, "O")
    moved = top.pack(sy.act(top, k, top.adjacency(theta)))
    np.testing.assert_allclose(sy.moment_map(top, moved), k @ C0 @ k.T, atol=1e-12)
