"""The geodln command: files, their contents, and clear errors."""

import json

import networkx as nx
import numpy as np
import pytest

import geodln
from geodln.cli.main import main


def test_flow_writes_trajectory_summary_and_picture(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["flow", "--widths", "3,4,4,3", "--spectrum", "3,2,1", "--init", "small", "--scale", "0.1",
            "--seed", "0", "--t-end", "40", "--n-points", "60", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "global minimum" in capsys.readouterr().out
    with np.load(out / "trajectory.npz") as f:
        T, n = f["t"].shape[0], 14
        assert f["A"].shape == (T, n, n) and f["loss"].shape == (T,)
        assert f["mask"].shape == (n, n) and f["layer"].tolist() == [0] * 3 + [1] * 4 + [2] * 4 + [3] * 3
        assert np.all(f["A"][:, f["mask"] == 0] == 0)
        np.testing.assert_allclose(np.linalg.svd(f["Syx"], compute_uv=False), [3, 2, 1], atol=1e-12)
        np.testing.assert_allclose(f["Sxx"], np.eye(3), atol=1e-12)
        loss = f["loss"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_loss"] == pytest.approx(loss[-1])
    assert summary["final_loss"] < 1e-6 and summary["global_min_value"] == pytest.approx(0.0, abs=1e-12)
    assert summary["conserved_drift"] < 1e-8
    assert summary["geodln_version"] == geodln.__version__ and summary["parameters"]["seed"] == 0
    assert (out / "loss.png").stat().st_size > 10_000
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_flow_from_a_graph_file(tmp_path):
    G = nx.DiGraph([("x1", "h1"), ("x2", "h1"), ("x2", "h2"), ("h1", "y"), ("h2", "y"), ("x1", "y")])
    nx.set_node_attributes(G, {"x1": "input", "x2": "input", "y": "output"}, "role")
    nx.write_graphml(G, tmp_path / "net.graphml")
    assert main(["flow", "--graph", str(tmp_path / "net.graphml"), "--spectrum", "2", "--t-end", "5",
                 "--n-points", "10", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["conservation_law"] == "node" and summary["topology"]["n_params"] == 6


def test_impossible_spectrum_is_a_clear_error(tmp_path, capsys):
    code = main(["flow", "--widths", "3,4,2", "--spectrum", "3,2,1", "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    assert "at most 2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_widths_argument_exits_with_usage():
    with pytest.raises(SystemExit) as exc:
        main(["flow", "--widths", "3,x,2"])
    assert exc.value.code == 2
