"""Benchmark of ``method="auto"`` against SciPy's methods, plain numpy and diffrax (issue 11).

Cases (rtol 1e-8, atol 1e-12; start 1e-2 N(0,1) unless said):

- widths ``d^(h+1)`` for ``(d, h)`` in (4, 3), (8, 4), (16, 4), (32, 4) with
  ``T = 300``, and (32, 4) with ``T = 3000``; whitened data with singular values
  ``linspace(d, 1, d)`` in random orthogonal frames;
- ``w100h4`` (issue 26): widths ``100^5`` (40,000 weights), a rank-10 whitened target
  ``linspace(10, 1, 10)``, ``T = 300``: the saddle-to-saddle phase at a research width;
- widths 3,4,4,3, ``T = 40``: real, non-normalised data (``X`` 3 x 50 with
  scale 3, ``Y = M X + 0.1 noise``), and whitened data s = 3,2,1 from scales 10 and 100.

Solvers, side by side in one run (rounds alternate between solvers; medians reported):
``auto``; geodln with DOP853, LSODA, BDF, Radau (``GradientFlow.solve``); a plain
layer-wise numpy vector field written here with SciPy's DOP853; diffrax Dopri8 and
Kvaerno5 under ``jax.jit`` in float64 when ``jax`` and ``diffrax`` are installed
(``pip install -e '.[bench]'``), compile time reported separately and included.

For every solver: the median wall time, its ratio to geodln's DOP853, the
number of evaluations, the end point's relative distance to the reference
(geodln DOP853 at rtol 1e-12; LSODA for the 3,4,4,3 cases, where DOP853 crawls) and the conserved drift ``max |C(T) - C(0)|``
relative to ``max(1, max |C(0)|)``.

Above :data:`DENSE_NEWTON` unknowns diffrax's Kvaerno5 solves its Newton systems
``(I - gamma h J) x = b`` by GMRES on Jacobian-vector products (``lineax.GMRES``): its
default materialises the ``n x n`` Jacobian (12.8 GB at ``w100h4``).

Goals (issue 26): on ``w100h4`` ``auto`` >= 5x faster than DOP853 and diffrax (compile
excluded), end point within 1e-8, drift <= 1e-9. Measured (``--phases``, one round, 2026-12-07): auto
12.7 s, DOP853 38.0 s (74,309 evaluations), diffrax Dopri8 63.2 s (+0.8 s compile): 3.0x and 5.0x, end
points 3e-10, drifts 1e-11 (an earlier round on a loaded machine: 68 / 143 / 208 s, 2.1x and 3.1x). The
bound: DOP853 reaches t = 75 in 10.9 s of its 38.0 s, auto in 12.1 s, and auto's tail from 75 to 300
takes 0.6 s where DOP853's takes 27 s (45x). The modes are learnt one by one until t ~ 75 (mode k near
t ~ 1/(2 s_k g^2) from a layer gain g = 0.1), and there exprb43's accuracy-limited step (0.007-0.06) is
no longer than DOP853's stability-limited one (6.4 / rho = 0.05, rho = h s_1^(2-2/h) = 126), so DOP853
is the cheaper method: any solver that is DOP853 until t = 75 is at most 38.0 / 10.9 = 3.5x faster
than DOP853, whatever its tail; auto's 1.2 s over DOP853 before t = 75 (its stiffness estimates,
exprb43 from t ~ 40, the loss check) separate 3.0x from that bound. Goals (issue 11): on (32, 4), T = 3000, ``auto`` >= 10x faster than DOP853 (geodln and
numpy) and diffrax (compile excluded), end point within 1e-8, drift <= 1e-9;
on (4, 3) and (8, 4) ``auto`` <= 1.1x DOP853 and faster than diffrax with compile;
real data and scales 10, 100 under 10 s.

Run from the repository root::

    python tests/benchmarks/integrate.py                  # everything (hours on 2 cores: the
                                                          # DOP853 runs of (32, 4), T = 3000 take minutes each)
    python tests/benchmarks/integrate.py --cases small    # (4, 3), (8, 4), real data, scales
    python tests/benchmarks/integrate.py --rounds 1 --solvers auto,DOP853
    python tests/benchmarks/integrate.py --cases w100h4 --rounds 1 --solvers auto,DOP853 --phases
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# One thread per solver (numpy's OpenBLAS and XLA alike, unless the caller set them): on a shared
# machine an idle BLAS worker spins on the core the solver needs (measured on 100^5: the 0.2 ms
# error norm of a DOP853 step took 32 ms with two OpenBLAS threads, 0.16 ms with one).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads at load)

from geodln import Data, GradientFlow, init, layered  # noqa: E402

RTOL, ATOL = 1e-8, 1e-12
# name -> (width d, depth h, T, rank of the target): widths d^(h+1), singular values linspace(rank, 1, rank)
GRID = {"d4h3": (4, 3, 300.0, 4), "d8h4": (8, 4, 300.0, 8), "d16h4": (16, 4, 300.0, 16),
        "d32h4": (32, 4, 300.0, 32), "d32h4-T3000": (32, 4, 3000.0, 32), "w100h4": (100, 4, 300.0, 10)}
SMALL = ("d4h3", "d8h4", "real", "scale10", "scale100")
SCIPY = ("DOP853", "LSODA", "BDF", "Radau")
SLOW_SKIP = {"BDF", "Radau", "LSODA"}  # skipped above this many parameters (minutes per run; see the issue)
DENSE_NEWTON = 3000  # unknowns above which Kvaerno5's Newton systems are solved by GMRES (no dense Jacobian)


def make_case(name):
    """``(flow, theta0, T)``."""
    if name in GRID:
        d, h, T, rank = GRID[name]
        return layered_case(d, h, rank) + (T,)
    top = layered([3, 4, 4, 3])
    if name == "real":
        rng = np.random.default_rng(0)
        X = 3.0 * rng.standard_normal((3, 50))
        data = Data(X, rng.standard_normal((3, 3)) @ X + 0.1 * rng.standard_normal((3, 50)))
        return GradientFlow(top, data), init.small(top, 1e-2, seed=0), 40.0
    scale = {"scale10": 10.0, "scale100": 100.0}[name]
    return GradientFlow(top, Data.from_spectrum([3, 2, 1], 3, 3, seed=0)), init.small(top, scale, seed=0), 40.0


def layered_case(d: int, h: int, rank: int, scale: float = 1e-2):
    """``(flow, theta0)``: widths ``d^(h+1)``, whitened target ``linspace(rank, 1, rank)``, start ``scale N(0, 1)``."""
    top = layered([d] * (h + 1))
    data = Data.from_spectrum(np.linspace(rank, 1, rank), d, d, seed=0)
    return GradientFlow(top, data), init.small(top, scale, seed=0)


# -------------------------------------------------- plain layer-wise numpy
def numpy_field(flow):
    """-dL/dW_i = (W_h..W_{i+1})^T (Syx - W Sxx) (W_{i-1}..W_1)^T on a flat vector, independent of geodln."""
    widths = flow.top.widths
    shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]
    cuts = np.cumsum([0] + [a * b for a, b in shapes])
    Syx, Sxx = flow.data.Syx, flow.data.Sxx

    def f(t, x):
        Ws = [x[cuts[i]:cuts[i + 1]].reshape(s) for i, s in enumerate(shapes)]
        pre = [np.eye(widths[0])]
        for W in Ws:
            pre.append(W @ pre[-1])
        E = Syx - pre[-1] @ Sxx
        out, back = [], E
        for i in range(len(Ws) - 1, -1, -1):
            out.append((back @ pre[i].T).ravel())
            back = Ws[i].T @ back
        return np.concatenate(out[::-1])

    return f


def run_numpy(flow, theta0, T):
    from scipy.integrate import solve_ivp

    sol = solve_ivp(numpy_field(flow), (0.0, T), to_layers(flow, theta0), method="DOP853", t_eval=[T], rtol=RTOL,
                    atol=ATOL)
    return from_layers(flow, sol.y[:, -1]), sol.nfev, 0


def to_layers(flow, theta):
    """geodln's packed weights -> the plain layout here (each W_i raveled, in order)."""
    return np.concatenate([W.ravel() for W in flow.top.layer_weights(theta)])


