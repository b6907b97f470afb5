"""Networks from files: any graph NetworkX can read, with its input and output nodes marked.

GraphML, GML, GEXF and node-link JSON (either networkx's older ``links`` key
or the newer ``edges``). A malformed file is a ``ValueError`` naming the file
and, where the parser says, the line.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from ..network.topology import Topology

__all__ = ["read_graph"]


_READERS = {
    ".graphml": nx.read_graphml,
    ".gml": nx.read_gml,
    ".gexf": nx.read_gexf,
}


def read_graph(path) -> Topology:
    """Read a network from a file NetworkX can read, inputs and outputs marked on the nodes.

    Formats by extension: ``.graphml``, ``.gml``, ``.gexf``, or ``.json``
    (NetworkX node-link data). A node is an input when its attribute ``role``
    is ``"input"`` or its attribute ``input`` is true (likewise for outputs);
    inputs and outputs keep the order in which the file lists them.

    Raises
    ------
    ValueError
        On an unknown extension, an undirected graph, no marked inputs or
        outputs, or any invalid network (see :meth:`Topology.from_graph`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS and suffix != ".json":
        raise ValueError(f"cannot read {path.name}: use one of .graphml, .gml, .gexf, .json")
    G = _parse_graph(path, suffix)
    if not G.is_directed():
        raise ValueError(f"{path.name} holds an undirected graph; a network needs directed edges")
    if G.is_multigraph() and G.number_of_edges() != nx.DiGraph(G).number_of_edges():
        raise ValueError(f"{path.name} has parallel edges; a network has at most one edge j -> k")
    inputs = [v for v, attrs in G.nodes(data=True) if _has_role(attrs, "input")]
    outputs = [v for v, attrs in G.nodes(data=True) if _has_role(attrs, "output")]
    if not inputs or not outputs:
        raise ValueError(
            f"{path.name} marks {len(inputs)} input and {len(outputs)} output nodes; mark them with "
            "the node attribute role='input' / role='output' (or input=true / output=true)"
        )
    return Topology.from_graph(nx.DiGraph(G), inputs, outputs)


def _parse_graph(path: Path, suffix: str):
    """The graph in a file, or a ValueError naming the file and, where the parser says, the line."""
    try:
        if suffix != ".json":
            return _READERS[suffix](path)
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "nodes" not in data:
            raise ValueError("node-link JSON needs an object with 'nodes' and 'edges' (or 'links')")
        # networkx >= 3.4 writes the edges under "edges", older versions under "links"
        return nx.node_link_graph(data, edges="edges" if "edges" in data else "links")
    except OSError:
        raise
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    except Exception as err:  # the parsers raise many types (ParseError, NetworkXError, KeyError, ...)
        position = getattr(err, "position", None)  # xml ParseError: (line, column)
        line = getattr(err, "lineno", None) or (position[0] if position else None)
        where = f", line {line}" if line else ""
        raise ValueError(f"{path}: cannot read it as {suffix[1:].upper()}{where}: "
                         f"{type(err).__name__}: {err or 'empty or truncated file'}") from None


def _has_role(attrs: dict, role: str) -> bool:
    flag = attrs.get(role, False)
    if isinstance(flag, str):
        flag = flag.strip().lower() in ("1", "true", "yes")
    return attrs.get("role") == role or bool(flag)
