"""geodln: the gradient flow of deep linear networks, from the network point of view.

The public API is exactly what this module names.
"""

from importlib.metadata import PackageNotFoundError, version

from . import init
from .data import Data
from .flow import DivergenceError, GradientFlow, Trajectory
from .losses import Huber, LogCosh, Loss, Quadratic
from .topology import Topology, layered, skip_connections, sparse_layered

try:
    __version__ = version("geodln")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "Data",
    "DivergenceError",
    "GradientFlow",
    "Huber",
    "LogCosh",
    "Loss",
    "Quadratic",
    "Topology",
    "Trajectory",
    "init",
    "layered",
    "skip_connections",
    "sparse_layered",
    "__version__",
]
