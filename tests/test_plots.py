"""Plotting functions and the figure gallery: every figure is built, labelled, and shows the right data.

Figures are built with the object-oriented API (no pyplot), so no display and
no backend switch is needed; saving uses Agg (PNG) and the pdf backend.
"""

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver
from scipy.integrate import solve_ivp

import geodln
from geodln import Data, GradientFlow, init, layered, skip_connections, sparse_layered
from geodln import plots
from geodln.catalog import build_catalog
from geodln.cli import main
from geodln.init import aligned_mode_curve
from geodln.plots import gallery
from geodln.saddles import itinerary


def check_labelled(fig):
    """A Figure whose every axes has a label, with at least one x and one y label."""
    assert isinstance(fig, Figure) and fig.axes
    assert any(ax.get_xlabel() for ax in fig.axes) and any(ax.get_ylabel() for ax in fig.axes)
    for ax in fig.axes:
        assert ax.get_xlabel() or ax.get_ylabel(), f"unlabelled axes {ax}"


@pytest.fixture(scope="module")
def small_flow():
    top = layered([2, 3, 2])
    return GradientFlow(top, Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))


@pytest.fixture(scope="module")
def small_traj(small_flow):
    theta0 = init.small(small_flow.top, scale=0.05, seed=1)
    return small_flow.integrate(theta0, 10.0, n_points=40)


def scalar_flow(depth, s=1.0):
    return GradientFlow(layered([1] * (depth + 1)), Data(np.eye(1), [[s]]))


# ------------------------------------------------------------- functions
def test_draw_network_graph_and_matrix():
    top = skip_connections([2, 3, 2], skips=[(0, 2)])
    A = top.adjacency(np.random.default_rng(0).standard_normal(top.n_params))
    fig = plots.draw_network(top, A, paths={"a path": [(0, 0), (1, 1), (2, 0)], "skip": [(0, 1), (2, 1)]})
    check_labelled(fig)
    ax_m = fig.axes[1]
    shown = ax_m.images[0].get_array()
    np.testing.assert_array_equal(shown.data[top.mask > 0], A[top.mask > 0])
    assert shown.mask[top.mask == 0].all()  # non-edges are not drawn as weights
    assert len(ax_m.patches) == len(top.blocks)  # every block of the mask outlined
    check_labelled(plots.draw_network(top))  # default: the mask


def test_draw_network_rejects_bad_input():
    top = layered([2, 2, 2])
    with pytest.raises(ValueError, match="must be"):
        plots.draw_network(top, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="not an edge"):
        plots.draw_network(top, paths=[[(0, 0), (2, 0)]])
    with pytest.raises(ValueError, match="not in the network"):
        plots.draw_network(top, paths=[[(0, 0), (7, 7)]])


def test_plot_trajectory_with_itinerary_and_closed_form(small_traj):
    curve = [(small_traj.t, np.full(len(small_traj.t), 2.0))]
    fig = plots.plot_trajectory(small_traj, itinerary=[((), 0.0, 2.0), ((1,), 3.0, 5.0)], closed_form=curve)
    check_labelled(fig)
    ax_loss, ax_sv = fig.axes
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), small_traj.loss)
    assert sum("closed form" == line.get_label() for line in ax_sv.lines) == 1
    assert len(ax_loss.patches) == 2  # the two itinerary intervals
    check_labelled(plots.plot_trajectory(small_traj, log_time=True, log_loss=True))
    visits = itinerary(small_traj)  # saddles.Visit objects work as the itinerary too
    fig = plots.plot_trajectory(small_traj, itinerary=visits)
    assert visits and len(fig.axes[0].patches) == len(visits)


def test_plot_mode_curves(small_traj):
    fig = plots.plot_mode_curves([small_traj, small_traj], titles=["a", "b"])
    check_labelled(fig)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        plots.plot_mode_curves([small_traj], closed_forms=[None, None])


