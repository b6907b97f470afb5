"""Shared fixtures: every property test runs on each kind of topology; the documentation site built once."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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


DOCS_BUILD = ("-W", "--keep-going", "-b", "html")  # the documented command: python -m sphinx -W --keep-going -b html docs docs/_build/html


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory):
    """The documentation site built once, as the documented command builds it, into a temporary folder.

    The sources are copied first (without earlier builds or generated pages), so the build starts from
    nothing and writes nothing into the work tree; warnings are errors and every gallery script runs.
    Returns the folder of the HTML pages (``index.html``, ``objects.inv``, ...).
    """
    root = Path(__file__).resolve().parents[1]
    base = tmp_path_factory.mktemp("docs")
    source, html = base / "docs", base / "html"
    shutil.copytree(root / "docs", source,
                    ignore=shutil.ignore_patterns("_build", "generated", "auto_examples", "sg_execution_times.rst"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sphinx", *DOCS_BUILD, str(source), str(html)], cwd=base,
                          capture_output=True, text=True, timeout=1200, env=env)
    assert proc.returncode == 0, f"the docs build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    (base / "build-seconds.txt").write_text(f"{time.monotonic() - start:.1f}\n")
    return html
