"""The sweep engine: every point of a grid run once, serially or on Dask, gathered into one dataset.

A point is ``task(params, seed) -> dict`` (see :mod:`geodln.sweeps.grid` for
``params``). Its result is a dict of scalars and 1-d arrays: arrays named
``visit_*`` run along the ``visit`` axis (length ``max_visits``), arrays named
``mode_*`` or ``half_time`` along the ``mode`` axis (length ``max_modes``).
The dataset has one variable per key, with dimensions (grid keys..., seed
[, visit | mode]). A task that raises is recorded (``status = "failed"``,
``message`` its text, fill values elsewhere: NaN, -1, "", False) and the sweep
goes on. Nothing random happens in the engine: a point's result depends only
on its params and seed, so serial, local-cluster and remote runs agree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from ..io.files import output_lock, package_version
from ..io.progress import Progress
from ..io.parallel import check_workers, run
from .grid import Grid, make_grid
from .store import SweepStore

__all__ = ["sweep", "run_point", "assemble"]

FILL = {"f": np.nan, "i": -1, "b": False, "U": ""}
_KINDS = {"f": np.float64, "i": np.int64, "u": np.int64, "b": np.bool_, "U": np.str_, "S": np.str_}


def sweep(task, grid, *, seeds, client=None, workers=None, store=None, progress=True, settings=None, force=False,
          argv=None):
    """Run ``task`` at every point of ``grid`` x ``seeds``; return the results as one labelled dataset.

    Parameters
    ----------
    task : {"flow", "descent"} or callable
        ``"flow"`` / ``"descent"`` name the built-in tasks
        (:data:`geodln.sweeps.tasks.TASKS`); any picklable ``f(params: dict,
        seed: int) -> dict`` of scalars and 1-d arrays works too.
    grid : mapping
        ``{name: list of values}``, values numbers or strings (widths and
        spectra as comma-separated strings), e.g. ``{"widths": ["4,4,4,4"],
        "spectrum": ["4,3,2,1"], "scale": [1e-4, 1e-3, 1e-2]}``.
    seeds : str, int or iterable of int
        ``"0:16"`` (a range), ``"0,3,7"``, ``16`` (0..15) or a list.
    client : distributed.Client, optional
        Run on this Dask client. Default: the active client if there is one,
        else a ``LocalCluster`` of ``workers`` processes with one thread each,
        closed at the end.
    workers : int, optional
        Processes of the local cluster (default: the number of cores).
        ``workers=1`` runs serially in this process, without Dask.
    store : path, optional
        ``*.zarr`` or ``*.nc``: every finished point is saved as it completes
        (``STORE.points/``), a rerun computes only the missing points, and the
        dataset is written there at the end (see :mod:`geodln.sweeps.store`).
    progress : bool
        A progress bar over the points (:class:`geodln.io.progress.Progress`, silent when stderr is not a terminal).
    settings : mapping, optional
        Fixed parameters of every point (``{"t_end": 2000.0}``,
        ``{"step": 0.05, "n_steps": 5000}``); ``max_visits`` (default 12).
    force : bool
        Replace a store that holds another sweep (other grid, seeds,
        settings, task or geodln version) instead of refusing.
    argv : list of str, optional
        The command line recorded in the ``command`` attribute.

    Returns
    -------
    xarray.Dataset
        Dimensions: the grid keys in order, ``seed``, and ``visit`` / ``mode``
        for per-visit and per-mode arrays. Attributes: ``geodln_version``,
        ``task``, ``grid``, ``settings``, ``seeds`` (JSON), ``command``,
        ``created``; the returned object also has ``computed``, the number of
        points this call computed (0 when the store already held them all).

    Raises
    ------
    ValueError, TypeError
        A bad grid, seeds, task or store; a store of another sweep without
        ``force``; points whose results differ in keys, shapes or kinds.

    Examples
    --------
    >>> ds = sweep(lambda params, seed: {"x": params["scale"] * seed}, {"scale": [1.0, 2.0]}, seeds="0:3",
    ...            workers=1, progress=False)
    >>> ds.x.dims, ds.x.values.tolist(), ds.status.values[0, 0]
    (('scale', 'seed'), [[0.0, 1.0, 2.0], [0.0, 2.0, 4.0]], 'ok')
    """
    if client is not None and workers is not None:
        raise ValueError("give either client= (run on it) or workers= (start a local cluster), not both")
    check_workers(workers)
    points = make_grid(grid, seeds, settings)
    target = None if store is None else SweepStore(store)
    name, function = _resolve(task)
    identity = {"geodln_version": package_version("geodln"), "task": name} | points.description()
    if target is None:
        results = {}
        computed = _compute(function, points, results, None, client, workers, progress)
        ds = assemble(points, results, identity, argv)
    else:
        with output_lock(target.path):
            ds = target.finished(identity, force)
            computed = 0
            if ds is None:
                results = target.resume(identity, force)
                computed = _compute(function, points, results, target.save_point, client, workers, progress)
                ds = assemble(points, results, identity, argv)
                target.write(ds)
    ds.attrs["computed"] = computed
    return ds


def _resolve(task):
    """``(name, callable)`` of a task given by name or as a callable."""
    if isinstance(task, str):
        from .tasks import TASKS  # the built-in tasks load the flow machinery only when named

        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}: the built-in tasks are {', '.join(sorted(TASKS))}, "
                             "or pass a callable f(params, seed) -> dict")
        return task, TASKS[task]
    if not callable(task):
        raise TypeError(f"task must be 'flow', 'descent' or a callable f(params, seed) -> dict, not {type(task).__name__}")
    return f"{getattr(task, '__module__', '?')}.{getattr(task, '__qualname__', type(task).__name__)}", task


def run_point(task, params: dict, seed: int) -> dict:
    """One point: ``task(params, seed)`` as ``{name: numpy array}``, or a failed record if the task raised.

    Runs on the workers; a task's exception becomes ``status = "failed"``
    with its text as ``message``. A result of the wrong form (not a dict, an
    array that is not 1-d or has the wrong length) is the task's bug and raises.
    """
    try:
        result = task(dict(params), int(seed))
    except Exception as err:  # a failing point is data, not the end of the sweep
        return {"status": np.array("failed"), "message": np.array(f"{type(err).__name__}: {err}")}
    if not isinstance(result, dict):
        raise TypeError(f"task returned a {type(result).__name__} at {params} seed {seed}; it must return a dict")
    arrays = {"status": np.array("ok"), "message": np.array("")}
    for name, value in result.items():
        arrays[str(name)] = _as_array(str(name), value, params)
    return arrays


def _axis(name: str) -> str | None:
    """The extra dimension of a variable: ``visit``, ``mode`` or none."""
    if name.startswith("visit_"):
        return "visit"
    if name.startswith("mode_") or name == "half_time":
        return "mode"
    return None


def _as_array(name: str, value, params: dict) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == object and array.size and all(isinstance(v, str) for v in array.flat):
        array = array.astype(str)
    kind = _KINDS.get(array.dtype.kind)
    if kind is None:
        raise TypeError(f"task result {name!r} has dtype {array.dtype}; results are floats, ints, bools or strings")
    axis = _axis(name)
    length = {"visit": params.get("max_visits"), "mode": params.get("max_modes")}.get(axis)
    if array.ndim == 0 and axis is None:
        return array.astype(kind)
    if array.ndim == 1 and axis is not None and array.shape[0] == length:
        return array.astype(kind)
    rule = (f"a 1-d array of length max_{axis}s = {length}" if axis else
            "a scalar (arrays are named visit_* (per visit), mode_* or half_time (per mode))")
    raise ValueError(f"task result {name!r} has shape {array.shape}; it must be {rule}")


def _schema(result: dict) -> dict:
    return {name: (array.dtype.kind, array.shape) for name, array in result.items()}


def _check(schema: dict, result: dict, where: str) -> None:
    """Every point returns the same keys with the same shapes and kinds; name the first that differs."""
    if result["status"] == "failed" and set(result) == {"status", "message"}:
        return
    other = _schema(result)
    for name in sorted(set(schema) | set(other)):
        if schema.get(name) != other.get(name):
            raise ValueError(f"the task's results disagree on {name!r} at {where}: "
                             f"{other.get(name, 'missing')} here, {schema.get(name, 'missing')} at earlier points "
                             "(every point must return the same keys, shapes and kinds)")


def _check_names(result: dict, points: Grid) -> None:
    """A result may not take the name of a dimension: the grid's keys, ``seed``, ``visit``, ``mode``."""
    taken = sorted(set(result) & (set(points.axes) | {"seed", "visit", "mode"}))
    if taken:
        raise ValueError(f"the task returns {taken[0]!r}, which is also a dimension of the sweep (a grid key, seed, "
                         f"visit or mode): the coordinate {taken[0]!r} holds the grid's values; give the result "
                         "another name")


