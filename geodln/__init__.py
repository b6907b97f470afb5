"""geodln: the gradient flow of deep linear networks, from the network point of view.

The public API is exactly what this module names. ``geodln.geometry``
(geomstats) and ``geodln.plots`` (matplotlib) are imported on first use, so
``import geodln`` stays fast.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

from . import init
from .catalog import Catalog
from .data import Data
from .flow import DivergenceError, GradientFlow, Trajectory
from .hessian import hessian, hessian_vector_product
from .landscape import CriticalPoint, analyze_stratum
from .losses import Huber, LogCosh, Loss, Quadratic
from .saddles import escape_time, itinerary, local_manifolds
from .strata import Stratum, enumerate_strata
from .topology import Topology, layered, read_graph, skip_connections, sparse_layered

try:
    __version__ = version("geodln")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

_LAZY = ("geometry", "plots")

__all__ = [
    "Catalog",
    "CriticalPoint",
    "Data",
    "DivergenceError",
    "GradientFlow",
    "Huber",
    "LogCosh",
    "Loss",
    "Quadratic",
    "Stratum",
    "Topology",
    "Trajectory",
    "analyze_stratum",
    "enumerate_strata",
    "escape_time",
    "geometry",
    "hessian",
    "hessian_vector_product",
    "init",
    "itinerary",
    "layered",
    "local_manifolds",
    "plots",
    "read_graph",
    "skip_connections",
    "sparse_layered",
    "__version__",
]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'geodln' has no attribute {name!r}")
