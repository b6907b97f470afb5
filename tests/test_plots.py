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
from geodln.catalog.store import build_catalog
from geodln.cli.main import main
from geodln.dynamics.closed_forms import aligned_mode_curve, scalar_escape_time
from geodln.plots import gallery
from geodln.landscape.saddles import itinerary


def check_labelled(fig):
    """A Figure whose every axes has a label, with at least one x and one y label."""
    assert isinstance(fig, Figure) and fig.axes
    assert any(ax.get_xlabel() for ax in fig.axes) and any(ax.get_ylabel() for ax in fig.axes)
    for ax in fig.axes:
        assert ax.get_xlabel() or ax.get_ylabel(), f"unlabelled axes {ax}"


def drawn(fig):
    """Lay the figure out and draw it (Agg), so text extents are final; returns the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def overlapping(texts, renderer, pad=0.0):
    """Pairs of visible, nonempty texts whose drawn boxes overlap (``pad`` pixels of slack)."""
    boxes = [(t.get_text(), t.get_window_extent(renderer).expanded(1.0, 1.0)) for t in texts
             if t.get_visible() and t.get_text()]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
            if ba.x0 < bb.x1 - pad and bb.x0 < ba.x1 - pad and ba.y0 < bb.y1 - pad and bb.y0 < ba.y1 - pad]


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
    # one tick per node, labelled by its unit number within its level (not one per layer)
    units = [str(u) for u in (1, 2, 1, 2, 3, 1, 2)]
    assert [t.get_text() for t in ax_m.get_xticklabels()] == units
    assert [t.get_text() for t in ax_m.get_yticklabels()] == units
    graph_numbers = sorted(t.get_text() for t in fig.axes[0].texts)
    assert graph_numbers == sorted(units)  # the same numbers written on the nodes
    renderer = drawn(fig)
    for ax in (ax_m, *ax_m.child_axes):  # unit numbers and the level names do not collide
        assert not overlapping(ax.get_xticklabels() + ax.get_yticklabels(), renderer)
    fig = plots.draw_network(top, title="a title")
    assert fig.get_suptitle() == "a title" and "weight" in fig.axes[0].get_title()
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
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("itinerary" in text for text in legend)  # the shading is explained
    check_labelled(plots.plot_trajectory(small_traj, log_time=True, log_loss=True))
    visits = itinerary(small_traj)  # saddles.Visit objects work as the itinerary too
    fig = plots.plot_trajectory(small_traj, itinerary=visits)
    assert visits and len(fig.axes[0].patches) == len(visits)


def test_itinerary_labels_stay_off_the_drops(small_traj):
    """Each J label starts after its plateau is entered and sits above L_J, where the falling loss never is."""
    visits = [((), 0.0, 2.0), ((1,), 3.0, 5.0)]
    fig = plots.plot_trajectory(small_traj, itinerary=visits)
    renderer = drawn(fig)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text().startswith("$J")]
    assert len(labels) == 2
    to_pixels = ax.transData.transform
    data = small_traj.flow.data
    for text, (J, t0, _) in zip(labels, visits):
        box = text.get_window_extent(renderer)
        x0, level = to_pixels((t0, data.critical_value(J)))
        assert box.x0 > x0 and box.y0 > level


def test_plot_mode_curves(small_traj):
    fig = plots.plot_mode_curves([small_traj, small_traj], titles=["a", "b"])
    check_labelled(fig)
    assert len(fig.axes) == 2
    a, b = fig.axes  # one time axis for all panels, and the legend outside them
    assert a.get_shared_x_axes().joined(a, b) and a.get_shared_y_axes().joined(a, b)
    assert a.get_legend() is None and b.get_legend() is None and len(fig.legends) == 1
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


def test_plot_catalog_group_labels_do_not_overlap():
    """The default catalog's narrow groups ({1,2}, {1,3}, {2,3}, {1,2,3}) get room for their labels."""
    catalog = build_catalog([3, 3, 3, 3], [3.0, 2.0, 1.0], seed=0)
    fig = plots.plot_catalog(catalog)
    ax_i = fig.axes[1]
    assert "number" in ax_i.get_ylabel()  # a count of eigenvalues
    renderer = drawn(fig)
    labels = ax_i.get_xticklabels()
    assert len(labels) == len({tuple(r["learned"]) for r in catalog.records})
    assert all(t.get_rotation() == 0 for t in labels)
    assert not overlapping(labels, renderer)


