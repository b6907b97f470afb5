"""The numerical search for critical points (geodln.find_critical_points) against what is known.

On fully connected layered networks the exact catalog (build_catalog) is the answer: every critical
value and class must be recovered. On a sparse mask and a skip network nothing is known in closed
form, so every returned point is checked independently: its gradient exactly, by Taylor coefficients of the
loss written from the adjacency matrix (W^T = P_in^T sum_k A^k P_out, dense powers, none of geodln's
kernels), its class against that loss's Hessian (polarised Taylor coefficients), a nonstrict saddle's order along
its stored escape direction; and the deduplication must not depend on where in an orbit the starts lie.
"""

import json
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

import geodln
from geodln import symmetry
from geodln.catalog.verify import fill_saddles

sys.path.insert(0, "tests/benchmarks")
from search_completeness import ARCHITECTURES, value_classes  # noqa: E402

STARTS = {"strata": None, "plateau": 1, "random": 2}
SEARCH = {"plateau": 2, "random": 4}


def independent_loss(top, data, theta):
    """``1/2 ||Y - W X||^2`` with ``W^T = P_in^T (sum_k A^k) P_out`` from dense powers of the adjacency matrix."""
    A = top.adjacency(theta)
    total, power = np.zeros_like(A), np.eye(top.n)
    for _ in range(top.depth):
        power = power @ A
        total += power
    W = total[: top.widths[0], top.n - top.widths[-1]:].T
    return 0.5 * np.sum((data.Y - W @ data.X) ** 2)


def taylor(top, data, theta, v, order):
    """The ``order``-th Taylor coefficient of ``t -> L(theta + t v)``: the loss is a polynomial of degree ``2h``
    in ``t``, so a fit of that degree through ``2h + 3`` values is exact up to rounding."""
    t = np.linspace(-0.5, 0.5, 2 * top.depth + 3)
    values = [independent_loss(top, data, theta + ti * v) for ti in t]
    return np.polynomial.polynomial.polyfit(t, values, 2 * top.depth)[order]


def independent_gradient(top, data, theta):
    return np.array([taylor(top, data, theta, e, 1) for e in np.eye(theta.size)])


def independent_hessian(top, data, theta):
    """By polarisation of ``q(v) = v^T H v = 2 c_2(v)``."""
    E = np.eye(theta.size)
    q = lambda v: 2 * taylor(top, data, theta, v, 2)  # noqa: E731
    diag = [q(e) for e in E]
    return np.array([[diag[i] if i == j else (q(E[i] + E[j]) - diag[i] - diag[j]) / 2 for j in range(theta.size)]
                     for i in range(theta.size)])


@pytest.mark.parametrize("widths", list(ARCHITECTURES))
@pytest.mark.parametrize("as_mask", [False, True])
def test_recovers_every_value_and_class_of_the_exact_catalog(widths, as_mask):
    spectrum = ARCHITECTURES[widths]
    exact = geodln.build_catalog(list(widths), spectrum, seed=0)
    # the full layered mask given as a sparse mask of density one is the same network, through the same search
    top = geodln.sparse_layered(widths, 1.0, seed=0) if as_mask else geodln.layered(widths)
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=0)
    found = geodln.find_critical_points(top, data, starts=STARTS, seed=0)
    assert value_classes(exact.records) <= value_classes(found.records)
    assert value_classes(found.records) <= value_classes(exact.records)  # nothing the theory does not have
    labels = {r["stratum"] for r in found.records}
    assert all(r["stratum"] in labels for r in exact.records)  # from the strata, every stratum is reached
    assert found.manifest["method"] == "numerical" and found.manifest["exhaustive"] is False


@pytest.mark.slow
@pytest.mark.parametrize("widths", [(2, 2, 2), (3, 2, 3), (3, 3, 3)])
def test_plateau_and_random_starts_alone_recover_shallow_catalogs(widths):
    spectrum = ARCHITECTURES[widths]
    exact = geodln.build_catalog(list(widths), spectrum, seed=0)
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=0)
    found = geodln.find_critical_points(geodln.layered(widths), data, starts={"plateau": 8, "random": 64}, seed=0)
    assert value_classes(exact.records) == value_classes(found.records)


TOPOLOGIES = {
    "sparse": lambda: geodln.sparse_layered([2, 2, 2, 2], 0.7, seed=0),
    "skip": lambda: geodln.skip_connections([2, 2, 2, 2], skips=[(0, 2)]),
}


@pytest.fixture(scope="module", params=list(TOPOLOGIES))
def searched(request):
    top = TOPOLOGIES[request.param]()
    data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    starts = dict(SEARCH, strata=None) if top.is_layered else SEARCH
    return request.param, top, data, geodln.find_critical_points(top, data, starts=starts, seed=0)


