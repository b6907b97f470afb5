"""Never answer silently wrong, never hang, never a deep traceback: bad input gets a clear refusal."""

import json

import networkx as nx
import numpy as np
import pytest

import geodln
from geodln.cli.main import main


def test_nearly_repeated_singular_values_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"differ by 1e-09.*spectral_gap"):
        geodln.build_catalog([2, 2, 2], [3.0, 3.0 - 1e-9])
    geodln.build_catalog([2, 2, 2], [3.0, 3.0 - 1e-3])  # resolvable gaps still work
    # the threshold is a tolerance, so a user who needs finer gaps can say so explicitly
    fine = geodln.Tolerances(spectral_gap=1e-12)
    with pytest.raises(ValueError, match="spectral_gap = 1e-12"):
        geodln.build_catalog([2, 2, 2], [3.0, 3.0 - 1e-13], tolerances=fine)


@pytest.mark.parametrize("widths", [[2, 2.7, 2], [2, True, 2], [2, 0, 2], [3]])
def test_widths_are_validated_at_every_public_entry(widths):
    with pytest.raises(ValueError, match="widths|at least an input"):
        geodln.build_catalog(widths, [2.0, 1.0])
    with pytest.raises(ValueError, match="widths|at least an input"):
        geodln.layered(widths)
    with pytest.raises(ValueError, match="widths|at least an input"):
        geodln.enumerate_strata(widths, 1).__next__()


def test_sizes_are_checked_before_anything_is_built():
    with pytest.raises(ValueError, match=r"1,000,005 nodes.*GiB each.*at most 8,192"):
        geodln.layered([3, 10**6, 2])
    with pytest.raises(ValueError, match=r"weights.*GiB.*at most 4,000,000"):
        geodln.layered([2, 2100, 2100, 2])
    G = nx.DiGraph()
    G.add_nodes_from(range(9000))
    with pytest.raises(ValueError, match="the graph: 9,000 nodes"):
        geodln.Topology.from_graph(G, inputs=[0], outputs=[1])


def _marked(tmp_path):
    G = nx.DiGraph([("x", "h"), ("h", "y")])
    nx.set_node_attributes(G, {"x": "input", "h": "hidden", "y": "output"}, "role")
    return G


@pytest.mark.parametrize("name, content, message", [
    ("empty.graphml", "", r"empty.graphml: cannot read it as GRAPHML, line 1"),
    ("cut.graphml", '<?xml version="1.0"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n<graph', r"line \d"),
    ("cut.gml", "graph [\n directed 1\n node [ id 0 ", r"cut.gml: cannot read it as GML"),
    ("bad.json", "{nodes: [", r"bad.json: not valid JSON"),
    ("list.json", "[1, 2]", r"needs an object with 'nodes'"),
])
def test_malformed_graph_files_are_value_errors_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        geodln.read_graph(path)


@pytest.mark.parametrize("key", ["edges", "links"])
def test_node_link_json_of_old_and_new_networkx_is_read(tmp_path, key):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(nx.node_link_data(_marked(tmp_path), edges=key)))
    assert geodln.read_graph(path).widths == (1, 1, 1)


def test_a_text_file_named_npz_gets_no_advice_to_unpickle(tmp_path, capsys):
    (tmp_path / "data.npz").write_text("not an archive")
    assert main(["flow", "--widths", "2,2,2", "--data", str(tmp_path / "data.npz"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "is not a .npz archive" in err and "pickle" not in err


def test_huge_delta_is_called_too_large_not_too_small():
    with pytest.raises(ValueError, match="too large"):
        geodln.init.delta_balanced(geodln.layered([2, 3, 3, 2]), 1e300, seed=0)


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("geodln ")


@pytest.mark.parametrize("options, message", [
    (dict(rtol=float("nan")), "rtol must be a positive finite"), (dict(atol=-1.0), "atol must be a positive"),
    (dict(rtol=0.0), "rtol must be"), (dict(n_points=0), "n_points must be an integer >= 2"),
    (dict(n_points=1), "n_points"), (dict(n_points=2.5), "n_points"), (dict(grad_tol=float("nan")), "grad_tol"),
    (dict(method="DOP8533"), "unknown integration method 'DOP8533'; choose one of auto, DOP853"),
])
def test_integration_options_that_would_hang_or_be_ignored_are_refused(options, message):
    top = geodln.layered([2, 2, 2])
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))
    with pytest.raises(ValueError, match=message):
        flow.integrate(geodln.init.small(top, seed=0), 1.0, **options)


def test_a_start_whose_loss_overflows_is_refused_before_integrating(tmp_path, capsys):
    top = geodln.layered([2, 2, 2])
    flow = geodln.GradientFlow(top, geodln.Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))
    with pytest.raises(ValueError, match="loss at theta0 is not finite"):
        flow.integrate(1e200 * np.ones(top.n_params), 1.0)
    out = tmp_path / "o"
    assert main(["flow", "--widths", "2,2,2", "--spectrum", "2,1", "--scale", "1e200", "--out", str(out), "--quiet"]) == 2
    assert "not finite" in capsys.readouterr().err and not out.exists()
