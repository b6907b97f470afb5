"""The hidden-layer symmetry group of a network: its action, moment map and Lie algebra.

This is the one home of the group; every other module (flow, init,
landscape, saddles, geometry, figures) calls it.

The group ``G`` acts on a network by block-diagonal similarity
``A -> S A S^{-1}``, with ``S`` the identity on the input and output levels;
the similarity leaves ``sum_k A^k`` and hence the end-to-end map ``W`` (and
every loss of ``W``) unchanged. :func:`act` applies it block by block,
``(S A S^{-1})_ab = S_a A_ab S_b^{-1}`` (never a dense inverse), and
:func:`random_group_element` draws elements of ``G`` or of its orthogonal
subgroup ``K`` (Haar on every ``O(d_i)`` factor).

The moment map of ``K`` is the block-diagonal part of ``A^T A - A A^T`` on the
hidden levels (restricted to the Lie algebra); its level blocks are the
conserved layer balances ``C_i = W_i W_i^T - W_{i+1}^T W_{i+1}`` and its
diagonal the node-wise balances (squared in-weights minus squared
out-weights): :func:`moment_map`, :func:`layer_balances`,
:func:`node_balances`. The gradient of any loss of ``W`` is orthogonal to
the orbit, so the flow conserves them (Noether). Its Lie algebra ``g`` is the set of matrices
``Xi`` supported on :func:`algebra_mask`: a full ``d_i x d_i`` block on every
hidden level all of whose incoming and outgoing blocks are fully connected
(``GL(d_i)``: for a layered network ``W_i -> G_i W_i G_{i-1}^{-1}``), and the
diagonal (node rescalings) on the other hidden levels.

For a fully connected layered network this is the whole symmetry group of the
survey. For a sparse mask or a DAG it is a subgroup: any ``E_jk`` between
hidden nodes with ``in(j) ⊆ in(k)`` and ``out(k) ⊆ out(j)`` also keeps the
mask and ``W`` (e.g. a node whose inputs are a subset of another's on the same
level, or a skip connection that reaches both levels), and those directions
are not modelled here: on such topologies the orbit and stabiliser
dimensions are those of the subgroup (the orbit dimension a lower bound),
and the "horizontal" space may still contain fiber directions of the larger
group.

At ``A`` the action's differential is ``Xi -> [Xi, A] = Xi A - A Xi``; its
image is the vertical space (the tangent space of the fiber through ``A``),
its orthogonal complement in the packed weights the horizontal space. With
``<V, [Xi, A]> = <V A^T - A^T V, Xi>``, the adjoint is
``V -> P_g(V A^T - A^T V)``. Orbit dimension = rank of ``Xi -> [Xi, A]``,
stabiliser dimension = ``dim g`` - orbit dimension.

For large networks the dense ``n_params x dim g`` matrix of the bracket is out
of reach; :func:`bracket_operator` applies ``Xi -> [Xi, A]`` and its adjoint
block by block, and :func:`solve_vertical` finds the vertical component of a
vector as a least-squares problem ``min_Xi ||[Xi, A] - V||`` with LSQR. Least
squares, not a linear solve: some widths (e.g. 3, 4, 5, 2) have a nontrivial
stabiliser at every point, so the bracket has a kernel and the normal
equations are singular. ``part`` restricts ``Xi`` to the symmetric or the
skew-symmetric matrices of ``g`` (the Lie algebra of the orthogonal subgroup).

Plain numpy/scipy, so that the flow and the landscape can use it; the
geomstats layer is :mod:`geodln.geometry`. Modules: ``group`` (the group, its
algebra, the finite action), ``moment`` (the moment map), ``split`` (the
vertical/horizontal split), ``lsqr`` (matrix-free projections), ``level``
(back onto a level set of the balances).
"""

from .group import (HiddenLevel, act, algebra_dim, algebra_mask, check_algebra_element, check_group_element,
                    group_exp, hidden_levels, random_group_element)
from .level import ConservedLevel
from .lsqr import VerticalSolve, bracket_operator, part_basis, solve_vertical
from .moment import layer_balances, moment_map, node_balances
from .split import (bracket, bracket_adjoint, horizontal_basis, horizontal_projection, orbit_dim, range_basis,
                    stabilizer_dim, vertical_basis, vertical_matrix, vertical_projection)

__all__ = [
    # the group and the finite action
    "algebra_mask", "algebra_dim", "HiddenLevel", "hidden_levels", "check_algebra_element", "act",
    "check_group_element", "random_group_element", "group_exp",
    # the moment map
    "moment_map", "layer_balances", "node_balances",
    # back onto a level set of the moment map
    "ConservedLevel",
    # the split
    "range_basis", "bracket", "bracket_adjoint", "vertical_matrix", "vertical_basis", "horizontal_basis",
    "orbit_dim", "stabilizer_dim", "vertical_projection", "horizontal_projection",
    # matrix-free
    "part_basis", "bracket_operator", "VerticalSolve", "solve_vertical",
]
