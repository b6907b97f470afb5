"""``geodln flow``: integrate the gradient flow and write ``trajectory.npz``, ``summary.json`` and ``loss.png``.

``dA/dt = -dL/dA`` from an initialisation (``--init``, seeded as in Python:
``--seed S`` is ``init.small(top, scale, seed=S)``), on synthetic or user data;
with a loss whose critical values have closed forms, the summary lists the
itinerary of critical points the flow passes (:func:`geodln.landscape.saddles.itinerary`).
A run is not recomputed when ``--out`` already holds it, and not replaced
without ``--force`` when it holds another one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..dynamics import init as initialisations
from ..dynamics.flow import DEFAULT_METHOD, GradientFlow, integration_memory
from ..integrate.methods import GEODLN_METHODS, SCIPY_METHODS
from ..io.files import (NpzSpill, check_output_folder, json_bytes, json_default, output_lock, provenance, read_provenance,
                        replace_directory, scratch_path)
from ..io.graphs import read_graph
from ..io.trajectories import default_n_points, trajectory_arrays
from ..landscape.itinerary import itinerary_memory
from ..landscape.labels import format_learned
from ..landscape.saddles import itinerary
from ..network.losses import get_loss, loss_names
from ..network.topology import layered
from .options import add_data_options, add_memory_limit, check_memory, format_spectrum, comma_list, load_data

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run"]

NAME = "flow"
HELP = "integrate the gradient flow and write a trajectory, a summary and a picture"
DESCRIPTION = ("Integrate dA/dt = -dL/dA from an initialisation and write DIR/trajectory.npz, "
               "DIR/summary.json and DIR/loss.png.")

CLI_INITS = ("small", "orthogonal", "balanced", "delta_balanced", "aligned")
FLOW_FILES = ("trajectory.npz", "summary.json", "loss.png")
_NOT_PARAMETERS = ("command", "force", "quiet", "memory_limit")  # options that do not change what a run computes


def add_arguments(parser) -> None:
    """The options of ``geodln flow``; ``--loss`` offers every registered loss (:func:`geodln.network.losses.loss_names`)."""
    net = parser.add_mutually_exclusive_group()
    net.add_argument("--widths", type=comma_list(int), default=[3, 4, 4, 3], help="layer widths d_0,...,d_h (default 3,4,4,3)")
    net.add_argument("--graph", type=Path, help="a network file (.graphml, .gml, .gexf, .json) with input/output nodes marked")
    add_data_options(parser)
    parser.add_argument("--init", choices=CLI_INITS, default="small", help="initialisation (default small)")
    parser.add_argument("--scale", type=float, default=1e-2,
                        help="weight scale; for aligned, each mode's initial end-to-end strength (default 1e-2)")
    parser.add_argument("--delta", type=float, default=1e-3, help="imbalance for delta_balanced (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the initialisation (default 0)")
    parser.add_argument("--loss", choices=loss_names(), default="quadratic")
    parser.add_argument("--t-end", type=float, default=40.0, help="final time (default 40)")
    parser.add_argument("--n-points", type=int, default=None,
                        help="number of output times (default 401, fewer above 84k weights so that the file "
                        "stays under 256 MB, at least 41: geodln.io.trajectories.default_n_points)")
    parser.add_argument("--log-time", action="store_true", help="log-spaced output times (for long plateaus)")
    add_memory_limit(parser, "the integration and the itinerary (geodln.dynamics.flow.integration_memory, "
                             "geodln.landscape.itinerary.itinerary_memory)")
    parser.add_argument("--method", default=DEFAULT_METHOD, help=f"integration method: auto (stiffness-aware, "
                        f"geodln.integrate), one of geodln's steppers throughout ({', '.join(GEODLN_METHODS[1:])}) "
                        f"or a scipy solve_ivp name ({', '.join(SCIPY_METHODS)}); default {DEFAULT_METHOD}")
    parser.add_argument("--rtol", type=float, default=1e-10)
    parser.add_argument("--atol", type=float, default=1e-12)
    parser.add_argument("--grad-tol", type=float, default=None, help="stop once ||dA/dt|| falls below this")
    parser.add_argument("--weight-decay", type=float, default=0.0, metavar="LAM",
                        help="flow of L + LAM/2 ||theta||^2; the drift is then measured from C(t) = e^(-2 LAM t) C(0) "
                        "(default 0)")
    parser.add_argument("--out", type=Path, default=Path("flow-out"), help="output folder (default flow-out)")
    parser.add_argument("--force", action="store_true", help="replace an earlier run in --out made with other options")
    parser.add_argument("--quiet", action="store_true", help="no progress report")


def _initial_weights(args, top, data) -> np.ndarray:
    """The start, seeded exactly as in Python: ``--seed S`` is ``init.small(top, scale, seed=S)`` (and the
    synthetic data is ``Data.from_spectrum(..., seed=S)``)."""
    if args.init == "delta_balanced":
        return initialisations.delta_balanced(top, delta=args.delta, scale=args.scale, seed=args.seed)
    if args.init == "aligned":
        n_modes = min(min(top.widths), len(data.s))
        return initialisations.aligned(top, data, np.full(n_modes, args.scale), seed=args.seed)
    return initialisations.by_name(args.init)(top, scale=args.scale, seed=args.seed)  # small, orthogonal, balanced


def _parameters(args) -> dict:
    """The options that determine a run's output, as they are stored in its provenance."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in _NOT_PARAMETERS}


