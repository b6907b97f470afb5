"""A serial stand-in for geodln.sweep's dataset assembly (the contract of issue 13), for testing the tasks
and the figures on their own: grid dims in order, then seed, then visit and mode."""

import json
from itertools import product

import numpy as np


def local_sweep(task, grid: dict, seeds, settings: dict, max_modes: int, max_visits: int = 6):
    import xarray as xr

    keys, seeds = list(grid), list(seeds)
    shape = [len(grid[k]) for k in keys] + [len(seeds)]
    rows = {}
    for idx in product(*(range(n) for n in shape)):
        params = {k: grid[k][i] for k, i in zip(keys, idx)} | settings | {"max_modes": max_modes, "max_visits": max_visits}
        rows[idx] = task(params, seeds[idx[-1]])
    first = next(iter(rows.values()))
    dims = keys + ["seed"]
    data = {}
    for name, value in first.items():
        extra = ["visit"] if name.startswith("visit_") else (["mode"] if name.startswith("mode_") or name == "half_time" else [])
        arr = np.array([rows[idx][name] for idx in rows], dtype=object if isinstance(value, str) or np.asarray(value).dtype == object else None)
        data[name] = (dims + extra, arr.reshape(shape + list(np.shape(value))))
    coords = {k: list(grid[k]) for k in keys} | {"seed": seeds, "visit": np.arange(max_visits), "mode": np.arange(max_modes)}
    return xr.Dataset(data, coords=coords, attrs={"task": getattr(task, "__name__", str(task)), "grid": json.dumps(grid),
                                                  "settings": json.dumps(settings), "seeds": json.dumps(seeds)})
