"""The geomstats layer: fibers, vertical/horizontal split, quotient, balanced section, level sets."""

from functools import partial
from typing import Callable, NamedTuple

import numpy as np
import pytest
from scipy.linalg import expm

import geodln
from geodln import init
from geodln import symmetry as sy
from geodln.geometry import NetworkBundle
from geodln.geometry.balance import balance_newton
from conftest import data_for


@pytest.fixture(params=["GL", "O"])
def group(request):
    return request.param


def _point(top, rng, scale=1.0):
    return top.adjacency(scale * rng.standard_normal(top.n_params))


def _critical_point(widths, spectrum, learned, seed=0):
    """A clean critical point: complete paths carrying the modes ``learned`` with their data strengths."""
    top = geodln.layered(widths)
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=seed)
    strengths = np.zeros(max(learned))
    strengths[[k - 1 for k in learned]] = data.s[[k - 1 for k in learned]]
    theta = init.aligned(top, data, strengths, seed=seed + 1)
    return top, data, top.adjacency(theta)


# ------------------------------------------------------------ the split


def _bundle_split(group, method="auto"):
    """NetworkBundle's split in packed coordinates."""

    def make(top):
        bundle = NetworkBundle(top, group)

        def vertical(theta, v):
            return top.pack(bundle.vertical_projection(top.adjacency(theta), top.adjacency(v), method))

        def horizontal(theta, v):
            return top.pack(bundle.horizontal_projection(top.adjacency(theta), top.adjacency(v), method))

        return vertical, horizontal

    return make


def _geomstats_split(group):
    def make(top):
        fb = NetworkBundle(top, group).fiber_bundle
        return (lambda theta, v: fb.vertical_projection(v, theta)), (lambda theta, v: fb.horizontal_projection(v, theta))

    return make


def _symmetry_lsqr_split(top):
    def vertical(theta, v):
        return sy.solve_vertical(top, theta, v).vertical

    return vertical, (lambda theta, v: v - vertical(theta, v))


# name: (group, exact (an SVD) or iterative (LSQR, to about 1e-12 relative), maker: top -> (vertical, horizontal))
SPLITS = {
    "symmetry-dense": ("GL", True, lambda top: (partial(sy.vertical_projection, top), partial(sy.horizontal_projection, top))),
    "symmetry-lsqr": ("GL", False, _symmetry_lsqr_split),
    "bundle-GL-dense": ("GL", True, _bundle_split("GL", "dense")),
    "bundle-GL-lsqr": ("GL", False, _bundle_split("GL", "lsqr")),
    "bundle-O-dense": ("O", True, _bundle_split("O", "dense")),
    "bundle-O-lsqr": ("O", False, _bundle_split("O", "lsqr")),
    "geomstats-GL": ("GL", True, _geomstats_split("GL")),
    "geomstats-O": ("O", True, _geomstats_split("O")),
}


class Split(NamedTuple):
    """One implementation on one topology: its group, its two projections and the accuracy to expect."""

    group: str
    vertical: Callable
    horizontal: Callable
    tol: float


class TestVerticalHorizontalSplit:
    """One property battery for every implementation of the split, on every topology fixture.

    Packed coordinates throughout: ``vertical(theta, v)`` and ``horizontal(theta, v)``.
    """

    @pytest.fixture(params=sorted(SPLITS))
    def split(self, request, top):
        group, exact, make = SPLITS[request.param]
        return Split(group, *make(top), 1e-11 if exact else 1e-8)

    @pytest.fixture
    def theta(self, top, rng):
        return rng.standard_normal(top.n_params)

    def test_vertical_plus_horizontal_is_the_identity(self, split, top, theta, rng):
        v = rng.standard_normal(top.n_params)
        np.testing.assert_allclose(split.vertical(theta, v) + split.horizontal(theta, v), v, atol=1e-13 * np.linalg.norm(v))

    def test_projections_are_idempotent(self, split, top, theta, rng):
        v = rng.standard_normal(top.n_params)
        vert, hor = split.vertical(theta, v), split.horizontal(theta, v)
        np.testing.assert_allclose(split.vertical(theta, vert), vert, atol=split.tol * np.linalg.norm(v))
        np.testing.assert_allclose(split.horizontal(theta, hor), hor, atol=split.tol * np.linalg.norm(v))

    def test_components_are_orthogonal(self, split, top, theta, rng):
        v = rng.standard_normal(top.n_params)
        assert abs(split.vertical(theta, v) @ split.horizontal(theta, v)) <= split.tol * (v @ v)

    def test_gradient_of_the_loss_is_horizontal(self, split, top, theta):
        grad = geodln.GradientFlow(top, data_for(top)).gradient(theta)
        assert np.linalg.norm(split.vertical(theta, grad)) <= split.tol * np.linalg.norm(grad)

    def test_brackets_are_vertical(self, split, top, theta, rng):
        """[Xi, A] for Xi in the implementation's algebra (skew for O: an O-vertical vector is GL-vertical too)."""
        Xi = np.where(sy.algebra_mask(top) == 1, rng.standard_normal((top.n, top.n)), 0.0)
        if split.group == "O":
            Xi = 0.5 * (Xi - Xi.T)
        A = top.adjacency(theta)
        b = top.pack(Xi @ A - A @ Xi)
        assert np.linalg.norm(split.horizontal(theta, b)) <= split.tol * np.linalg.norm(b)
        np.testing.assert_allclose(split.vertical(theta, b), b, atol=split.tol * np.linalg.norm(b))