def from_layers(flow, x):
    widths = flow.top.widths
    shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]
    cuts = np.cumsum([0] + [a * b for a, b in shapes])
    return flow.top.from_layer_weights([x[cuts[i]:cuts[i + 1]].reshape(sh) for i, sh in enumerate(shapes)])


# ------------------------------------------------------------------ diffrax
def diffrax_runner(flow, theta0, T, solver_name):
    """``(compile_seconds, run)`` with ``run() -> (end, steps, 0)`` (diffrax counts steps, not evaluations); None without jax/diffrax."""
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import diffrax
        import jax.numpy as jnp
    except ImportError:
        return None
    widths = flow.top.widths
    shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]
    cuts = [int(c) for c in np.cumsum([0] + [a * b for a, b in shapes])]
    Syx, Sxx = jnp.asarray(flow.data.Syx), jnp.asarray(flow.data.Sxx)

    def field(t, x, args):
        Ws = [x[cuts[i]:cuts[i + 1]].reshape(s) for i, s in enumerate(shapes)]
        def loss(ws):  # 1/2 ||Y - W X||^2 up to a constant: 1/2 tr(W Sxx W^T) - tr(Syx^T W)
            W = _prod(ws)
            return 0.5 * jnp.sum((W @ Sxx) * W) - jnp.sum(Syx * W)

        g = jax.grad(loss)(Ws)
        return -jnp.concatenate([gi.ravel() for gi in g])

    solver = diffrax.Dopri8() if solver_name == "Dopri8" else _kvaerno5(len(to_layers(flow, theta0)))

    @jax.jit
    def solve(y0):
        sol = diffrax.diffeqsolve(diffrax.ODETerm(field), solver, 0.0, T, None, y0,
                                  stepsize_controller=diffrax.PIDController(rtol=RTOL, atol=ATOL),
                                  max_steps=None if solver_name == "Dopri8" else 10**6, saveat=diffrax.SaveAt(t1=True))
        return sol.ys[-1], sol.stats["num_steps"]

    y0 = jnp.asarray(to_layers(flow, theta0))
    t0 = time.perf_counter()
    compiled = solve.lower(y0).compile()
    compile_s = time.perf_counter() - t0

    def run():
        end, steps = compiled(y0)
        return from_layers(flow, np.asarray(end.block_until_ready())), int(steps), 0

    return compile_s, run


