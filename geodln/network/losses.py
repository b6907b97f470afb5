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

A new loss is one subclass of :class:`Loss` with a ``name``, decorated with
:func:`register_loss`: :func:`get_loss` and ``geodln flow --loss`` then know it
by that name. Its capabilities are class attributes the callers read instead
of its name: ``closed_form_critical_values`` says whether the landscape's
closed forms (critical maps ``W_J``, values ``L_J``) hold for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Data

__all__ = ["Loss", "Quadratic", "LogCosh", "Huber", "get_loss", "register_loss", "loss_names"]


class Loss:
    """Base class: a loss ``L(W)`` of the end-to-end map and its gradient."""

    name = "loss"
    # Whether the critical points are the maps W_J = sum_{k in J} s_k u_k v_k^T (whitened) with the critical values
    # L_J = L_* + 1/2 sum_{k not in J} s_k^2 (DESIGN.md section 1): what the classification of critical
    # points and the itinerary of a flow are built on. True only for a loss where those formulas are proved.
    closed_form_critical_values = False

    def require_closed_form_critical_values(self, what: str) -> None:
        """Refuse a computation that rests on the closed-form critical values ``L_J``.

        Parameters
        ----------
        what : str
            The computation, as the subject of the message (e.g. ``"itineraries"``).

        Raises
        ------
        ValueError
            If this loss does not declare ``closed_form_critical_values``.

        Examples
        --------
        >>> Huber().require_closed_form_critical_values("itineraries")
        Traceback (most recent call last):
        ...
        ValueError: itineraries rest on closed-form critical values L_J, which the huber loss does not have
        """
        if not self.closed_form_critical_values:
            raise ValueError(f"{what} rest on closed-form critical values L_J, which the {self.name} loss does not have")

    def value(self, W: np.ndarray, data: Data) -> float:
        """``L(W)`` for ``W`` of shape ``(d_out, d_in)``."""
        raise NotImplementedError

    def gradient(self, W: np.ndarray, data: Data) -> np.ndarray:
        """``dL/dW``, shape ``(d_out, d_in)``."""
        raise NotImplementedError

    def curvature(self, W: np.ndarray, dW: np.ndarray, data: Data) -> np.ndarray:
        """The second derivative applied to a direction: ``d/de dL/dW(W + e dW)`` at 0."""
        raise NotImplementedError


_LOSSES: dict[str, type[Loss]] = {}  # name -> class, in the order of registration (the CLI's choices)


def register_loss(cls: type[Loss]) -> type[Loss]:
    """Class decorator: make a :class:`Loss` subclass known by its ``name`` to :func:`get_loss` and the CLI.

    Raises
    ------
    TypeError
        If ``cls`` is not a subclass of :class:`Loss`.
    ValueError
        If another class is already registered under that name.
    """
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise TypeError(f"register_loss takes a subclass of Loss, got {cls!r}")
    if _LOSSES.get(cls.name, cls) is not cls:
        raise ValueError(f"a loss named {cls.name!r} is already registered ({_LOSSES[cls.name].__name__})")
    _LOSSES[cls.name] = cls
    return cls


def loss_names() -> tuple[str, ...]:
    """The names of the registered losses, in the order they were registered.

    Examples
    --------
    >>> loss_names()[:3]
    ('quadratic', 'logcosh', 'huber')
    """
    return tuple(_LOSSES)


@register_loss
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
    closed_form_critical_values = True

    def value(self, W, data):
        # L_* + 1/2 tr(D Sxx D^T) with D = W - Syx Sxx^{-1}: no cancellation near the minimum
        D = W - data.W_ls
        return data.loss_floor + 0.5 * float(np.vdot(D @ data.Sxx, D))

    def gradient(self, W, data):
        return W @ data.Sxx - data.Syx

    def curvature(self, W, dW, data):
        return dW @ data.Sxx


@register_loss
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


@register_loss
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


def get_loss(loss) -> Loss:
    """A :class:`Loss` from an instance, ``None`` (quadratic) or a name."""
    if loss is None:
        return Quadratic()
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in _LOSSES:
        return _LOSSES[loss]()
    raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(_LOSSES)} or pass a Loss instance")
