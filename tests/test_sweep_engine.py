"""The sweep engine: every entry of the dataset is its task at its coordinates, whatever runs it (serially, a
LocalCluster, a scheduler and worker started with the ``dask`` command), and a store resumes exactly."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import geodln
from geodln.sweeps import make_grid, parse_seeds
from geodln.cli.sweep import summary_table
from sweep_toys import (bad_shape_point, changing_keys_point, fragile_point, itinerary_point, slow_point,
                        toy_point)

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
GRID = {"widths": ["4,4,4,4", "3,5,2"], "scale": [1e-3, 0.1]}  # 2 x 2 grid points, x 4 seeds
ENV = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}


def _data(ds):
    """The dataset without the attributes that record when and how much was computed."""
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if k not in ("created", "computed")}
    return out


def test_import_geodln_loads_none_of_the_heavy_packages():
    heavy = ("dask", "distributed", "xarray", "zarr", "pandas", "tqdm", "matplotlib", "geomstats", "h5netcdf")
    code = (f"import sys, geodln; print([m for m in {heavy!r} if m in sys.modules]); "
            "print(callable(geodln.sweep), 'xarray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True False"]  # geodln.sweep itself is light; xarray loads when it runs


@pytest.mark.parametrize("text, seeds", [("0:4", (0, 1, 2, 3)), ("5:7", (5, 6)), ("0,3,7", (0, 3, 7)), (3, (0, 1, 2)),
                                         ([4, 2], (4, 2)), (np.arange(2), (0, 1))])
def test_seed_syntax(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("seeds, words", [("0:", "a:b"), ("a,b", "comma"), ("3:3", "no seed"), ("1,1", "repeat"),
                                          ("-1,2", "non-negative"), ([1.5], "integer"), (None, "seeds must")])
def test_bad_seeds_are_named(seeds, words):
    with pytest.raises((ValueError, TypeError), match=words):
        parse_seeds(seeds)


@pytest.mark.parametrize("grid, settings, words", [
    ({"seed": [1]}, {}, "'seed' is not allowed"), ({"scale": []}, {}, "'scale' has no values"),
    ({"scale": [1, 1]}, {}, "repeats"), ({"scale": [1, "a"]}, {}, "mixes"), ({"scale": [[1, 2]]}, {}, "list"),
    ({"t_end": [1.0]}, {"t_end": 2.0}, "both a grid key and a setting"), ({}, {"max_modes": 3}, "reserved"),
    ({}, {"max_visits": 0}, "max_visits"), ([1, 2], {}, "mapping"), ({"widths": ["4,x"]}, {}, "widths '4,x'")])
def test_bad_grids_are_named(grid, settings, words):
    with pytest.raises((ValueError, TypeError), match=words):
        make_grid(grid, "0:2", settings)


def test_grid_sizes_and_flat_order():
    points = make_grid({"widths": ["4,4,4,4", "3,5,2"], "spectrum": "3,2", "scale": [1, 2]}, "0:3", {"max_visits": 5})
    assert points.shape == (2, 1, 2, 3) and points.size == 12
    assert (points.max_modes, points.max_visits) == (2, 5)  # the longest spectrum, not min(d_0, d_h) = 4
    assert make_grid(GRID, 1).max_modes == 4  # no spectrum: the largest min(d_0, d_h) over the widths
    params, seed = points.point(7)  # C order: widths 1, spectrum 0, scale 0, seed 1
    assert (params["widths"], params["scale"], seed) == ("3,5,2", 1, 1)
    assert [i for i, _, _ in points.points()] == list(range(12))


def _params(ds, **coords):
    grid = json.loads(ds.attrs["grid"])
    return ({k: coords[k] for k in grid} | json.loads(ds.attrs["settings"])
            | {"max_modes": ds.sizes.get("mode", 0), "max_visits": ds.sizes.get("visit", 0)})


def _assert_entries_are_the_task(ds, task, skip_seeds=()):
    """Every (grid point, seed) entry of ``ds`` equals a direct call of ``task`` with that point's params."""
    for widths in ds.widths.values:
        for scale in ds.scale.values:
            for seed in ds.seed.values:
                if seed in skip_seeds:
                    continue
                expected = task(_params(ds, widths=widths, scale=scale), int(seed))
                entry = ds.sel(widths=widths, scale=scale, seed=seed)
                assert entry.status.item() == "ok" and entry.message.item() == ""
                for name, value in expected.items():
                    np.testing.assert_array_equal(entry[name].values.astype(np.asarray(value).dtype), value,
                                                  err_msg=f"{name} at {widths}, {scale}, seed {seed}")


