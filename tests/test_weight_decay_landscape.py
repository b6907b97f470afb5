"""The landscape of the decayed loss F = L + lambda/2 ||theta||^2 (issue 27): its own critical points, balanced
by the decay, and its local minima, classified by the Hessian of F modulo the orthogonal orbit."""

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize

import geodln
from geodln.landscape.points import decayed_mode_values, decayed_origin_kind

SPECTRUM = [3.0, 2.0, 1.0]


def _diag_flow(depth, lam, d=3):
    """Widths d, ..., d on whitened data with Syx = diag(SPECTRUM[:d])."""
    return geodln.GradientFlow(geodln.layered([d] * (depth + 1)),
                               geodln.Data(np.eye(d), np.diag(SPECTRUM[:d])), weight_decay=lam)


def _decayed_gradient(flow, theta):
    """dF/dW_i = -(W_h..W_{i+1})^T (Syx - W Sxx) (W_{i-1}..W_1)^T + lambda W_i, layer by layer (independent of
    the package's passes), as a list of matrices."""
    Ws, data = flow.top.layer_weights(theta), flow.data

    def product(layers, d):  # the layers' product, last first (identity of size d when empty)
        P = np.eye(d)
        for Wl in layers:
            P = Wl @ P
        return P

    E = data.Syx - product(Ws, Ws[0].shape[1]) @ data.Sxx
    return [-(product(Ws[i + 1:], Ws[i].shape[0]).T @ E @ product(Ws[:i], Ws[0].shape[1]).T) + flow.weight_decay * Ws[i]
            for i in range(len(Ws))]


def _fd_hessian(flow, theta, eps=1e-5):
    """Central differences of the independent decayed gradient (packed as the package packs weights)."""
    def grad(x):
        return flow.top.from_layer_weights(_decayed_gradient(flow, x))

    n = theta.size
    H = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = eps
        H[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * eps)
    return 0.5 * (H + H.T)


def _check_certificate(flow, cp):
    """The decayed gradient recomputed independently is below the threshold; the balances vanish; the inertia
    of a finite-difference Hessian of F gives the same class."""
    grads = _decayed_gradient(flow, cp.theta)
    g = np.sqrt(sum(float(np.sum(G ** 2)) for G in grads))
    assert g <= 1e-9 * flow.data.s[0] ** 2 * (1 + 1e-6)
    Ws = flow.top.layer_weights(cp.theta)
    for Wi, Wj in zip(Ws[:-1], Ws[1:]):  # balanced by the decay
        assert np.abs(Wi @ Wi.T - Wj.T @ Wj).max() <= 1e-8 * max(1.0, np.abs(Wi).max() ** 2)
    lam = np.linalg.eigvalsh(_fd_hessian(flow, cp.theta))
    band = 1e-5 * max(1.0, np.abs(lam).max())
    negative, zero = int(np.sum(lam < -band)), int(np.sum(np.abs(lam) <= band))
    assert negative == cp.hessian.negative and zero == cp.hessian.zero == cp.orbit_dim
    assert cp.kind == ("strict_saddle" if negative else "local_minimum")
    assert cp.loss == pytest.approx(flow.loss(cp.theta)) and cp.weight_decay == flow.weight_decay


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
@pytest.mark.parametrize("factor", [0.3, 0.9, 1.1, 2.0])
def test_the_origin(depth, factor):
    """h >= 3: a strict local minimum (Hessian lambda I) for every lambda; h = 2: iff lambda > sigma_1(Syx),
    else a strict saddle with d_1 negative eigenvalues lambda - sigma_k per mode above lambda. Non-whitened
    data: sigma_1 is that of Syx itself, not of the modes."""
    rng = np.random.default_rng(depth)
    X = rng.standard_normal((3, 8))
    data = geodln.Data(X, np.diag(SPECTRUM) @ X + 0.1 * rng.standard_normal((3, 8)))
    sigma = np.linalg.svd(data.Syx, compute_uv=False)
    lam = factor * sigma[0]
    flow = geodln.GradientFlow(geodln.layered([3] * (depth + 1)), data, weight_decay=lam)
    cp = geodln.analyze_point(flow, np.zeros(flow.top.n_params))
    expected = "local_minimum" if depth >= 3 or factor > 1 else "strict_saddle"
    assert cp.kind == decayed_origin_kind(flow) == expected
    assert cp.hessian.negative == (3 * int(np.sum(sigma > lam)) if depth == 2 else 0)
    assert cp.hessian.zero == 0 and cp.learned == [] and cp.orbit_dim == 0
    assert cp.hessian.min == pytest.approx(lam - sigma[0] if depth == 2 else lam)


def test_the_origin_at_the_threshold_is_refused():
    """h = 2, lambda = sigma_1: the Hessian is singular off any orbit; no class is given."""
    flow = _diag_flow(2, SPECTRUM[0])
    assert decayed_origin_kind(flow) is None
    with pytest.raises(geodln.ClassificationError, match="singular beyond the orthogonal symmetry"):
        geodln.analyze_point(flow, np.zeros(flow.top.n_params))


