"""Topologies: the adjacency convention, exact round trips, nilpotency, validation."""

import networkx as nx
import numpy as np
import pytest

import geodln
from geodln.io.graphs import read_graph
from conftest import io_embeddings


def test_adjacency_is_networkx_convention(top, rng):
    theta = rng.standard_normal(top.n_params)
    G = top.weighted_graph(theta)
    A = nx.to_numpy_array(G, nodelist=top.nodes)
    np.testing.assert_array_equal(A, top.adjacency(theta))
    for (u, v), w in nx.get_edge_attributes(G, "weight").items():
        assert A[top.nodes.index(u), top.nodes.index(v)] == w  # A[j, k] is the weight of j -> k


def test_round_trips_are_exact(top, rng):
    theta = rng.standard_normal(top.n_params)
    A = top.adjacency(theta)
    np.testing.assert_array_equal(top.pack(A), theta)
    np.testing.assert_array_equal(top.adjacency(top.pack(A)), A)
    np.testing.assert_array_equal(top.pack_graph(top.weighted_graph(theta)), theta)
    np.testing.assert_array_equal((A != 0), top.mask.astype(bool))


def test_mask_matches_graph_and_levels_are_topological(top):
    src, tgt = np.nonzero(top.mask)
    assert len(src) == top.graph.number_of_edges() == top.n_params
    assert np.all(top.layer[src] < top.layer[tgt])
    assert np.all(np.diff(top.layer) >= 0)
    assert np.all(np.triu(top.mask, 1) == top.mask)  # strictly upper triangular: nilpotent


def test_layer_blocks_hold_transposed_layer_matrices(rng):
    top = geodln.layered([3, 4, 5, 2])
    theta = rng.standard_normal(top.n_params)
    A, Ws = top.adjacency(theta), top.layer_weights(theta)
    sl = top.level_slices
    for i, W in enumerate(Ws, start=1):
        assert W.shape == (top.widths[i], top.widths[i - 1])
        np.testing.assert_array_equal(A[sl[i - 1], sl[i]], W.T)
        assert np.shares_memory(W, theta)  # zero-copy views
    np.testing.assert_array_equal(top.from_layer_weights(Ws), theta)
    Ws[1][0, 0] = 7.0
    assert top.adjacency(theta)[sl[1], sl[2]][0, 0] == 7.0


def test_sparse_layer_weights_round_trip(rng):
    top = geodln.sparse_layered([3, 5, 5, 2], density=0.4, seed=3)
    theta = rng.standard_normal(top.n_params)
    Ws = top.layer_weights(theta)
    np.testing.assert_array_equal(top.from_layer_weights(Ws), theta)
    np.testing.assert_allclose(Ws[2] @ Ws[1] @ Ws[0], top.end_to_end(theta), rtol=0, atol=1e-14)


def test_nilpotent_and_end_to_end_is_the_top_power(rng):
    top = geodln.layered([2, 3, 3, 2])
    theta = rng.standard_normal(top.n_params)
    A = top.adjacency(theta)
    P_in, P_out = io_embeddings(top)
    h = top.depth
    assert np.count_nonzero(np.linalg.matrix_power(A, h + 1)) == 0
    Ah = np.linalg.matrix_power(A, h)
    np.testing.assert_allclose(P_in.T @ Ah @ P_out, top.end_to_end(theta).T, atol=1e-13)
    Ah[: top.widths[0], top.n - top.widths[-1]:] = 0
    assert np.count_nonzero(Ah) == 0  # the only nonzero block of A^h is (input, output)


def test_end_to_end_sums_all_path_lengths(top, rng):
    theta = rng.standard_normal(top.n_params)
    A = top.adjacency(theta)
    P_in, P_out = io_embeddings(top)
    paths = sum(np.linalg.matrix_power(A, k) for k in range(1, top.n))
    np.testing.assert_allclose(top.end_to_end(theta).T, P_in.T @ paths @ P_out, atol=1e-12)


def test_skip_topology_levels():
    top = geodln.skip_connections([2, 3, 3, 2], skips=[(0, 2), (1, 3)])
    assert top.widths == (2, 3, 3, 2) and not top.is_layered
    assert {(b.a, b.b) for b in top.blocks} == {(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)}
    with pytest.raises(ValueError, match="no layer matrices"):
        top.layer_weights(np.zeros(top.n_params))


