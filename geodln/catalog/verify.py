"""Verification of a catalog's saddles: their stable and unstable directions, certified, resumably.

:func:`fill_saddles` completes a catalog written by :func:`geodln.build_catalog`:
for each saddle it finds the local invariant sets
(:func:`geodln.local_manifolds`) and certifies every direction
(:func:`geodln.landscape.saddles.certify_directions`), saving each saddle's result in a
checkpoint folder as soon as it is known, so an interrupted run resumes.
A saddle found numerically may have Hessian directions slower than ``t_max``
(eigenvalues ~1e-5 at a sparse mask's weakly coupled weights): those are
certified by the flow's linearisation, without integrating to ``1/|lambda|``.
:class:`Checkpoint` is that folder's layout, beside the catalog it is for.
"""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .store import DIRECTIONS, POINTS, SCHEMA_VERSION, SIMILARITIES, SPECTRA, Catalog, catalog_topology, to_user_coordinates
from ..network.data import Data
from ..io.files import JsonlSpill, NpzSpill, json_default, package_version, provenance, write_npz
from ..dynamics.flow import GradientFlow
from ..io.progress import Progress, pace
from ..landscape.numerical import numerical_manifolds
from ..landscape.saddles import Direction, Verification, certify_directions, local_manifolds
from ..landscape.strata import Piece, Stratum
from ..io.parallel import LazyCalls, check_workers, run
from ..tolerances import Tolerances
from ..network.topology import layered

__all__ = ["fill_saddles", "verified_already", "Checkpoint"]

_RECORDS_WITH_SADDLES = "records-with-saddles.jsonl"  # the filled records, spilled while they are gathered


@dataclass(frozen=True)
class Checkpoint:
    """The scratch folder of the catalog ``catalog``: ``.NAME.geodln-checkpoint`` beside it.

    It holds each verified saddle's result as ``{id}.npz`` (``cp00000.npz``, ...;
    :func:`fill_saddles` with ``checkpoint=folder``) and, in ``arrays/``, the
    records and arrays spilled while the catalog is built and filled
    (``spill=spill``), so that an interrupted ``geodln catalog`` or
    ``geodln saddles`` resumes where it stopped.

    Examples
    --------
    >>> Checkpoint(Path("catalogs/default")).folder.as_posix()
    'catalogs/.default.geodln-checkpoint'
    """

    catalog: Path

    @property
    def folder(self) -> Path:
        """The checkpoint folder (hidden, beside the catalog: never inside the folder swapped in at the end)."""
        return self.catalog.parent / f".{self.catalog.name}.geodln-checkpoint"

    @property
    def spill(self) -> Path:
        """Where the records and arrays wait on disk instead of in memory."""
        return self.folder / "arrays"

    def remove(self) -> None:
        """Remove the checkpoint once the catalog is written: only the files geodln saves there, and the
        folders if they are then empty (a user's file put there is kept)."""
        if not self.folder.is_dir():
            return
        spilled = ("records.jsonl", _RECORDS_WITH_SADDLES, "summary.csv",
                   *(Path(name).name for name in (POINTS, SPECTRA, SIMILARITIES, DIRECTIONS)))
        saddles = [*self.folder.glob("cp*.npz"), *self.folder.glob(".cp*.npz.geodln-tmp-*")]  # and killed writes
        for item in [*saddles, *(self.spill / name for name in spilled)]:
            item.unlink(missing_ok=True)
        for empty in (self.spill, self.folder):
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()


_BATCHES = 64  # saddles are verified on Dask in about this many tasks (load balance) ...
_MAX_BATCH = 50  # ... of at most this many saddles (measured on 4,4,4,4 with 2 workers: 1 saddle per task 0.74x
# the serial speed, 10 per task 1.27x, 40 per task 1.53x: per-task messages cost more than a saddle's work)


def verified_already(catalog: Catalog) -> bool:
    """Whether every saddle direction of ``catalog`` was verified, by this version of geodln.

    ``fill_saddles`` verifies with the catalog's own tolerances and seeds, so a
    catalog it filled with this version holds the result a rerun would give
    (equal within the tolerances on another machine): rerunning is not needed.
    """
    info = catalog.manifest.get("saddles")
    return (info is not None and catalog.manifest.get("schema_version") == SCHEMA_VERSION
            and info.get("geodln_version") == package_version("geodln")
            and info.get("n_verified") == info.get("n_directions"))


