"""Interop: Trajectory.to_xarray (netCDF and zarr round trips), Catalog.to_dataframe (pandas), tqdm progress."""

import io
import re

import numpy as np
import pytest

import geodln
from geodln.io.progress import Progress


@pytest.fixture(scope="module")
def traj():
    flow = geodln.GradientFlow(geodln.layered([2, 3, 2]), geodln.Data.from_spectrum([2.0, 0.5], 2, 2, seed=1))
    return flow.integrate(geodln.init.small(flow.top, 0.1, seed=2), 10.0, n_points=30, log_time=True)


def test_trajectory_to_xarray_holds_the_run(traj):
    ds = traj.to_xarray()
    assert dict(ds.sizes) == {"time": 30, "sv": 2, "param": traj.flow.top.n_params}
    np.testing.assert_array_equal(ds["time"].values, traj.t)
    np.testing.assert_array_equal(ds["theta"].values, traj.theta)
    np.testing.assert_array_equal(ds["singular_values"].values, traj.singular_values)
    np.testing.assert_array_equal(ds["conserved_drift"].values, traj.conserved_drift)
    # the loss is a function of the stored weights: recomputing it from theta gives the stored loss
    np.testing.assert_allclose(ds["loss"].values, [traj.flow.loss(x) for x in ds["theta"].values], rtol=1e-12)
    assert ds.attrs["nfev"] == traj.nfev and ds.attrs["success"] == 1 and ds.attrs["loss"] == "quadratic"


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_trajectory_round_trip(traj, tmp_path, fmt):
    import xarray as xr

    ds = traj.to_xarray()
    if fmt == "netcdf":
        ds.to_netcdf(tmp_path / "t.nc")
        back = xr.open_dataset(tmp_path / "t.nc").load()
    else:
        ds.to_zarr(tmp_path / "t.zarr", consolidated=False)
        back = xr.open_zarr(tmp_path / "t.zarr", consolidated=False).load()
    xr.testing.assert_identical(back, ds)


def test_catalog_to_dataframe_is_the_summary_table(tmp_path):
    import pandas as pd

    catalog = geodln.build_catalog([2, 2, 2], [3.0, 1.0], seed=0)
    df = catalog.to_dataframe()
    assert len(df) == len(catalog.records) and list(df["id"]) == [r["id"] for r in catalog.records]
    # the same table as summary.csv, and the kinds count as Catalog.counts says
    written = pd.read_csv(catalog.write(tmp_path / "cat") / "summary.csv", keep_default_na=False)
    assert list(written.columns) == list(df.columns) and list(written["id"]) == list(df["id"])
    assert df["kind"].value_counts().to_dict() == {k: n for k, n in catalog.counts().items() if n}
    # critical values L_J = 1/2 sum_{k not in J} s_k^2 for whitened data with L_* = 0
    expected = {"[]": 5.0, "[1]": 0.5, "[2]": 4.5, "[1, 2]": 0.0}
    assert {str(J): v for J, v in zip(df["learned"], df["critical_value"])} == pytest.approx(expected, abs=1e-9)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_draws_on_a_terminal_only():
    """A bar on a terminal; off a terminal (logs, pipes) only the closing line; nothing when disabled."""
    tty, pipe = _Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(8.0, "integrating t", stream=stream, interval=0)
        for v in (2.0, 4.0, 8.0):
            bar.update(v, info="DOP853")
        bar.close("reached t_end")
    text = tty.getvalue()
    assert "integrating t" in text and " 50.0%" in text and "8/8" in text and "DOP853" in text
    assert text.rstrip().endswith("reached t_end]")
    assert re.fullmatch(r"integrating t: reached t_end in \d+\.\d s\n", pipe.getvalue())
    off = _Terminal()
    bar = Progress(1.0, "x", enabled=False, stream=off)
    bar.update(0.5)
    bar.close()
    assert off.getvalue() == ""