def test_bundle_predicates_and_vertical_space(top, group, rng):
    bundle = NetworkBundle(top, group)
    A, V = _point(top, rng), _point(top, rng)
    vert, hor = bundle.vertical_projection(A, V), bundle.horizontal_projection(A, V)
    assert bundle.is_vertical(A, vert) and bundle.is_horizontal(A, hor)
    assert bundle.is_horizontal(A, geodln.GradientFlow(top, data_for(top)).vector_field(A), rtol=1e-10)
    basis = bundle.vertical_space(A).reshape(-1, top.n * top.n)
    np.testing.assert_allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-12)
    np.testing.assert_allclose(basis.T @ (basis @ V.ravel()), vert.ravel(), atol=1e-12)


def test_orthogonal_vertical_space_is_inside_the_gl_one(top, rng):
    A, V = _point(top, rng), _point(top, rng)
    v_o = NetworkBundle(top, "O").vertical_projection(A, V)
    gl = NetworkBundle(top, "GL")
    np.testing.assert_allclose(gl.vertical_projection(A, v_o), v_o, atol=1e-12)


@pytest.mark.parametrize("widths", [[3, 4, 5, 2], [2, 4, 2], [4, 12, 12, 3]])
def test_lsqr_projection_matches_the_dense_one(rng, group, widths):
    """Including widths with a nontrivial stabiliser at every point (a singular bracket)."""
    top = geodln.layered(widths)
    bundle = NetworkBundle(top, group)
    A, V = _point(top, rng), _point(top, rng)
    dense = bundle.vertical_projection(A, V, method="dense")
    lsqr = bundle.vertical_projection(A, V, method="lsqr")
    np.testing.assert_allclose(lsqr, dense, atol=1e-8 * np.linalg.norm(V))


def test_geomstats_bundle_on_packed_vectors(rng):
    top = geodln.layered([2, 3, 3, 2])
    bundle = NetworkBundle(top, "O")
    fb = bundle.fiber_bundle
    x, v = rng.standard_normal((2, top.n_params))
    hor = fb.horizontal_projection(v, x)
    assert fb.is_horizontal(hor, x) and not fb.is_vertical(hor, x)
    assert fb.is_vertical(v - hor, x) and not fb.is_horizontal(v - hor, x)
    batch = fb.vertical_projection(np.stack([v, 2 * v]), x)
    np.testing.assert_allclose(batch[1], 2 * batch[0], atol=1e-12)
    assert fb.is_vertical(batch, np.stack([x, x])).shape == (2,)
    S = bundle.random_group_element(seed=3)
    np.testing.assert_allclose(bundle.total_space.group_action(S, x), top.pack(bundle.act(S, top.adjacency(x))))


# --------------------------------------------------------- invariance


def test_loss_is_constant_along_gl_fibers(top, rng):
    flow = geodln.GradientFlow(top, data_for(top))
    bundle = NetworkBundle(top, "GL")
    A = _point(top, rng)
    Xi = bundle.random_algebra_element(rng)
    for t in (0.5, 1.0, 2.0):
        B = bundle.fiber_point(A, t * Xi)
        assert flow.loss(top.pack(B)) == pytest.approx(flow.loss(top.pack(A)), rel=1e-10)
    for B in bundle.sample_fiber(A, 3, seed=1):
        np.testing.assert_allclose(top.end_to_end(top.pack(B)), top.end_to_end(top.pack(A)), atol=1e-10)


