"""
1. A critical point as a network and its adjacency matrix
=========================================================

A critical point of the 3-layer network 3,3,3,3 that has learnt mode 1 (``J = {1}``), on data ``Syx
= diag(3, 2, 1)``, ``Sxx = I`` (so the data's modes are the coordinate axes), drawn as a network
(left) and as its adjacency matrix (right); units are numbered from 1 within each layer. The orange
band is the complete path input 1 -> unit 1 -> unit 1 -> output 1 that carries mode 1, with weight
``s_1^(1/3) = 3^(1/3)`` on each link; the other bands are dangling pieces, one link each, which add
nothing to ``W = W_3 W_2 W_1``: an input piece from input 2 (along ``v_2``), an output piece into
output 3 (along ``u_3``) and an internal piece between the hidden layers. Edges are coloured and
thickened by their weight (thin grey: weight 0). Right: ``A[j, k]`` is the weight of the edge ``j ->
k``, rows and columns labelled by layer and unit; only the outlined blocks ``(i-1, i) = W_i^T`` can
be nonzero (light grey: no edge), so ``A`` is strictly block upper triangular, hence nilpotent.

The same figure, as PNG and PDF: ``geodln figures --only network``.
"""

import numpy as np
import geodln
from geodln.plots import draw_network

rng = np.random.default_rng([0, 1])  # as `geodln figures --only network`
data = geodln.Data(np.eye(3), np.diag([3.0, 2.0, 1.0]))  # modes on the coordinate axes: the paths stay visible
top = geodln.layered([3, 3, 3, 3])

# the stratum that learns mode 1 and carries three dangling pieces
strata = next(st for J, st, _ in geodln.enumerate_strata(top.widths, 3) if J == (1,))
stratum = next(st for st in strata if st.label == "J={1} + v2[0,1] [2,3]u3 [1,2]")
A = stratum.canonical_adjacency(top, data, rng)  # (n, n): A[j, k] is the weight of the edge j -> k


def piece_nodes(stratum, idx):
    """The nodes (layer, unit) that piece ``idx`` runs through; data modes lie on the coordinate axes."""
    piece, slots = stratum.all_pieces()[idx], stratum.slots()
    nodes = []
    for i in range(piece.a, piece.b + 1):
        if i == 0:
            nodes.append((0, piece.source - 1))  # an input unit: the mode's input vector v_source
        elif i == stratum.depth:
            nodes.append((i, piece.target - 1))  # an output unit: the output vector u_target
        else:
            nodes.append((i, slots[i][idx]))
    return nodes


names = [r"complete path carrying mode 1 ($s_1^{1/3}$ on each link)", "dangling input piece (from input 2)",
         "dangling output piece (to output 3)", "dangling internal piece"]
fig = draw_network(top, A, paths={name: piece_nodes(stratum, i) for i, name in enumerate(names)},
                   title=r"a critical point that has learnt mode 1 ($J = \{1\}$) and carries three dangling pieces")