def _kvaerno5(n: int):
    """diffrax's Kvaerno5; above :data:`DENSE_NEWTON` unknowns with GMRES for its Newton systems."""
    import diffrax
    import lineax
    import optimistix

    if n <= DENSE_NEWTON:
        return diffrax.Kvaerno5()
    # diffrax's VeryChord linearises its operator once (a dense matrix); Newton takes the products as they are
    newton = optimistix.Newton(rtol=RTOL, atol=ATOL, linear_solver=lineax.GMRES(rtol=1e-10, atol=1e-14, restart=40))
    return diffrax.Kvaerno5(root_finder=newton)


def _prod(ws):
    W = ws[0]
    for Wi in ws[1:]:
        W = Wi @ W
    return W


# -------------------------------------------------------------------- main
def drift(flow, theta0, end):
    q0, q = flow.conserved_vector(theta0), flow.conserved_vector(end)
    return float(np.max(np.abs(q - q0), initial=0.0) / max(1.0, np.max(np.abs(q0), initial=0.0)))


def bench_case(name, solvers, rounds, phases=False):
    flow, theta0, T = make_case(name)
    print(f"\n== {name}: widths {flow.top.widths}, {flow.top.n_params} parameters, T = {T:g}", flush=True)
    # the reference: DOP853 at rtol 1e-12, or LSODA where DOP853 crawls (large scales, real data)
    ref_method = "DOP853" if name in GRID else "LSODA"
    ref = flow.solve(theta0, (0.0, T), t_eval=[T], rtol=1e-12, atol=1e-14, method=ref_method).y[:, -1]
    runners, compile_s, clocks = {}, {}, {}
    for s in solvers:
        if s == "auto" or (s in SCIPY and not (s in SLOW_SKIP and flow.top.n_params > 300)):
            def runner(m=s):
                clocks[m] = Clock(T) if phases else None
                return _geodln(flow, theta0, T, m, clocks[m])
            runners[s] = runner
        elif s == "numpy":
            runners[s] = lambda: run_numpy(flow, theta0, T)
        elif s.startswith("diffrax-"):
            got = diffrax_runner(flow, theta0, T, s.split("-", 1)[1])
            if got is not None:
                compile_s[s], runners[s] = got
    times = {s: [] for s in runners}
    results = {}
    for _ in range(rounds):
        for s, run in runners.items():
            t0 = time.perf_counter()
            results[s] = run()
            times[s].append(time.perf_counter() - t0)
    base = statistics.median(times["DOP853"]) if "DOP853" in times else None
    print(f"{'solver':>17} {'median s':>9} {'/DOP853':>8} {'nfev':>9} {'J prod':>8} {'end err':>9} {'drift':>9} {'+compile s':>10}")
    for s in runners:
        med = statistics.median(times[s])
        end, nfev, njvp = results[s]
        err = np.linalg.norm(end - ref) / np.linalg.norm(ref)
        ratio = f"{med / base:8.3f}" if base else "       -"
        comp = f"{compile_s[s]:10.2f}" if s in compile_s else "          "
        print(f"{s:>17} {med:9.3f} {ratio} {nfev:9d} {njvp:8d} {err:9.1e} {drift(flow, theta0, end):9.1e} {comp}", flush=True)
    for s, clock in clocks.items():  # where each solver's time goes: the learning phase against the tail
        if clock is not None:
            print(f"{s:>17} reached {clock.line()} (last round)")


