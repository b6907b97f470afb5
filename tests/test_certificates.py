"""Certified answers about points: on random points of random networks, geodln refuses or certifies.

Every point geodln returns as critical is checked here with numbers computed independently of the
package: the layer-wise gradient ``dL/dW_i = -(W_h..W_{i+1})^T (Syx - W Sxx) (W_{i-1}..W_1)^T`` and
the loss ``1/2 ||Y - W X||_F^2`` from the raw data, against the critical value
``L_J = L_* + 1/2 sum_{k not in J} s_k^2`` of the learnt set it names.
"""

import numpy as np
import pytest

import geodln
from geodln.landscape.points import NEAR


def _product(Ws, n):
    """``Ws[-1] ... Ws[0]``, the identity of size ``n`` for no factor."""
    out = np.eye(n)
    for W in Ws:
        out = W @ out
    return out


def _independent_gradient(Ws, data):
    """``||dL/dtheta||`` from the layer-wise formula, with no geodln code; and ``W``."""
    W = _product(Ws, Ws[0].shape[1])
    E = data.Syx - W @ data.Sxx
    total = 0.0
    for i, Wi in enumerate(Ws):
        left, right = _product(Ws[i + 1:], Wi.shape[0]), _product(Ws[:i], Ws[0].shape[1])
        total += float(np.sum((left.T @ E @ right.T) ** 2))
    return np.sqrt(total), W


def _random_case(rng):
    depth = int(rng.integers(2, 5))
    widths = [int(w) for w in rng.integers(1, 5, depth + 1)]
    m = min(widths[0], widths[-1])
    spectrum = np.sort(rng.uniform(0.5, 4.0, m))[::-1]
    spectrum = spectrum + 0.3 * np.arange(m)[::-1]  # distinct singular values, gaps of 0.3 at least
    X = rng.standard_normal((widths[0], widths[0] + 5))
    data = geodln.Data(X, data_y(rng, spectrum, widths, X))
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    scale = 10 ** rng.uniform(-3, 0.5)
    return flow, scale * rng.standard_normal(flow.top.n_params)


def data_y(rng, spectrum, widths, X):
    """Targets ``Y = M X`` for a random map ``M`` of the given singular values (not whitened data)."""
    U, _ = np.linalg.qr(rng.standard_normal((widths[-1], widths[-1])))
    V, _ = np.linalg.qr(rng.standard_normal((widths[0], widths[0])))
    m = len(spectrum)
    M = U[:, :m] @ np.diag(spectrum) @ V[:, :m].T
    return M @ X + 0.1 * rng.standard_normal((widths[-1], X.shape[1]))


@pytest.mark.parametrize("block", range(4))
def test_random_points_are_refused_or_certified(block):
    """200 random points (50 per block) of random layered networks (depth 2-4, widths 1-4, scales 1e-3-3,
    general data): nearest_critical_point either raises NotCriticalError or returns a point whose gradient
    and loss gap, recomputed independently, meet the thresholds, at a distance it reports truthfully and
    within NEAR of the given weights; analyze_point on the raw point refuses unless its gradient is zero."""
    rng = np.random.default_rng(1000 + block)
    tol = geodln.Tolerances()
    outcomes = {"refused": 0, "certified": 0}
    for _ in range(50):
        flow, theta = _random_case(rng)
        data, top = flow.data, flow.top
        threshold = tol.gradient * float(data.s[0]) ** 2
        raw_grad, _ = _independent_gradient(top.layer_weights(theta), data)
        if raw_grad > threshold:
            with pytest.raises(geodln.NotCriticalError, match="at these weights"):
                geodln.analyze_point(flow, theta)
        try:
            near = geodln.nearest_critical_point(flow, theta)
        except geodln.NotCriticalError as refusal:
            assert "||dL/dtheta||" in str(refusal)
            outcomes["refused"] += 1
            continue
        except geodln.ClassificationError:
            outcomes["refused"] += 1  # the checks disagree: refused, with a reason, never a class
            continue
        x = near.point.theta
        grad, W = _independent_gradient(top.layer_weights(x), data)
        loss = 0.5 * float(np.sum((data.Y - W @ data.X) ** 2))
        s = data.s
        value = data.loss_floor + 0.5 * float(np.sum(s[[k for k in range(len(s)) if k + 1 not in near.point.learned]] ** 2))
        assert grad <= threshold * (1 + 1e-6) + 1e-12
        assert abs(loss - value) <= tol.loss * s[0] ** 2 * (1 + 1e-6) + 1e-9 * max(1.0, loss)
        assert near.distance == pytest.approx(float(np.linalg.norm(x - theta)), rel=1e-12, abs=1e-15)
        size = max(np.linalg.norm(theta), np.sqrt(top.depth) * s[0] ** (1 / top.depth))
        assert near.distance <= NEAR * size * (1 + 1e-12)
        outcomes["certified"] += 1
    # both branches are exercised (about half each): small starts shadow the origin, large ones nothing
    assert outcomes["refused"] >= 5 and outcomes["certified"] >= 5, outcomes


def test_inputs_outside_the_theory_are_refused_where_they_enter():
    """Repeated singular values (outside the stratification) at analyze_stratum: a ValueError that says why,
    never a ClassificationError from deep inside. (Weight decay, once refused at analyze_point, has its own
    landscape there now: tests/test_weight_decay_landscape.py.)"""
    data = geodln.Data.from_spectrum([3.0, 3.0, 1.0], 3, 3, seed=0)
    with pytest.raises(ValueError, match="repeated"):
        geodln.analyze_stratum(geodln.Stratum((3, 3, 3), (1,), (), 3), data)
