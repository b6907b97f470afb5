"""Catalogs of any network, found numerically: :func:`find_critical_points`.

The search (:func:`geodln.landscape.numerical.search_critical_points`) returns
certified, classified points, one per orbit signature; this module writes them
as a :class:`geodln.catalog.store.Catalog` of the same schema as the layered
catalogs (``Catalog.load``, ``to_dataframe``, ``geodln saddles``), its
manifest labelled ``"method": "numerical"`` and ``"exhaustive": false``, with
the topology (nodes in order, edges as index pairs), the starts made and, per
record, how many starts converged to it. Nonstrict saddles keep their escape
direction in ``arrays/escapes.npz``.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..io.files import provenance
from ..landscape.critical import KINDS
from ..landscape.numerical import NumericalPoint, check_starts, search_critical_points
from ..network.data import Data
from ..network.topology import Topology
from ..symmetry import algebra_dim
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from .store import ESCAPES, POINTS, SCHEMA_VERSION, SPECTRA, Catalog, data_fingerprint, topology_record

__all__ = ["find_critical_points"]


def _record(p: NumericalPoint, rid: str, top: Topology) -> dict:
    """A catalog record (the fields of :data:`geodln.catalog.store.FIELDS` first) for one point found."""
    cur = p.curvature
    ranks = dict(p.signature[1][0])
    escape = None
    if p.escape is not None:
        escape = {k: v for k, v in p.escape.items() if k != "direction"} | {"direction": {"file": ESCAPES, "key": rid}}
    return {
        "id": rid, "learned": p.learned, "critical_value": p.critical_value, "kind": p.kind,
        "hessian": cur.full.as_dict(), "horizontal_hessian": cur.horizontal.as_dict(), "orbit_dim": cur.orbit_dim,
        "stabilizer_dim": algebra_dim(top) - cur.orbit_dim, "layer_ranks": [ranks[(i - 1, i)] for i in range(1, top.depth + 1)],
        "escape_order": p.escape_order if p.kind != "global_minimum" else None, "grad_norm": p.grad_norm,
        "point": {"file": POINTS, "key": rid}, "spectrum": {"file": SPECTRA, "key": rid},
        "stratum": p.stratum, "pieces": None, "loss": p.critical_value, "closed_form": p.closed_form,
        "balanced": p.balanced, "n_converged": sum(p.starts.values()), "converged_from": dict(p.starts),
        "escape": escape,
    }


def find_critical_points(topology: Topology, data: Data, *, starts=None, seed: int = 0,
                         tol: Tolerances = DEFAULT_TOLERANCES, workers: int | None = None, restarts: int = 0,
                         argv=None) -> Catalog:
    """Search any network's critical points from many starts; certify, classify and catalog them.

    Starts (``starts = {kind: count}``): ``"strata"``, the strata of the
    fully connected network restricted to the mask (layered topologies;
    ``None``: all of them); ``"plateau"``, where flows from small random
    starts rest; ``"random"``. Each is refined by minimum-norm Gauss-Newton
    on the gradient, certified (gradient recomputed at the point),
    deduplicated by critical value and orbit signature under the topology's
    group (node rescalings, ``GL`` on fully connected levels) and
    represented by the orbit's balanced point when the orbit is closed. The
    class comes from the Hessian inertia (strict iff a negative eigenvalue)
    and, at a positive semidefinite point, a higher-order search for an
    escape direction of order ``m >= 3`` (nonstrict) or its absence at the
    lowest value found (global minimum); see :mod:`geodln.landscape.numerical`.

    Parameters
    ----------
    topology : Topology
    data : Data
    starts : mapping, optional
        Default :data:`geodln.landscape.numerical.DEFAULT_STARTS`.
    seed : int
    tol : Tolerances
    workers : int, optional
        Refine the starts on a local Dask cluster of this many processes (the same catalog as in one process).
    restarts : int
        Rounds of deflation by restart: each start that lands on an orbit already found is replaced by
        one kicked off its point, in the next round (starts of kind ``"restart"``); default none.
    argv : list of str, optional
        The command line, for the manifest.

    Returns
    -------
    Catalog
        In memory (``write`` saves it); its manifest says ``"method": "numerical"``,
        ``"exhaustive": false``, the starts made, converged and failed, and how many certified points
        were left unresolved (no escape found above the lowest value).

    Examples
    --------
    >>> import geodln
    >>> top = geodln.skip_connections([2, 1, 2], skips=[(0, 2)])
    >>> data = geodln.Data.from_spectrum([2.0, 1.0], 2, 2, seed=0)
    >>> cat = find_critical_points(top, data, starts={"plateau": 2, "random": 2}, seed=0)
    >>> cat.manifest["method"], cat.manifest["exhaustive"]
    ('numerical', False)
    """
    if not isinstance(topology, Topology):
        raise TypeError(f"topology must be a geodln Topology, got {type(topology).__name__}")
    if not isinstance(data, Data):
        raise TypeError(f"data must be a geodln Data, got {type(data).__name__}")
    data.check_fits(topology)
    found = search_critical_points(topology, data, starts, seed, tol, workers, restarts)
    records, points, spectra, escapes = [], {}, {}, {}
    for p in found.points:
        rid = f"np{len(records):05d}"
        records.append(_record(p, rid, topology))
        points[rid], spectra[rid] = topology.adjacency(p.theta), p.curvature.eigenvalues
        if p.escape is not None:
            escapes[rid] = topology.adjacency(p.escape["direction"])
    spectrum = data.s[: data.rank].tolist()
    asked = {kind: n for kind, n in check_starts(starts, topology).items() if kind != "given"}  # the budget as given
    params = {"widths": list(topology.widths), "spectrum": spectrum, "seed": seed, "starts": found.starts,
              "asked": asked, "data": data_fingerprint(data)}
    manifest = provenance(argv, **params) | {
        "schema_version": SCHEMA_VERSION, "seed": seed, "method": "numerical", "exhaustive": False,
        "topology": topology_record(topology), "starts": found.starts, "starts_converged": found.converged,
        "starts_failed": found.failed, "n_unresolved": len(found.unresolved),
        "conventions": {
            "loss": "L = 1/2 ||Y - W X||_F^2; critical_value is L measured at the point (closed_form: it equals L_J)",
            "adjacency": "A[j, k] is the weight of the edge j -> k (networkx.to_numpy_array), nodes in the order of "
                         "manifest.topology.nodes",
            "learned": "1-based modes of the nearest W_J, sorted by decreasing singular value",
            "layer_ranks": "ranks of the transfer maps between consecutive levels",
        },
        "tolerances": asdict(tol),
        "data": {"Syx": data.Syx, "Sxx": data.Sxx, "Syy": data.Syy, "singular_values": data.s, "U": data.U, "V": data.V},
        "n_records": len(records), "counts": {kind: sum(r["kind"] == kind for r in records) for kind in KINDS},
    }
    arrays = {POINTS: points, SPECTRA: spectra} | ({ESCAPES: escapes} if escapes else {})
    return Catalog(manifest, records, arrays=arrays)
