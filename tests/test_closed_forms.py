"""Closed-form dynamics of special starts, checked against the full network flow.

The network is integrated with ``GradientFlow.integrate`` (DOP853, rtol 1e-12,
atol 1e-14) and compared with an independent description of the same motion:
the logistic curve of an aligned depth-2 start (Saxe et al. 2014), the
end-to-end ODE of a balanced start (Arora, Cohen, Hazan 2018), and the scalar
network ODE of each mode of a decoupled start. All data are whitened. Two
negative controls show the checks can fail: an unbalanced start with the same
initial mode strengths misses the logistic curve, and a delta-balanced start
misses the end-to-end ODE.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from geodln import Data, GradientFlow, init, layered
from geodln.dynamics.closed_forms import aligned_mode_curve, saxe_logistic

ODE_TOL = dict(rtol=1e-12, atol=1e-14)


def integrate(top, data, theta0, t):
    traj = GradientFlow(top, data).integrate(theta0, t[-1], t_eval=t, **ODE_TOL)
    assert traj.success and len(traj) == len(t)
    return traj


def mode_strengths(traj, data):
    """``U^T W(t) V`` for every snapshot, shape=[T, m, m]."""
    return np.array([data.U.T @ traj.end_to_end(k) @ data.V for k in range(len(traj))])


def logistic_relative_error(traj, data, u0):
    """Largest relative deviation ``|u_k(t) - u_logistic(t)| / u_logistic(t)`` over modes and times."""
    u = np.diagonal(mode_strengths(traj, data), axis1=1, axis2=2)  # (T, m)
    exact = np.column_stack([saxe_logistic(s, a, traj.t) for s, a in zip(data.s, u0)])
    return np.max(np.abs(u - exact) / exact)


# ------------------------------------------------ aligned, depth 2: logistic
@pytest.mark.parametrize("s, u0", [(3.0, 1e-3), (1.0, 0.5), (2.0, 3.0)])
def test_saxe_logistic_solves_the_depth2_mode_ode(s, u0):
    """u(0) = u0 and du/dt = 2 u (s - u), by an independent solver and by central differences."""
    t = np.linspace(0.0, 5.0 / s, 51)
    u = saxe_logistic(s, u0, t)
    assert u[0] == pytest.approx(u0, rel=1e-15)
    ref = solve_ivp(lambda _, x: 2 * x * (s - x), (0.0, t[-1]), [u0], t_eval=t, method="DOP853", **ODE_TOL)
    np.testing.assert_allclose(u, ref.y[0], rtol=1e-9)
    dt = 1e-5
    du = (saxe_logistic(s, u0, t + dt) - saxe_logistic(s, u0, t - dt)) / (2 * dt)
    np.testing.assert_allclose(du, 2 * u * (s - u), rtol=1e-7, atol=1e-9 * s**2)
    assert saxe_logistic(s, u0, 1e3) == pytest.approx(s, rel=1e-15)  # no overflow: it settles at s


@pytest.mark.parametrize("s, u0", [(3.0, 1e-3), (1.0, 0.5)])
def test_saxe_logistic_is_the_depth2_aligned_mode_curve(s, u0):
    t, u = aligned_mode_curve(s, u0, 2, n=100)
    np.testing.assert_allclose(saxe_logistic(s, u0, t), u, rtol=1e-12)
    with pytest.raises(ValueError):
        saxe_logistic(s, 0.0, t)


DATA = Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=0)
T_LOGISTIC = np.linspace(0.0, 6.0, 61)
U0 = np.array([1e-3, 2e-3, 5e-3])


def test_aligned_depth2_modes_follow_the_logistic_curve():
    top = layered([3, 3, 3])
    traj = integrate(top, DATA, init.aligned(top, DATA, U0, seed=1), T_LOGISTIC)
    # The relative error is the meaningful measure: u runs from 1e-3 up to s,
    # so an absolute 1e-8 would say nothing about the early, tiny phase.
    assert logistic_relative_error(traj, DATA, U0) < 1e-8
    M = mode_strengths(traj, DATA)
    assert np.max(np.abs(M - np.einsum("tkk->tk", M)[:, :, None] * np.eye(3))) < 1e-12  # off-diagonal stays 0
    # the window covers the whole sigmoid of every mode: from u0 to within 1% of s
    np.testing.assert_allclose(np.diag(M[-1]), DATA.s, rtol=1e-2)


def test_logistic_fails_for_an_unbalanced_start():
    """Same u0 = w_1 w_2, but w_1 != w_2: the closed form is violated (so the test above can fail)."""
    top = layered([3, 3, 3])
    w = np.array([U0 / 0.002 * 0.5, np.full(3, 0.002) / 0.5])  # w_1 w_2 = U0, |w_1| >> |w_2|
    np.testing.assert_allclose(w.prod(axis=0), U0)
    traj = integrate(top, DATA, init.decoupled(top, DATA, w, seed=1), T_LOGISTIC)
    assert logistic_relative_error(traj, DATA, U0) > 0.1


# ------------------------------------------------ balanced: end-to-end ODE
def psd_power(S, p):
    """``S^p`` of a symmetric PSD matrix via eigh, clipping rounding-level negative eigenvalues."""
    ev, Q = np.linalg.eigh(S)
    return (Q * np.clip(ev, 0.0, None) ** p) @ Q.T


def end_to_end_rhs(W, data, h):
    """Arora-Cohen-Hazan: dW/dt = -sum_j (W W^T)^{(j-1)/h} dL/dW (W^T W)^{(h-j)/h}."""
    G = W @ data.Sxx - data.Syx
    WWt, WtW = W @ W.T, W.T @ W
    return -sum(psd_power(WWt, (j - 1) / h) @ G @ psd_power(WtW, (h - j) / h) for j in range(1, h + 1))


def end_to_end_deviation(top, data, theta0, t):
    """Network flow vs the end-to-end ODE from ``W(0)``: (max entrywise |difference|, W_net of shape [T, d_h, d_0])."""
    W0 = top.end_to_end(theta0)
    traj = integrate(top, data, theta0, t)
    ref = solve_ivp(
        lambda _, w: end_to_end_rhs(w.reshape(W0.shape), data, top.depth).ravel(),
        (0.0, t[-1]), W0.ravel(), method="DOP853", t_eval=t, **ODE_TOL,
    )
    assert ref.success
    W_net = np.array([traj.end_to_end(k) for k in range(len(t))])
    return np.max(np.abs(W_net - ref.y.T.reshape(W_net.shape))), W_net


def spectrum_data(widths):
    d_in, d_out = widths[0], widths[-1]
    return Data.from_spectrum([3.0, 1.5, 0.5][: min(d_in, d_out)], d_in, d_out, seed=2)


T_E2E = np.linspace(0.0, 4.0, 41)


@pytest.mark.parametrize("widths", [[3, 4, 4, 3], [2, 3, 3, 3, 2]], ids=["h3", "h4"])
def test_balanced_end_to_end_map_follows_the_end_to_end_ode(widths):
    top, data = layered(widths), spectrum_data(widths)
    # A full-rank start, not aligned with Syx (so the fractional powers do not
    # commute with dL/dW) and on the same side of det = 0 as Syx (a balanced
    # square W cannot change the sign of its determinant, Arora et al. 2019):
    # M = 0.3 R Syx with R a rotation by about 0.5 rad, singular values 0.3 s_k.
    K = np.random.default_rng(3).standard_normal((widths[-1],) * 2)
    M = 0.3 * expm(0.25 * (K - K.T)) @ data.Syx
    theta0 = init.balanced(top, seed=3, end_to_end=M)
    np.testing.assert_allclose(top.end_to_end(theta0), M, atol=1e-13)
    deviation, W_net = end_to_end_deviation(top, data, theta0, T_E2E)
    # absolute, entrywise; the entries are O(1) (W moves from M to Syx, ||Syx||_2 = 3)
    assert deviation < 1e-8
    assert np.max(np.abs(W_net[-1] - data.Syx)) < 0.05  # the map really travelled to the minimum


@pytest.mark.parametrize("widths", [[3, 4, 4, 3], [2, 3, 3, 3, 2]], ids=["h3", "h4"])
def test_end_to_end_ode_fails_for_a_delta_balanced_start(widths):
    """With max ||C_i||_F = 0.05 instead of 0 the end-to-end ODE is off by ~0.05 (so the test above can fail)."""
    top, data = layered(widths), spectrum_data(widths)
    deviation, _ = end_to_end_deviation(top, data, init.delta_balanced(top, 0.05, scale=0.3, seed=3), T_E2E)
    assert deviation > 1e-3


# ------------------------------------------ decoupled: scalar network ODEs
def scalar_network_rhs(w, s):
    """dw_i/dt = (prod_{j != i} w_j)(s - prod_j w_j) for one mode."""
    others = np.array([np.prod(np.delete(w, i)) for i in range(len(w))])
    return others * (s - np.prod(w))


def test_decoupled_modes_follow_their_scalar_network_odes():
    top = layered([3, 5, 4, 3])
    w0 = np.array([[0.5, -0.3, 0.8], [0.2, 0.6, -0.4], [0.9, 0.4, 0.3]])  # (h, m), signed, unbalanced
    theta0 = init.decoupled(top, DATA, w0, seed=4)
    # Recover the fixed frames F_0 = V, F_i = W_i(0) F_{i-1} diag(1/w_i(0)), F_h = U.
    frames = [DATA.V]
    for W, wi in zip(top.layer_weights(theta0), w0):
        frames.append(W @ frames[-1] / wi)
    np.testing.assert_allclose(frames[-1], DATA.U, atol=1e-12)
    t = np.linspace(0.0, 8.0, 81)
    traj = integrate(top, DATA, theta0, t)
    chains = np.empty((len(t),) + w0.shape)  # (T, h, m): w_{ik}(t)
    for k, x in enumerate(traj.theta):
        for i, W in enumerate(top.layer_weights(x), start=1):
            R = frames[i].T @ W @ frames[i - 1]  # diag(w_i(t)): no coupling between modes ...
            assert np.max(np.abs(R - np.diag(np.diag(R)))) < 1e-12
            assert np.max(np.abs(W - (frames[i] * np.diag(R)) @ frames[i - 1].T)) < 1e-12  # ... nor leaving the frames
            chains[k, i - 1] = np.diag(R)
    for mode, s in enumerate(DATA.s):
        ref = solve_ivp(
            lambda _, w: scalar_network_rhs(w, s), (0.0, t[-1]), w0[:, mode], method="DOP853", t_eval=t, **ODE_TOL
        )
        assert ref.success
        assert np.max(np.abs(chains[:, :, mode] - ref.y.T)) < 1e-8
    assert np.max(np.abs(chains[-1].prod(axis=0) - DATA.s)) < 1e-2  # every mode was learnt