def test_every_entry_is_the_task_at_its_coordinates():
    ds = geodln.sweep(toy_point, GRID, seeds="0:4", workers=1, settings={"t_end": 5.0}, progress=False)
    assert list(ds.status.dims) == ["widths", "scale", "seed"]
    assert ds.visit_value.dims == ("widths", "scale", "seed", "visit") and ds.half_time.dims[-1] == "mode"
    assert ds.sizes["visit"] == 12 and ds.sizes["mode"] == 4 and ds.attrs["computed"] == 16
    assert ds.label.dtype == object and ds.final_loss.dtype == np.float64 and ds.n_visits.dtype == np.int64
    assert json.loads(ds.attrs["grid"]) == GRID and json.loads(ds.attrs["seeds"]) == [0, 1, 2, 3]
    assert ds.attrs["task"] == "sweep_toys.toy_point" and ds.attrs["geodln_version"] == geodln.__version__
    _assert_entries_are_the_task(ds, toy_point)


def test_a_failing_point_is_recorded_and_the_sweep_goes_on():
    ds = geodln.sweep(fragile_point, GRID, seeds="0:4", workers=1, progress=False)
    failed = ds.status.values == "failed"
    expected = np.zeros((2, 2, 4), bool)
    expected[:, :, 1] = True
    expected[:, 1, 2] = True  # seed 2 fails at the larger scale only
    np.testing.assert_array_equal(failed, expected)
    assert all(m.startswith("FloatingPointError: overflow at scale") for m in ds.message.values[failed])
    assert np.isnan(ds.final_loss.values[failed]).all() and np.isnan(ds.visit_value.values[failed]).all()
    assert (ds.n_visits.values[failed] == -1).all() and not ds.converged.values[failed].any()
    assert (ds.label.values[failed] == "").all() and (ds.visit_learned.values[failed] == "").all()
    _assert_entries_are_the_task(ds, toy_point, skip_seeds=(1, 2))


def test_when_every_point_fails_the_dataset_says_so():
    ds = geodln.sweep(fragile_point, GRID, seeds=[1], workers=1, progress=False)
    assert set(ds.data_vars) == {"status", "message"} and (ds.status.values == "failed").all()


@pytest.mark.parametrize("task, key", [(bad_shape_point, "visit_value"), (changing_keys_point, "label")])
def test_a_task_whose_results_disagree_is_named(task, key):
    with pytest.raises(ValueError, match=f"'{key}'"):
        geodln.sweep(task, GRID, seeds="0:4", workers=1, progress=False)


@pytest.mark.parametrize("kwargs, words", [({"task": 3}, "task must be"), ({"task": "walk"}, "unknown task"),
                                           ({"workers": 0}, "workers"), ({"store": "x.h5"}, ".zarr"),
                                           ({"workers": 2, "client": object()}, "not both")])