def run(args, argv) -> int:
    """Integrate the flow the options describe, unless ``--out`` already holds this very run."""
    out = args.out
    check_output_folder(out)  # before the integration: a refused run costs nothing and leaves nothing
    with output_lock(out):
        previous = read_provenance(out / "summary.json", "parameters")
        if previous is not None and not args.force:
            if previous["parameters"] == json.loads(json.dumps(_parameters(args), default=json_default)):
                print(f"{out} already holds this run (`{previous.get('command', '?')}`, {previous.get('created_at', '?')}): "
                      f"nothing recomputed; final loss {previous.get('final_loss')}. Pass --force to run it again.")
                return 0
            raise ValueError(f"{out} holds a flow run made with other options (`{previous.get('command', '?')}`); "
                             "pass --force to replace it, or choose another --out")
        return _flow(args, argv, replace=previous is not None)


def _flow(args, argv, replace: bool) -> int:
    """Integrate, then write the run's three files as one unit (or nothing, exit code 4, if it failed)."""
    out = args.out
    top = read_graph(args.graph) if args.graph is not None else layered(args.widths)
    data = load_data(args, top)
    flow = GradientFlow(top, data, loss=get_loss(args.loss), weight_decay=args.weight_decay)
    n_points = default_n_points(top.n_params) if args.n_points is None else args.n_points  # the file ~ D, not D^2
    reads = flow.loss_fn.closed_form_critical_values and not flow.weight_decay  # an itinerary follows
    need = integration_memory(top, n_points) + (itinerary_memory(flow, n_points) if reads else 0)
    check_memory("flow", f"{top.n_params} weights, {n_points} samples; the integration"
                 + (" with its itinerary" if reads else ""), need, args.memory_limit)
    traj = flow.integrate(
        _initial_weights(args, top, data), args.t_end, method=args.method, rtol=args.rtol, atol=args.atol,
        n_points=n_points, log_time=args.log_time, grad_tol=args.grad_tol, progress=not args.quiet,
    )
    if not traj.success or not np.all(np.isfinite(traj.loss)):
        print(f"geodln flow: the integration failed at t = {traj.t[-1]:.6g} of {args.t_end:g}: {traj.message}. "
              f"Nothing written{' (the earlier run at ' + str(out) + ' is intact)' if replace else ''}.",
              file=sys.stderr)
        return 4
    # the itinerary names critical points of L; the decayed loss has a landscape of its own (no itinerary)
    visits = itinerary(traj) if reads else []
    summary = _summary(args, argv, flow, traj, visits)
    from ..plots import figure_bytes, plot_trajectory  # matplotlib only when drawing

    marks = [(v.learned, v.t_enter, v.t_exit) for v in visits]
    with scratch_path(out, ".npz") as scratch:  # the trajectory deflated to disk as it is written, not in memory
        trajectory = NpzSpill(scratch)
        trajectory.update(trajectory_arrays(  # packed weights; read A back with read_trajectory
            traj.t, traj.theta, top.edge_index, loss=traj.loss, layer=top.layer,
            nodes=np.array([str(v) for v in top.nodes]), singular_values=traj.singular_values,
            conserved_drift=traj.conserved_drift, Syx=data.Syx, Sxx=data.Sxx,
        ))
        files = {
            "trajectory.npz": trajectory.finish(),
            "summary.json": json_bytes(summary),
            "loss.png": figure_bytes(plot_trajectory(traj, log_time=args.log_time or None, itinerary=marks)),
        }
        replace_directory(out, files, ours=FLOW_FILES if replace else ())  # the run's files as one unit
    print(f"{top!r}, data s = {format_spectrum(data.s)}, loss {flow.loss_fn.name}")
    print(f"t = {traj.t[-1]:.4g}: loss {traj.loss[-1]:.6g} (global minimum {summary['global_min_value']:.6g}), "
          f"conserved drift {summary['conserved_drift']:.2e}, {traj.nfev} evaluations, {traj.message}")
    if visits:
        print("itinerary: " + " -> ".join(v.describe() for v in visits))
        last = next((v for v in visits if v.escape in ("round-off", "unresolved")), None)
        if last is not None:
            certain = "ends" if last.escape == "round-off" else "may end"
            print(f"the exact flow {certain} at {format_learned(last.learned)} (L = {last.value:.4g}): "
                  f"the numerical escape from it is {last.escape}, and the visits after it are not the exact flow's")
    print(f"wrote {out / 'trajectory.npz'}, {out / 'summary.json'}, {out / 'loss.png'}")
    return 0


def _summary(args, argv, flow: GradientFlow, traj, visits) -> dict:
    """``summary.json``: the run's provenance and options, the network, the data and the outcome."""
    top, data = flow.top, flow.data
    return provenance(argv, **_parameters(args)) | {
        "topology": {"widths": top.widths, "n": top.n, "n_params": top.n_params, "kind": repr(top)},
        "loss_function": flow.loss_fn.name,
        "final_loss": float(traj.loss[-1]),
        "global_min_value": data.global_min_value(min(top.widths)),
        "data_singular_values": data.s,
        "final_singular_values": traj.singular_values[-1],
        "conservation_law": flow.default_law,
        "conserved_drift": float(traj.conserved_drift.max()),
        "t_final": float(traj.t[-1]),
        "itinerary": [v.to_record() for v in visits],
        "nfev": int(traj.nfev),
        "success": traj.success,
        "message": traj.message,
    }
