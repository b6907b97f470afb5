"""Losses as functions of the end-to-end map ``W`` (shape ``(d_out, d_in)``).

The gradient flow only needs ``L(W)`` and ``dL/dW``; the network then
back-propagates ``dL/dW`` through its weights. Because the conserved quantities
come from the layer structure alone (the loss sees ``W``, which the hidden-layer
group leaves unchanged), they hold for every loss here.

- :class:`Quadratic`: ``L = 1/2 ||Y - W X||_F^2`` (the default, through the
  statistics ``Sxx, Syx, Syy`` only), ``dL/dW = W Sxx - Syx``.
- :class:`LogCosh`: ``L = c^2 sum_ij log cosh(R_ij / c)`` with ``R = Y - W X``,
  quadratic for small residuals and linear for large ones.
- :class:`Huber`: ``L = sum_ij huber_delta(R_ij)``, quadratic inside
  ``|R| <= delta`` and linear outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Data

__all__ = ["Loss", "Quadratic", "LogCosh", "Huber", "get_loss"]


class Loss:
    """Base class: a loss ``L(W)`` of the end-to-end map and its gradient."""

    name = "loss"

    def value(self, W: np.ndarray, data: Data) -> float:
        """``L(W)`` for ``W`` of shape ``(d_out, d_in)``."""
        raise NotImplementedError

    def gradient(self, W: np.ndarray, data: Data) -> np.ndarray:
        """``dL/dW``, shape ``(d_out, d_in)``."""
        raise NotImplementedError

    def curvature(self, W: np.ndarray, dW: np.ndarray, data: Data) -> np.ndarray:
        """The second derivative applied to a direction: ``d/de dL/dW(W + e dW)`` at 0."""
        raise NotImplementedError


@dataclass(frozen=True)
class Quadratic(Loss):
    """``L(W) = 1/2 ||Y - W X||_F^2``, computed from ``Sxx, Syx, Syy``.

    Evaluated as ``L_* + 1/2 tr((W - W_ls) Sxx (W - W_ls)^T)``, which stays
    accurate (and nonnegative) near the minimum.

    Examples
    --------
    >>> import numpy as np
    >>> from geodln.network.data import Data
    >>> data = Data(np.eye(2), np.diag([3.0, 1.0]))
    >>> Quadratic().value(np.zeros((2, 2)), data)
    5.0
    """

    name = "quadratic"

    def value(self, W, data):
        # L_* + 1/2 tr(D Sxx D^T) with D = W - Syx Sxx^{-1}: no cancellation near the minimum
        D = W - data.W_ls
        return data.loss_floor + 0.5 * float(np.vdot(D @ data.Sxx, D))

    def gradient(self, W, data):
        return W @ data.Sxx - data.Syx

    def curvature(self, W, dW, data):
        return dW @ data.Sxx


@dataclass(frozen=True)
class LogCosh(Loss):
    """``L(W) = c^2 sum_ij log cosh((Y - W X)_ij / c)``; ``dL/dW = -c tanh(R / c) X^T``.

    For residuals much smaller than ``c`` it equals the quadratic loss.
    """

    scale: float = 1.0
    name = "logcosh"

    def __post_init__(self):
        if not self.scale > 0:
            raise ValueError(f"LogCosh scale must be positive, got {self.scale!r}")

    def value(self, W, data):
        z = np.abs(data.Y - W @ data.X) / self.scale
        # log cosh z = z + log(1 + e^{-2z}) - log 2, stable for large z
        return float(self.scale**2 * np.sum(z + np.log1p(np.exp(-2 * z)) - np.log(2.0)))

    def gradient(self, W, data):
        R = data.Y - W @ data.X
        return -self.scale * np.tanh(R / self.scale) @ data.X.T

    def curvature(self, W, dW, data):
        sech2 = 1.0 - np.tanh((data.Y - W @ data.X) / self.scale) ** 2
        return (sech2 * (dW @ data.X)) @ data.X.T


@dataclass(frozen=True)
class Huber(Loss):
    """``L(W) = sum_ij huber(R_ij)``, ``huber(r) = r^2/2`` for ``|r| <= delta`` and
    ``delta (|r| - delta/2)`` beyond; ``dL/dW = -clip(R, -delta, delta) X^T``."""

    delta: float = 1.0
    name = "huber"

    def __post_init__(self):
        if not self.delta > 0:
            raise ValueError(f"Huber delta must be positive, got {self.delta!r}")

    def value(self, W, data):
        a = np.abs(data.Y - W @ data.X)
        return float(np.sum(np.where(a <= self.delta, 0.5 * a**2, self.delta * (a - 0.5 * self.delta))))

    def gradient(self, W, data):
        return -np.clip(data.Y - W @ data.X, -self.delta, self.delta) @ data.X.T

    def curvature(self, W, dW, data):
        inside = np.abs(data.Y - W @ data.X) <= self.delta
        return (inside * (dW @ data.X)) @ data.X.T


_LOSSES = {cls.name: cls for cls in (Quadratic, LogCosh, Huber)}


def get_loss(loss) -> Loss:
    """A :class:`Loss` from an instance, ``None`` (quadratic) or a name."""
    if loss is None:
        return Quadratic()
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in _LOSSES:
        return _LOSSES[loss]()
    raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(_LOSSES)} or pass a Loss instance")