def fill_saddles(catalog, progress: bool = False, argv=None, checkpoint=None, client=None,
                 workers: int | None = None, spill=None) -> Catalog:
    """Compute and verify the stable and unstable directions of every saddle of a catalog.

    Rebuilds each stratum and its representative, finds its local invariant
    sets (:func:`geodln.local_manifolds`) and certifies every direction
    (:func:`geodln.landscape.saddles.certify_directions`), with the catalog's own
    tolerances: per saddle ``unstable_dim``, ``stable_dim``, ``center_dim``
    and the lists ``unstable_directions``, ``stable_directions`` of
    ``{file, key, order, mode, verified}`` naming ``(n, n)`` arrays in
    ``arrays/directions.npz`` (plus ``eigenvalue``, ``links`` and ``evidence``).

    Parameters
    ----------
    catalog : Catalog or path
        A catalog in memory (filled in place; write it afterwards) or the
        folder of one (loaded, filled, and written back in one atomic step,
        so an interrupted run leaves the folder as it was).
    checkpoint : path, optional
        A folder (created if missing) where each saddle's result is saved,
        atomically, as soon as it is verified (``{id}.npz``). A saddle whose
        result is already there, for the same representative and
        tolerances, is taken from it instead of being verified again: an
        interrupted run resumes where it stopped and gives the same records
        and arrays as an uninterrupted one.
    client : distributed.Client, optional
        Verify the saddles in parallel on this Dask client (in batches of
        saddles, one task each; results are saved and gathered in this process).
    workers : int, optional
        Without ``client``: more than 1 verifies on the active Dask client,
        or on a local cluster of that many one-thread processes; 1 verifies
        serially, in this process; None (the default) uses the active client
        if there is one, else verifies serially. Every engine gives the same
        catalog: the saddles are independent and gathered in order.
    spill : path, optional
        A scratch folder of geodln's where the filled records and the
        direction arrays are gathered (:class:`geodln.io.files.JsonlSpill`,
        :class:`geodln.io.files.NpzSpill`) instead of in memory. With a
        checkpoint, each saddle's arrays leave memory once saved there, so
        memory holds one saddle at a time (serially; on Dask, the batches in
        flight) besides the offsets of the records.
    """
    check_workers(workers)
    path = None if isinstance(catalog, Catalog) else Path(catalog)
    catalog = Catalog.load(path) if path is not None else catalog
    params = catalog.manifest["parameters"]
    widths, spectrum = params["widths"], params["spectrum"]
    top = catalog_topology(catalog)
    data = _catalog_data(catalog)
    flow = GradientFlow(top, data)
    tol = catalog.tolerances
    tol_text = json.dumps(asdict(tol), sort_keys=True)
    checkpoint = None if checkpoint is None else Path(checkpoint)
    records = catalog.records  # a list, or a JSON-lines spill read one record at a time
    where = [j for j, r in enumerate(records) if r["kind"] != "global_minimum"]  # saddle i is records[where[i]]
    # saddle index -> (fields, arrays), or None once they are in the checkpoint; the saddles still to verify
    outcomes, todo = {}, []
    for i, j in enumerate(where):
        rec = records[j]
        if _resume(checkpoint, rec["id"], catalog.point(rec), tol_text):
            outcomes[i] = None
        else:
            todo.append(i)
    n_resumed = len(outcomes)

    def job(i):
        """``(record, point, similarity)`` of saddle ``i``, read when it is verified."""
        rec = records[where[i]]
        if rec.get("pieces") is None:  # found numerically: no stratum, its own escape direction
            escape = rec.get("escape")
            return rec, catalog.point(rec), None if escape is None else catalog.direction(escape["direction"])
        similarity = catalog.similarity(rec)  # of the whitened problem; carried to the user's coordinates
        return rec, catalog.point(rec), similarity if data.whitened else to_user_coordinates(top, data, similarity)

    bar = Progress(len(where), "verifying saddle directions", enabled=progress)
    start = time.monotonic()
    resumed = f", {n_resumed} from the checkpoint" if n_resumed else ""

    def finish(i, result):
        fields, arrays = result
        outcomes[i] = None if checkpoint is not None else result  # in the checkpoint, not in memory
        if checkpoint is not None:
            rec = records[where[i]]
            _save(checkpoint / f"{rec['id']}.npz", catalog.point(rec), tol_text, fields, arrays)
        bar.update(len(outcomes), pace(len(outcomes) - n_resumed, len(todo), start, "saddles") + resumed)

    # on Dask in batches of saddles: one task per saddle (milliseconds each) spends more on messages than on work
    size = min(_MAX_BATCH, max(1, -(-len(todo) // _BATCHES)))
    run(LazyCalls(todo, lambda i: (_saddle_fields, flow, *job(i), len(spectrum), tol)), finish, client, workers,
        cluster_by_default=False, batch=size)
    directions = {} if spill is None else NpzSpill(Path(spill) / Path(DIRECTIONS).name)
    filled = [] if spill is None else JsonlSpill(Path(spill) / _RECORDS_WITH_SADDLES)
    saddle_of = {j: i for i, j in enumerate(where)}
    n_verified = n_total = 0
    for j, rec in enumerate(records):  # in the catalog's order, whatever the order of completion
        if j in saddle_of:
            fields, arrays = outcomes.pop(saddle_of[j]) or _saved(checkpoint, rec["id"])
            rec.update(fields)
            directions.update(arrays)
            items = _items(fields)
            n_verified += sum(item["verified"] for item in items)
            n_total += len(items)
        filled.append(rec)
    catalog.records = filled
    bar.close(f"{n_verified}/{n_total} directions verified" + (f" ({n_resumed} saddles resumed)" if n_resumed else ""))
    catalog.manifest.update(schema_version=SCHEMA_VERSION, saddles=provenance(argv) | {"n_directions": n_total,
                                                                                        "n_verified": n_verified},
                            tolerances=asdict(tol))  # as used: retired fields of older versions dropped
    catalog.arrays[DIRECTIONS] = directions
    if path is not None:
        catalog.write(path, overwrite=True)
    return catalog


def _catalog_data(catalog: Catalog) -> Data:
    """The data a catalog was made from: regenerated from its spectrum and seed, or, for real data,
    rebuilt from the second moments in its manifest (all the flow depends on); checked against the
    manifest's ``Syx`` and mode frames ``U``, ``V``, in which the escape paths are written."""
    params, stored = catalog.manifest["parameters"], catalog.manifest["data"]
    where = catalog.path or "the catalog"
    if "data" not in params:
        widths = params["widths"]
        data = Data.from_spectrum(params["spectrum"], widths[0], widths[-1], seed=params["seed"])
    elif "Syy" not in stored:
        raise ValueError(f"{where} is a catalog of real data made before geodln stored Syy in its manifest: "
                         "rebuild it with `geodln catalog --data` to verify its saddles")
    else:
        data = Data.from_moments(*(np.array(stored[key], dtype=float) for key in ("Sxx", "Syx", "Syy")))
    if not catalog.matches(layered(params["widths"]), data, rebuilt=True):
        raise ValueError(f"{where}: its data cannot be rebuilt from its manifest (seed or moments)")
    return data


def _saddle_fields(flow: GradientFlow, rec: dict, point, similarity, n_modes: int, tol: Tolerances):
    """The saddle fields of one record and its direction arrays ``{key: (n, n)}`` (for a record found
    numerically, ``similarity`` is its escape direction (n, n), or None)."""
    top = flow.top
    theta = top.pack(point)
    if rec.get("pieces") is None:
        escape = None if similarity is None else top.pack(similarity)
        found = numerical_manifolds(flow, theta, escape, rec["escape_order"], tolerances=tol)
    else:
        stratum = Stratum(tuple(top.widths), tuple(rec["learned"]), tuple(Piece(*p) for p in rec["pieces"]), n_modes)
        found = local_manifolds(flow, theta, stratum, similarity, tolerances=tol)
    claims = found.unstable + found.stable
    slow = [rec.get("pieces") is None and _too_slow(flow, d, tol) for d in claims]
    flown = iter(certify_directions(flow, theta, [d for d, s in zip(claims, slow) if not s], tolerances=tol))
    checks = iter([_local_expansion(flow, theta, d, tol) if s else next(flown) for d, s in zip(claims, slow)])
    fields, arrays = {}, {}
    for label, group in (("u", found.unstable), ("s", found.stable)):
        items = []
        for j, d in enumerate(group):
            key = f"{rec['id']}_{label}{j}"
            check = next(checks)
            arrays[key] = top.adjacency(d.vector)
            items.append({"file": DIRECTIONS, "key": key, "order": d.order, "mode": d.mode,
                          "verified": check.verified, "eigenvalue": d.eigenvalue, "links": d.links,
                          "evidence": check.evidence})
        fields["unstable_directions" if label == "u" else "stable_directions"] = items
    fields.update(unstable_dim=found.unstable_dim, stable_dim=found.stable_dim, center_dim=found.center_dim)
    return fields, arrays


EXPANSION_STEPS = 12
"""Step sizes ``hessian_eps / 8 * 4^-k``, ``k < EXPANSION_STEPS``, of :func:`_local_expansion`: down to
``~1e-11``, where the quadratic terms of the flow are below ``|lambda| eps`` for ``|lambda| ~ 1e-6`` and
rounding (``~1e-15`` in the velocity) is still below it."""


def _too_slow(flow: GradientFlow, d: Direction, tol: Tolerances) -> bool:
    """Whether a Hessian direction's time scale ``1/|lambda|`` lies past ``t_max``: flowing there would take
    the stiff flow (rates up to ``max |lambda|``) ``~ max |lambda| / |lambda|`` steps (a sparse mask's weakly
    coupled weights: ``lambda ~ 1e-5``, ``t ~ 1e5``, over 40 s), so the flow is not the witness there.
    (An eigenvalue the inertia counts as zero is no hyperbolic direction: certify_directions refuses it.)"""
    zero = tol.inertia * tol.hessian_scale(flow.data, flow.top.depth)
    return d.eigenvalue is not None and abs(d.eigenvalue) > zero and 1.0 / abs(d.eigenvalue) > tol.t_max


def _local_expansion(flow: GradientFlow, theta, d: Direction, tol: Tolerances) -> Verification:
    """A slow Hessian direction certified by the flow's linearisation, without integrating.

    ``dtheta/dt = -H (theta - theta*) + O(|theta - theta*|^2)``: at ``theta* + eps d`` the velocity must be
    ``-lambda eps d`` within ``linear_rate |lambda| eps`` (the check of
    :func:`geodln.landscape.saddles.certify_directions`) for some ``eps`` of
    :data:`EXPANSION_STEPS` shrinking steps: ``d`` is then an eigenvector of the linearised flow with the
    claimed rate and sign, tangent to the invariant manifold the claim names. Otherwise it is unverified,
    and says why (no integration to ``t ~ 1/|lambda|`` was tried).
    """
    lam = d.eigenvalue
    eps = tol.hessian_eps / 8 * 0.25 ** np.arange(EXPANSION_STEPS)
    residuals = [float(np.linalg.norm(flow.rhs(theta + e * d.vector) / e + lam * d.vector) / abs(lam)) for e in eps]
    best = int(np.argmin(residuals))
    evidence = {"method": "local_expansion", "needs_t": 1.0 / abs(lam), "t_max": tol.t_max,
                "eps": float(eps[best]), "residual": residuals[best]}
    if residuals[best] <= tol.linear_rate:
        return Verification(True, evidence, ())
    return Verification(False, evidence | {"unverified": f"eigenvalue {lam:.1e} needs t ~ {1.0 / abs(lam):.0e}"}, ())


def _save(file: Path, point, tol_text: str, fields: dict, arrays: dict) -> None:
    """One saddle's result in the checkpoint, atomically: its point and the tolerances (what it is
    the result for), its fields, and its direction arrays stacked in the fields' order (one member
    to read back, uncompressed: a scratch file)."""
    stacked = np.stack([arrays[key] for key in _keys(fields)]) if arrays else np.zeros((0,) + np.shape(point))
    write_npz(file, {"point": point, "tolerances": np.array(tol_text),
                     "fields": np.array(json.dumps(fields, default=json_default)), "directions": stacked}, compress=False)


def _items(fields: dict) -> list:
    """A saddle's direction items, unstable then stable: the order of its arrays."""
    return fields["unstable_directions"] + fields["stable_directions"]


def _keys(fields: dict) -> list:
    return [item["key"] for item in _items(fields)]


def _resume(checkpoint: Path | None, rid: str, point, tol_text: str) -> bool:
    """Whether the checkpoint holds the result of record ``rid`` for this very point and these
    tolerances (read it with :func:`_saved`)."""
    if checkpoint is None or not (checkpoint / f"{rid}.npz").is_file():
        return False
    try:
        with np.load(checkpoint / f"{rid}.npz") as f:
            if len(_keys(json.loads(str(f["fields"])))) != len(f["directions"]):
                return False
            return bool(np.array_equal(f["point"], point) and str(f["tolerances"]) == tol_text)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False  # unreadable: verified again, and rewritten


def _saved(checkpoint: Path, rid: str) -> tuple:
    """The saddle fields and direction arrays ``{key: (n, n)}`` of record ``rid`` in the checkpoint."""
    with np.load(checkpoint / f"{rid}.npz") as f:
        fields = json.loads(str(f["fields"]))
        return fields, dict(zip(_keys(fields), f["directions"]))