@pytest.mark.parametrize("depth", [2, 3])
def test_phase_portrait_arrows_are_the_vector_field(depth):
    s = 1.5
    flow = scalar_flow(depth, s)
    fig = plots.plot_phase_portrait(flow, lim=1.5, n_arrows=7, starts=[(0.4, 0.3)], t_end=2.0)
    check_labelled(fig)
    quiver = next(c for c in fig.axes[0].collections if isinstance(c, Quiver))
    X, Y = np.asarray(quiver.X), np.asarray(quiver.Y)
    U, V, speed = np.asarray(quiver.U), np.asarray(quiver.V), np.asarray(quiver.get_array())
    # the scalar network ODE dw_i/dt = (prod_{j != i} w_j)(s - prod_j w_j); depth 3 on the plane w_1 = w_3
    p = X * Y if depth == 2 else X**2 * Y
    fu, fv = (Y * (s - p), X * (s - p)) if depth == 2 else (X * Y * (s - p), X**2 * (s - p))
    np.testing.assert_allclose(speed, np.hypot(fu, fv), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(U * speed, fu, atol=1e-12)
    np.testing.assert_allclose(V * speed, fv, atol=1e-12)
    for x, y, u, v in zip(X, Y, U * speed, V * speed):  # and the arrows are geodln's own field
        lifted = np.array([x, y] if depth == 2 else [x, y, x])
        rhs = flow.rhs(lifted)
        np.testing.assert_allclose([u, v], rhs[:2], atol=1e-12)
        if depth == 3:
            assert rhs[2] == pytest.approx(rhs[0], abs=1e-12)  # the plane w_1 = w_3 is invariant


def test_phase_portrait_only_for_scalar_networks(small_flow):
    with pytest.raises(ValueError, match="scalar network"):
        plots.plot_phase_portrait(small_flow)
    with pytest.raises(ValueError, match="scalar network"):
        plots.plot_phase_portrait(scalar_flow(4))


def test_plot_catalog_and_hessian_spectrum():
    catalog = build_catalog([2, 2, 2], [2.0, 1.0], seed=0)
    fig = plots.plot_catalog(catalog)
    check_labelled(fig)
    ax_v, ax_i = fig.axes[:2]
    values = np.concatenate([c.get_offsets()[:, 1] for c in ax_v.collections])
    np.testing.assert_allclose(np.sort(values), np.sort([r["critical_value"] for r in catalog.records]))
    spectra = {r["id"]: catalog.hessian_spectrum(r) for r in catalog.records[:3]}
    kinds = {r["id"]: r["kind"] for r in catalog.records[:3]}
    fig = plots.plot_hessian_spectrum(spectra, kinds)
    check_labelled(fig)
    assert len(fig.axes) == 3
    for ax, rec in zip(fig.axes, catalog.records[:3]):
        h = rec["hessian"]
        assert f"({h['negative']}, {h['zero']}, {h['positive']})" in ax.get_title()


def test_plot_escape_times_fits_the_slopes():
    eps = np.geomspace(1e-1, 1e-3, 5)
    fig = plots.plot_escape_times(eps, [np.log(1 / eps), 3 / eps, 0.5 / eps**2], ["a", "b", "c"], orders=[2, 3, 4])
    check_labelled(fig)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "slope -1.00 (theory -1)" in labels[1] and "slope -2.00 (theory -2)" in labels[2]
    with pytest.raises(ValueError):
        plots.plot_escape_times(eps, [eps], ["a", "b"])


def test_plot_fiber():
    tau = np.linspace(-1, 1, 21)
    points = np.column_stack([np.exp(tau), np.exp(-tau), np.ones_like(tau)])  # the hyperbola w_1 w_2 = 1
    norms = np.linalg.norm(points, axis=1)
    fig = plots.plot_fiber(points, np.full(21, 0.5), norms, 10, param=tau, critical_value=0.5)
    check_labelled(fig)
    assert fig.axes[0].get_xlabel() == "$x_{1}$" and fig.axes[0].get_ylabel() == "$x_{2}$"
    with pytest.raises(ValueError):
        plots.plot_fiber(points, np.zeros(3), norms, 0)
    with pytest.raises(ValueError):
        plots.plot_fiber(points, np.zeros(21), norms, 30)


def test_plot_level_sets_shows_each_hidden_node_on_its_hyperbola():
    top = sparse_layered([2, 3, 3, 2], density=0.6, seed=1)
    flow = GradientFlow(top, Data.from_spectrum([2.0, 1.0], 2, 2, seed=0))
    traj = flow.integrate(init.small(top, scale=0.8, seed=2), 5.0, n_points=30)
    fig = plots.plot_level_sets(traj)
    check_labelled(fig)
    ax = fig.axes[0]
    drawn = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata()) == len(traj)]
    assert len(drawn) == len(top.hidden)
    for line in drawn:  # every node's path keeps x^2 - y^2
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        np.testing.assert_allclose(x**2 - y**2, x[0] ** 2 - y[0] ** 2, atol=1e-8)
    with pytest.raises(ValueError, match="not a hidden node"):
        plots.plot_level_sets(traj, nodes=[0])


