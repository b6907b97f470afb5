"""geomstats adapters: the hidden-layer action, fiber bundle, aligner and quotient metric on packed weights.

geomstats 2.8.0 supplies the ``GroupAction``, ``FiberBundle`` and
``AlignerAlgorithm`` base classes and ``QuotientMetric``, but not the action
``(S, theta) -> pack(S A S^{-1})`` of a product of groups on the hidden levels
of a network. Here points are packed weights ``theta`` (shape
``[..., n_params]``) and group elements block-diagonal ``(n, n)`` matrices; the
action is :func:`geodln.symmetry.act`, the split
:meth:`NetworkBundle.vertical_projection`, the aligner
:func:`geodln.geometry.alignment.align`. ``is_vertical``/``is_horizontal`` are
overridden because geomstats' versions reduce over the last two axes
(matrix-shaped points). The quotient exists for the orthogonal group only
(the only one under which ``||A||_F`` is invariant): :func:`geomstats_spaces`.
"""

from __future__ import annotations

import numpy as np
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.fiber_bundle import AlignerAlgorithm, FiberBundle
from geomstats.geometry.group_action import GroupAction
from geomstats.geometry.quotient_metric import QuotientMetric

from .. import symmetry as sy
from .alignment import align

__all__ = ["HiddenLayerAction", "HiddenLayerFiberBundle", "ProcrustesAligner", "geomstats_spaces"]


