"""Trajectory files in packed weights (format 2), the adjacency view computed on read, old files still read."""

import numpy as np
import pytest

from geodln import Data, GradientFlow, init, layered, skip_connections, sparse_layered
from geodln.cli.main import main
from geodln.io.files import npz_bytes
from geodln.io.trajectories import (FILE_BUDGET, MAX_POINTS, MIN_POINTS, TRAJECTORY_FORMAT, default_n_points,
                                    read_trajectory, trajectory_arrays)

TOPOLOGIES = {
    "layered": lambda: layered([3, 5, 4, 3]),
    "sparse": lambda: sparse_layered([4, 6, 6, 4], density=0.5, seed=1),
    "skip": lambda: skip_connections([3, 4, 4, 3]),
}


def short_run(top, n_points=21):
    data = Data.from_spectrum([3.0, 2.0, 1.0][: min(top.widths[0], top.widths[-1], 3)], top.widths[0],
                              top.widths[-1], seed=0)
    flow = GradientFlow(top, data)
    return flow.integrate(init.small(top, scale=0.1, seed=0), 5.0, n_points=n_points)


def write(path, arrays):
    path.write_bytes(npz_bytes(arrays))
    return path


def old_format(traj, with_theta=True):
    """The members ``geodln flow`` wrote before format 2 (dense ``A``, ``mask``, no ``format_version``)."""
    top = traj.flow.top
    arrays = dict(t=traj.t, loss=traj.loss, A=traj.adjacency(), mask=top.mask, layer=top.layer,
                  nodes=np.array([str(v) for v in top.nodes]), singular_values=traj.singular_values,
                  conserved_drift=traj.conserved_drift, Syx=traj.flow.data.Syx, Sxx=traj.flow.data.Sxx)
    return arrays | ({"theta": traj.theta} if with_theta else {})


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_round_trip_and_adjacency_view(tmp_path, name):
    traj = short_run(TOPOLOGIES[name]())
    top = traj.flow.top
    path = write(tmp_path / "t.npz", trajectory_arrays(traj.t, traj.theta, top.edge_index, loss=traj.loss,
                                                       layer=top.layer))
    with np.load(path) as raw:
        assert "A" not in raw.files and int(raw["format_version"]) == TRAJECTORY_FORMAT
    f = read_trajectory(path)
    np.testing.assert_array_equal(f.theta, traj.theta)
    np.testing.assert_array_equal(f["t"], traj.t)
    np.testing.assert_array_equal(f["loss"], traj.loss)
    np.testing.assert_array_equal(f["A"], traj.adjacency())  # the view is the dense A, entry for entry
    np.testing.assert_array_equal(f.adjacency(3), traj.adjacency(3))
    np.testing.assert_array_equal(f["mask"], top.mask)
    assert {"A", "mask", "theta", "loss"} <= set(f.keys())


@pytest.mark.parametrize("name", TOPOLOGIES)
@pytest.mark.parametrize("with_theta", [True, False])
def test_old_format_still_loads(tmp_path, name, with_theta):
    traj = short_run(TOPOLOGIES[name]())
    top = traj.flow.top
    f = read_trajectory(write(tmp_path / "old.npz", old_format(traj, with_theta)))
    assert f.format_version == 1
    np.testing.assert_array_equal(f.source, top.edge_index[0])  # geodln's packing order, derived from the mask
    np.testing.assert_array_equal(f.target, top.edge_index[1])
    np.testing.assert_array_equal(f.theta, traj.theta)
    np.testing.assert_array_equal(f["A"], traj.adjacency())


def test_cli_file_is_packed_size_and_equal_to_the_python_run(tmp_path):
    widths, T = [8, 8, 8, 8], 101
    out = tmp_path / "run"
    assert main(["flow", "--widths", ",".join(map(str, widths)), "--spectrum", "4,3,2,1", "--scale", "0.1",
                 "--t-end", "5", "--n-points", str(T), "--out", str(out), "--quiet"]) == 0
    top = layered(widths)
    D, n = top.n_params, top.n
    size = (out / "trajectory.npz").stat().st_size
    packed = T * D * 8
    # theta dominates (deflate barely shrinks float64 mantissas); the rest is O(T d + n + D) and Syx, Sxx
    assert 0.5 * packed < size < 1.25 * packed, (size, packed)
    assert size < T * n * n * 8 / 3  # the dense A alone would be n^2 / D = 5.3 times theta
    f = read_trajectory(out / "trajectory.npz")
    data = Data.from_spectrum([4.0, 3.0, 2.0, 1.0], 8, 8, seed=0)
    traj = GradientFlow(top, data).integrate(init.small(top, scale=0.1, seed=0), 5.0, n_points=T)
    np.testing.assert_array_equal(f.theta, traj.theta)
    np.testing.assert_array_equal(f["A"], traj.adjacency())


@pytest.mark.parametrize("D", [10, 1_000, 80_000, 100_000, 1_000_000, 10**8])
def test_default_n_points_keeps_the_file_linear_in_D(D):
    T = default_n_points(D)
    assert MIN_POINTS <= T <= MAX_POINTS
    assert T * D * 8 <= max(FILE_BUDGET, MIN_POINTS * D * 8)
    assert T == MAX_POINTS or (T + 1) * D * 8 > FILE_BUDGET or T == MIN_POINTS  # as many as the budget allows


def test_refuses_newer_formats_and_other_files(tmp_path):
    traj = short_run(layered([2, 3, 2]))
    top = traj.flow.top
    arrays = trajectory_arrays(traj.t, traj.theta, top.edge_index, layer=top.layer)
    with pytest.raises(ValueError, match="newer"):
        read_trajectory(write(tmp_path / "new.npz", arrays | {"format_version": np.array(TRAJECTORY_FORMAT + 1)}))
    with pytest.raises(ValueError, match="not a geodln trajectory file: no .*theta"):
        read_trajectory(write(tmp_path / "w.npz", {"W1": np.eye(2), "t": traj.t, "layer": top.layer,
                                                  "format_version": np.array(2)}))
    with pytest.raises(ValueError, match="edge index"):
        trajectory_arrays(traj.t, traj.theta[:, :-1], top.edge_index, layer=top.layer)


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_xarray_holds_packed_weights_and_their_edges(name):
    traj = short_run(TOPOLOGIES[name]())
    ds = traj.to_xarray()
    A = np.zeros((len(traj), ds.attrs["n_nodes"], ds.attrs["n_nodes"]))
    A[:, ds["source"].values, ds["target"].values] = ds["theta"].values
    np.testing.assert_array_equal(A, traj.adjacency())
