"""The gradient flow: exact gradients, the adjacency formula, invariants along trajectories."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import geodln
from geodln.dynamics.flow import vector_field_dense
from conftest import data_for, io_embeddings
from taylor import remainder_slope

LOSSES = [geodln.Quadratic(), geodln.LogCosh(scale=0.7), geodln.Huber(delta=0.5)]


def _random_state(top, rng, scale=0.6):
    return scale * rng.standard_normal(top.n_params)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_rhs_is_minus_the_finite_difference_gradient(top, rng, loss):
    flow = geodln.GradientFlow(top, data_for(top), loss=loss)
    theta = _random_state(top, rng)
    h = 1e-6
    fd = np.array([(flow.loss(theta + h * e) - flow.loss(theta - h * e)) / (2 * h) for e in np.eye(top.n_params)])
    rhs = flow.rhs(theta)
    assert np.linalg.norm(rhs + fd) <= 1e-7 * np.linalg.norm(fd)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_taylor_remainder_is_second_order(top, rng, loss):
    """L(theta + e v) - L(theta) - e <grad, v> falls like e^2, fitted over eleven step sizes."""
    flow = geodln.GradientFlow(top, data_for(top), loss=loss)
    theta, v = _random_state(top, rng), rng.standard_normal(top.n_params)
    v /= np.linalg.norm(v)
    L0, gv = flow.loss(theta), flow.gradient(theta) @ v
    assert remainder_slope(lambda e: flow.loss(theta + e * v) - L0 - e * gv) == pytest.approx(2.0, abs=0.1)
    # a wrong gradient leaves a first-order remainder: the check can fail
    assert remainder_slope(lambda e: flow.loss(theta + e * v) - L0 - e * (gv + 0.1)) < 1.5


def test_vector_field_equals_the_dense_adjacency_formula(top, rng):
    data = data_for(top)
    flow = geodln.GradientFlow(top, data)
    A = top.adjacency(_random_state(top, rng))
    P_in, P_out = io_embeddings(top)
    W = top.end_to_end(top.pack(A))
    F = P_in @ (data.Syx - W @ data.Sxx).T @ P_out.T
    expected = vector_field_dense(A, top.mask, F)
    np.testing.assert_allclose(flow.vector_field(A), expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_layered_formula_needs_no_mask(rng):
    """For a layered network the k = h term alone vanishes off the block pattern."""
    top = geodln.layered([2, 3, 4, 2])
    data = data_for(top)
    A = top.adjacency(_random_state(top, rng))
    P_in, P_out = io_embeddings(top)
    W = top.end_to_end(top.pack(A))
    F = P_in @ (data.Syx - W @ data.Sxx).T @ P_out.T
    unmasked = vector_field_dense(A, np.ones_like(A), F, lengths=[top.depth])
    np.testing.assert_allclose(unmasked * (1 - top.mask), 0, atol=1e-14)
    np.testing.assert_allclose(unmasked, geodln.GradientFlow(top, data).vector_field(A), atol=1e-12)


def test_dense_adjacency_ode_keeps_the_mask_and_matches(rng):
    """Integrating the unmasked k = h matrix ODE in all n^2 entries stays on the mask."""
    top = geodln.layered([2, 2, 3, 2])
    data = data_for(top)
    flow = geodln.GradientFlow(top, data)
    theta0 = _random_state(top, rng, 0.5)
    P_in, P_out = io_embeddings(top)

    def dense_rhs(t, a):
        A = a.reshape(top.n, top.n)
        W = P_out.T @ sum(np.linalg.matrix_power(A.T, k) for k in range(1, top.n)) @ P_in
        F = P_in @ (data.Syx - W @ data.Sxx).T @ P_out.T
        return vector_field_dense(A, np.ones_like(A), F, lengths=[top.depth]).ravel()

    sol = solve_ivp(dense_rhs, (0, 3), top.adjacency(theta0).ravel(), method="DOP853", rtol=1e-11, atol=1e-13)
    A_end = sol.y[:, -1].reshape(top.n, top.n)
    np.testing.assert_allclose(A_end * (1 - top.mask), 0, atol=1e-13)
    assert np.abs(np.linalg.matrix_power(A_end, top.depth + 1)).max() < 1e-12  # still nilpotent
    assert np.abs(np.linalg.eigvals(A_end)).max() < 1e-3  # spectrum {0} (eigvals of a nilpotent are ill-conditioned)
    traj = flow.integrate(theta0, 3.0, rtol=1e-11, atol=1e-13, n_points=2)
    np.testing.assert_allclose(A_end, traj.adjacency(-1), atol=1e-8)


def test_invariants_along_a_trajectory(top, rng):
    flow = geodln.GradientFlow(top, data_for(top))
    traj = flow.integrate(_random_state(top, rng, 0.5), t_end=10.0, rtol=1e-10, atol=1e-12, n_points=100)
    assert traj.success
    # (the packed state keeps the mask, A^{h+1} = 0 and the spectrum {0} by construction;
    # test_dense_adjacency_ode_keeps_the_mask_and_matches checks that the ODE itself does)
    assert np.all(np.diff(traj.loss) <= 1e-12 * traj.loss[0])  # L is a Lyapunov function
    assert traj.loss[-1] < 0.5 * traj.loss[0]
    assert traj.conserved_drift.max() < 1e-8


def test_loss_decreases_at_rate_minus_squared_field(top, rng):
    """dL/dt = -||dtheta/dt||^2 along the flow."""
    flow = geodln.GradientFlow(top, data_for(top))
    theta = _random_state(top, rng)
    v, h = flow.rhs(theta), 1e-6
    dL = (flow.loss(theta + h * v) - flow.loss(theta - h * v)) / (2 * h)
    assert dL == pytest.approx(-v @ v, rel=1e-7)


def test_matrix_law_holds_for_fully_connected(rng):
    top = geodln.layered([3, 4, 4, 4, 3])
    flow = geodln.GradientFlow(top, data_for(top, (3.0, 2.0, 1.0)))
    traj = flow.integrate(_random_state(top, rng, 0.5), t_end=10.0, n_points=20)
    C0, C1 = flow.conserved(traj.theta[0]), flow.conserved(traj.theta[-1])
    assert flow.default_law == "matrix" and len(C0) == top.depth - 1
    for a, b in zip(C0, C1):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)
    # the node law is the diagonal of the matrix law
    np.testing.assert_allclose(np.concatenate([np.diag(c) for c in C1]), flow.conserved(traj.theta[-1], law="node"), atol=1e-13)


def test_sparse_mask_keeps_node_law_but_breaks_matrix_law(rng):
    top = geodln.sparse_layered([3, 5, 5, 3], density=0.5, seed=2)
    flow = geodln.GradientFlow(top, data_for(top, (3.0, 2.0, 1.0)))
    traj = flow.integrate(_random_state(top, rng, 0.5), t_end=10.0, n_points=20)
    assert flow.default_law == "node"
    np.testing.assert_allclose(flow.conserved(traj.theta[-1]), flow.conserved(traj.theta[0]), atol=1e-8)
    matrix_drift = max(np.abs(a - b).max() for a, b in zip(flow.conserved(traj.theta[0], "matrix"), flow.conserved(traj.theta[-1], "matrix")))
    assert matrix_drift > 1e-2


@pytest.mark.parametrize("loss", LOSSES[1:], ids=lambda l: l.name)
def test_conservation_holds_for_non_quadratic_losses(rng, loss):
    top = geodln.skip_connections([3, 4, 4, 3])
    flow = geodln.GradientFlow(top, data_for(top, (3.0, 2.0, 1.0)), loss=loss)
    traj = flow.integrate(_random_state(top, rng, 0.5), t_end=5.0, n_points=10)
    assert traj.conserved_drift.max() < 1e-8
    assert np.all(np.diff(traj.loss) <= 1e-12 * traj.loss[0])


@pytest.mark.parametrize("widths, expected", [([3, 4, 4, 3], 0.0), ([3, 2, 3], 0.5), ([3, 4, 2, 4, 3], 0.5)])
def test_small_start_reaches_the_global_minimum_value(rng, widths, expected):
    """Including the rank-constrained value 1/2 sum_{k > r_max} s_k^2 behind a bottleneck."""
    top = geodln.layered(widths)
    data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=4)
    flow = geodln.GradientFlow(top, data)
    assert data.global_min_value(min(widths)) == pytest.approx(expected, abs=1e-12)
    traj = flow.integrate(0.05 * rng.standard_normal(top.n_params), t_end=400.0, grad_tol=1e-6, n_points=50)
    assert traj.loss[-1] == pytest.approx(expected, abs=1e-9)
    assert traj.t[-1] < 400.0  # stopped at the critical point
    assert np.linalg.norm(flow.rhs(traj.final)) <= 1.01e-6


def test_descent_converges_to_the_flow_at_first_order(rng):
    """Descent with step eta differs from the flow by O(eta); its conserved drift is O(eta^2)."""
    top = geodln.layered([2, 3, 3, 2])
    flow = geodln.GradientFlow(top, data_for(top))
    theta0 = _random_state(top, rng, 0.5)
    exact = flow.integrate(theta0, 1.0, n_points=2).final
    errors, drifts = [], []
    for step in (0.02, 0.01):
        traj = flow.descend(theta0, step, round(1.0 / step))
        assert traj.t[-1] == pytest.approx(1.0)
        errors.append(np.linalg.norm(traj.final - exact))
        drifts.append(traj.conserved_drift[-1])
    assert errors[0] / errors[1] == pytest.approx(2.0, rel=0.1)
    assert drifts[0] / drifts[1] == pytest.approx(2.0, rel=0.15)  # n_steps * eta^2 = eta at fixed time


def test_descent_divergence_is_a_clear_error(rng):
    top = geodln.layered([2, 2, 2])
    flow = geodln.GradientFlow(top, data_for(top))
    with pytest.raises(geodln.DivergenceError, match="diverged at step .* too large"):
        flow.descend(rng.standard_normal(top.n_params), step=5.0, n_steps=100)


def test_mismatched_data_shape():
    with pytest.raises(ValueError, match="maps 3 inputs to 2 outputs, but the data have d_in = 2"):
        geodln.GradientFlow(geodln.layered([3, 4, 2]), geodln.Data.from_spectrum([1.0], 2, 2))


def test_nan_initial_state():
    flow = geodln.GradientFlow(geodln.layered([2, 2]), geodln.Data.from_spectrum([1.0], 2, 2))
    with pytest.raises(ValueError, match="NaN"):
        flow.integrate(np.full(4, np.nan), 1.0)


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        geodln.GradientFlow(geodln.layered([2, 2]), geodln.Data.from_spectrum([1.0], 2, 2), loss="l1")


def test_bad_integration_arguments():
    flow = geodln.GradientFlow(geodln.layered([2, 2]), geodln.Data.from_spectrum([1.0], 2, 2))
    with pytest.raises(ValueError, match="positive finite time"):
        flow.integrate(np.zeros(4), np.inf)
    with pytest.raises(ValueError, match="t_eval"):
        flow.integrate(np.ones(4), 1.0, t_eval=[])
    with pytest.raises(ValueError, match="float64 array"):
        flow.rhs(np.ones(4), out=np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="n_steps"):
        flow.descend(np.ones(4), 0.1, 2.5)


def test_grad_tol_at_a_critical_start_stops_at_once():
    flow = geodln.GradientFlow(geodln.layered([2, 2, 2]), geodln.Data.from_spectrum([1.0], 2, 2))
    traj = flow.integrate(np.zeros(8), 10.0, grad_tol=1e-8)
    assert traj.t.tolist() == [0.0] and traj.success
