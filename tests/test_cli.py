"""The geodln command: files, their contents, and clear errors."""

import importlib
import json
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pytest

import geodln
from geodln.catalog.verify import Checkpoint
from geodln.cli.main import main
from geodln.network import losses
from geodln.io.trajectories import read_trajectory
from geodln.network.losses import Loss, Quadratic

cli_main = importlib.import_module("geodln.cli.main")  # the module: the package's attribute `main` is the function


def test_flow_writes_trajectory_summary_and_picture(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["flow", "--widths", "3,4,4,3", "--spectrum", "3,2,1", "--init", "small", "--scale", "0.1",
            "--seed", "0", "--t-end", "40", "--n-points", "60", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "global minimum" in capsys.readouterr().out
    with read_trajectory(out / "trajectory.npz") as f:  # packed weights on disk, A computed on read
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


def test_a_numerical_catalog_is_found_again_and_another_search_needs_force(tmp_path, capsys):
    G = nx.DiGraph([("x1", "h1"), ("x2", "h1"), ("x2", "h2"), ("h1", "y"), ("h2", "y"), ("x1", "y")])
    nx.set_node_attributes(G, {"x1": "input", "x2": "input", "y": "output"}, "role")
    nx.write_graphml(G, tmp_path / "net.graphml")
    out = tmp_path / "cat"
    search = ["catalog", "--graph", str(tmp_path / "net.graphml"), "--spectrum", "2", "--no-saddles", "--quiet",
              "--out", str(out)]
    assert main([*search, "--starts", "random=3"]) == 0
    made = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main([*search, "--starts", "random=3"]) == 0  # the same search: found, nothing recomputed
    assert "nothing recomputed" in capsys.readouterr().out
    assert main([*search, "--starts", "random=4"]) == 2  # another budget: refused without --force
    assert "--force" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == made


def test_a_catalog_too_large_to_build_is_refused_at_once(tmp_path, capsys):
    """16^5 with 10 modes has ~1e14 strata: refused in seconds with the number and what to do, nothing
    written; --max-per-set within the limit or --max-strata lets it through to the building."""
    import time

    from geodln.catalog.store import build_catalog

    out = tmp_path / "cat"
    start = time.monotonic()
    assert main(["catalog", "--widths", "16,16,16,16,16", "--spectrum", "10,9,8,7,6,5,4,3,2,1", "--out", str(out)]) == 2
    assert time.monotonic() - start < 30
    err = capsys.readouterr().err
    assert "103,288,226,147,475 strata" in err and "--max-per-set 97" in err and "--max-strata" in err
    assert list(tmp_path.iterdir()) == []  # no catalog, no checkpoint, no lock left
    with pytest.raises(ValueError, match=r"would analyse 4 strata .* than max_strata = 3 .* per learnt set is already 4"):
        build_catalog([2, 2, 2], [2.0, 1.0], max_strata=3, max_per_set=1)
    assert len(build_catalog([2, 2, 2], [2.0, 1.0], max_strata=4, max_per_set=1)) == 4


def test_flow_states_the_memory_of_the_run_and_its_itinerary_and_refuses_above_the_limit(tmp_path, capsys):
    from geodln.dynamics.flow import integration_memory
    from geodln.landscape.itinerary import itinerary_memory

    out = tmp_path / "run"
    assert main(["flow", "--widths", "3,4,3", "--t-end", "5", "--out", str(out), "--memory-limit", "1e-6"]) == 2
    err = capsys.readouterr().err
    top = geodln.layered([3, 4, 3])
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=0))
    need = integration_memory(top, 401) + itinerary_memory(flow, 401)
    assert f"the integration with its itinerary needs at most {need / 1e9:.3g} GB" in err and "--memory-limit" in err
    assert not out.exists()


