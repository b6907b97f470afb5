"""geodln: the gradient flow of deep linear networks, from the network point of view.

The public API is exactly what this module names. ``geodln.geometry``
(geomstats), ``geodln.plots`` (matplotlib) and ``geodln.sweep`` (Dask, xarray)
are imported on first use, so ``import geodln`` stays fast.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

from . import init, symmetry
# networks and data
from .data import Data
from .losses import Huber, LogCosh, Loss, Quadratic
from .graph_files import read_graph
from .topology import Topology, layered, skip_connections, sparse_layered
# flow and curvature
from .flow import GradientFlow, Trajectory
from .hessian import Inertia, hessian, hessian_vector_product, inertia
# conservation laws
from . import laws
from .laws import LawReport, LawSearch, PolynomialLaw, conservation_laws, polynomial_laws
# landscape and saddles
from .catalog import Catalog, build_catalog
from .landscape import CriticalPoint, analyze_stratum, classify, trace_critical_set
from .points import NearestCritical, analyze_point, nearest_critical_point
from .weights import Weights, read_weights
from .saddles import Verification, escape_time, itinerary, local_manifolds, verify_direction
from .strata import Stratum, enumerate_strata
from .counting import StrataCount, count_strata
from .tolerances import Tolerances
# errors
from .errors import ClassificationError, DivergenceError, GeodlnError, NotCriticalError

try:
    __version__ = version("geodln")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

_LAZY = ("geometry", "plots", "sweeps")

__all__ = [
    # networks and data
    "Data", "Loss", "Quadratic", "LogCosh", "Huber",
    "Topology", "layered", "sparse_layered", "skip_connections", "read_graph", "init",
    # flow and curvature
    "GradientFlow", "Trajectory", "hessian", "hessian_vector_product", "Inertia", "inertia",
    # conservation laws
    "conservation_laws", "LawReport", "polynomial_laws", "LawSearch", "PolynomialLaw", "laws",
    # landscape and saddles
    "Stratum", "enumerate_strata", "count_strata", "StrataCount", "CriticalPoint", "analyze_stratum", "classify", "trace_critical_set",
    "local_manifolds", "verify_direction", "Verification", "escape_time", "itinerary",
    "analyze_point", "nearest_critical_point", "NearestCritical", "read_weights", "Weights",
    "Catalog", "build_catalog", "Tolerances",
    # errors
    "GeodlnError", "DivergenceError", "ClassificationError", "NotCriticalError",
    # modules
    "symmetry", "geometry", "plots", "sweeps",
    # studies at scale (Dask and xarray load on first use)
    "sweep",
    "__version__",
]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name == "sweep":
        return importlib.import_module(".sweeps", __name__).sweep
    raise AttributeError(f"module 'geodln' has no attribute {name!r}")