def test_bad_arguments_are_named(kwargs, words):
    kwargs = {"task": toy_point} | kwargs
    with pytest.raises((ValueError, TypeError), match=words):
        geodln.sweep(kwargs.pop("task"), GRID, seeds="0:2", progress=False, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args, log):
    return subprocess.Popen(args, env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _listening(port: int, timeout: float) -> bool:
    """Wait until something accepts connections on ``port`` (a scheduler starts in seconds, longer on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def test_serial_local_cluster_and_dask_command_line_give_identical_datasets(tmp_path):
    from distributed import Client

    serial = geodln.sweep(toy_point, GRID, seeds="0:4", workers=1, progress=False)
    local = geodln.sweep(toy_point, GRID, seeds="0:4", workers=2, progress=False)
    port = _free_port()
    dask = Path(sys.executable).with_name("dask")
    with open(tmp_path / "dask.log", "w") as log:
        procs = [_start([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], log)]
        try:
            assert _listening(port, 180), "the dask scheduler did not start"
            procs.append(_start([dask, "worker", f"tcp://127.0.0.1:{port}", "--host", "127.0.0.1", "--nworkers", "2",
                                 "--nthreads", "1", "--no-dashboard"], log))
            with Client(f"tcp://127.0.0.1:{port}", timeout="120s") as client:
                client.wait_for_workers(2, timeout=180)
                remote = geodln.sweep(toy_point, GRID, seeds="0:4", progress=False)  # the active client
                ran_on = set(client.run(os.getpid).values())
        finally:
            for proc in procs:  # the scheduler, the worker's nanny and its processes: each in its own session
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert len(ran_on) == 2 and os.getpid() not in ran_on
    import xarray as xr

    for ds in (local, remote):
        assert ds.attrs["computed"] == 16
        xr.testing.assert_identical(_data(ds), _data(serial))


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_store_round_trip_resume_and_refusals(tmp_path, suffix):
    import xarray as xr

    store = tmp_path / f"study{suffix}"
    ds = geodln.sweep(fragile_point, GRID, seeds="0:4", workers=1, store=store, progress=False, argv=["sweep"])
    assert ds.attrs["computed"] == 16 and not store.with_name(store.name + ".points").exists()
    opened = xr.open_zarr(store).load() if suffix == ".zarr" else xr.load_dataset(store, engine="h5netcdf")
    xr.testing.assert_identical(_data(opened), _data(ds))
    assert json.loads(opened.attrs["command"]) == ["sweep"]
    again = geodln.sweep(fragile_point, GRID, seeds="0:4", workers=1, store=store, progress=False)
    assert again.attrs["computed"] == 0
    xr.testing.assert_identical(_data(again), _data(ds))
    for change, words in [({"seeds": "0:5"}, "seeds"), ({"settings": {"t_end": 1.0}}, "settings"),
                          ({"grid": GRID | {"scale": [1e-3]}}, "grid"), ({"task": toy_point}, "task")]:
        kwargs = {"task": fragile_point, "grid": GRID, "seeds": "0:4"} | change
        with pytest.raises(ValueError, match=f"another sweep.*{words}: stored"):
            geodln.sweep(kwargs.pop("task"), kwargs.pop("grid"), workers=1, store=store, progress=False, **kwargs)
    forced = geodln.sweep(toy_point, GRID, seeds="0:2", workers=1, store=store, progress=False, force=True)
    assert forced.attrs["computed"] == 8
    reopened = xr.open_zarr(store).load() if suffix == ".zarr" else xr.load_dataset(store, engine="h5netcdf")
    xr.testing.assert_identical(_data(reopened), _data(forced))


def test_paths_geodln_did_not_write_are_never_touched(tmp_path):
    foreign = tmp_path / "results.nc"
    foreign.write_bytes(b"someone's data")
    folder = tmp_path / "results.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    parts = tmp_path / "other.zarr.points"
    parts.mkdir()
    (parts / "manifest.json").write_text("{}")
    for store in (foreign, folder, tmp_path / "other.zarr"):
        for force in (False, True):
            with pytest.raises(ValueError, match="not written by geodln"):
                geodln.sweep(toy_point, GRID, seeds=[0], workers=1, store=store, progress=False, force=force)
    assert foreign.read_bytes() == b"someone's data" and (folder / "notes.txt").read_text() == "mine"
    assert [p.name for p in parts.iterdir()] == ["manifest.json"]


KILLED_RUN = """
import sys, geodln
from sweep_toys import slow_point
geodln.sweep(slow_point, {grid!r}, seeds="0:4", workers=1, store=sys.argv[1], settings={{"pause": 0.3}}, progress=False)
"""


def test_a_killed_sweep_resumes_with_only_the_missing_points(tmp_path):
    import xarray as xr

    store = tmp_path / "killed.zarr"
    parts = tmp_path / "killed.zarr.points"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN.format(grid=GRID), store], env=ENV,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list(parts.glob("*.npz"))) < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    with pytest.raises(ValueError, match="being written by another geodln process"):  # one writer at a time
        geodln.sweep(slow_point, GRID, seeds="0:4", workers=1, store=store, settings={"pause": 0.3}, progress=False)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(parts.glob("*.npz")))
    assert proc.returncode == -signal.SIGKILL and 5 <= done < 16, proc.stderr.read()
    assert not store.exists()  # the dataset is written once, when every point is done
    resumed = geodln.sweep(slow_point, GRID, seeds="0:4", workers=1, store=store, settings={"pause": 0.3},
                           progress=False)
    assert resumed.attrs["computed"] == 16 - done
    uninterrupted = geodln.sweep(toy_point, GRID, seeds="0:4", workers=1, settings={"pause": 0.3}, progress=False)
    xr.testing.assert_equal(resumed, uninterrupted)  # values and coordinates (the task names differ)
    xr.testing.assert_identical(_data(xr.open_zarr(store).load()), _data(resumed))


def test_summary_table_per_grid_point():
    ds = geodln.sweep(itinerary_point, {"widths": ["2,2,2"], "scale": [0.1, 0.2]}, seeds="0:4", workers=1,
                      progress=False)
    table = summary_table(ds).splitlines()
    assert len(table) == 3 and table[0].split()[:5] == ["widths", "scale", "runs", "failed", "converged"]
    for row in table[1:]:  # 3 of 4 runs converge; stays at saddles 1,2,3,4 (at {}) and 2,2,2 (at {0}): median 2
        assert row.split()[2:6] == ["4", "0", "0.75", "2"] and row.endswith("{} -> {0} -> {0,1} (3/4)")


@pytest.mark.parametrize("args, words", [
    (["--t-end", "5", "--out", "study.txt"], "must end in .zarr (zarr) or .nc"),
    (["--task", "descent", "--t-end", "5"], "--task descent needs --step S and --n-steps N"),
    (["--step", "0.1"], "--task flow needs --t-end"),
    (["--t-end", "5", "--seeds", "3:1"], "name no seed"),
    (["--t-end", "5", "--workers", "0"], "workers must be a positive integer"),
    (["--t-end", "5", "--scheduler", "tcp://127.0.0.1:9"], "could not reach a Dask scheduler at tcp://127.0.0.1:9")])
def test_cli_errors_are_one_line_messages(tmp_path, args, words):
    env = ENV | {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}  # Dask's own setting, so the test is quick
    proc = subprocess.run([sys.executable, "-m", "geodln.cli", "sweep", "--widths", "4,4,4,4", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # one small flow, but tens of seconds on a loaded 2-core machine
def test_the_flow_task_through_the_command_line_and_again(tmp_path):
    """`geodln sweep` runs the real flow task: each stored entry is that point's flow (all but wall_time), the
    table names the itineraries, and the same command again computes nothing."""
    import xarray as xr
    from geodln.sweeps.tasks import TASKS

    argv = ["sweep", "--widths", "2,2,2", "--spectrum", "2,1", "--scale", "1e-2", "--seeds", "0", "--t-end", "20",
            "--max-visits", "4", "--workers", "1", "--out", "flows.nc"]
    runs = [subprocess.run([sys.executable, "-m", "geodln.cli", *argv], cwd=tmp_path, env=ENV, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert "computed 1 of 1 runs" in runs[0].stdout and "computed 0 of 1 runs" in runs[1].stdout
    assert "{1,2} (1/1)" in runs[0].stdout and "converged" in runs[0].stdout  # seed 0 jumps to the minimum
    ds = xr.load_dataset(tmp_path / "flows.nc", engine="h5netcdf")
    assert (ds.status.values == "ok").all() and (ds.loss_gap.values < 1e-12).all()
    for seed in (0,):
        params = {"widths": "2,2,2", "spectrum": "2,1", "scale": 1e-2, "t_end": 20.0, "max_visits": 4, "max_modes": 2}
        for name, value in TASKS["flow"](params, seed).items():
            if name != "wall_time":
                np.testing.assert_array_equal(ds[name].sel(seed=seed).values.ravel().astype(np.asarray(value).dtype),
                                              np.ravel(value), err_msg=name)


def test_sweeping_a_task_parameter_that_names_a_built_in_result_works(tmp_path):
    """t_end is a parameter of the flow task, and a natural thing to sweep: the time reached is the result
    t_final, the grid's t_end a coordinate (no clash), and a longer run reaches the minimum's neighbourhood."""
    ds = geodln.sweep("flow", {"widths": ["2,2,2,2"], "spectrum": ["2,1"], "scale": [1e-2], "t_end": [5.0, 400.0]},
                      seeds="0:1", workers=1, progress=False)
    assert list(ds.t_end.values) == [5.0, 400.0] and "t_end" in ds.coords
    np.testing.assert_allclose(ds.t_final.sel(seed=0).squeeze().values, [5.0, 400.0])
    gaps = ds.loss_gap.sel(seed=0).squeeze().values
    assert gaps[1] < 1e-6 < gaps[0]
    assert list(ds.half_time.mode.values) == [1, 2]  # modes counted from 1, as in J
    learned = [str(x) for x in ds.visit_learned.sel(t_end=400.0, seed=0).squeeze().values]
    assert learned[0] == "{}" and "{1}" in learned and learned[-1] == ""  # the empty set is not the padding


def _echo_scale(params, seed):
    return {"status": "ok", "message": "", "scale": float(params["scale"])}


def test_a_task_returning_a_grid_key_is_told_so():
    with pytest.raises(ValueError, match="returns 'scale', which is also a dimension"):
        geodln.sweep(_echo_scale, {"scale": [1.0, 2.0]}, seeds="0:1", workers=1, progress=False)