def test_plot_descent_vs_flow(small_flow, small_traj):
    theta0 = small_traj.theta[0]
    descents = {eta: small_flow.descend(theta0, eta, int(10.0 / eta)) for eta in (0.05, 0.1)}
    descents[5.0] = None  # a run that diverged
    fig = plots.plot_descent_vs_flow(small_traj, descents, threshold=1.0)
    check_labelled(fig)
    assert any("diverged" in t.get_text() for t in fig.legends[0].get_texts())
    slope_text = fig.axes[2].get_legend().get_texts()[0].get_text()
    assert "slope 2.00" in slope_text  # one step changes C_i by exactly eta^2 (...)


def test_save_figure_png_and_pdf(tmp_path, small_traj):
    fig = plots.plot_trajectory(small_traj)
    for name in ("a.png", "a.pdf"):
        plots.save_figure(fig, tmp_path / name)
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "a.pdf").read_bytes()[:4] == b"%PDF"
    first = (tmp_path / "a.pdf").read_bytes()
    plots.save_figure(fig, tmp_path / "a.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == first  # no creation date: reproducible


def test_only_plots_imports_matplotlib():
    """Every module outside ``geodln.plots`` (the gallery is inside it) imports without matplotlib."""
    code = ("import pkgutil, sys, importlib, geodln; "
            "[importlib.import_module(f'geodln.{m.name}') for m in pkgutil.iter_modules(geodln.__path__) "
            "if m.name != 'plots']; print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------- gallery
def test_gallery_registry():
    numbers = [g.number for g in gallery.GALLERY]
    names = [g.name for g in gallery.GALLERY]
    assert len(numbers) >= 10 and numbers == sorted(set(numbers)) and len(set(names)) == len(names)
    readme = gallery.gallery_readme()
    for g in gallery.GALLERY:
        assert f"({g.stem}.png)" in readme and f"geodln figures --only {g.name}" in readme


def test_make_gallery_only_one_figure(tmp_path):
    written = gallery.make_gallery(tmp_path, only=["network"], progress=False)
    assert sorted(p.name for p in written) == ["01-network.pdf", "01-network.png"]
    assert all(p.stat().st_size > 5_000 for p in written)
    assert not (tmp_path / "README.md").exists()  # only a full run rewrites the captions
    with pytest.raises(ValueError, match="no gallery figure 'nope'"):
        gallery.make_gallery(tmp_path, only=["nope"], progress=False)
    with pytest.raises(ValueError, match="format"):
        gallery.make_gallery(tmp_path, only=["network"], formats=["tiff"], progress=False)


@pytest.mark.parametrize("h", [2, 3])
def test_aligned_mode_curve_solves_the_mode_ode(h):
    s, u0 = 2.0, 0.05
    t, u = aligned_mode_curve(s, u0, h, n=50)
    ref = solve_ivp(lambda _, x: h * x ** (2 - 2 / h) * (s - x), (0, t[-1]), [u0], t_eval=t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref.y[0], u, rtol=1e-7)
    with pytest.raises(ValueError):
        aligned_mode_curve(s, 3.0, h)


def test_figures_command_only_one_cheap_figure(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["figures", "--only", "network", "--out", str(out), "--format", "png,pdf", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["01-network.pdf", "01-network.png"]
    assert (out / "01-network.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "01-network.pdf").read_bytes()[:4] == b"%PDF"
    assert "wrote 2 files" in capsys.readouterr().out
    assert main(["figures", "--only", "nope", "--out", str(out), "--quiet"]) == 2
    assert "no gallery figure 'nope'" in capsys.readouterr().err


def test_scalar_network_slice_matches_the_closed_forms():
    flow = geodln.GradientFlow(geodln.layered([1, 1, 1]), geodln.Data.from_spectrum([2.0], 1, 1, seed=0))
    sl = plots.level_set_slice(flow, extent=1.5, n=7)
    a, b = np.meshgrid(sl.a, sl.b)
    s = float(flow.data.Syx[0, 0])
    np.testing.assert_allclose(sl.loss, 0.5 * (s - a * b) ** 2, atol=1e-12)
    np.testing.assert_allclose(sl.conserved[..., 0], a**2 - b**2, atol=1e-12)
