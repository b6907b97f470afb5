"""Data: statistics, the mode decomposition, critical values, validation."""

import numpy as np
import pytest

import geodln
from geodln import Quadratic


def test_from_spectrum_is_whitened_with_exact_spectrum():
    data = geodln.Data.from_spectrum([3.0, 2.0, 0.5], d_in=4, d_out=3, seed=7)
    np.testing.assert_allclose(data.Sxx, np.eye(4), atol=1e-14)
    np.testing.assert_allclose(np.linalg.svd(data.Syx, compute_uv=False), [3.0, 2.0, 0.5], atol=1e-13)
    assert data.whitened and abs(data.loss_floor) < 1e-12
    np.testing.assert_allclose((data.U * data.s) @ data.V.T, data.Syx, atol=1e-13)


def test_loss_at_critical_maps_is_the_critical_value():
    data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], d_in=3, d_out=3, seed=1)
    for J in [(), (1,), (2,), (1, 3), (1, 2, 3)]:
        idx = [k - 1 for k in J]
        W = (data.U[:, idx] * data.s[idx]) @ data.V[:, idx].T
        expected = 0.5 * sum(data.s[k] ** 2 for k in range(3) if k not in idx)
        assert Quadratic().value(W, data) == pytest.approx(expected, rel=1e-12)
        assert data.critical_value(J) == pytest.approx(expected, rel=1e-12)


def test_general_sxx_loss_floor_is_least_squares_minimum(rng):
    X, Y = rng.standard_normal((3, 20)), rng.standard_normal((2, 20))
    data = geodln.Data(X, Y)
    assert not data.whitened
    W_ls = np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T
    assert Quadratic().value(W_ls, data) == pytest.approx(data.loss_floor, rel=1e-12)
    assert 0.5 * np.sum((Y - W_ls @ X) ** 2) == pytest.approx(data.loss_floor, rel=1e-12)
    # the best rank-1 map learns the top mode of Syx Sxx^{-1/2}
    evals, evecs = np.linalg.eigh(data.Sxx)
    W1 = data.s[0] * np.outer(data.U[:, 0], data.V[:, 0]) @ (evecs / np.sqrt(evals)) @ evecs.T
    assert Quadratic().value(W1, data) == pytest.approx(data.critical_value([1]), rel=1e-12)


def test_nan_data_rejected():
    X = np.eye(2)
    X[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf, first at X\[1, 0\]"):
        geodln.Data(X, np.eye(2))


def test_inf_targets_rejected():
    with pytest.raises(ValueError, match="Y contains NaN or inf"):
        geodln.Data(np.eye(2), np.array([[1.0, np.inf]]))


def test_mismatched_sample_counts():
    with pytest.raises(ValueError, match="X has 3 samples .* but Y has 2"):
        geodln.Data(np.ones((2, 3)), np.ones((1, 2)))


def test_one_dimensional_data_rejected():
    with pytest.raises(ValueError, match="2-D array"):
        geodln.Data(np.ones(3), np.ones((1, 3)))


def test_singular_sxx():
    X = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    with pytest.raises(ValueError, match=r"Sxx = X X\^T is singular \(rank 1 < d_in = 2\)"):
        geodln.Data(X, np.ones((1, 3)))


def test_too_many_singular_values():
    with pytest.raises(ValueError, match="at most 2"):
        geodln.Data.from_spectrum([3, 2, 1], d_in=3, d_out=2)


def test_unsorted_or_nonpositive_spectrum():
    with pytest.raises(ValueError, match="decreasing"):
        geodln.Data.from_spectrum([1, 2], 2, 2)
    with pytest.raises(ValueError, match="positive"):
        geodln.Data.from_spectrum([1, 0], 2, 2)


def test_unknown_mode_in_critical_value():
    data = geodln.Data.from_spectrum([2, 1], 2, 2, seed=0)
    with pytest.raises(ValueError, match="mode 3 does not exist"):
        data.critical_value([3])
