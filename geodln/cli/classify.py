"""``geodln classify``: which critical point a user's weights are at (or near), and of what class.

Reads the weights (:func:`geodln.io.weights.read_weights`), finds the critical
point they are at or shadow (:func:`geodln.landscape.points.nearest_critical_point`)
and prints its class, learnt modes ``J``, critical value ``L_J``, stratum,
Hessian inertia and escape order, or its record as JSON. Writes no files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..dynamics.flow import GradientFlow
from ..io.files import json_default
from ..landscape.labels import format_learned
from .options import add_data_options, add_memory_limit, check_memory, format_spectrum, load_data

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run"]

NAME = "classify"
HELP = "which critical point is this network at (or near), and of what class"
DESCRIPTION = ("Read a network's weights (.npz with W1..Wh or A; .safetensors of bias-free linear layers), "
               "find the critical point it is at or shadows, and print its class, learnt modes J, critical value, "
               "stratum, Hessian inertia and escape order. Writes no files.")


def add_arguments(parser) -> None:
    """The options of ``geodln classify``."""
    parser.add_argument("--weights", type=Path, required=True, help="the weight file (.npz or .safetensors)")
    add_data_options(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    parser.add_argument("--catalog", type=Path, help="a catalog of the same network and data: name the matching record")
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    add_memory_limit(parser, "the analysis")


def run(args, argv) -> int:
    """Classify the weights; print the record (as JSON with ``--json``)."""
    from ..catalog.store import Catalog
    from ..io.weights import read_weights
    from ..landscape.points import nearest_critical_point
    from ..tolerances import DEFAULT_TOLERANCES as tol

    if args.data is None and args.spectrum is None:
        raise ValueError("classify needs the data the weights were trained on: --data FILE (an .npz with X of "
                         "shape (d_in, N) and Y of shape (d_out, N)) or --spectrum S (whitened data with the "
                         "singular values S); a class depends on the data")
    weights = read_weights(args.weights)
    top = weights.top
    data = load_data(args, top)
    if args.catalog is not None:
        catalog = Catalog.load(args.catalog)
        if not catalog.matches(top, data):
            raise ValueError(f"{args.catalog} is a catalog of another network or other data than {args.weights}")
    flow = GradientFlow(top, data)
    from ..dynamics.stabilizer import analysis_memory

    check_memory("classify", f"{flow.top.n_params} weights; the Hessian analysis", analysis_memory(flow, weights.theta),
                 args.memory_limit)
    near = nearest_critical_point(flow, weights.theta)
    cp = near.point
    given = cp.hessian.as_dict() if near.distance == 0 else _curvature_given(flow, weights.theta, tol)
    record = cp.to_record() | {"distance": near.distance, "relative_distance": near.relative_distance,
                               "grad_norm_given": near.grad_norm, "loss_given": near.loss,
                               "gradient_threshold": tol.gradient * tol.gradient_scale(data),
                               "hessian_given": given, "weights": weights.source}
    if args.catalog is not None:
        match = catalog.record_for(cp.label)
        record["record_id"] = None if match is None else match["id"]
    if args.json:
        print(json.dumps(record, default=json_default, indent=2))
        return 0
    h = cp.hessian
    print(f"{weights.source}: widths {list(top.widths)}, data s = {format_spectrum(data.s)}")
    threshold = record["gradient_threshold"]
    if near.distance == 0:
        print(f"at a {cp.kind.replace('_', ' ')}: ||dL/dtheta|| = {cp.grad_norm:.3g} <= {threshold:.3g}, "
              f"|L - L_J| = {abs(cp.loss - cp.critical_value):.3g}")
    else:
        print(f"near a {cp.kind.replace('_', ' ')}, at distance {near.distance:.3g} ({near.relative_distance:.3g} "
              f"relative): at your weights ||dL/dtheta|| = {near.grad_norm:.3g}, L = {near.loss:.10g}; at the critical "
              f"point ||dL/dtheta|| = {cp.grad_norm:.3g} <= {threshold:.3g}, |L - L_J| = "
              f"{abs(cp.loss - cp.critical_value):.3g}")
    print(f"J = {format_learned(cp.learned)}, L_J = {cp.critical_value:.10g}")
    print(f"stratum {cp.label}" + (f" (catalog record {record['record_id']})" if record.get("record_id") else ""))
    print(f"Hessian -/0/+ = {h.negative}/{h.zero}/{h.positive}, escape order "
          f"{'-' if cp.escape_order is None else cp.escape_order}"
          + ("" if not cp.escape else f" (mode {cp.escape['mode']}, measured {cp.escape['measured_order']:.2f})"))
    print("Hessian at your weights: " + (f"-/0/+ = {given['negative']}/{given['zero']}/{given['positive']}, "
          if "negative" in given else f"{given['method']}: ") + f"smallest eigenvalue {given['min']:.3g}")
    for item in cp.ambiguous:
        print(f"ambiguous: singular values of {item['product']}: {np.round(item['singular_values'], 6).tolist()}")
    return 0


def _curvature_given(flow, theta, tol) -> dict:
    """The Hessian at the user's own weights when they are not the critical point (a plateau of a real run has
    small negative eigenvalues there):
    its inertia where the dense Hessian is formed (the package's one threshold,
    :data:`geodln.dynamics.hessian.MATRIX_FREE_ABOVE`), else its extreme eigenvalues by Lanczos on exact
    products (the point is not critical, so the Hessian's low rank there cannot be used)."""
    from ..dynamics.hessian import hessian, inertia, lanczos_extremes, matrix_free

    if not matrix_free(flow.top.n_params):
        lam = np.linalg.eigvalsh(hessian(flow, theta))
        return inertia(lam, tol.inertia, tol.hessian_scale(flow.data, flow.top.depth)).as_dict()
    smallest, largest = lanczos_extremes(flow, theta, k=4)
    return {"method": "Lanczos", "min": float(smallest[0]), "max": float(largest[-1])}
