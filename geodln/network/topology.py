"""Network topologies: a NetworkX DAG in, the adjacency matrix ``A`` out.

A network is a directed acyclic graph whose edges carry the weights. With the
nodes ordered level by level (``order``), the weighted adjacency matrix is
NetworkX's own, ``A = networkx.to_numpy_array(G, nodelist=order)``, so
``A[j, k]`` is the weight of the edge ``j -> k``. For a layered network the
block (layer i-1, layer i) of ``A`` is ``W_i^T`` with ``W_i`` of shape
``(d_i, d_{i-1})`` and the end-to-end map is ``W = W_h ... W_1``; for a general
DAG ``W^T = P_in^T (sum_{k>=1} A^k) P_out``.

The free (masked) entries of ``A`` are stored in a packed vector ``theta``,
block by block: blocks ``(a, b)`` of levels ``a < b`` in lexicographic order,
row-major inside a block. The segment of a fully connected block is therefore
a contiguous copy of ``A[a-block, b-block]``, so for a fully connected layered
network ``theta`` is ``[vec(W_1^T), ..., vec(W_h^T)]`` and the layer matrices
are zero-copy views of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import networkx as nx
import numpy as np

__all__ = [
    "Block",
    "Topology",
    "layered",
    "sparse_layered",
    "skip_connections",
]


@dataclass(frozen=True)
class Block:
    """The edges from level ``a`` to level ``b`` (``a < b``) as one block of ``A``.

    Attributes
    ----------
    a, b : int
        Source and target levels.
    rows, cols : slice
        Positions of levels ``a`` and ``b`` in the node order, so the block is
        ``A[rows, cols]`` of shape ``(d_a, d_b)``.
    segment : slice
        Position of the block's free entries in ``theta``.
    full : bool
        True when every entry of the block is an edge; then
        ``theta[segment].reshape(d_a, d_b)`` is the block itself (a view).
    r, c : ndarray of int, shape=[n_edges]
        Row and column of each free entry inside the block, in ``theta`` order.
    shape : (int, int)
        ``(d_a, d_b)``, derived from ``rows`` and ``cols``.
    """

    a: int
    b: int
    rows: slice
    cols: slice
    segment: slice
    full: bool
    r: np.ndarray
    c: np.ndarray
    # Stored once rather than a property: the gradient reads it for every block
    # on every call.
    shape: tuple[int, int] = field(init=False)

    def __post_init__(self):
        shape = (self.rows.stop - self.rows.start, self.cols.stop - self.cols.start)
        object.__setattr__(self, "shape", shape)  # the dataclass is frozen

    def dense(self, theta: np.ndarray) -> np.ndarray:
        """The block ``A[rows, cols]`` of shape ``(d_a, d_b)``.

        For a full block this is ``theta[segment].reshape(shape)``, a view when
        ``theta`` is contiguous (so writing into ``dense(out)`` fills ``out``).
        """
        if self.full:
            return theta[self.segment].reshape(self.shape)
        out = np.zeros(self.shape)
        out[self.r, self.c] = theta[self.segment]
        return out

    def gather(self, dense_block: np.ndarray, out: np.ndarray) -> None:
        """Write the free entries of a ``(d_a, d_b)`` block into ``out[segment]``."""
        if not self.full:
            out[self.segment] = dense_block[self.r, self.c]
        elif out.flags.c_contiguous:
            np.copyto(self.dense(out), dense_block)  # one copy, even from a transposed view
        else:  # dense(out) would be a copy, not a view
            out[self.segment] = dense_block.ravel()


class Topology:
    """A feed-forward network: a DAG with designated input and output nodes.

    Build one with :func:`layered`, :func:`sparse_layered`,
    :func:`skip_connections` or :meth:`Topology.from_graph`.

    Attributes
    ----------
    graph : networkx.DiGraph
        A copy of the network's graph; every node carries its ``layer``.
    nodes : list
        The node order used for ``A`` (level by level, a topological order).
    layer : ndarray of int, shape=[n]
        Level of each node: 0 for inputs, ``depth`` for outputs, and for a
        hidden node the length of the longest path reaching it from an input.
    widths : tuple of int
        Number of nodes per level, ``(d_0, ..., d_h)``.
    depth : int
        ``h``, the number of weight layers of the longest input-output path.
    mask : ndarray, shape=[n, n]
        0/1 matrix, ``mask[j, k] = 1`` iff ``j -> k`` is an edge.
    blocks : list of Block
        The nonempty level-to-level blocks, in ``theta`` order.
    n_params : int
        Number of free weights (edges), the length of ``theta``.
    edge_index : (ndarray, ndarray) of int, each shape=[n_params]
        Source and target node index of each entry of ``theta``.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("x", "h"), ("h", "y"), ("x", "y")])
    >>> top = Topology.from_graph(G, inputs=["x"], outputs=["y"])
    >>> top.widths, top.depth, top.n_params
    ((1, 1, 1), 2, 3)
    """

    def __init__(self, graph: nx.DiGraph | None, nodes: list, layer: np.ndarray, mask: np.ndarray | None = None):
        # Private: use from_graph or a builder, which validate the graph. A builder that knows the mask
        # (layered) gives it instead of the graph, which is then made on first use (a graph of a
        # 2M-weight network takes ~1 GB and minutes to build, and classify or flow never reads it).
        self._graph = graph
        self.nodes = nodes
        self.layer = layer
        self.layer.setflags(write=False)
        self.depth = int(layer.max())
        self.widths = tuple(int(w) for w in np.bincount(layer, minlength=self.depth + 1))
        self._index = {v: i for i, v in enumerate(nodes)}
        starts = np.concatenate([[0], np.cumsum(self.widths)])
        self._level_slices = [slice(int(starts[i]), int(starts[i + 1])) for i in range(self.depth + 1)]
        if mask is None:
            mask = np.zeros((self.n, self.n))
            for u, v in graph.edges:
                mask[self._index[u], self._index[v]] = 1.0
        mask.setflags(write=False)
        self.mask = mask
        self.blocks = self._make_blocks()
        self.n_params = sum(blk.segment.stop - blk.segment.start for blk in self.blocks)
        self.edge_index = (
            np.concatenate([blk.rows.start + blk.r for blk in self.blocks]).astype(int),
            np.concatenate([blk.cols.start + blk.c for blk in self.blocks]).astype(int),
        )

    @property
    def graph(self) -> nx.DiGraph:
        """The network's graph (every node carries its ``layer``); made from the mask on first use when the
        builder gave none."""
        if self._graph is None:
            G = nx.DiGraph()
            G.add_nodes_from((v, {"layer": int(level)}) for v, level in zip(self.nodes, self.layer))
            G.add_edges_from((self.nodes[j], self.nodes[k]) for j, k in zip(*self.edge_index))
            self._graph = G
        return self._graph

    # ------------------------------------------------------------------ build
    @classmethod
    def from_graph(cls, G: nx.DiGraph, inputs, outputs) -> "Topology":
        """Wrap any DAG with designated input and output nodes.

        Parameters
        ----------
        G : networkx.DiGraph
            The network. Edge weights, if any, are ignored here (read them with
            :meth:`pack_graph`).
        inputs, outputs : sequence of nodes
            The input layer (no incoming edges) and the output layer (no
            outgoing edges), in the order of the coordinates of ``x`` and ``y``.

        Returns
        -------
        Topology

        Raises
        ------
        TypeError
            If ``G`` is not a ``networkx.DiGraph``.
        ValueError
            If ``G`` has a cycle (the cycle is named), an input or output node
            is unknown, repeated or both, an input has incoming edges, an output
            has outgoing edges, or a hidden node lies on no input -> output path.
        """
        if not isinstance(G, nx.DiGraph) or G.is_multigraph():
            raise TypeError(f"expected a networkx.DiGraph, got {type(G).__name__}")
        inputs, outputs = list(inputs), list(outputs)
        _check_terminals(G, inputs, outputs)
        check_size(G.number_of_nodes(), G.number_of_edges(), "the graph")
        if G.number_of_edges() == 0:
            raise ValueError("the graph has no edges, so it has no weights")
        if not nx.is_directed_acyclic_graph(G):
            cycle = " -> ".join(repr(u) for u, _ in nx.find_cycle(G))
            raise ValueError(f"the graph has a cycle: {cycle} -> ...; a feed-forward network must be acyclic")
        for v in inputs:
            pred = next(iter(G.predecessors(v)), None)
            if pred is not None:
                raise ValueError(f"input node {v!r} has an incoming edge from {pred!r}")
        for v in outputs:
            succ = next(iter(G.successors(v)), None)
            if succ is not None:
                raise ValueError(f"output node {v!r} has an outgoing edge to {succ!r}")
        terminals = set(inputs) | set(outputs)
        reached, reaching = _reachable(G, inputs, G.successors), _reachable(G, outputs, G.predecessors)
        for v in G.nodes:
            if v not in terminals and not (v in reached and v in reaching):
                raise ValueError(
                    f"hidden node {v!r} lies on no input -> output path "
                    f"({'not reached from any input' if v not in reached else 'reaches no output'}); "
                    "remove it or connect it"
                )
        level = {v: 0 for v in inputs}
        for v in nx.topological_sort(G):
            if v not in terminals:
                level[v] = 1 + max(level[u] for u in G.predecessors(v))
        depth = 1 + max((level[v] for v in level if v not in set(inputs)), default=0)
        for v in outputs:
            level[v] = depth
        position = {v: i for i, v in enumerate(G.nodes)}
        hidden = sorted((v for v in G.nodes if v not in terminals), key=lambda v: (level[v], position[v]))
        nodes = inputs + hidden + outputs  # inputs and outputs keep the coordinate order of x and y
        graph = G.copy()
        nx.set_node_attributes(graph, level, "layer")
        return cls(graph, nodes, np.array([level[v] for v in nodes], dtype=int))

    def _make_blocks(self) -> list[Block]:
        blocks, offset = [], 0
        for a in range(self.depth):
            for b in range(a + 1, self.depth + 1):
                rows, cols = self._level_slices[a], self._level_slices[b]
                r, c = np.nonzero(self.mask[rows, cols])
                if r.size == 0:
                    continue
                seg = slice(offset, offset + r.size)
                full = r.size == (rows.stop - rows.start) * (cols.stop - cols.start)
                blocks.append(Block(a, b, rows, cols, seg, full, r, c))
                offset += r.size
        return blocks

    # ------------------------------------------------------------- properties
    @property
    def n(self) -> int:
        """Number of nodes, ``sum(widths)``."""
        return len(self.nodes)

    @property
    def is_layered(self) -> bool:
        """True when every edge joins consecutive levels (no skip connections)."""
        return all(blk.b == blk.a + 1 for blk in self.blocks)

    @property
    def is_fully_connected(self) -> bool:
        """True for a fully connected layered network (every W_i dense)."""
        return self.is_layered and len(self.blocks) == self.depth and all(blk.full for blk in self.blocks)

    @property
    def level_slices(self) -> list[slice]:
        """Position of each level's nodes in the node order."""
        return list(self._level_slices)

    @property
    def hidden(self) -> np.ndarray:
        """Indices (in the node order) of the hidden nodes, shape=[n_hidden]."""
        return np.flatnonzero((self.layer > 0) & (self.layer < self.depth))

    def __repr__(self) -> str:
        kind = "fully connected" if self.is_fully_connected else ("layered" if self.is_layered else "DAG")
        return f"Topology({kind}, widths={self.widths}, n_params={self.n_params})"

    # ------------------------------------------------------ theta <-> A <-> W
    def check_theta(self, theta) -> np.ndarray:
        """Return ``theta`` as a float64 vector of length ``n_params``, or raise."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta has shape {theta.shape}; this topology has {self.n_params} free weights")
        return theta

    def adjacency(self, theta) -> np.ndarray:
        """The weighted adjacency matrix ``A``, shape=[n, n], from packed ``theta``."""
        theta = self.check_theta(theta)
        A = np.zeros((self.n, self.n))
        for blk in self.blocks:
            A[blk.rows, blk.cols] = blk.dense(theta)
        return A

    def pack(self, A) -> np.ndarray:
        """The packed vector ``theta`` of the free entries of ``A``, shape=[n_params].

        Raises
        ------
        ValueError
            If ``A`` is not ``(n, n)`` or has a nonzero entry off the mask
            (dropping it silently would change the network).
        """
        A = np.asarray(A, dtype=float)
        if A.shape != (self.n, self.n):
            raise ValueError(f"A has shape {A.shape}; expected ({self.n}, {self.n})")
        off = np.argwhere((self.mask == 0) & (A != 0))
        if off.size:
            j, k = off[0]
            raise ValueError(
                f"A has {len(off)} nonzero entries off the mask, e.g. A[{j}, {k}] = {A[j, k]!r} "
                f"for the non-edge {self.nodes[j]!r} -> {self.nodes[k]!r}"
            )
        theta = np.empty(self.n_params)
        for blk in self.blocks:
            blk.gather(A[blk.rows, blk.cols], theta)
        return theta

    def layer_weights(self, theta) -> list[np.ndarray]:
        """The layer matrices ``[W_1, ..., W_h]``, ``W_i`` of shape ``(d_i, d_{i-1})``.

        For a fully connected layered network these are views into ``theta``
        (writing to them changes ``theta``); for a sparse layered one they are
        copies with zeros off the mask.

        Raises
        ------
        ValueError
            If the topology has skip connections (no layer matrices exist).
        """
        theta = self.check_theta(theta)
        if not self.is_layered:
            raise ValueError("this topology has skip connections, so it has no layer matrices W_i; use adjacency(theta)")
        by_layer = {blk.b: blk for blk in self.blocks}
        return [
            by_layer[i].dense(theta).T if i in by_layer else np.zeros((self.widths[i], self.widths[i - 1]))
            for i in range(1, self.depth + 1)
        ]

    def from_layer_weights(self, weights) -> np.ndarray:
        """Packed ``theta`` from ``[W_1, ..., W_h]`` (the inverse of :meth:`layer_weights`).

        Raises
        ------
        ValueError
            On a wrong number of layers, a wrong shape, or a nonzero weight on a
            non-edge.
        """
        if not self.is_layered:
            raise ValueError("this topology has skip connections; build theta with pack(A)")
        weights = list(weights)
        if len(weights) != self.depth:
            raise ValueError(f"expected {self.depth} layer matrices, got {len(weights)}")
        A = np.zeros((self.n, self.n))
        for i, W in enumerate(weights, start=1):
            W = np.asarray(W, dtype=float)
            expected = (self.widths[i], self.widths[i - 1])
            if W.shape != expected:
                raise ValueError(f"W_{i} has shape {W.shape}; expected {expected}")
            A[self._level_slices[i - 1], self._level_slices[i]] = W.T
        return self.pack(A)

    def weighted_graph(self, theta) -> nx.DiGraph:
        """A copy of the graph with ``theta`` on the edges as the ``weight`` attribute."""
        A = self.adjacency(theta)
        G = self.graph.copy()
        for u, v in G.edges:
            G.edges[u, v]["weight"] = A[self._index[u], self._index[v]]
        return G

    def pack_graph(self, G: nx.DiGraph) -> np.ndarray:
        """Packed ``theta`` read from the ``weight`` attributes of a graph on the same nodes."""
        missing = [v for v in self.nodes if v not in G]
        if missing:
            raise ValueError(f"the graph lacks the network's node {missing[0]!r}")
        return self.pack(nx.to_numpy_array(G, nodelist=self.nodes, weight="weight"))

    # -------------------------------------------------------------- products
    def forward(self, theta) -> list[np.ndarray]:
        """Partial maps from the input to every level, computed block by block.

        Returns
        -------
        list of ndarray
            ``maps[l]`` of shape ``(d_l, d_0)`` is the sum over paths from the
            input layer to level ``l`` (``maps[0]`` is ``None``, standing for the
            identity); ``maps[h]`` is the end-to-end map ``W``.
        """
        _, maps_t = self._forward_t(self.check_theta(theta))
        return [None] + [m.T for m in maps_t[1:]]

    def _forward_t(self, theta: np.ndarray) -> tuple[list[np.ndarray], list]:
        """The forward pass, transposed and unchecked (the gradient's hot path).

        ``theta`` must already be a float64 vector of length ``n_params``.

        Returns
        -------
        dense : list of ndarray
            ``blk.dense(theta)`` for each block, in ``blocks`` order (views
            into ``theta`` for full blocks).
        maps_t : list
            ``maps_t[l] = maps[l].T`` of shape ``(d_0, d_l)`` (see
            :meth:`forward`); ``maps_t[0]`` is ``None`` (the identity).
            Accumulating ``maps_t[b] += maps_t[a] @ A[a-block, b-block]`` reads
            each block of ``A`` as stored and keeps every product in BLAS's
            fast orientation (``A @ B.T`` is ~1.5x slower at widths 32-64);
            ``ndarray.dot`` skips the ~0.5 us dispatch of the matmul ufunc.
        """
        dense = [blk.dense(theta) for blk in self.blocks]
        maps_t: list = [None] * (self.depth + 1)
        for blk, B in zip(self.blocks, dense):  # sorted by source level, so maps_t[a] is final
            term = B if blk.a == 0 else maps_t[blk.a].dot(B)
            maps_t[blk.b] = term if maps_t[blk.b] is None else maps_t[blk.b] + term
        # No None is left past level 0: from_graph guarantees an edge into every
        # hidden node and into some output.
        return dense, maps_t

    def end_to_end(self, theta) -> np.ndarray:
        """The input-output map ``W`` of shape ``(d_h, d_0)``: ``W^T = P_in^T (sum_k A^k) P_out``."""
        return self.forward(theta)[-1]


def _check_terminals(G, inputs, outputs) -> None:
    for name, group in (("input", inputs), ("output", outputs)):
        if not group:
            raise ValueError(f"no {name} nodes given")
        unknown = [v for v in group if v not in G]
        if unknown:
            raise ValueError(f"unknown {name} node {unknown[0]!r}: it is not in the graph")
        if len(set(group)) != len(group):
            raise ValueError(f"an {name} node is listed twice")
    both = set(inputs) & set(outputs)
    if both:
        raise ValueError(f"node {next(iter(both))!r} is listed both as an input and as an output")


def check_widths(widths) -> tuple[int, ...]:
    """``widths`` as a tuple of positive ints (at least two, of a buildable size), or a ValueError."""
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError(f"need at least an input and an output layer, got widths={widths}")
    for i, w in enumerate(widths):
        if isinstance(w, bool) or not isinstance(w, Integral) or w < 1:
            raise ValueError(f"widths must be positive integers; widths[{i}] = {w!r}")
    widths = tuple(int(w) for w in widths)
    check_size(sum(widths), sum(a * b for a, b in zip(widths, widths[1:])), f"widths {list(widths)}")
    return widths


MAX_NODES = 8192  # the mask and every adjacency matrix are dense n x n float64: 512 MiB each at this size
MAX_EDGES = 4_000_000  # networkx keeps a dict per edge, a few hundred bytes each


def check_size(n_nodes: int, n_edges: int, what: str) -> None:
    """Refuse a network too large to build, before anything is allocated, naming the memory it would take.

    Raises
    ------
    ValueError
        If ``n_nodes > MAX_NODES`` or ``n_edges > MAX_EDGES``.
    """
    if n_nodes > MAX_NODES:
        raise ValueError(
            f"{what}: {n_nodes:,} nodes; geodln keeps the mask and adjacency matrices dense (n x n float64, "
            f"{8 * n_nodes**2 / 2**30:,.1f} GiB each), so it handles at most {MAX_NODES:,} nodes")
    if n_edges > MAX_EDGES:
        raise ValueError(
            f"{what}: {n_edges:,} weights; its graph alone would take about {300 * n_edges / 2**30:,.1f} GiB, "
            f"geodln handles at most {MAX_EDGES:,}")


def _reachable(G, sources, neighbours) -> set:
    """The nodes reached from any of ``sources`` along ``neighbours`` (successors or predecessors), sources
    excluded unless reached: one traversal, ``O(edges)`` (one ``nx.descendants`` per source costs ``O(sources
    edges)``, 50 s at width 256)."""
    seen, stack = set(), list(sources)
    while stack:
        for w in neighbours(stack.pop()):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def _layered_graph(widths, edge_sets) -> Topology:
    G = nx.DiGraph()
    for i, w in enumerate(widths):
        G.add_nodes_from(((i, j) for j in range(w)), layer=i)
    for a, b, pairs in edge_sets:
        G.add_edges_from(((a, j), (b, k)) for j, k in pairs)
    inputs = [(0, j) for j in range(widths[0])]
    outputs = [(len(widths) - 1, j) for j in range(widths[-1])]
    return Topology.from_graph(G, inputs, outputs)


def _all_pairs(m, n):
    return [(j, k) for j in range(m) for k in range(n)]


def layered(widths) -> Topology:
    """The fully connected layered network with widths ``(d_0, ..., d_h)``.

    Nodes are ``(layer, index)`` tuples.

    Examples
    --------
    >>> top = layered([3, 4, 2])
    >>> top.widths, top.n, top.n_params, top.is_fully_connected
    ((3, 4, 2), 9, 20, True)
    """
    widths = check_widths(widths)
    nodes = [(i, j) for i, w in enumerate(widths) for j in range(w)]
    layer = np.repeat(np.arange(len(widths)), widths)
    mask = np.zeros((len(nodes), len(nodes)))
    starts = np.concatenate([[0], np.cumsum(widths)])
    for i in range(len(widths) - 1):  # every edge from level i to level i + 1, nothing else
        mask[starts[i]:starts[i + 1], starts[i + 1]:starts[i + 2]] = 1.0
    return Topology(None, nodes, layer, mask)


def sparse_layered(widths, density: float, seed=None) -> Topology:
    """A layered network keeping each possible edge with probability ``density``.

    Edges are then added where needed so that every hidden node has an
    incoming and an outgoing edge (so it lies on an input -> output path).

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_h)``.
    density : float in (0, 1]
        Probability of keeping each edge between consecutive layers.
    seed : int or numpy.random.Generator, optional
    """
    widths = check_widths(widths)
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    rng = np.random.default_rng(seed)
    keep = [rng.random((widths[i], widths[i + 1])) < density for i in range(len(widths) - 1)]
    for i, K in enumerate(keep):
        if i + 1 < len(widths) - 1:  # target layer hidden: every node needs an in-edge
            for k in np.flatnonzero(~K.any(axis=0)):
                K[rng.integers(widths[i]), k] = True
        if i > 0:  # source layer hidden: every node needs an out-edge
            for j in np.flatnonzero(~K.any(axis=1)):
                K[j, rng.integers(widths[i + 1])] = True
    return _layered_graph(widths, [(i, i + 1, list(zip(*np.nonzero(K)))) for i, K in enumerate(keep)])


def skip_connections(widths, skips=None) -> Topology:
    """A fully connected layered network plus fully connected skip blocks.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_h)``.
    skips : sequence of (int, int), optional
        Layer pairs ``(a, b)`` with ``b >= a + 2`` to connect fully. Default:
        every ``(i, i + 2)``.

    Examples
    --------
    >>> top = skip_connections([2, 3, 2], skips=[(0, 2)])
    >>> top.is_layered, top.n_params
    (False, 16)
    """
    widths = check_widths(widths)
    h = len(widths) - 1
    skips = [(i, i + 2) for i in range(h - 1)] if skips is None else [tuple(s) for s in skips]
    for pair in skips:
        if len(pair) != 2 or not all(isinstance(x, Integral) and not isinstance(x, bool) for x in pair):
            raise ValueError(f"each skip must be a pair of layer indices (a, b), got {pair!r}")
        a, b = pair
        if not (0 <= a and b <= h and b >= a + 2):
            raise ValueError(f"skip ({a}, {b}) must join layers a < b - 1 within 0..{h}")
    edge_sets = [(i, i + 1, _all_pairs(widths[i], widths[i + 1])) for i in range(h)]
    edge_sets += [(a, b, _all_pairs(widths[a], widths[b])) for a, b in skips]
    return _layered_graph(widths, edge_sets)