def _first_schema(results: dict) -> dict | None:
    for result in results.values():
        if not (result["status"] == "failed" and set(result) == {"status", "message"}):
            return _schema(result)
    return None


def _compute(function, points: Grid, results: dict, save, client, workers, progress) -> int:
    """Compute the points missing from ``results`` (saving each as it completes); return how many."""
    missing = [(i, params, seed) for i, params, seed in points.points() if i not in results]
    schema = _first_schema(results)
    bar = Progress(len(missing), f"sweep ({points.size - len(missing)} of {points.size} runs stored)", enabled=progress)
    failed = done = 0

    def finish(index, result):
        nonlocal schema, failed, done
        params, seed = points.point(index)
        if schema is not None:
            _check(schema, result, f"{params} seed {seed}")
        elif set(result) != {"status", "message"}:
            _check_names(result, points)
            schema = _schema(result)
        if save is not None:
            save(index, result)
        results[index] = result
        failed, done = failed + (str(result["status"]) == "failed"), done + 1
        bar.update(done, f"{failed} failed" if failed else "")

    try:
        if not missing:
            return 0
        run({index: (run_point, function, params, seed) for index, params, seed in missing}, finish, client, workers)
    finally:
        bar.close(f"{failed} failed" if failed else "done")
    return len(missing)


