"""Conservation laws: the count D - dim Lie(W_phi)(theta), the known laws, the extra ones.

Sources of the counts:
- Marcotte, Gribonval, Peyre, "Abide by the law and follow the flow" (NeurIPS 2023),
  two-layer linear networks of inner width r <= min(d_0, d_2): exactly r(r+1)/2 laws
  (the entries of the symmetric balance W_1 W_1^T - W_2^T W_2).
- Deeper chains (computed by the definition, as in issue 15): 2,2,2,2 has 6 = 3 + 3
  balance entries, 2,1,1,2 has 2 = 1 + 1.
- d_0 = d_h = 1: phi is a scalar, W_phi is spanned by the one field grad phi and
  [X, X] = 0, so the trace is one-dimensional and there are D - 1 laws: 7 for
  1,2,2,1 (D = 2 + 4 + 2), one more than its 3 + 3 balance entries.
"""

import networkx as nx
import numpy as np
import pytest

import geodln
from geodln.cli.main import main
from geodln.dynamics.hessian import hessian_vector_product
from geodln.laws import RANK_RTOL, conservation_laws, polynomial_laws, verify_law, weight_names
from geodln.laws.fields import bracket, evaluate, generators
from geodln.network.losses import Loss


def _balance_entries(widths):
    """sum over hidden levels of d_i (d_i + 1) / 2: the entries of the symmetric C_i."""
    return sum(d * (d + 1) // 2 for d in widths[1:-1])


@pytest.mark.parametrize("widths, n_laws, source", [
    ([2, 2, 3], 3, "MGP 2023, two layers, r = 2: r(r+1)/2"),
    ([3, 2, 3], 3, "MGP 2023, two layers, r = 2: r(r+1)/2"),
    ([2, 1, 2], 1, "MGP 2023, two layers, r = 1: r(r+1)/2"),
    ([3, 3, 2], 6, "MGP 2023, two layers, r = 3: r(r+1)/2"),
    ([2, 2, 2, 2], 6, "issue 15 (definition): the 3 + 3 entries of C_1, C_2"),
    ([2, 1, 1, 2], 2, "issue 15 (definition): the 1 + 1 entries of C_1, C_2"),
    ([1, 2, 2, 1], 7, "d_0 = d_h = 1: trace of dim 1, D - 1 = 8 - 1"),
    ([1, 3, 2, 1], 10, "d_0 = d_h = 1: trace of dim 1, D - 1 = 11 - 1"),
])
def test_published_and_derived_counts(widths, n_laws, source):
    report = conservation_laws(geodln.layered(widths))
    assert report.n_laws == n_laws, source
    assert report.n_params == geodln.layered(widths).n_params
    assert report.trace_dim == report.n_params - n_laws
    if widths[0] == widths[-1] == 1:
        assert report.trace_dim == 1


@pytest.mark.parametrize("widths", [[2, 2, 3], [3, 2, 3], [3, 3, 2], [2, 2, 2, 2], [2, 1, 1, 2], [2, 2, 2, 2, 2],
                                    [2, 3, 3, 2]])
def test_balances_complete_on_fully_connected_chains(widths):
    """On these chains the balance entries are independent and they are all the laws."""
    report = conservation_laws(geodln.layered(widths))
    assert report.n_laws == report.n_known == _balance_entries(widths)
    assert report.complete and report.missing_basis.shape == (report.n_params, 0)


def test_dependent_balance_entries_are_counted_once():
    """1,3,1: C_1 = w w^T - v v^T has rank <= 2, its six entries give only 5 = D - 1 independent laws."""
    report = conservation_laws(geodln.layered([1, 3, 1]))
    assert (report.n_params, report.n_laws, report.n_known) == (6, 5, 5)


@pytest.mark.parametrize("widths", [[2, 2, 2, 2], [1, 2, 2, 1], [3, 2, 3]])
def test_rank_decision_is_stable_across_points_with_a_wide_margin(widths):
    reports = [conservation_laws(geodln.layered(widths), seed=s) for s in range(4)]
    assert len({(r.trace_dim, r.n_laws, r.n_known) for r in reports}) == 1
    for r in reports:
        assert r.margin > 1e8  # observed: 1e14 and more (or inf when nothing is dropped)
        assert r.smallest_kept > 1e3 * RANK_RTOL and r.largest_dropped < 1e-3 * RANK_RTOL
        assert r.known_residual < 1e-12  # the known laws' gradients are orthogonal to the trace


def test_missing_basis_of_1221_is_orthogonal_to_trace_and_known_laws():
    r = conservation_laws(geodln.layered([1, 2, 2, 1]))
    assert (r.n_laws, r.n_known) == (7, 6) and r.missing_basis.shape == (8, 1)
    Q = np.hstack([r.trace_basis, r.known_basis, r.missing_basis])
    np.testing.assert_allclose(Q.T @ Q, np.eye(8), atol=1e-12)  # together they fill R^8


class _Linear(Loss):
    """L(W) = <M, W>: its flow's field is -X_M."""

    name = "linear"

    def __init__(self, M):
        self.M = M

    def value(self, W, data):
        return float(np.vdot(self.M, W))

    def gradient(self, W, data):
        return self.M

    def curvature(self, W, dW, data):
        return np.zeros_like(dW)


@pytest.mark.parametrize("top", [geodln.layered([2, 3, 2, 2]), geodln.skip_connections([2, 2, 2, 2]),
                                 geodln.sparse_layered([3, 3, 3, 2], 0.6, seed=2)], ids=["layered", "skip", "sparse"])
def test_exact_fields_and_first_brackets_match_the_flow_and_its_hessian(top):
    """X_oi = grad phi_oi is the gradient of the flow for L = <E_oi, W>; [X_M, X_N] = H_N X_M - H_M X_N
    with H_M the exact (forward-over-reverse) Hessian of <M, W>."""
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(top.n_params)
    data = geodln.Data.from_spectrum([1.0], top.widths[0], top.widths[-1], seed=0)
    gens = generators(top)
    pairs = [(o, i) for o in range(top.widths[-1]) for i in range(top.widths[0])]
    assert len(gens) == len(pairs)

    def flow_of(o, i):
        M = np.zeros((top.widths[-1], top.widths[0]))
        M[o, i] = 1.0
        return geodln.GradientFlow(top, data, loss=_Linear(M))

    values = evaluate(gens, theta)
    for row, (o, i) in zip(values, pairs):
        np.testing.assert_allclose(row, flow_of(o, i).gradient(theta), rtol=0, atol=1e-13)
    (a, fa), (b, fb) = [(k, flow_of(*pairs[k])) for k in (0, len(pairs) - 1)]
    expected = hessian_vector_product(fb, theta, values[a]) - hessian_vector_product(fa, theta, values[b])
    np.testing.assert_allclose(evaluate([bracket(gens[a], gens[b])], theta)[0], expected, rtol=0, atol=1e-12)


def _twins():
    """Hidden nodes h0 and h2 share in-set {x1} and out-set {y1} (twins); h1 is alone."""
    G = nx.DiGraph([("x0", "h1"), ("x1", "h0"), ("x1", "h2"), ("h0", "y1"), ("h1", "y1"), ("h2", "y1"),
                    ("x0", "y0")])
    return geodln.Topology.from_graph(G, inputs=["x0", "x1"], outputs=["y0", "y1"])


def test_twins_add_the_off_diagonal_matrix_law():
    """Twins carry GL(2) (they can be mixed without changing W): the node laws miss the off-diagonal
    entry of their 2 x 2 balance, h0.h2 in-weights minus h0.h2 out-weights; the search finds it, it is
    conserved along the flow and independent of the node laws."""
    top = _twins()
    report = conservation_laws(top)
    assert report.n_laws == report.n_known + 1
    found = polynomial_laws(top, degree=2)
    assert len(found.new) == 1 and found.new[0].exact
    law = found.new[0]
    names = {str(law)}
    assert names == {"W1[1,1] W1[2,1] - W2[1,1] W2[1,2]"}  # h0, h2 are hidden nodes 1, 2; x1, y1 index 1
    check = verify_law(top, law, seed=1)
    assert check.verified and check.drift < 1e-10 and check.moved > 0.05
    g = law.gradient(report.theta)  # independent of the node laws, and orthogonal to the trace
    assert np.linalg.norm(report.missing_basis.T @ g) > 0.1 * np.linalg.norm(g)
    assert np.abs(report.trace_basis.T @ g).max() < 1e-12 * np.linalg.norm(g)


def test_node_laws_complete_on_sparse_masks_without_twins():
    for top in [geodln.sparse_layered([2, 3, 2], 0.6, seed=s) for s in (1, 2, 3)] + \
               [geodln.sparse_layered([2, 2, 2, 2], 0.6, seed=s) for s in (1, 2, 3)]:
        assert conservation_laws(top).complete, top.graph.edges


@pytest.mark.parametrize("top", [geodln.skip_connections([2, 2, 2], [(0, 2)]), geodln.skip_connections([2, 3, 2], [(0, 2)]),
                                 geodln.skip_connections([2, 2, 2, 2])], ids=["222-02", "232-02", "2222"])
def test_skip_connections_with_vector_input_and_output_keep_complete_laws(top):
    report = conservation_laws(top)
    assert report.complete and report.n_laws == report.n_known


def test_scalar_skip_network_has_a_logarithmic_law():
    """1,1,1 plus the skip x -> y: phi = w2 w1 + s, grad phi = (w2, w1, 1) in (w1, w2, s). Besides
    w1^2 - w2^2 the flow conserves s - log|w1 + w2| (along the field (w1 + w2)' = w1 + w2 and s' = 1):
    not polynomial, and the search finds no polynomial one of degree <= 6."""
    top = geodln.skip_connections([1, 1, 1], [(0, 2)])
    report = conservation_laws(top)
    assert (report.n_params, report.n_laws, report.n_known) == (3, 2, 1)
    assert polynomial_laws(top, degree=6).new == []
    names = weight_names(top)
    w1, w2, s = names.index("W1[0,0]"), names.index("W2[0,0]"), names.index("S0_2[0,0]")

    def law(theta):
        return theta[s] - np.log(abs(theta[w1] + theta[w2]))

    check = verify_law(top, law, seed=0)
    assert check.verified and check.drift < 1e-10 and check.moved > 0.05
    th = report.theta
    grad = np.zeros(3)
    grad[[w1, w2]] = -1.0 / (th[w1] + th[w2])
    grad[s] = 1.0
    assert np.abs(report.trace_basis.T @ grad).max() < 1e-12 * np.linalg.norm(grad)  # a law
    assert np.linalg.norm(report.missing_basis.T @ grad) > 0.1 * np.linalg.norm(grad)  # not the balance


def test_1221_extra_law_is_not_polynomial_of_low_degree():
    """The conserved polynomials of degree <= 4 of 1,2,2,1 are exactly the polynomials in its six balance
    entries (degree 2 each): 6 + 21 = 27 of them, none functionally new."""
    found = polynomial_laws(geodln.layered([1, 2, 2, 1]), degree=4)
    assert len(found.laws) == 6 + 21 and found.new == [] and all(law.exact for law in found.laws)
    assert "no polynomial law of degree <= 4" in found.summary()


def test_found_balances_are_conserved_along_the_flow_for_another_loss():
    law = polynomial_laws(geodln.layered([2, 2, 2]), degree=2).laws[1]
    check = verify_law(geodln.layered([2, 2, 2]), law, seed=3, loss="logcosh")
    assert check.verified and check.moved > 0.05


def test_laws_command_prints_the_report(capsys):
    assert main(["laws", "--widths", "1,2,2,1", "--degree", "2"]) == 0
    out = capsys.readouterr().out
    assert "independent conservation laws: 7 = 8 - 1" in out and "6 independent" in out
    assert "missing: 1 law" in out and "no polynomial law of degree <= 2" in out


def test_laws_command_reads_a_graph(tmp_path, capsys):
    G = nx.DiGraph([("x", "h"), ("h", "y"), ("x", "y")])
    nx.set_node_attributes(G, {"x": "input", "y": "output"}, "role")
    nx.write_graphml(G, tmp_path / "net.graphml")
    assert main(["laws", "--graph", str(tmp_path / "net.graphml")]) == 0
    assert "independent conservation laws: 2 = 3 - 1" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.json"))  # writes nothing