def test_fiber_point_is_the_matrix_exponential(top, group, rng):
    bundle = NetworkBundle(top, group)
    A, Xi = _point(top, rng), bundle.random_algebra_element(rng)
    expected = expm(Xi) @ A @ expm(-Xi)
    np.testing.assert_allclose(bundle.fiber_point(A, Xi), expected, atol=1e-12)
    np.testing.assert_allclose(bundle.exp(Xi), expm(Xi), atol=1e-13)
    if group == "GL":  # geomstats' log inverts geomstats' exp near the identity
        np.testing.assert_allclose(bundle.log(bundle.exp(0.3 * Xi)), 0.3 * Xi, atol=1e-12)


def test_conserved_quantities_are_orthogonally_equivariant(rng):
    """C(k A k^T) = k C(A) k^T: the invariants of C (spectra, norms) are constant on K-orbits."""
    top = geodln.layered([3, 4, 5, 2])
    flow = geodln.GradientFlow(top, data_for(top))
    bundle = NetworkBundle(top, "O")
    A = _point(top, rng)
    k = bundle.random_group_element(seed=2)
    B = bundle.act(k, A)
    np.testing.assert_allclose(bundle.moment_map(B), k @ bundle.moment_map(A) @ k.T, atol=1e-12)
    for CA, CB in zip(flow.conserved(top.pack(A)), flow.conserved(top.pack(B))):
        np.testing.assert_allclose(np.linalg.eigvalsh(CB), np.linalg.eigvalsh(CA), atol=1e-12)
    # the moment map is the flow's conserved quantity, block by block
    C = bundle.moment_map(A)
    for i, Ci in enumerate(flow.conserved(top.pack(A)), start=1):
        sl = top.level_slices[i]
        np.testing.assert_allclose(C[sl, sl], Ci, atol=1e-13)
    # ... and GL does not preserve it (that is what balancing uses)
    gl = NetworkBundle(top, "GL")
    assert np.abs(bundle.moment_map(gl.act(gl.random_group_element(seed=4), A)) - C).max() > 1e-2


def test_flow_commutes_with_the_orthogonal_action(rng):
    top = geodln.layered([2, 3, 3, 2])
    flow = geodln.GradientFlow(top, data_for(top))
    bundle = NetworkBundle(top, "O")
    A, k = _point(top, rng, 0.5), bundle.random_group_element(seed=5)
    end = flow.integrate(top.pack(A), 2.0, n_points=2).final
    end_moved = flow.integrate(top.pack(bundle.act(k, A)), 2.0, n_points=2).final
    np.testing.assert_allclose(top.adjacency(end_moved), bundle.act(k, top.adjacency(end)), atol=1e-8)
    # but not with GL: integrate-then-stretch and stretch-then-integrate differ
    gl = NetworkBundle(top, "GL")
    g = gl.random_group_element(seed=6)
    stretched = flow.integrate(top.pack(gl.act(g, A)), 2.0, n_points=2).final
    assert np.abs(top.adjacency(stretched) - gl.act(g, top.adjacency(end))).max() > 1e-3


# ------------------------------------------------------- orbit dimensions


def _fd_orbit_rank(bundle, A, h=1e-6):
    """Rank of the differential of Xi -> fiber_point(A, Xi) at 0 by central differences (independent of the bracket code)."""
    top = bundle.top
    mask = sy.algebra_mask(top)
    basis = sy.part_basis(top, bundle.group == "GL" and "all" or "skew")
    J, K = np.nonzero(mask)
    cols = []
    for b in basis.T:
        Xi = np.zeros((top.n, top.n))
        Xi[J, K] = b
        cols.append(((bundle.fiber_point(A, h * Xi) - bundle.fiber_point(A, -h * Xi)) / (2 * h)).ravel())
    if not cols:
        return 0
    sv = np.linalg.svd(np.array(cols), compute_uv=False)
    return int(np.sum(sv > 1e-6 * max(sv[0], 1e-300)))