def test_impossible_spectrum_is_a_clear_error(tmp_path, capsys):
    code = main(["flow", "--widths", "3,4,2", "--spectrum", "3,2,1", "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    assert "at most 2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_widths_argument_exits_with_usage():
    with pytest.raises(SystemExit) as exc:
        main(["flow", "--widths", "3,x,2"])
    assert exc.value.code == 2


@dataclass(frozen=True)
class _Doubled(Loss):
    """``L = ||Y - W X||_F^2``, twice the quadratic loss, registered by the test and declaring no closed forms."""

    name = "doubled-quadratic"

    def value(self, W, data):
        return 2.0 * Quadratic().value(W, data)

    def gradient(self, W, data):
        return 2.0 * Quadratic().gradient(W, data)

    def curvature(self, W, dW, data):
        return 2.0 * Quadratic().curvature(W, dW, data)


@pytest.fixture
def doubled(monkeypatch):
    """The registry with :class:`_Doubled` added, restored after the test."""
    monkeypatch.setattr(losses, "_LOSSES", dict(losses._LOSSES))
    losses.register_loss(_Doubled)
    return _Doubled


def test_a_registered_loss_is_a_flow_option_and_refused_where_closed_forms_are_needed(tmp_path, capsys, doubled):
    """One class registered in one place: ``--loss`` offers it, the flow runs it (the flow of 2L to T is the
    flow of L to 2T, at twice the loss), and the itinerary and the classification refuse it alike."""
    with pytest.raises(SystemExit):
        main(["flow", "--help"])
    assert "{quadratic,logcosh,huber,doubled-quadratic}" in capsys.readouterr().out
    common = ["flow", "--widths", "2,2,2", "--spectrum", "2,1", "--scale", "0.3", "--n-points", "5", "--quiet"]
    assert main(common + ["--loss", doubled.name, "--t-end", "1.5", "--out", str(tmp_path / "d")]) == 0
    assert main(common + ["--t-end", "3", "--out", str(tmp_path / "q")]) == 0
    fast, slow = (json.loads((tmp_path / name / "summary.json").read_text()) for name in ("d", "q"))
    assert fast["loss_function"] == doubled.name and fast["itinerary"] == []
    assert fast["final_loss"] == pytest.approx(2 * slow["final_loss"], rel=1e-7)
    top = geodln.layered([2, 2, 2])
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum([2.0, 1.0], 2, 2), loss=doubled.name)
    traj = flow.integrate(geodln.init.small(top, scale=0.3, seed=0), 1.0, n_points=5)
    refusals = []
    for call in (lambda: geodln.itinerary(traj), lambda: geodln.nearest_critical_point(flow, traj.theta[-1])):
        with pytest.raises(ValueError, match="closed-form critical values") as err:
            call()
        refusals.append(str(err.value).split(" rest on ")[1])
    assert refusals == [f"closed-form critical values L_J, which the {doubled.name} loss does not have"] * 2


def test_a_loss_name_is_registered_once(doubled):
    @dataclass(frozen=True)
    class Other(Loss):
        name = doubled.name

    with pytest.raises(ValueError, match="already registered"):
        losses.register_loss(Other)
    assert losses.register_loss(doubled) is doubled  # registering the same class again changes nothing
    assert losses.loss_names().count(doubled.name) == 1


def test_one_dispatch_turns_every_command_s_errors_into_exit_codes(monkeypatch, capsys):
    """A command is a module in COMMANDS: it shows in ``geodln --help`` and its errors get the shared exit codes."""
    raised = {"value": ValueError("a bad value"), "check": geodln.ClassificationError("two checks disagree"),
              "interrupt": KeyboardInterrupt()}

    class Probe:
        NAME, HELP, DESCRIPTION = "probe", "a command made by the test", "Raise what --raise names."
        KEPT_ON_INTERRUPT = "nothing was started"

        @staticmethod
        def add_arguments(parser):
            parser.add_argument("--raise", dest="what", choices=sorted(raised))

        @staticmethod
        def run(args, argv):
            if args.what:
                raise raised[args.what]
            return 0

    monkeypatch.setattr(cli_main, "COMMANDS", cli_main.COMMANDS + (Probe,))
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "a command made by the test" in capsys.readouterr().out
    assert main(["probe"]) == 0
    codes = {what: main(["probe", "--raise", what]) for what in raised}
    assert codes == {"value": 2, "check": 3, "interrupt": 130}
    err = capsys.readouterr().err
    assert "geodln probe: error: a bad value" in err and "the checks disagree, nothing written" in err
    assert "geodln probe: interrupted; nothing was started" in err


def test_the_checkpoint_is_named_beside_its_catalog_and_removes_only_geodln_s_files(tmp_path):
    checkpoint = Checkpoint(tmp_path / "cat")
    assert checkpoint.folder == tmp_path / ".cat.geodln-checkpoint" and checkpoint.spill == checkpoint.folder / "arrays"
    checkpoint.spill.mkdir(parents=True)
    ours = [checkpoint.folder / "cp00001.npz", checkpoint.spill / "records.jsonl", checkpoint.spill / "points.npz"]
    for file in ours:
        file.write_bytes(b"scratch")
    checkpoint.remove()
    assert not checkpoint.folder.exists()
    checkpoint.spill.mkdir(parents=True)
    (checkpoint.folder / "notes.txt").write_text("a user's")
    (checkpoint.folder / "cp00002.npz").write_bytes(b"scratch")
    checkpoint.remove()
    assert sorted(p.name for p in checkpoint.folder.iterdir()) == ["notes.txt"]  # theirs kept, ours and arrays/ gone
