"""Small picklable tasks for the sweep engine's tests (importable by Dask workers: tests/ is on their path).

``toy_point`` is a closed form of its parameters and seed, so every entry of a
sweep's dataset can be checked against a direct call.
"""

import time

import numpy as np


def toy_point(params, seed):
    """A deterministic result with every kind of variable: floats, ints, bools, strings, visit and mode arrays."""
    rng = np.random.default_rng([seed, len(params["widths"])])
    widths = [int(w) for w in params["widths"].split(",")]
    n_modes = min(widths[0], widths[-1])
    x = params["scale"] * rng.standard_normal()
    visits = np.full(params["max_visits"], np.nan)
    visits[:n_modes] = np.cumsum(rng.random(n_modes))
    learned = np.array([",".join(map(str, range(k))) if k < n_modes else "" for k in range(params["max_visits"])])
    half = np.full(params["max_modes"], np.nan)
    half[:n_modes] = np.log(1 / params["scale"]) / np.arange(n_modes, 0, -1)
    return {"final_loss": x ** 2, "n_visits": n_modes, "converged": bool(x > 0), "label": f"w{len(widths)}s{seed}",
            "visit_value": visits, "visit_learned": learned, "half_time": half, "t_final": params.get("t_end", 0.0)}


def fragile_point(params, seed):
    """``toy_point``, except that seed 1 raises (a failing point) and seed 2 at the largest scale too."""
    if seed == 1 or (seed == 2 and params["scale"] > 0.05):
        raise FloatingPointError(f"overflow at scale {params['scale']}")
    return toy_point(params, seed)


def slow_point(params, seed):
    """``toy_point`` after a pause (for kill-and-resume tests)."""
    time.sleep(params.get("pause", 0.2))
    return toy_point(params, seed)


def bad_shape_point(params, seed):
    """Returns a visit array one too short at seed 3: a task bug the engine must name."""
    result = toy_point(params, seed)
    if seed == 3:
        result["visit_value"] = result["visit_value"][:-1]
    return result


def changing_keys_point(params, seed):
    """Forgets a key at seed 2: a task bug the engine must name."""
    result = toy_point(params, seed)
    if seed == 2:
        del result["label"]
    return result


def itinerary_point(params, seed):
    """A flow-like result with a known summary: seeds 0..2 visit {} -> {0} -> {0,1} and converge; seed 3 jumps
    {} -> {0,1} and stops short (loss_gap 1). Saddle stays are seed + 1 (at {}) and 2 (at {0})."""
    n = params["max_visits"]
    route = ["", "0", "0,1"] if seed < 3 else ["", "0,1"]
    kinds = ["strict_saddle", "nonstrict_saddle", "global_minimum"] if seed < 3 else ["strict_saddle", "global_minimum"]
    enter = np.full(n, np.nan)
    exit_ = np.full(n, np.nan)
    enter[: len(route)] = [0.0, seed + 1.0, seed + 3.0][: len(route)]
    exit_[: len(route)] = [seed + 1.0, seed + 3.0, np.nan][: len(route)] if seed < 3 else [seed + 1.0, np.nan]
    pad = n - len(route)
    return {"loss_gap": 0.0 if seed < 3 else 1.0, "global_min": 0.5, "n_visits": len(route),
            "visit_learned": np.array(route + [""] * pad), "visit_kind": np.array(kinds + [""] * pad),
            "visit_enter": enter, "visit_exit": exit_}
