"""A serial stand-in for geodln.sweep's dataset assembly (the contract of issue 13), for testing the tasks
and the figures on their own: grid dims in order, then seed, then visit and mode."""

import json
from itertools import product

import numpy as np


def _extra_dims(name: str) -> list:
    if name.startswith("visit_"):
        return ["visit"]
    return ["mode"] if name.startswith("mode_") or name == "half_time" else []


def local_sweep(task, grid: dict, seeds, settings: dict, max_modes: int, max_visits: int = 6):
    import xarray as xr

    keys, seeds = list(grid), list(seeds)
    shape = [len(grid[k]) for k in keys] + [len(seeds)]
    rows = {}
    for idx in product(*(range(n) for n in shape)):
        params = {k: grid[k][i] for k, i in zip(keys, idx)} | settings
        rows[idx] = task(params | {"max_modes": max_modes, "max_visits": max_visits}, seeds[idx[-1]])
    data = {}
    for name, value in next(iter(rows.values())).items():
        text = isinstance(value, str) or np.asarray(value).dtype == object
        values = np.array([rows[idx][name] for idx in rows], dtype=object if text else None)
        data[name] = (keys + ["seed"] + _extra_dims(name), values.reshape(shape + list(np.shape(value))))
    coords = {k: list(grid[k]) for k in keys} | {"seed": seeds, "visit": np.arange(max_visits),
                                                 "mode": np.arange(max_modes)}
    attrs = {"task": task.__name__, "grid": json.dumps(grid), "settings": json.dumps(settings),
             "seeds": json.dumps(seeds)}
    return xr.Dataset(data, coords=coords, attrs=attrs)