def assemble(points: Grid, results: dict, identity: dict, argv=None):
    """The labelled dataset of a sweep's ``results`` (``{flat index: {name: array}}``).

    Dimensions: the grid keys, ``seed``, and ``visit`` / ``mode`` for
    per-visit and per-mode arrays; points without a value (failed) hold the
    fill values NaN, -1, "" or False. Strings are object arrays of ``str``.
    """
    import xarray as xr

    schema = _first_schema(results) or {"status": ("U", ()), "message": ("U", ())}
    dims = (*points.axes, "seed")
    data = {name: np.full(points.shape + shape, FILL[kind], dtype=object if kind == "U" else _KINDS[kind])
            for name, (kind, shape) in schema.items()}
    for index, result in results.items():
        where = np.unravel_index(index, points.shape)
        for name, array in result.items():
            data[name][where] = array.tolist() if array.dtype.kind == "U" else array
    variables = {name: (dims + ((_axis(name),) if values.ndim > len(dims) else ()), values)
                 for name, values in data.items()}
    coords = {key: np.array(values, dtype=object if isinstance(values[0], str) else None)
              for key, values in points.axes.items()}
    # modes are counted from 1, as in the learnt sets J; visits from 0, as the order of a list
    coords |= {"seed": np.array(points.seeds), "visit": np.arange(points.max_visits),
               "mode": np.arange(1, points.max_modes + 1)}
    attrs = identity | {"command": json.dumps(list(argv)) if argv is not None else "",
                        "created": datetime.now(UTC).isoformat(timespec="seconds")}
    ds = xr.Dataset(variables, coords=coords, attrs=attrs)
    return ds.drop_vars([axis for axis in ("visit", "mode") if axis not in ds.dims])