def test_every_point_is_critical_by_an_independent_gradient(searched):
    _, top, data, cat = searched
    assert len(cat) >= 3
    for rec in cat.records:
        theta = top.pack(cat.point(rec))
        g = independent_gradient(top, data, theta)
        assert np.linalg.norm(g) < 1e-8 * data.s[0] ** 2, rec["id"]
        assert abs(independent_loss(top, data, theta) - rec["critical_value"]) < 1e-9
        # the check can fail: a point moved off the critical set is refused by it
        moved = theta + 1e-2 * np.random.default_rng(0).standard_normal(theta.size)
        assert np.linalg.norm(independent_gradient(top, data, moved)) > 1e-4


def test_classes_agree_with_the_inertia_of_an_independent_hessian(searched):
    _, top, data, cat = searched
    kinds = set()
    for rec in cat.records:
        lam = np.linalg.eigvalsh(independent_hessian(top, data, top.pack(cat.point(rec))))
        negative = lam.min() < -1e-7
        assert negative == (rec["kind"] == "strict_saddle"), (rec["id"], rec["kind"], lam.min())
        assert rec["hessian"]["negative"] == int(np.sum(lam < -1e-7))
        kinds.add(rec["kind"])
    assert {"global_minimum", "strict_saddle"} <= kinds


def test_nonstrict_saddles_escape_at_order_three_or_more(searched):
    name, top, data, cat = searched
    nonstrict = [r for r in cat.records if r["kind"] == "nonstrict_saddle"]
    if name == "sparse":
        assert nonstrict  # the origin of a depth-3 network without short paths
    for rec in nonstrict:
        theta = top.pack(cat.point(rec))
        d = top.pack(cat.direction(rec["escape"]["direction"]))
        eps = 0.02 * 0.5 ** np.arange(4)
        drops = np.array([independent_loss(top, data, theta) - independent_loss(top, data, theta + e * d) for e in eps])
        assert np.all(drops > 0)
        slope = np.polyfit(np.log(eps), np.log(drops), 1)[0]
        assert slope > 2.7 and rec["escape_order"] >= 3 and abs(slope - rec["escape_order"]) < 0.3