def test_plot_escape_times_fits_the_slopes():
    eps = np.geomspace(1e-1, 1e-3, 5)
    fig = plots.plot_escape_times(eps, [np.log(1 / eps), 3 / eps, 0.5 / eps**2], ["a", "b", "c"], orders=[2, 3, 4])
    check_labelled(fig)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "slope -1.00 (theory -1)" in labels[1] and "slope -2.00 (theory -2)" in labels[2]
    assert "= 1.00" in labels[0]  # the strict law fitted where it is a line: t against log(1/eps)
    ax_log, ax_semi = fig.axes  # the log law is checked on semilog axes, not on log-log
    assert ax_log.get_yscale() == "log" and ax_semi.get_xscale() == "log" and ax_semi.get_yscale() == "linear"
    for ax in fig.axes:
        assert ax.get_legend() is None  # the legend sits below the panels, off the points
    with pytest.raises(ValueError):
        plots.plot_escape_times(eps, [eps], ["a", "b"])


def test_plot_escape_times_draws_the_theory():
    eps = np.geomspace(1e-1, 1e-3, 5)
    law = [2.0 * np.log(1 / eps) + 1, 3 / eps]
    fig = plots.plot_escape_times(eps, [law[0] * 1.01, law[1] * 1.02], ["strict", "nonstrict"], orders=[2, 3],
                                  theory=law)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "(theory 2.00)" in labels[0] and "theory" in labels[-1]
    ax_semi = fig.axes[1]
    theory_lines = [line for line in ax_semi.lines if line.get_linestyle() == "-"]
    assert len(theory_lines) == 1
    np.testing.assert_allclose(theory_lines[0].get_ydata(), law[0])
    with pytest.raises(ValueError, match="theory"):
        plots.plot_escape_times(eps, law, ["a", "b"], orders=[2, 3], theory=[law[0][:3], None])


def test_gallery_escape_law_is_the_scalar_ode():
    """The leading-order laws drawn in figure 08 match the scalar ODE's escape time for small eps."""
    from geodln.landscape.saddles import escape_time

    for h, rtol in ((2, 1e-4), (3, 2e-2)):
        flow = scalar_flow(h)
        eps = 1e-3
        measured = escape_time(flow, np.zeros(h), np.ones(h), eps)
        assert scalar_escape_time(h, 1.0, eps) == pytest.approx(measured, rel=rtol)


def test_plot_fiber_colour_bar_sits_under_its_panel():
    tau = np.linspace(-1, 1, 21)
    points = np.column_stack([np.exp(tau), np.exp(-tau), np.ones_like(tau)])
    fig = plots.plot_fiber(points, np.full(21, 0.5), np.linalg.norm(points, axis=1), 10, param=tau)
    renderer = drawn(fig)
    ax_l = fig.axes[1]
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    label = bar.xaxis.label.get_window_extent(renderer)
    assert label.x1 < ax_l.yaxis.label.get_window_extent(renderer).x0  # not crowding the middle panel


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
    node_axes = [ax for ax in fig.axes if ax.get_title().startswith("layer")]
    assert len(node_axes) == len(top.hidden)  # one panel per node: no two nodes drawn on top of each other
    for ax in node_axes:  # every node's path keeps x^2 - y^2
        (path,) = [c for c in ax.collections if len(c.get_segments()) == len(traj) - 1]
        xy = np.concatenate([seg for seg in path.get_segments()])
        x, y = xy[:, 0], xy[:, 1]
        np.testing.assert_allclose(x**2 - y**2, x[0] ** 2 - y[0] ** 2, atol=1e-8)
        assert "x" not in ax.get_title() and "c_v" in ax.get_title()
    ax_d = fig.axes[-1]
    assert "change" in ax_d.get_ylabel()
    with pytest.raises(ValueError, match="not a hidden node"):
        plots.plot_level_sets(traj, nodes=[0])


