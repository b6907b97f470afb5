"""Shared fixtures: every property test runs on each kind of topology."""

import networkx as nx
import numpy as np
import pytest

import geodln

TOPOLOGIES = {
    "layered": lambda: geodln.layered([3, 4, 4, 2]),
    "sparse": lambda: geodln.sparse_layered([3, 5, 5, 2], density=0.5, seed=1),
    "skip": lambda: geodln.skip_connections([3, 4, 4, 2]),
    "dag": lambda: _irregular_dag(),
}


def _irregular_dag():
    """Inputs a, b; hidden p, q, r with a chain p -> q and a long skip a -> y."""
    G = nx.DiGraph([("a", "p"), ("b", "p"), ("p", "q"), ("q", "y"), ("b", "r"), ("r", "y"), ("a", "y"), ("p", "z"), ("r", "z")])
    return geodln.Topology.from_graph(G, inputs=["a", "b"], outputs=["y", "z"])


@pytest.fixture(params=sorted(TOPOLOGIES))
def top(request):
    return TOPOLOGIES[request.param]()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def data_for(top, spectrum=(3.0, 2.0), seed=0):
    """Whitened data whose shape fits the topology."""
    return geodln.Data.from_spectrum(spectrum[: min(top.widths[0], top.widths[-1])], top.widths[0], top.widths[-1], seed=seed)


def io_embeddings(top):
    """P_in (n, d_0) and P_out (n, d_h): the coordinate embeddings of the input and output layers."""
    P_in = np.zeros((top.n, top.widths[0]))
    P_in[: top.widths[0]] = np.eye(top.widths[0])
    P_out = np.zeros((top.n, top.widths[-1]))
    P_out[top.n - top.widths[-1]:] = np.eye(top.widths[-1])
    return P_in, P_out