def _entry(rec):
    return round(rec["critical_value"], 8), rec["kind"], rec["hessian"]["negative"], rec["hessian"]["zero"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_deduplication_is_stable_under_the_symmetry_group(searched, seed):
    _, top, data, cat = searched
    rng = np.random.default_rng(seed)
    for rec in cat.records:
        # the entry's own point and two random group elements applied to it: one orbit, so one entry, the same
        given = [cat.point(rec)] + [symmetry.act(top, symmetry.random_group_element(top, rng), cat.point(rec))
                                    for _ in range(2)]
        again = geodln.find_critical_points(top, data, starts={"given": given}, seed=0)
        assert [_entry(r) for r in again.records] == [_entry(rec)], rec["id"]
        assert again.records[0]["n_converged"] == len(given)


def test_workers_give_the_catalog_of_one_process():
    # the starts are refined in two processes, gathered by start: the same entries, points and counts
    top = TOPOLOGIES["skip"]()
    data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    one, two = (geodln.find_critical_points(top, data, starts=SEARCH, seed=0, workers=w) for w in (1, 2))
    assert one.to_dataframe().equals(two.to_dataframe())
    assert [r["converged_from"] for r in one.records] == [r["converged_from"] for r in two.records]
    assert one.manifest["starts_converged"] == two.manifest["starts_converged"]
    for a, b in zip(one.records, two.records):
        assert np.allclose(one.point(a), two.point(b), atol=1e-12)


def test_restarts_replace_each_repeated_start_and_keep_what_was_found():
    top = TOPOLOGIES["skip"]()
    data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    plain = geodln.find_critical_points(top, data, starts=SEARCH, seed=0)
    deflated = geodln.find_critical_points(top, data, starts=SEARCH, seed=0, restarts=1)
    # one restart for every converged start of the first round that joined an entry already found
    repeats = sum(r["n_converged"] for r in plain.records) - len(plain)
    assert repeats > 0 and deflated.manifest["starts"]["restart"] == repeats
    assert value_classes(plain.records) <= value_classes(deflated.records)
    assert sum(r["n_converged"] for r in deflated.records) == sum(deflated.manifest["starts_converged"].values())
    with pytest.raises(ValueError, match="restarts"):
        geodln.find_critical_points(top, data, starts=SEARCH, restarts=-1)


def test_catalog_round_trips_and_validates(searched, tmp_path):
    _, top, data, cat = searched
    out = cat.write(tmp_path / "cat")
    loaded = geodln.Catalog.load(out)
    assert json.loads(json.dumps(loaded.records)) == json.loads(json.dumps(cat.records, default=float))
    assert loaded.to_dataframe().equals(cat.to_dataframe())
    assert loaded.manifest["method"] == "numerical" and loaded.manifest["exhaustive"] is False
    assert sum(r["n_converged"] for r in loaded.records) <= sum(loaded.manifest["starts_converged"].values())
    for rec in loaded.records:
        assert np.allclose(loaded.point(rec), cat.point(rec))
    (out / "summary.csv").write_text("edited")
    with pytest.raises(ValueError, match="checksum"):
        geodln.Catalog.load(out)


def test_figure_draws_the_values_and_one_network_per_class(searched):
    from geodln.plots import plot_numerical_catalog

    _, top, _, cat = searched
    fig = plot_numerical_catalog(cat)
    kinds = {r["kind"] for r in cat.records}
    values = fig.axes[-1]
    assert len(fig.axes) == 1 + len(kinds)
    assert sum(len(c.get_offsets()) for c in values.collections) == len(cat)
    for ax in fig.axes[:-1]:  # a network panel: every edge of the mask drawn
        assert sum(len(c.get_segments()) for c in ax.collections if hasattr(c, "get_segments")) == top.n_params


def _graph_file(top, path):
    G = nx.DiGraph()
    for v, level in zip(top.nodes, top.layer):
        G.add_node(str(v), role="input" if level == 0 else "output" if level == top.depth else "hidden")
    G.add_edges_from((str(u), str(v)) for u, v in top.graph.edges)
    path.write_text(json.dumps(nx.node_link_data(G)))
    return path


def test_cli_graph_catalog_and_saddles_verify_their_directions(tmp_path):
    top = TOPOLOGIES["skip"]()
    graph = _graph_file(top, tmp_path / "skip.json")
    out = tmp_path / "cat"
    cmd = [sys.executable, "-m", "geodln.cli"]
    done = subprocess.run(cmd + ["catalog", "--graph", str(graph), "--spectrum", "3,1", "--starts", "plateau=2,random=4",
                                 "--out", str(out), "--no-saddles", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "not proven complete" in done.stdout
    done = subprocess.run(cmd + ["saddles", "--catalog", str(out), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    cat = geodln.Catalog.load(out)
    info = cat.manifest["saddles"]
    assert info["n_directions"] > 0 and info["n_verified"] == info["n_directions"]
    assert all("unstable_directions" in r for r in cat.records if r["kind"] != "global_minimum")


SLOW_SADDLES = """
import json, geodln
from geodln.catalog.verify import fill_saddles
top = geodln.sparse_layered([2, 2, 2, 2], 0.7, seed=0)
data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
cat = fill_saddles(geodln.find_critical_points(top, data, starts={"strata": None, "plateau": 2, "random": 4}, seed=0))
items = [d for r in cat.records if r["kind"] != "global_minimum"
         for d in r["unstable_directions"] + r["stable_directions"]]
print(json.dumps([[d["eigenvalue"], d["verified"], d["evidence"]] for d in items], default=float))
"""


def test_slow_saddle_directions_get_a_verdict_in_bounded_time():
    # eigenvalues ~1e-5 at weakly coupled weights: flowing to t ~ 1/|lambda| ~ 1e5 ran past 40 s on one saddle
    done = subprocess.run([sys.executable, "-c", SLOW_SADDLES], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    tol = geodln.Tolerances()
    slow = [(lam, ok, ev) for lam, ok, ev in items if lam is not None and 1 / abs(lam) > tol.t_max]
    assert slow  # the network has them
    for lam, ok, ev in slow:  # no flow to 1/|lambda|: the linearisation, or a verdict that says why
        assert ev["method"] == "local_expansion" and ev["needs_t"] == pytest.approx(1 / abs(lam))
        assert ok == (ev["residual"] <= tol.linear_rate) and (ok or "needs t ~" in ev["unverified"])


def test_local_expansion_refuses_a_wrong_rate():
    from geodln.catalog.verify import _local_expansion
    from geodln.landscape.numerical import numerical_manifolds
    from geodln.landscape.saddles import Direction

    top = TOPOLOGIES["sparse"]()
    data = geodln.Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
    flow = geodln.GradientFlow(top, data)
    cat = geodln.find_critical_points(top, data, starts=dict(SEARCH, strata=None), seed=0)
    tol, checked = cat.tolerances, 0
    for rec in cat.records:
        if rec["kind"] != "strict_saddle":
            continue
        found = numerical_manifolds(flow, top.pack(cat.point(rec)), tolerances=tol)
        for d in found.unstable + found.stable:
            if abs(d.eigenvalue) * tol.t_max < 1:
                assert _local_expansion(flow, top.pack(cat.point(rec)), d, tol).verified
                for wrong in (-d.eigenvalue, 3 * d.eigenvalue):  # the other sign, a rate off by 3
                    claim = Direction(d.vector, wrong < 0, 2, eigenvalue=wrong)
                    assert not _local_expansion(flow, top.pack(cat.point(rec)), claim, tol).verified
                checked += 1
    assert checked


def test_bad_starts_are_refused():
    top = geodln.skip_connections([2, 2, 2])
    data = geodln.Data.from_spectrum([2.0, 1.0], 2, 2, seed=0)
    with pytest.raises(ValueError, match="unknown kinds"):
        geodln.find_critical_points(top, data, starts={"grid": 3})
    with pytest.raises(ValueError, match="layered"):
        geodln.find_critical_points(top, data, starts={"strata": 3})
    with pytest.raises(ValueError, match="nonnegative"):
        geodln.find_critical_points(top, data, starts={"random": -1})
