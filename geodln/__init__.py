"""geodln: the gradient flow of deep linear networks, from the network point of view.

The public API is exactly what this module names. ``geodln.geometry``
(geomstats), ``geodln.plots`` (matplotlib) and ``geodln.sweep`` (Dask, xarray)
are imported on first use, so ``import geodln`` stays fast.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

from .dynamics import init
from . import symmetry
# networks and data
from .network.data import Data
from .network.losses import Huber, LogCosh, Loss, Quadratic
from .io.graphs import read_graph
from .network.topology import Topology, layered, skip_connections, sparse_layered
# flow and curvature
from .dynamics.flow import GradientFlow, Trajectory
from .dynamics.hessian import Inertia, hessian, hessian_vector_product, inertia
# conservation laws
from . import laws
from .laws import LawReport, LawSearch, PolynomialLaw, conservation_laws, polynomial_laws
# landscape and saddles
from .catalog.store import Catalog, build_catalog
from .catalog.search import find_critical_points
from .landscape.critical import CriticalPoint, analyze_stratum, classify, trace_critical_set
from .landscape.points import NearestCritical, analyze_point, nearest_critical_point
from .io.weights import Weights, read_weights
from .landscape.saddles import Verification, escape_time, itinerary, local_manifolds, verify_direction
from .landscape.strata import Stratum, enumerate_strata
from .landscape.counting import StrataCount, count_strata
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
    "Catalog", "build_catalog", "find_critical_points", "Tolerances",
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