def test_level_sets_mark_where_a_node_turns_back():
    from geodln.plots.invariants import _turns

    s = np.concatenate([np.linspace(0, 1, 20), np.linspace(1, 0.6, 10), 0.6 + 1e-4 * np.sin(np.arange(30))])
    assert _turns(s, np.zeros_like(s)) == [19]  # one real turn; the last wiggles are not turns
    assert _turns(np.linspace(0, 1, 10), np.linspace(0, 1, 10)) == []


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


def test_plot_scaling_draws_the_shipped_table_and_its_exponents():
    """Each solver's line is its measured rows (only those that finished), its legend the file's fitted exponent."""
    results = plots.load_scaling()  # the file tests/benchmarks/scaling.py writes and the repository ships
    unfinished = {"kind": "flow", "solver": "auto", "width": 1024, "depth": 4, "D": 4 * 1024**2, "status": "over 600 s"}
    results["table"].append(unfinished)  # a cell that did not finish is a row of the file, not a point
    fig = plots.plot_scaling(results)
    check_labelled(fig)
    wide_ax, deep_ax, memory_ax, classify_ax = fig.axes
    table, fits = results["table"], results["exponents"]
    ok = [r for r in table if r.get("status") == "ok"]
    for solver in {r["solver"] for r in ok if r["kind"] == "flow"}:
        wide = sorted((r for r in ok if r["kind"] == "flow" and r["solver"] == solver and r["depth"] == 4),
                      key=lambda r: r["D"])
        for ax, cost, which in ((wide_ax, "s_per_time", "time"), (memory_ax, "peak_mb", "memory")):
            (line,) = [ln for ln in ax.lines if ln.get_label().split(" (")[0] == solver]
            np.testing.assert_array_equal(line.get_xdata(), [r["D"] for r in wide])
            np.testing.assert_array_equal(line.get_ydata(), [r[cost] for r in wide])
            assert f"{fits[f'flow/{solver}'][which]:.2f}" in line.get_label()
        deep = sorted((r for r in ok if r["kind"] == "flow" and r["solver"] == solver and r["width"] == 32),
                      key=lambda r: r["depth"])
        (line,) = [ln for ln in deep_ax.lines if ln.get_label() == solver]
        np.testing.assert_array_equal(line.get_xdata(), [r["depth"] for r in deep])
    classified = sorted((r for r in ok if r["kind"] == "classify"), key=lambda r: r["D"])
    (line,) = [ln for ln in classify_ax.lines if ln.get_label().startswith("time (s)")]
    np.testing.assert_array_equal(line.get_ydata(), [r["seconds"] for r in classified])
    assert all(ax.get_legend() is not None for ax in fig.axes)


# --------------------------------------------------------------- gallery
def test_gallery_registry():
    numbers = [g.number for g in gallery.GALLERY]
    names = [g.name for g in gallery.GALLERY]
    assert len(numbers) >= 10 and numbers == sorted(set(numbers)) and len(set(names)) == len(names)
    readme = gallery.gallery_readme()
    for g in gallery.GALLERY:
        assert f"({g.stem}.png)" in readme and f"geodln figures --only {g.name}" in readme


def test_gallery_depths_share_one_time_axis_and_escape_laws_are_drawn():
    fig = gallery._fig_closed_forms(np.random.default_rng([0, 3]))
    axes = fig.axes
    assert all(axes[0].get_shared_x_axes().joined(axes[0], ax) for ax in axes[1:])  # "deeper waits longer"
    assert len({ax.get_xlim() for ax in axes}) == 1
    fig = gallery._fig_escape(np.random.default_rng([0, 8]))
    ax_log, ax_semi = fig.axes
    assert ax_semi.get_yscale() == "linear"  # the log law on the axes that straighten it
    for ax, n_series in ((ax_log, 3), (ax_semi, 1)):
        assert sum(line.get_linestyle() == "-" for line in ax.lines) == n_series  # one theory line per series
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "(theory -1)" in texts[1] and "(theory -2)" in texts[2] and "(theory 1.00)" in texts[0]