def _map_pairs(func, first, first_core: int, second, out_size: int) -> np.ndarray:
    """``func`` over the broadcast batch axes of ``first`` and ``second``, shape=[..., out_size].

    ``first`` has ``first_core`` core axes (2 for group elements, 1 for packed
    vectors), ``second`` one; a pair without batch axes is passed through.
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.ndim == first_core and b.ndim == 1:
        return func(a, b)
    batch_a = a.ndim - first_core
    shape = np.broadcast_shapes(a.shape[:batch_a], b.shape[:-1])
    a = np.broadcast_to(a, shape + a.shape[batch_a:]).reshape((-1,) + a.shape[batch_a:])
    b = np.broadcast_to(b, shape + b.shape[-1:]).reshape(-1, b.shape[-1])
    return np.array([func(ak, bk) for ak, bk in zip(a, b)]).reshape(shape + (out_size,))


class HiddenLayerAction(GroupAction):
    """The action ``(S, theta) -> pack(S A S^{-1})`` on packed weights (geomstats interface).

    Parameters
    ----------
    bundle : NetworkBundle
        Its topology and group (``"O"``: group elements must be orthogonal).

    Attributes
    ----------
    group_elem_shape : tuple
        ``(n, n)``: group elements are block-diagonal adjacency-size matrices.
    """

    def __init__(self, bundle):
        self._top, self._orthogonal = bundle.top, bundle.group == "O"
        self.group_elem_shape = (bundle.top.n, bundle.top.n)

    def __call__(self, group_elem, point):
        """Act on one packed point or a batch.

        Parameters
        ----------
        group_elem : array-like, shape=[..., n, n]
        point : array-like, shape=[..., n_params]

        Returns
        -------
        ndarray, shape=[..., n_params]
        """
        top = self._top

        def act(S, x):
            S = sy.check_group_element(top, S, orthogonal=self._orthogonal)
            return top.pack(sy.act(top, S, top.adjacency(x)))

        return _map_pairs(act, group_elem, 2, point, top.n_params)


class HiddenLayerFiberBundle(FiberBundle):
    """geomstats ``FiberBundle`` over the packed weights ``R^{n_params}``.

    The base is identified with a local horizontal section (geomstats'
    default ``lift`` and ``riemannian_submersion`` are the identity), so the
    quotient metric's inner product is the Frobenius product of horizontal
    projections.

    Parameters
    ----------
    total_space : geomstats Euclidean
    bundle : NetworkBundle
        Whose :meth:`~NetworkBundle.vertical_projection` this applies.
    aligner : AlignerAlgorithm or None
        :class:`ProcrustesAligner` for the orthogonal group.
    """

    def __init__(self, total_space, bundle, aligner=None):
        super().__init__(total_space, aligner=aligner)
        self._bundle = bundle

    def vertical_projection(self, tangent_vec, base_point):
        """Vertical component of ``tangent_vec`` at ``base_point``.

        Parameters
        ----------
        tangent_vec : array-like, shape=[..., n_params]
        base_point : array-like, shape=[..., n_params]

        Returns
        -------
        ndarray, shape=[..., n_params]
        """
        top = self._bundle.top

        def vertical(v, x):
            return top.pack(self._bundle.vertical_projection(top.adjacency(x), top.adjacency(v)))

        return _map_pairs(vertical, tangent_vec, 1, base_point, top.n_params)

    def horizontal_projection(self, tangent_vec, base_point):
        """Horizontal component, shape=[..., n_params]."""
        return np.asarray(tangent_vec, dtype=float) - self.vertical_projection(tangent_vec, base_point)

    def is_vertical(self, tangent_vec, base_point, atol=1e-10):
        """Whether every entry of the horizontal component is within ``atol`` of 0, shape=[...]."""
        return np.all(np.abs(self.horizontal_projection(tangent_vec, base_point)) <= atol, axis=-1)

    def is_horizontal(self, tangent_vec, base_point, atol=1e-10):
        """Whether every entry of the vertical component is within ``atol`` of 0, shape=[...]."""
        return np.all(np.abs(self.vertical_projection(tangent_vec, base_point)) <= atol, axis=-1)


class ProcrustesAligner(AlignerAlgorithm):
    """geomstats aligner for packed points: block Procrustes (:func:`~geodln.geometry.alignment.align`) with a fixed seed.

    Parameters
    ----------
    total_space : geomstats Euclidean
    bundle : NetworkBundle
        With ``group="O"``.
    n_restarts : int
    seed : int
    """

    def __init__(self, total_space, bundle, n_restarts: int = 8, seed: int = 0):
        if bundle.group != "O":
            raise ValueError("alignment needs the orthogonal group (the Frobenius metric is not GL-invariant): "
                             "use NetworkBundle(top, 'O')")
        super().__init__(total_space)
        self._top, self.n_restarts, self.seed = bundle.top, n_restarts, seed

    def align(self, point, base_point):
        """``point`` moved along its orbit to the point nearest ``base_point``.

        Parameters
        ----------
        point, base_point : array-like, shape=[..., n_params]

        Returns
        -------
        ndarray, shape=[..., n_params]
        """
        top = self._top

        def aligned(p, q):
            res = align(top, top.adjacency(q), top.adjacency(p), n_restarts=self.n_restarts, seed=self.seed)
            return top.pack(res.aligned)

        return _map_pairs(aligned, point, 1, base_point, top.n_params)


def geomstats_spaces(bundle) -> tuple[Euclidean, HiddenLayerFiberBundle, Euclidean | None]:
    """The geomstats spaces of a :class:`NetworkBundle`.

    Parameters
    ----------
    bundle : NetworkBundle

    Returns
    -------
    total_space : geomstats Euclidean
        ``R^{n_params}`` with :class:`HiddenLayerAction` and the fiber bundle attached.
    fiber_bundle : HiddenLayerFiberBundle
        With a :class:`ProcrustesAligner` for ``group="O"``.
    quotient : geomstats Euclidean or None
        For ``group="O"``: the orbit space (points are packed weights,
        identified with their orbits) equipped with geomstats'
        ``QuotientMetric``, whose ``dist`` aligns and then measures. None for
        ``"GL"`` (no invariant metric).
    """
    n_params = bundle.top.n_params
    total_space = Euclidean(n_params)
    total_space.equip_with_group_action(HiddenLayerAction(bundle))
    aligner = ProcrustesAligner(total_space, bundle) if bundle.group == "O" else None
    fiber_bundle = HiddenLayerFiberBundle(total_space, bundle, aligner=aligner)
    total_space.fiber_bundle = fiber_bundle
    if bundle.group != "O":
        return total_space, fiber_bundle, None
    quotient = Euclidean(n_params, equip=False)
    quotient.equip_with_metric(QuotientMetric, total_space=total_space)
    return total_space, fiber_bundle, quotient
