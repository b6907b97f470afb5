"""Weight decay: the flow of L + lambda/2 ||theta||^2 and the exact decay of the balances.

Derivation (Kunin et al., "Neural mechanics", ICLR 2021, for the continuous law): the moment map
mu (the balances, matrix or node-wise) is a quadratic form, mu(theta) = mu(theta, theta), and the
gradient of any loss of W is orthogonal to the group orbit, mu(theta, grad L) = 0. Hence
- flow: d mu/dt = 2 mu(theta, -grad L - lambda theta) = -2 lambda mu, so mu(t) = e^{-2 lambda t} mu(0);
- descent, theta' = (1 - eta lambda) theta - eta grad L:
  mu(theta') = (1 - eta lambda)^2 mu(theta) + eta^2 mu(grad L(theta)), exactly.
"""

import json

import numpy as np
import pytest

import geodln
from geodln.cli.main import main
from geodln.dynamics.hessian import hessian

from conftest import data_for

LAM = 0.3


def _start(top, seed=0, scale=0.7):
    return scale * np.random.default_rng(seed).standard_normal(top.n_params)


def test_balances_decay_exactly_along_the_flow(top):
    flow = geodln.GradientFlow(top, data_for(top), weight_decay=LAM)
    T = 2.0
    traj = flow.integrate(_start(top), T, rtol=1e-12, atol=1e-14, n_points=21)
    C0, CT = flow.conserved_vector(traj.theta[0]), flow.conserved_vector(traj.theta[-1])
    scale = np.abs(C0).max()
    assert np.abs(CT - np.exp(-2 * LAM * T) * C0).max() < 1e-10 * scale
    assert np.abs(CT - C0).max() > 0.1 * scale  # they did decay
    assert traj.conserved_drift.max() < 1e-10 * scale  # the drift report measures the decay law


def test_matrix_balances_decay_on_a_fully_connected_network():
    top = geodln.layered([2, 3, 3, 2])
    flow = geodln.GradientFlow(top, data_for(top), loss="logcosh", weight_decay=0.5)
    traj = flow.integrate(_start(top, 1), 1.5, rtol=1e-12, atol=1e-14, n_points=5)
    for k, t in enumerate(traj.t):
        for C, C0 in zip(flow.conserved(traj.theta[k], "matrix"), flow.conserved(traj.theta[0], "matrix")):
            np.testing.assert_allclose(C, np.exp(-2 * 0.5 * t) * C0, rtol=0, atol=1e-10 * np.abs(C0).max())


def test_zero_weight_decay_is_todays_flow_exactly(top):
    data = data_for(top)
    today, zero = geodln.GradientFlow(top, data), geodln.GradientFlow(top, data, weight_decay=0.0)
    decayed = geodln.GradientFlow(top, data, weight_decay=LAM)
    theta = _start(top, 2)
    assert np.array_equal(today.rhs(theta), zero.rhs(theta)) and today.loss(theta) == zero.loss(theta)
    assert np.array_equal(decayed.rhs(theta), today.rhs(theta) - LAM * theta)
    assert decayed.loss(theta) == pytest.approx(today.loss(theta) + 0.5 * LAM * theta @ theta, rel=1e-14)
    a, b = today.integrate(theta, 1.0, n_points=5), zero.integrate(theta, 1.0, n_points=5)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.conserved_drift, b.conserved_drift)
    assert np.array_equal(a.loss, b.loss)
    c, d = today.descend(theta, 0.01, 20), zero.descend(theta, 0.01, 20)
    assert np.array_equal(c.theta, d.theta) and np.array_equal(c.conserved_drift, d.conserved_drift)
    assert repr(today) == repr(zero)


def test_hessian_gains_lambda_identity():
    top = geodln.layered([2, 3, 2])
    data, theta = data_for(top), _start(top, 3)
    H0 = hessian(geodln.GradientFlow(top, data), theta)
    H = hessian(geodln.GradientFlow(top, data, weight_decay=LAM), theta)
    np.testing.assert_allclose(H, H0 + LAM * np.eye(top.n_params), rtol=0, atol=1e-13)


def test_descent_step_has_the_exact_balance_defect(top):
    """mu(theta_{k+1}) = (1 - eta lambda)^2 mu(theta_k) + eta^2 mu(grad L(theta_k)) to rounding."""
    data, eta = data_for(top), 0.02
    flow, plain = geodln.GradientFlow(top, data, weight_decay=LAM), geodln.GradientFlow(top, data)
    traj = flow.descend(_start(top, 4), eta, 30)
    for x, y in zip(traj.theta[:-1], traj.theta[1:]):
        mu = flow.conserved_vector
        predicted = (1 - eta * LAM) ** 2 * mu(x) + eta**2 * mu(plain.gradient(x))
        np.testing.assert_allclose(mu(y), predicted, rtol=0, atol=1e-13 * np.abs(mu(x)).max())
    # the drift report is measured against the discrete decay (1 - eta lambda)^{2k} mu(theta_0):
    # after one step what is left is exactly the eta^2 defect
    g0 = plain.gradient(traj.theta[0])
    assert traj.conserved_drift[1] == pytest.approx(np.abs(eta**2 * flow.conserved_vector(g0)).max(), rel=1e-9)


def test_weight_decay_is_checked():
    top = geodln.layered([2, 2])
    for bad in (-0.1, np.nan, np.inf, "0.1"):
        with pytest.raises(ValueError, match="weight_decay"):
            geodln.GradientFlow(top, data_for(top), weight_decay=bad)


def test_flow_command_takes_weight_decay(tmp_path):
    out = tmp_path / "run"
    argv = ["flow", "--widths", "2,3,2", "--spectrum", "2,1", "--init", "small", "--scale", "0.5", "--t-end", "5",
            "--n-points", "20", "--weight-decay", "0.2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["weight_decay"] == 0.2
    assert summary["conserved_drift"] < 1e-9