class Clock:
    """A ``progress`` for :meth:`GradientFlow.solve`: the wall time at which the solver first reaches each time."""

    def __init__(self, T):
        self.marks, self.reached, self.start = [T * f for f in (0.05, 0.1, 0.25, 0.5, 1.0)], {}, time.perf_counter()

    def update(self, t, info=""):
        for m in self.marks:
            if t >= m and m not in self.reached:
                self.reached[m] = time.perf_counter() - self.start

    def line(self) -> str:
        return "  ".join(f"t={m:g}: {self.reached[m]:.1f} s" for m in self.marks if m in self.reached)


def _geodln(flow, theta0, T, method, clock=None):
    sol = flow.solve(theta0, (0.0, T), t_eval=[T], rtol=RTOL, atol=ATOL, method=method, progress=clock)
    return sol.y[:, -1], sol.nfev, getattr(sol, "njvp", 0)  # auto's exact Jacobian products (-H v) besides f


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default="all", help="comma-separated case names, 'small' or 'all'")
    p.add_argument("--solvers", default="auto,DOP853,LSODA,BDF,Radau,numpy,diffrax-Dopri8,diffrax-Kvaerno5")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--phases", action="store_true", help="also print when geodln's solvers reach 5%%, 10%%, 25%%, "
                                                         "50%% and 100%% of T (where the time goes)")
    args = p.parse_args(argv)
    cases = {"all": list(GRID) + ["real", "scale10", "scale100"], "small": list(SMALL)}.get(args.cases)
    cases = cases or args.cases.split(",")
    import warnings
    warnings.simplefilter("ignore", RuntimeWarning)  # the stiffness warnings of forced explicit methods
    for name in cases:
        bench_case(name, args.solvers.split(","), args.rounds, args.phases)


if __name__ == "__main__":
    main()