def test_a_point_that_is_not_critical_for_the_decayed_loss_is_refused():
    """A critical point of L (a global minimum) is not one of F: refused with F's own gradient."""
    flow = _diag_flow(3, 0.2)
    Ws = [np.diag(np.array(SPECTRUM) ** (1 / 3))] * 3
    with pytest.raises(geodln.NotCriticalError, match="decayed loss"):
        geodln.analyze_point(flow, flow.top.from_layer_weights(Ws))


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("lam", [0.15, 0.6, 1.5])
def test_closed_form_critical_points_per_mode(depth, lam):
    """Every choice of a per-mode value a_k in {0} or the roots of a^{h-1}(s_k - a^h) = lambda a, on every
    layer (W_i = diag(a)): a critical point of F, balanced, certified, and classified as derived: strict when
    a mode sits at the smaller root (F'' = -h a g'(a) < 0 along it) or when an unlearnt mode i has
    a_j^{h-2} s_i > lambda + a_j^{2h-2} for a learnt j (the swap block; for h = 2, s_i > lambda), else a local
    minimum. The finite-difference Hessian of F agrees."""
    flow = _diag_flow(depth, lam)
    options = [[0.0] + [float(a) for a in decayed_mode_values(s, lam, depth)] for s in SPECTRUM]
    seen = set()
    for values in itertools.product(*options):
        a = np.array(values)
        cp = geodln.analyze_point(flow, flow.top.from_layer_weights([np.diag(a)] * depth))
        roots = [decayed_mode_values(s, lam, depth) for s in SPECTRUM]
        smaller = any(depth >= 3 and r.size == 2 and ak == r[0] for ak, r in zip(a, roots))
        learnt = [k for k in range(3) if a[k] > 0]
        unlearnt = [k for k in range(3) if a[k] == 0]
        swap = any(a[j] ** (depth - 2) * SPECTRUM[i] > lam + a[j] ** (2 * depth - 2) + 1e-12
                   for i in unlearnt for j in learnt) or (depth == 2 and any(SPECTRUM[i] > lam for i in unlearnt))
        assert cp.kind == ("strict_saddle" if smaller or swap else "local_minimum"), values
        assert cp.learned == [k + 1 for k in learnt]
        _check_certificate(flow, cp)
        seen.add(cp.kind)
    assert seen == {"local_minimum", "strict_saddle"} or depth == 2 and lam > SPECTRUM[-1]


@pytest.mark.parametrize("seed", range(6))
def test_random_critical_points_found_by_minimisation_and_newton(seed):
    """Small networks (depth 2-4, widths 1-4, general data, random lambda): L-BFGS on F from random starts
    lands near local minima, Newton from a perturbed origin-free saddle near strict saddles;
    nearest_critical_point projects (Newton on dF) and classifies, and every certificate is recomputed."""
    rng = np.random.default_rng(seed)
    kinds = []
    for _ in range(4):
        depth = int(rng.integers(2, 5))
        widths = [int(w) for w in rng.integers(1, 5, depth + 1)]
        d0, dh = widths[0], widths[-1]
        X = rng.standard_normal((d0, 10))
        data = geodln.Data(X, rng.standard_normal((dh, d0)) @ X + 0.1 * rng.standard_normal((dh, 10)))
        lam = float(rng.uniform(0.05, 0.5)) * float(np.linalg.svd(data.Syx, compute_uv=False)[0])
        flow = geodln.GradientFlow(geodln.layered(widths), data, weight_decay=lam)
        start = rng.standard_normal(flow.top.n_params)
        found = minimize(flow.loss, start, jac=flow.gradient, method="L-BFGS-B",
                         options={"gtol": 1e-10, "maxiter": 10000}).x
        near = geodln.nearest_critical_point(flow, found)
        _check_certificate(flow, near.point)
        kinds.append(near.point.kind)
        assert near.distance == pytest.approx(np.linalg.norm(near.point.theta - found), abs=1e-15)
        # the smallest decayed saddle: the origin of a depth-2 network with lambda < sigma_1, pushed a little
        if depth == 2:
            near0 = geodln.nearest_critical_point(flow, 1e-6 * rng.standard_normal(flow.top.n_params))
            _check_certificate(flow, near0.point)
            assert near0.point.kind == "strict_saddle" and not np.any(near0.point.theta > 1e-9)
    assert "local_minimum" in kinds


def test_the_balance_identity_holds_everywhere():
    """lambda (W_i W_i^T - W_{i+1}^T W_{i+1}) = W_i Gam_i^T - Gam_{i+1}^T W_{i+1} for the decayed gradient
    Gam at any point (the derivation of the balance at critical points)."""
    rng = np.random.default_rng(0)
    for depth in (2, 3, 4):
        flow = geodln.GradientFlow(geodln.layered([3, 4, 2, 3, 3][:depth + 1]),
                                   geodln.Data.from_spectrum([3.0, 1.0], 3, [3, 4, 2, 3, 3][depth], seed=1),
                                   weight_decay=0.7)
        theta = rng.standard_normal(flow.top.n_params)
        Ws = flow.top.layer_weights(theta)
        Gs = flow.top.layer_weights(flow.gradient(theta))
        for i in range(depth - 1):
            lhs = 0.7 * (Ws[i] @ Ws[i].T - Ws[i + 1].T @ Ws[i + 1])
            rhs = Ws[i] @ Gs[i].T - Gs[i + 1].T @ Ws[i + 1]
            assert np.allclose(lhs, rhs, atol=1e-10 * max(1.0, np.abs(lhs).max()))