def test_make_gallery_only_one_figure(tmp_path):
    written = gallery.make_gallery(tmp_path, only=["network"], progress=False)
    assert sorted(p.name for p in written) == ["01-network.pdf", "01-network.png"]
    assert all(p.stat().st_size > 5_000 for p in written)
    assert not (tmp_path / "README.md").exists()  # only a full run rewrites the captions
    with pytest.raises(ValueError, match="no gallery figure 'nope'"):
        gallery.make_gallery(tmp_path, only=["nope"], progress=False)
    with pytest.raises(ValueError, match="format"):
        gallery.make_gallery(tmp_path, only=["network"], formats=["tiff"], progress=False)


def _png_with(fig_change=None, pixels=0):
    """A PNG of a line plot, its curve optionally moved, some pixels optionally flipped (rounding's footprint)."""
    fig, (ax,) = plots.style.new_figure()
    x = np.linspace(0, 1, 200)
    ax.plot(x, np.sin(3 * x) + (fig_change or 0.0))
    ax.set_ylim(-1.5, 1.5)
    png = plots.style.figure_bytes(fig)
    if not pixels:
        return png
    import io

    import matplotlib.image as mpimg
    img = mpimg.imread(io.BytesIO(png)).copy()
    rows, cols = np.unravel_index(np.random.default_rng(0).choice(img.shape[0] * img.shape[1], pixels, replace=False),
                                  img.shape[:2])
    img[rows, cols, :3] = 1.0 - img[rows, cols, :3]
    buffer = io.BytesIO()
    mpimg.imsave(buffer, img, format="png")
    return buffer.getvalue()


def test_same_picture_sees_curves_not_rounding():
    """A figure is its picture: a few pixels flipped (a digit of a rounding-level number) is the same
    figure; the curve moved by 5% of the axis height is another one."""
    base = _png_with()
    assert plots.style.same_picture(base, base)
    assert plots.style.same_picture(base, _png_with(pixels=200))
    assert not plots.style.same_picture(base, _png_with(fig_change=0.15))
    assert not plots.style.same_picture(base, _png_with(pixels=5000))


def test_make_gallery_twice_writes_nothing_and_keeps_an_equal_picture(tmp_path):
    """The second run finds the same figures and writes nothing, also where another machine's rounding
    changed some pixels; a different picture is refused without --force, with nothing written."""
    assert len(gallery.make_gallery(tmp_path, only=["network"], progress=False)) == 2
    assert gallery.make_gallery(tmp_path, only=["network"], progress=False) == []
    png = tmp_path / "01-network.png"
    import io

    import matplotlib.image as mpimg
    img = mpimg.imread(png).copy()
    img[:4, :10, :3] = 1.0 - img[:4, :10, :3]  # 40 pixels: the footprint of a rounding difference
    buffer = io.BytesIO()
    mpimg.imsave(buffer, img, format="png")
    png.write_bytes(buffer.getvalue())
    pdf_before = (tmp_path / "01-network.pdf").read_bytes()
    (tmp_path / "01-network.pdf").write_bytes(pdf_before + b"%")  # another machine's PDF bytes
    assert gallery.make_gallery(tmp_path, only=["network"], progress=False) == []
    assert png.read_bytes() == buffer.getvalue()
    png.write_bytes(_png_with())  # a different figure under that name
    with pytest.raises(ValueError, match="differ"):
        gallery.make_gallery(tmp_path, only=["network"], progress=False)
    assert png.read_bytes() == _png_with()
    assert sorted(p.name for p in gallery.make_gallery(tmp_path, only=["network"], progress=False, force=True)) == \
        ["01-network.pdf", "01-network.png"]


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
