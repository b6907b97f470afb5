"""The exact Hessian: finite differences, Taylor order, symmetry, Lanczos, inertia."""

import numpy as np
import pytest

import geodln
from geodln.dynamics.hessian import hessian, hessian_vector_product, inertia, lanczos_extremes
from geodln.dynamics.hessian import HessianOperator
from conftest import data_for
from taylor import remainder_slope

LOSSES = [geodln.Quadratic(), geodln.LogCosh(scale=0.7), geodln.Huber(delta=0.5)]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_hvp_equals_finite_differences_of_the_gradient(top, rng, loss):
    flow = geodln.GradientFlow(top, data_for(top), loss=loss)
    theta, v = 0.6 * rng.standard_normal(top.n_params), rng.standard_normal(top.n_params)
    h = 1e-5
    fd = (flow.gradient(theta + h * v) - flow.gradient(theta - h * v)) / (2 * h)
    assert np.linalg.norm(hessian_vector_product(flow, theta, v) - fd) <= 1e-7 * np.linalg.norm(fd)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.name)
def test_second_order_taylor_remainder_is_third_order(top, rng, loss):
    """L(theta + e v) - L - e <g, v> - e^2/2 <v, H v> falls like e^3, fitted over eleven step sizes."""
    flow = geodln.GradientFlow(top, data_for(top), loss=loss)
    theta, v = 0.6 * rng.standard_normal(top.n_params), rng.standard_normal(top.n_params)
    v /= np.linalg.norm(v)
    L0, gv, vHv = flow.loss(theta), flow.gradient(theta) @ v, v @ hessian_vector_product(flow, theta, v)

    def remainder(e, curvature=vHv):
        return flow.loss(theta + e * v) - L0 - e * gv - 0.5 * e**2 * curvature

    assert remainder_slope(remainder) == pytest.approx(3.0, abs=0.1)
    assert remainder_slope(lambda e: remainder(e, vHv + 0.1)) < 2.5  # a wrong Hessian fails the check


@pytest.mark.parametrize("decay", [0.0, 0.3])
def test_operator_is_the_flow_jacobian_at_one_point(top, rng, decay):
    """HessianOperator(theta).field_tangent(v) = d/de rhs(theta + e v), for one and for many directions."""
    flow = geodln.GradientFlow(top, data_for(top), loss=geodln.LogCosh(scale=0.7), weight_decay=decay)
    theta, V = 0.6 * rng.standard_normal(top.n_params), rng.standard_normal((top.n_params, 3))
    op = HessianOperator(flow, theta)
    for v in V.T:  # the same operator, applied again and again (the Lanczos use)
        e = 1e-5
        fd = (flow.rhs(theta + e * v) - flow.rhs(theta - e * v)) / (2 * e)
        assert np.linalg.norm(op.field_tangent(v) - fd) <= 1e-7 * np.linalg.norm(fd)
        np.testing.assert_allclose(op(v), -op.field_tangent(v), rtol=0, atol=0)
    batch = op.field_tangent(V)
    np.testing.assert_allclose(batch, np.column_stack([op.field_tangent(v) for v in V.T]), atol=1e-12 * np.abs(batch).max())


def test_dense_hessian_is_symmetric_and_matches_the_product(top, rng):
    flow = geodln.GradientFlow(top, data_for(top))
    theta, v = rng.standard_normal(top.n_params), rng.standard_normal(top.n_params)
    n = top.n_params
    raw = np.column_stack([hessian_vector_product(flow, theta, e) for e in np.eye(n)])
    np.testing.assert_allclose(raw, raw.T, atol=1e-12 * np.abs(raw).max())
    np.testing.assert_allclose(hessian(flow, theta) @ v, hessian_vector_product(flow, theta, v), atol=1e-12 * n)


def test_lanczos_agrees_with_dense_eigenvalues(rng):
    top = geodln.layered([3, 4, 4, 3])
    flow = geodln.GradientFlow(top, data_for(top, (3.0, 2.0, 1.0)))
    theta = 0.7 * rng.standard_normal(top.n_params)
    lam = np.linalg.eigvalsh(hessian(flow, theta))
    small, large = lanczos_extremes(flow, theta, k=4)
    np.testing.assert_allclose(small, lam[:4], atol=1e-9)
    np.testing.assert_allclose(large, lam[-4:], atol=1e-9)


def test_origin_hessian_vanishes_for_depth_three():
    """At the origin of a depth >= 3 network every second derivative is zero."""
    top = geodln.layered([2, 2, 2, 2])
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=0))
    H = hessian(flow, np.zeros(top.n_params))
    assert np.count_nonzero(H) == 0
    assert inertia(np.linalg.eigvalsh(H)).as_dict() == {"negative": 0, "zero": 12, "positive": 0, "min": 0.0, "max": 0.0}


def test_depth_two_origin_is_strict_with_eigenvalues_plus_minus_s():
    """For 1,1,1 with data s the Hessian at 0 is [[0, -s], [-s, 0]]: eigenvalues -s and s."""
    top = geodln.layered([1, 1, 1])
    flow = geodln.GradientFlow(top, geodln.Data(np.eye(1), np.array([[2.0]])))
    np.testing.assert_allclose(hessian(flow, np.zeros(2)), [[0.0, -2.0], [-2.0, 0.0]], atol=1e-15)
