"""Studies at scale: sweeps of flows and descents over grids of seeds, scales, widths and data.

Each grid point is one run; its summary (final loss, conserved drift, the
saddles it visited, of which class and for how long) becomes one entry of a
labelled :class:`xarray.Dataset`. Dask, xarray and zarr are imported on first
use, so ``import geodln`` stays fast.
"""

from .engine import sweep
from .grid import Grid, make_grid, parse_seeds

__all__ = ["sweep", "Grid", "make_grid", "parse_seeds"]