@pytest.mark.parametrize(
    "widths, stab_gl, stab_o",
    [([3, 2, 3], 0, 0), ([2, 2, 2, 2], 0, 0), ([2, 3, 3, 2], 1, 0), ([3, 4, 5, 2], 5, 0), ([2, 4, 2], 4, 0)],
)
def test_generic_orbit_dimensions(rng, widths, stab_gl, stab_o):
    """dim orbit = dim G - dim stabiliser, with and without a generic stabiliser.

    [2, 4, 2]: G_1 = I + X with X im W_1 = 0 and W_2 X = 0, i.e. X maps
    R^4 / im W_1 into ker W_2: dim 2 x 2 = 4. An orthogonal G_1 fixes both
    im W_1 and im W_2^T pointwise, two generic planes spanning R^4: G_1 = I.
    """
    top = geodln.layered(widths)
    A = _point(top, rng)
    for group, stab, dim in (("GL", stab_gl, sum(d * d for d in widths[1:-1])), ("O", stab_o, sum(d * (d - 1) // 2 for d in widths[1:-1]))):
        bundle = NetworkBundle(top, group)
        assert bundle.dim == dim
        assert bundle.stabilizer_dim(A) == stab
        assert bundle.orbit_dim(A) == dim - stab == _fd_orbit_rank(bundle, A)


def test_orbit_dimensions_at_rank_deficient_critical_points():
    """Clean path learning mode 1 of Syx = diag(3, 1), widths 2,2,2,2 (DESIGN.md's hand example).

    GL stabiliser: G_1 = [[1, 0], [0, y]], G_2 = [[1, 0], [0, w]] in the path's
    frames: dimension 2. O stabiliser: the skew parts must fix the path
    vectors, so only 0 (a discrete group remains).
    """
    top, data, A = _critical_point([2, 2, 2, 2], [3.0, 1.0], [1])
    flow = geodln.GradientFlow(top, data)
    assert np.linalg.norm(flow.rhs(top.pack(A))) < 1e-12
    gl, o = NetworkBundle(top, "GL"), NetworkBundle(top, "O")
    assert gl.stabilizer_dim(A) == 2 and gl.orbit_dim(A) == 6 == _fd_orbit_rank(gl, A)
    assert o.stabilizer_dim(A) == 0 and o.orbit_dim(A) == 2 == _fd_orbit_rank(o, A)
    origin = np.zeros_like(A)
    assert gl.orbit_dim(origin) == 0 and gl.stabilizer_dim(origin) == 8


# -------------------------------------------------------------- quotient


def test_quotient_distance_is_invariant_and_sees_through_the_action(rng):
    top = geodln.layered([3, 4, 4, 2])
    bundle = NetworkBundle(top, "O")
    A, B = _point(top, rng), _point(top, rng)
    k1, k2 = bundle.random_group_element(seed=1), bundle.random_group_element(seed=2)
    d = bundle.quotient_distance(A, B)
    assert 0 < d <= np.linalg.norm(A - B)
    assert bundle.quotient_distance(bundle.act(k1, A), B) == pytest.approx(d, rel=1e-8)
    assert bundle.quotient_distance(A, bundle.act(k2, B)) == pytest.approx(d, rel=1e-8)
    assert bundle.quotient_distance(B, A) == pytest.approx(d, rel=1e-8)
    res = bundle.align(A, bundle.act(k1, A))
    assert res.distance < 1e-10 * np.linalg.norm(A) and res.gradient_norm < 1e-9
    # geomstats' QuotientMetric, wired to the alignment, gives the same distance
    assert bundle.quotient.metric.dist(top.pack(A), top.pack(B)) == pytest.approx(d, rel=1e-8)


def test_geomstats_quotient_metric_is_the_quotient_distance(top, rng):
    """QuotientMetric.dist on packed points aligns with ProcrustesAligner, then measures: quotient_distance."""
    bundle = NetworkBundle(top, "O")
    dist = bundle.quotient.metric.dist
    for _ in range(2):
        A, B = _point(top, rng), _point(top, rng)
        assert dist(top.pack(A), top.pack(B)) == pytest.approx(bundle.quotient_distance(A, B), rel=1e-10)
    moved = (bundle.act(bundle.random_group_element(seed=seed), A) for seed in range(7, 40))
    kA = next(B for B in moved if np.linalg.norm(A - B) > 1e-3)  # not the identity (sign levels: 1/2^d)
    assert dist(top.pack(A), top.pack(kA)) < 1e-10 * np.linalg.norm(A)
    batch = dist(np.stack([top.pack(A)] * 2), np.stack([top.pack(B), top.pack(kA)]))
    assert batch.shape == (2,) and batch[1] < 1e-10 * np.linalg.norm(A)
    assert batch[0] == pytest.approx(bundle.quotient_distance(A, B), rel=1e-10)


def test_alignment_is_a_critical_point_and_restarts_matter_is_reported(rng):
    top = geodln.layered([2, 3, 3, 3, 2])
    bundle = NetworkBundle(top, "O")
    A, B = _point(top, rng), _point(top, rng)
    res = bundle.align(A, B, n_restarts=6, seed=0)
    assert res.gradient_norm < 1e-6
    assert res.restart_distances.shape == (8,)
    assert res.distance == pytest.approx(res.restart_distances.min())
    np.testing.assert_allclose(res.aligned, bundle.act(res.k, B), atol=1e-12)


# ------------------------------------------------------------- balance


@pytest.mark.parametrize("widths", [[2, 2, 2, 2], [3, 2, 3], [4, 4, 4, 4, 4]])
def test_balance_on_closed_orbits(rng, widths):
    top = geodln.layered(widths)
    bundle = NetworkBundle(top)
    A = bundle.act(bundle.random_group_element(seed=1, scale=1.5), _point(top, rng))
    res = bundle.balance(A)
    A_bal, S, closed = res
    assert closed and res.residual < 1e-10
    assert np.abs(bundle.moment_map(A_bal)).max() < 1e-10
    np.testing.assert_allclose(top.end_to_end(top.pack(A_bal)), top.end_to_end(top.pack(A)), atol=1e-10)
    np.testing.assert_allclose(bundle.act(S, A), A_bal, atol=1e-9 * np.abs(A).max())  # S moves A to A_bal
    np.testing.assert_allclose(S, S.T, atol=1e-12)
    assert np.linalg.eigvalsh(S).min() > 0
    # the minimum of the norm on the orbit, and the canonical representative (up to K)
    assert res.norm < np.linalg.norm(A)
    for seed in range(3):
        B = bundle.act(bundle.random_group_element(seed=10 + seed, scale=0.5), A)
        assert np.linalg.norm(B) >= res.norm * (1 - 1e-12)
        other = bundle.balance(B)
        assert other.norm == pytest.approx(res.norm, rel=1e-10)
        assert NetworkBundle(top, "O").quotient_distance(other.A, A_bal) < 1e-8
    # balancing a balanced point does nothing
    again = bundle.balance(A_bal)
    np.testing.assert_allclose(again.S, np.eye(top.n), atol=1e-8)


def test_balance_agrees_with_the_iterative_kempf_ness_minimisation(rng):
    top = geodln.layered([2, 2, 2, 2])
    bundle = NetworkBundle(top)
    A = bundle.act(bundle.random_group_element(seed=3), _point(top, rng))
    closed_form, newton = bundle.balance(A), balance_newton(top, A, 1e-10)
    assert newton.closed and newton.residual < 1e-10
    assert newton.norm == pytest.approx(closed_form.norm, rel=1e-10)
    assert NetworkBundle(top, "O").quotient_distance(newton.A, closed_form.A) < 1e-8


def test_balance_detects_a_dangling_path(rng):
    """W_2 of rank 3 > rank W = 2: a floating link the group can shrink toward zero."""
    top = geodln.layered([2, 3, 3, 2])
    bundle = NetworkBundle(top)
    A = _point(top, rng)
    res = bundle.balance(A)
    A_lim, S, closed = res
    assert not closed and S is None and "not closed" in res.message
    assert res.residual < 1e-10
    np.testing.assert_allclose(top.end_to_end(top.pack(A_lim)), top.end_to_end(top.pack(A)), atol=1e-10)
    assert res.distance == pytest.approx(np.linalg.norm(A - A_lim)) and res.distance > 0
    # the infimum is approached, never attained: shrinking the floating direction tends to it
    W1, W2, W3 = top.layer_weights(top.pack(A))
    _, _, Vt = np.linalg.svd(W3)
    kernel = Vt[-1]  # ker W_3 in layer 2
    G2 = lambda t: np.eye(3) + (t - 1) * np.outer(kernel, kernel)  # noqa: E731  (inverse: G2(1/t))
    norms = [np.linalg.norm(top.adjacency(top.from_layer_weights([W1, G2(t) @ W2, W3 @ G2(1 / t)]))) for t in (1e-1, 1e-2, 1e-3)]
    assert norms[0] > norms[1] > norms[2] > res.norm - 1e-9


def test_balance_on_a_sparse_network_uses_node_rescalings(rng):
    top = geodln.sparse_layered([3, 5, 5, 2], density=0.5, seed=1)
    bundle = NetworkBundle(top)
    flow = geodln.GradientFlow(top, data_for(top))
    A = _point(top, rng)
    res = bundle.balance(A)
    assert res.closed  # generic weights on this mask: every node-rescaling orbit is closed
    assert np.abs(flow.conserved(top.pack(res.A))).max() < 1e-10
    np.testing.assert_allclose(bundle.act(res.S, A), res.A, atol=1e-10)
    np.testing.assert_allclose(res.S, np.diag(np.diag(res.S)))  # a torus element
    assert flow.loss(top.pack(res.A)) == pytest.approx(flow.loss(top.pack(A)), rel=1e-8)


# ----------------------------------------------------------- level sets


def test_conserved_level_set_samples_and_a_trajectory_stays_on_it(rng):
    top = geodln.layered([2, 3, 3, 2])
    flow = geodln.GradientFlow(top, data_for(top))
    bundle = NetworkBundle(top)
    A0 = _point(top, rng, 0.7)
    C0 = bundle.moment_map(A0)
    samples = bundle.sample_conserved_level(A0, n_samples=3, scale=0.3, seed=2)
    for B in samples:
        assert np.abs(bundle.moment_map(B) - C0).max() < 1e-10
        assert np.linalg.norm(B - A0) > 1e-3  # a different point of the level set
    traj = flow.integrate(top.pack(samples[0]), 3.0, n_points=5)
    for theta in traj.theta:
        assert np.abs(bundle.moment_map(top.adjacency(theta)) - C0).max() < 1e-8


# --------------------------------------------------------------- errors


def test_bad_inputs_are_clear_errors():
    top = geodln.layered([2, 3, 2])
    with pytest.raises(ValueError, match="group must be 'GL' or 'O'"):
        NetworkBundle(top, "SL")
    with pytest.raises(TypeError, match="Topology"):
        NetworkBundle("not a topology")
    gl, o = NetworkBundle(top, "GL"), NetworkBundle(top, "O")
    A = top.adjacency(np.ones(top.n_params))
    with pytest.raises(ValueError, match="expected an \\(7, 7\\)"):
        gl.vertical_projection(np.ones((3, 3)), A)
    with pytest.raises(ValueError, match="off the mask"):
        gl.orbit_dim(np.ones((7, 7)))
    Xi = np.zeros((7, 7))
    Xi[0, 0] = 1.0
    with pytest.raises(ValueError, match="outside the Lie algebra"):
        gl.fiber_point(A, Xi)
    sym = np.zeros((7, 7))
    sym[2:5, 2:5] = np.eye(3)
    with pytest.raises(ValueError, match="not skew-symmetric"):
        o.fiber_point(A, sym)
    with pytest.raises(ValueError, match="singular"):
        gl.act(np.diag([1.0, 1, 0, 1, 1, 1, 1]), A)
    with pytest.raises(ValueError, match="not orthogonal"):
        o.act(np.diag([1.0, 1, 2, 1, 1, 1, 1]), A)
    with pytest.raises(ValueError, match="orthogonal group only"):
        gl.quotient_distance(A, A)
    assert gl.quotient is None and o.quotient is not None


def test_log_of_an_orientation_reversing_element_is_a_clear_error():
    bundle = NetworkBundle(geodln.layered([2, 2, 2]), group="O")
    S = np.eye(6)
    S[2, 2] = -1.0  # a reflection on the hidden level
    with pytest.raises(ValueError, match="determinant < 0"):
        bundle.log(S)


def test_unreachable_conserved_level_is_a_clear_error(rng):
    top = geodln.sparse_layered([3, 5, 5, 2], density=0.5, seed=1)
    bundle = NetworkBundle(top)
    A = _point(top, rng)
    C0 = np.zeros((top.n, top.n))
    C0[3, 4] = C0[4, 3] = 1.0  # off-diagonal: node rescalings cannot produce it
    with pytest.raises(ValueError, match="outside the Lie algebra"):
        bundle.to_conserved_level(A, C0)
