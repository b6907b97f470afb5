"""The lowest floor: the network and its data.

- :mod:`.topology`: a NetworkX DAG as layers, node order, mask ``M`` and the
  packed weights ``theta`` <-> adjacency ``A`` (``A[j, k]`` the weight of ``j -> k``);
- :mod:`.data`: ``X, Y -> Sxx = X X^T, Syx = Y X^T``, the modes ``(s_k, u_k, v_k)``
  of ``Syx Sxx^{-1/2}`` and the critical values ``L_J``;
- :mod:`.losses`: losses of the end-to-end map ``W``, registered by name, each
  declaring its capabilities (closed-form critical values: the quadratic loss only).
"""