def test_sparse_layered_every_hidden_node_on_a_path():
    top = geodln.sparse_layered([4, 8, 8, 8, 3], density=0.15, seed=0)
    for v in top.hidden:
        assert top.mask[:, v].any() and top.mask[v].any()
    again = geodln.sparse_layered([4, 8, 8, 8, 3], density=0.15, seed=0)
    np.testing.assert_array_equal(top.mask, again.mask)
    dense = geodln.sparse_layered([4, 8, 8, 8, 3], density=1.0, seed=0)
    assert dense.is_fully_connected


def test_read_graph_round_trip(tmp_path):
    G = nx.DiGraph([("x1", "h"), ("x2", "h"), ("h", "y"), ("x1", "y")])
    nx.set_node_attributes(G, {"x1": "input", "x2": "input", "y": "output", "h": "hidden"}, "role")
    nx.write_graphml(G, tmp_path / "net.graphml")
    top = read_graph(tmp_path / "net.graphml")
    assert top.nodes == ["x1", "x2", "h", "y"] and top.widths == (2, 1, 1)


# ------------------------------------------------------------ bad input
def test_cycle_is_named():
    G = nx.DiGraph([("x", "a"), ("a", "b"), ("b", "a"), ("b", "y")])
    with pytest.raises(ValueError, match="cycle: 'a' -> 'b'|cycle: 'b' -> 'a'"):
        geodln.Topology.from_graph(G, ["x"], ["y"])


def test_unknown_input_node():
    with pytest.raises(ValueError, match="unknown input node 'q'"):
        geodln.Topology.from_graph(nx.DiGraph([("x", "y")]), ["q"], ["y"])


def test_unknown_output_node():
    with pytest.raises(ValueError, match="unknown output node 'q'"):
        geodln.Topology.from_graph(nx.DiGraph([("x", "y")]), ["x"], ["q"])


def test_input_with_incoming_edge():
    G = nx.DiGraph([("x", "h"), ("h", "y"), ("h", "x2")])
    with pytest.raises(ValueError, match="input node 'x2' has an incoming edge from 'h'"):
        geodln.Topology.from_graph(G, ["x", "x2"], ["y"])


def test_output_with_outgoing_edge():
    G = nx.DiGraph([("x", "y"), ("y", "z")])
    with pytest.raises(ValueError, match="output node 'y' has an outgoing edge to 'z'"):
        geodln.Topology.from_graph(G, ["x"], ["y", "z"])


def test_hidden_node_off_every_path():
    G = nx.DiGraph([("x", "h"), ("h", "y"), ("x", "dead")])
    with pytest.raises(ValueError, match="hidden node 'dead' lies on no input -> output path"):
        geodln.Topology.from_graph(G, ["x"], ["y"])


def test_node_both_input_and_output():
    with pytest.raises(ValueError, match="both as an input and as an output"):
        geodln.Topology.from_graph(nx.DiGraph([("x", "y")]), ["x"], ["x", "y"])


def test_undirected_graph_is_a_type_error():
    with pytest.raises(TypeError, match="DiGraph"):
        geodln.Topology.from_graph(nx.path_graph(3), [0], [2])


@pytest.mark.parametrize("widths", [[3, 0, 2], [3, 2.5, 2], [3, -1, 2], [True, 2], [4]])
def test_widths_must_be_positive_integers(widths):
    with pytest.raises(ValueError, match="widths"):
        geodln.layered(widths)


def test_pack_rejects_weights_off_the_mask():
    top = geodln.layered([2, 2, 2])
    A = np.zeros((top.n, top.n))
    A[0, 5] = 1.0  # input -> output is not an edge of a layered network
    with pytest.raises(ValueError, match=r"off the mask.*\(0, 0\) -> \(2, 1\)"):
        top.pack(A)


def test_theta_of_wrong_length():
    with pytest.raises(ValueError, match="this topology has 8 free weights"):
        geodln.layered([2, 2, 2]).adjacency(np.zeros(7))


def test_layer_weights_of_wrong_shape():
    with pytest.raises(ValueError, match=r"W_2 has shape \(2, 3\); expected \(2, 2\)"):
        geodln.layered([2, 2, 2]).from_layer_weights([np.zeros((2, 2)), np.zeros((2, 3))])


@pytest.mark.parametrize("skips", [[(0, 2.0)], [(0,)], [(0, 1)], [(1, 9)]])
def test_bad_skips(skips):
    with pytest.raises(ValueError, match="skip"):
        geodln.skip_connections([2, 3, 3, 2], skips=skips)
