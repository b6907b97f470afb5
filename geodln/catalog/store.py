"""Catalogs of critical points on disk: build, write atomically, load and validate.

A catalog directory holds

- ``manifest.json``: schema version, versions, command line, parameters, seed,
  conventions, the data (``Syx``, ``Sxx``, singular values), counts, and the
  SHA-256 of every other file (so an edited or truncated file is detected);
- ``critical_points.jsonl``: one record per stratum (fields in :data:`FIELDS`);
- ``arrays/points.npz``: each representative's adjacency matrix ``(n, n)``;
- ``arrays/hessian_spectra.npz``: each representative's Hessian eigenvalues;
- ``arrays/similarities.npz``: the group element ``S`` that moved each
  representative off its canonical frame (``A = S A_0 S^{-1}``);
- ``summary.csv``: the scalar fields, one row per record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import networkx as nx
import numpy as np

from ..landscape.counting import strata_per_set
from ..network.data import Data
from ..errors import ClassificationError
from ..io.files import (JsonlSpill, NpzSpill, fresh_file, json_bytes, json_line, json_default, npz_bytes, output_lock, provenance, read_provenance,
                    replace_directory)
from ..dynamics.flow import GradientFlow
from ..landscape.critical import KINDS, CriticalPoint, analyze_stratum, curvature
from ..io.progress import Progress, pace
from ..landscape.strata import check_distinct_spectrum, enumerate_strata
from ..tolerances import DEFAULT_TOLERANCES, Tolerances
from ..network.topology import Topology, layered

__all__ = ["SCHEMA_VERSION", "MAX_STRATA", "FIELDS", "SADDLE_FIELDS", "Catalog", "build_catalog", "topology_record", "topology_from_record",
           "catalog_topology"]

# 1: critical points and their Hessians; 2: records may also carry the stable
# and unstable directions of every saddle (filled in by verification.fill_saddles / `geodln
# saddles`, which records itself under the manifest's "saddles"), and the
# manifest holds the tolerances the catalog was made with.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
FIELDS = {
    "id": str, "learned": list, "critical_value": float, "kind": str, "hessian": dict,
    "horizontal_hessian": dict, "orbit_dim": int, "stabilizer_dim": int, "layer_ranks": list,
    "escape_order": (int, type(None)), "grad_norm": float, "point": dict,
}
SADDLE_FIELDS = {"unstable_dim": int, "stable_dim": int, "center_dim": int, "unstable_directions": list,
                 "stable_directions": list}
DIRECTION_KEYS = ("file", "key", "order", "mode", "verified")
INERTIA_KEYS = ("negative", "zero", "positive", "min", "max")
CSV_FIELDS = ("id", "learned", "n_learned", "critical_value", "kind", "hess_negative", "hess_zero", "hess_positive",
              "hess_min", "hess_max", "hor_negative", "hor_zero", "hor_positive", "orbit_dim",
              "stabilizer_dim", "layer_ranks", "escape_order", "unstable_dim", "stable_dim", "center_dim",
              "grad_norm", "stratum")
POINTS, SPECTRA, SIMILARITIES = "arrays/points.npz", "arrays/hessian_spectra.npz", "arrays/similarities.npz"
DIRECTIONS = "arrays/directions.npz"
ESCAPES = "arrays/escapes.npz"  # numerical catalogs: the escape direction of each nonstrict saddle
ARRAYS = {"point": POINTS, "spectrum": SPECTRA, "similarity": SIMILARITIES}  # a record's field -> the file of that array
RETIRED_TOLERANCES = ("n_checks",)  # thresholds of catalogs made by older versions that no longer exist
MATCH_ATOL = 1e-9
MAX_STRATA = 100_000  # strata a catalog analyses unless told otherwise: about half an hour at small widths
"""A catalog is of the user's data when its ``Syx`` and ``Sxx`` equal the data's to this, absolutely:
the data of a seed or a file are the same numbers again, written to JSON and read back exactly, so this
only forgives the rounding of moments computed in another order (and refuses any other data)."""
REBUILT_RTOL = 1e-12
"""Data rebuilt from a catalog's own manifest (its seed, or its stored moments) must reproduce its
``Syx`` to rounding: ``|dSyx| <= REBUILT_RTOL * max(1, max |Syx|)``."""
FRAME_ATOL = 1e-8
"""... and its mode frames ``U``, ``V`` (unit vectors, in which escape paths and directions are written) to
this: an SVD of the same matrix gives them to ~1e-15, a repeated or near-repeated value would not."""


@dataclass
class Catalog:
    """A catalog of critical points (built in memory by :func:`build_catalog` or loaded from disk).

    Attributes
    ----------
    manifest : dict
    records : list of dict, or JsonlSpill
        One per stratum, with at least the fields of :data:`FIELDS` (in a
        JSON-lines file rather than in memory when built with a spill folder).
    path : pathlib.Path or None
        The directory it was loaded from or last written to.
    arrays : dict
        ``{file: {key: array}}``: the arrays the records name (a catalog
        loaded from disk reads each file on first use).
    """

    manifest: dict
    records: list
    path: Path | None = None
    arrays: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.records)

    def point(self, record) -> np.ndarray:
        """The adjacency matrix ``(n, n)`` of a record (a record dict or its ``id``)."""
        return self._array(record, "point")

    def hessian_spectrum(self, record) -> np.ndarray:
        """The sorted Hessian eigenvalues of a record, shape=[n_params]."""
        return self._array(record, "spectrum")

    def similarity(self, record) -> np.ndarray:
        """The group element ``S`` (n, n) with ``point = S A_canonical S^{-1}`` (for real data: the point
        of the whitened problem, which :func:`to_user_coordinates` carries to the stored one)."""
        return self._array(record, "similarity")

    def direction(self, item: dict) -> np.ndarray:
        """The (n, n) array of an item of ``unstable_directions`` / ``stable_directions``."""
        return self._load(item)

    def _array(self, record, key: str) -> np.ndarray:
        rec = record if isinstance(record, dict) else self.by_id(record)
        return self._load(rec[key])

    def _load(self, ref: dict) -> np.ndarray:
        """The array a ``{file, key}`` reference names."""
        return self._file(ref["file"])[ref["key"]]

    def _file(self, name: str):
        """``{key: array}`` of one array file; read from the folder lazily, one array per access."""
        if name not in self.arrays:
            if self.path is None:
                raise ValueError(f"this catalog has no array file {name}")
            self.arrays[name] = np.load(self.path / name)
        return self.arrays[name]

    @property
    def tolerances(self) -> Tolerances:
        """The thresholds the catalog was made with (the defaults for catalogs older than that field)."""
        stored = self.manifest.get("tolerances", {})
        return Tolerances(**{k: v for k, v in stored.items() if k not in RETIRED_TOLERANCES})

    def write(self, out, overwrite: bool = False) -> Path:
        """Write the catalog folder ``out`` in one atomic step (see :func:`geodln.io.files.replace_directory`).

        Whenever the run stops, ``out`` holds the previous catalog or the new
        one, complete; files in ``out`` that geodln did not write are kept.
        Afterwards ``path`` is ``out`` and the manifest holds the checksums of
        every file (its own included).

        Parameters
        ----------
        out : path
        overwrite : bool
            Replace a catalog already at ``out`` (``--force``); without it an
            existing catalog is an error.

        Returns
        -------
        pathlib.Path
            The folder written.

        Raises
        ------
        ValueError
            If ``out`` is a file, a folder holding a catalog (without
            ``overwrite``), a folder that holds files but no catalog, or
            another process is writing it.
        """
        out = Path(out)
        previous = _existing_catalog(out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out} is a file, not a folder: choose another --out")
        if previous is None and out.is_dir() and any(out.iterdir()):
            raise ValueError(f"{out} holds files but no geodln catalog: refusing to write into it (choose another --out)")
        if previous is not None and not overwrite and out != self.path:
            raise ValueError(f"{out} already holds a catalog (made by `{previous.get('command', '?')}`); "
                             "pass --force (overwrite=True) to replace it, or choose another --out")
        names = set(self.manifest.get("checksums", {})) | set(self.arrays)
        files = {name: self._array_file(name) for name in sorted(n for n in names if n.endswith(".npz"))}
        if isinstance(self.records, JsonlSpill):  # written as they came: linked, and the CSV streamed beside them
            files["critical_points.jsonl"] = self.records.finish()
            files["summary.csv"] = fresh_file(self.records.path.with_name("summary.csv"))
            with open(files["summary.csv"], "w", newline="") as f:
                _write_csv(f, self.records)
        else:
            files["critical_points.jsonl"] = b"".join(json_line(r) for r in self.records)
            buf = io.StringIO()
            _write_csv(buf, self.records)
            files["summary.csv"] = buf.getvalue().encode()
        manifest = dict(self.manifest)
        manifest["checksums"] = {name: _sha256(c) if isinstance(c, bytes) else _sha256_file(c) for name, c in sorted(files.items())}
        manifest["checksums"]["manifest.json"] = _manifest_digest(manifest)
        files["manifest.json"] = json_bytes(manifest)
        ours = {"manifest.json"} | set((previous or {}).get("checksums", {}))
        with output_lock(out):
            replace_directory(out, files, ours)
        self.path, self.manifest = out, manifest
        for name in [n for n, store in self.arrays.items() if isinstance(store, NpzSpill)]:
            del self.arrays[name]  # read from the folder from now on: the spill file is scratch
        return out

    def _array_file(self, name: str):
        """What :meth:`write` puts at ``name``: the bytes of arrays held in memory, or the path of a
        complete file (a spill file, or the file this catalog was loaded from, never changed since)."""
        store = self.arrays.get(name)
        if isinstance(store, NpzSpill):
            return store.finish()
        if store is None or isinstance(store, np.lib.npyio.NpzFile):
            return self.path / name
        return npz_bytes(store)

    def matches(self, top, data, rebuilt: bool = False) -> bool:
        """Whether the catalog is of this network and these data: the package's one catalog matcher.

        Parameters
        ----------
        top : Topology
            Its widths must be the catalog's.
        data : Data
            The user's data: ``Syx`` and ``Sxx`` equal to the manifest's within
            :data:`MATCH_ATOL`. With ``rebuilt``, data rebuilt from the
            manifest itself: ``Syx`` within :data:`REBUILT_RTOL` (relative)
            and the frames ``U``, ``V`` of the catalog's modes within
            :data:`FRAME_ATOL`, since its directions are written in them.
        rebuilt : bool

        Returns
        -------
        bool

        Examples
        --------
        >>> cat = build_catalog([2, 2, 2], [3.0, 1.0])
        >>> data = Data.from_spectrum([3.0, 1.0], 2, 2, seed=0)
        >>> cat.matches(layered([2, 2, 2]), data), cat.matches(layered([2, 3, 2]), data)
        (True, False)
        """
        params, stored = self.manifest["parameters"], self.manifest["data"]
        if list(params["widths"]) != list(top.widths):
            return False
        if not rebuilt:
            return all(np.allclose(np.asarray(stored[key]), getattr(data, key), rtol=0, atol=MATCH_ATOL)
                       for key in ("Syx", "Sxx"))
        m = len(params["spectrum"])
        scale = max(1.0, float(np.abs(data.Syx).max()))
        return bool(np.allclose(data.Syx, np.array(stored["Syx"]), rtol=0, atol=REBUILT_RTOL * scale)
                    and all(np.allclose(getattr(data, key)[:, :m], np.array(stored[key])[:, :m], rtol=0, atol=FRAME_ATOL)
                            for key in ("U", "V")))

    def record_for(self, label: str) -> dict | None:
        """The record of the stratum labelled ``label`` (e.g. ``"J={1}"``), or None when the catalog has none.

        Examples
        --------
        >>> build_catalog([2, 2, 2], [3.0, 1.0]).record_for("J={1,2}")["kind"]
        'global_minimum'
        """
        return next((rec for rec in self.records if rec.get("stratum") == label), None)

    def by_id(self, record_id: str) -> dict:
        for rec in self.records:
            if rec["id"] == record_id:
                return rec
        raise KeyError(f"no record {record_id!r} in this catalog")

    def to_dataframe(self):
        """The records as a pandas DataFrame: one row per record, the columns of ``summary.csv`` (:data:`CSV_FIELDS`).

        pandas is a dependency of geodln, imported on first use. The values are
        those written to the CSV (``learned`` and ``layer_ranks`` as text, e.g. ``"[1, 2]"``).

        Examples
        --------
        >>> df = build_catalog([2, 2, 2], [3.0, 1.0]).to_dataframe()
        >>> df[["learned", "critical_value", "kind"]].values.tolist()[-1]
        ['[1, 2]', 0.0, 'global_minimum']
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe needs pandas: pip install pandas") from None
        return pd.DataFrame([_csv_row(r) for r in self.records], columns=CSV_FIELDS)

    def counts(self) -> dict:
        """Number of records of each kind."""
        return {kind: sum(r["kind"] == kind for r in self.records) for kind in KINDS}

    @classmethod
    def load(cls, path) -> "Catalog":
        """Read and validate a catalog directory.

        Raises
        ------
        ValueError
            When a file is missing, not valid JSON, edited or truncated (its
            checksum differs from the manifest's), of another schema version, or
            a record lacks a field or has one of the wrong type.
        """
        path = Path(path)
        manifest_file = path / "manifest.json"
        if not manifest_file.is_file():
            raise ValueError(f"{path} is not a catalog: it has no manifest.json")
        manifest = _read_json(manifest_file)
        if not isinstance(manifest, dict):
            raise ValueError(f"{manifest_file} holds a JSON {type(manifest).__name__}, not the object a catalog manifest is")
        version = manifest.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"{manifest_file}: schema_version {version!r}, this geodln reads {READABLE_VERSIONS}")
        if not isinstance(manifest.get("checksums"), dict) or "critical_points.jsonl" not in manifest["checksums"]:
            raise ValueError(f"{manifest_file} has no checksums: it was edited or not written by geodln")
        own = manifest["checksums"].get("manifest.json")
        if own is not None and own != _manifest_digest(manifest):
            raise ValueError(f"{manifest_file} does not match its own checksum: it was edited after the catalog was written")
        for name, digest in manifest["checksums"].items():
            if name == "manifest.json":
                continue
            if not (path / name).is_file():
                raise ValueError(f"{path / name} is missing")
            if _sha256_file(path / name) != digest:
                raise ValueError(f"{path / name} does not match the checksum in manifest.json: "
                                 "it was edited or truncated after the catalog was written")
        records = []
        for lineno, line in enumerate((path / "critical_points.jsonl").read_text().splitlines(), start=1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"critical_points.jsonl line {lineno} is not valid JSON ({err.msg})") from None
            _validate(rec, lineno, "saddles" in manifest)
            records.append(rec)
        if len(records) != manifest.get("n_records"):
            raise ValueError(f"critical_points.jsonl has {len(records)} records, the manifest says {manifest.get('n_records')}")
        return cls(manifest, records, path)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err.msg} at line {err.lineno})") from None


def _validate(rec: dict, lineno: int, with_saddles: bool) -> None:
    fields = FIELDS | (SADDLE_FIELDS if with_saddles and rec.get("kind") != "global_minimum" else {})
    for name, kind in fields.items():
        if name not in rec:
            raise ValueError(f"critical_points.jsonl line {lineno}: missing field {name!r}")
        value = rec[name]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise ValueError(f"critical_points.jsonl line {lineno}: field {name!r} = {value!r} has the wrong type")
    if rec["kind"] not in KINDS:
        raise ValueError(f"critical_points.jsonl line {lineno}: kind {rec['kind']!r} is not one of {KINDS}")
    for key in ("hessian", "horizontal_hessian"):
        if set(rec[key]) != set(INERTIA_KEYS):
            raise ValueError(f"critical_points.jsonl line {lineno}: {key} needs the keys {INERTIA_KEYS}")
    for key in ("unstable_directions", "stable_directions"):
        for item in rec.get(key) or []:
            if not isinstance(item, dict) or not set(DIRECTION_KEYS) <= set(item):
                raise ValueError(f"critical_points.jsonl line {lineno}: every item of {key} needs {DIRECTION_KEYS}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in blocks (a catalog's arrays need not fit in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_digest(manifest: dict) -> str:
    """SHA-256 of the manifest's content except its own checksum (canonical JSON, sorted keys)."""
    checksums = {k: v for k, v in manifest.get("checksums", {}).items() if k != "manifest.json"}
    content = {k: v for k, v in manifest.items() if k != "checksums"} | {"checksums": checksums}
    return _sha256(json.dumps(content, sort_keys=True, default=json_default).encode())


def _existing_catalog(out: Path) -> dict | None:
    """The manifest of the geodln catalog at ``out``, or None when there is none.

    A folder counts as a catalog only if its ``manifest.json`` is an object
    with geodln's provenance, a schema version and checksums: a stray
    ``manifest.json`` of someone else's does not make a folder replaceable.
    """
    manifest = read_provenance(out / "manifest.json", "schema_version", "checksums")
    return manifest if manifest is not None and isinstance(manifest["checksums"], dict) else None


def _write_csv(f, records) -> None:
    writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
    writer.writeheader()
    writer.writerows(_csv_row(r) for r in records)


def _csv_row(rec: dict) -> dict:
    h, g = rec["hessian"], rec["horizontal_hessian"]
    return {
        "id": rec["id"], "learned": json.dumps(rec["learned"]), "n_learned": len(rec["learned"]),
        "critical_value": rec["critical_value"],
        "kind": rec["kind"], "hess_negative": h["negative"], "hess_zero": h["zero"], "hess_positive": h["positive"],
        "hess_min": h["min"], "hess_max": h["max"], "hor_negative": g["negative"], "hor_zero": g["zero"],
        "hor_positive": g["positive"], "orbit_dim": rec["orbit_dim"], "stabilizer_dim": rec["stabilizer_dim"],
        "layer_ranks": json.dumps(rec["layer_ranks"]), "escape_order": rec["escape_order"],
        "unstable_dim": rec.get("unstable_dim"), "stable_dim": rec.get("stable_dim"), "center_dim": rec.get("center_dim"),
        "grad_norm": rec["grad_norm"], "stratum": rec.get("stratum", ""),
    }


def build_catalog(widths, spectrum=None, seed: int = 0, max_per_set: int | None = None, progress: bool = False,
                  argv=None, tolerances: Tolerances = DEFAULT_TOLERANCES, data: Data | None = None,
                  spill=None, max_strata: int | None = MAX_STRATA) -> Catalog:
    """Enumerate, analyse and classify every stratum of an architecture and spectrum.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_h)`` of a fully connected layered network.
    spectrum : sequence of float
        Distinct singular values ``s_1 > ... > s_m > 0`` of ``Syx`` (whitened data).
    seed : int
        Seeds the data's singular vectors and every representative.
    max_per_set : int, optional
        Cap on strata per learnt set: the simplest ones are kept; how many each
        learnt set leaves out (counted by :func:`geodln.count_strata`, never
        listed) is in the manifest's ``left_out`` and ``n_left_out``.
    tolerances : Tolerances
        The thresholds of every check (recorded in the manifest).
    data : Data, optional
        Real data ``(X, Y)`` instead of a spectrum (then ``spectrum`` must be
        None). With ``W~_1 = W_1 Sxx^{1/2}`` the loss is, up to a constant, the
        whitened loss of ``M = Syx Sxx^{-1/2}``; the change of coordinates
        ``W_1 -> W_1 Sxx^{-1/2}`` is linear and invertible, so it maps critical
        points to critical points and, at a critical point, the Hessian by
        congruence (Sylvester: same inertia). The strata are those of the
        whitened problem with the spectrum of ``M``; each representative is
        stored in the user's coordinates, where its gradient, its loss
        ``L_J`` and its Hessian inertia are checked again.
    max_strata : int or None
        Refuse (ValueError, before any is analysed) a catalog of more strata
        than this, after ``max_per_set``; default :data:`MAX_STRATA`, None: no limit.
        A 16-wide network with 10 modes has ~1e14 strata; the count (:func:`geodln.count_strata`)
        says how many without listing them.
    spill : path, optional
        A scratch folder of geodln's: the records and the arrays (points,
        Hessian spectra, group elements) go there as each stratum is analysed
        (:class:`geodln.io.files.JsonlSpill`, :class:`geodln.io.files.NpzSpill`)
        instead of staying in memory, so memory holds one offset per record.
        :meth:`Catalog.write` links the files into the catalog.

    Returns
    -------
    Catalog
        In memory, with its arrays (``path`` is None); :meth:`Catalog.write` saves it.

    Raises
    ------
    ClassificationError
        With ``data``: a representative is not critical in the user's
        coordinates, or its inertia there differs from the whitened one.

    See Also
    --------
    count_strata
        How many strata there are, before building.
    Catalog.load
        Read a catalog written by ``geodln catalog``.
    """
    widths = list(layered(widths).widths)  # validates: positive integers, at least two layers
    if (data is None) == (spectrum is None):
        raise ValueError("give either a spectrum (whitened data) or data=Data(X, Y), not both and not neither")
    user = data
    if user is not None:
        user.check_fits(layered(widths))
        spectrum = user.s[: user.rank]
    s = check_distinct_spectrum(spectrum, tolerances.spectral_gap)
    if user is None:
        data = Data.from_spectrum(s, widths[0], widths[-1], seed=seed)
    else:  # the whitened problem: X = I, Y = M = Syx Sxx^{-1/2}, with the user's singular vectors
        data = Data(np.eye(widths[0]), np.linalg.solve(user.Sxx_sqrt, user.Syx.T).T)
    # the count comes first and without listing: the bar knows its total from the start, the strata a
    # cap leaves out are never walked, and a catalog too large to build is refused before it starts
    counts = strata_per_set(widths, len(s))
    total = sum(n if max_per_set is None else min(n, max_per_set) for n in counts.values())
    if max_strata is not None and total > max_strata:
        per_set = max_strata // len(counts)
        cap = (f"keep the simplest per learnt set (--max-per-set {per_set} stays within it), " if per_set else
               f"one stratum per learnt set is already {len(counts):,}: ")
        raise ValueError(f"the catalog of widths {widths} with {len(s)} modes would analyse {total:,} strata "
                         f"(of {sum(counts.values()):,} in {len(counts):,} learnt sets), more than max_strata = "
                         f"{max_strata:,} (at ~20 ms each at small widths): {cap}use fewer modes, count them only "
                         "(--count), or raise the limit (--max-strata)")
    rng = np.random.default_rng(seed)
    top = layered(widths)
    bar = Progress(total, "analysing strata", enabled=progress)
    bar.update(0, f"{sum(counts.values()):,} strata in all" + (f", at most {max_per_set} per learnt set" if max_per_set else ""))
    stores = {name: {} if spill is None else NpzSpill(Path(spill) / Path(name).name) for name in (POINTS, SPECTRA, SIMILARITIES)}
    records, left_out = [] if spill is None else JsonlSpill(Path(spill) / "records.jsonl"), {}
    start = time.monotonic()
    for J, strata, _ in enumerate_strata(widths, len(s), max_per_set, count_left_out=False):
        if counts[J] > len(strata):
            left_out[" ".join(map(str, J)) or "-"] = counts[J] - len(strata)
        for stratum in strata:
            rid = f"cp{len(records):05d}"
            cp = analyze_stratum(stratum, data, seed=rng, tolerances=tolerances)
            if user is not None:
                cp = _in_user_coordinates(cp, user, tolerances)
            records.append(cp.to_record(rid, ARRAYS))
            stores[POINTS][rid] = top.adjacency(cp.theta)
            stores[SPECTRA][rid] = cp.eigenvalues
            stores[SIMILARITIES][rid] = cp.similarity
            bar.update(len(records), pace(len(records), total, start, "strata"))
    bar.close(f"{total} strata")
    params = {"widths": widths, "spectrum": s.tolist(), "seed": seed, "max_per_set": max_per_set}
    if user is not None:
        params["data"] = data_fingerprint(user)
        data = user
    manifest = provenance(argv, **params) | {
        "schema_version": SCHEMA_VERSION,
        "seed": seed,
        "conventions": {
            "loss": ("L = 1/2 ||Y - W X||_F^2, whitened data (Sxx = I), L_J = 1/2 sum_{k not in J} s_k^2" if user is None
                     else "L = 1/2 ||Y - W X||_F^2, L_J = L_* + 1/2 sum_{k not in J} s_k^2, s_k the singular values "
                          "of Syx Sxx^(-1/2); points in the user's coordinates (W_1 of the whitened problem times "
                          "Sxx^(-1/2))"),
            "adjacency": "A[j, k] is the weight of the edge j -> k (networkx.to_numpy_array); nodes layer by layer; "
                         "block (layer i-1, layer i) = W_i^T",
            "learned": "1-based mode indices, modes sorted by decreasing singular value",
            "pieces": "[a, b, source, target]: a chain of links from layer a to b; source/target = mode carried "
                      "by an input/output piece (0: a direction orthogonal to every mode, null: none)",
        },
        "tolerances": asdict(tolerances),
        "data": {"Syx": data.Syx, "Sxx": data.Sxx, "singular_values": data.s, "U": data.U, "V": data.V}
                | ({} if user is None else {"Syy": data.Syy}),
        "n_records": len(records),
        "counts": {kind: sum(r["kind"] == kind for r in records) for kind in KINDS},
        "left_out": left_out,
        "n_left_out": sum(left_out.values()),
    }
    return Catalog(manifest, records, arrays=stores)


def data_fingerprint(data: Data) -> dict:
    """``{shape_X, shape_Y, sha256}`` of real data: how a catalog's parameters name the data it was made from."""
    digest = hashlib.sha256(np.ascontiguousarray(data.X).tobytes() + np.ascontiguousarray(data.Y).tobytes())
    return {"shape_X": list(data.X.shape), "shape_Y": list(data.Y.shape), "sha256": digest.hexdigest()}


def _in_user_coordinates(cp: CriticalPoint, user: Data, tol: Tolerances) -> CriticalPoint:
    """A whitened critical point moved to the user's coordinates (``W_1 -> W_1 Sxx^{-1/2}``) and checked there:
    critical, at ``L_J``, with the same Hessian inertia (full and horizontal)."""
    top = layered(cp.stratum.widths)
    flow = GradientFlow(top, user)
    theta = top.pack(to_user_coordinates(top, user, top.adjacency(cp.theta)))
    grad_norm = float(np.linalg.norm(flow.rhs(theta)))
    value, loss = user.critical_value(cp.learned), flow.loss(theta)
    label = cp.stratum.label
    if not (tol.is_critical(grad_norm, user) and tol.at_level(loss, value, user)):
        raise ClassificationError(f"{label}: in the user's coordinates |grad| = {grad_norm:.2e}, loss {loss} vs L_J = {value}")
    lam, full, hor, _ = curvature(flow, theta, tol)
    if (full.negative, full.zero, full.positive, hor.negative, hor.zero, hor.positive) != (
            cp.hessian.negative, cp.hessian.zero, cp.hessian.positive,
            cp.horizontal_hessian.negative, cp.horizontal_hessian.zero, cp.horizontal_hessian.positive):
        raise ClassificationError(f"{label}: the Hessian inertia in the user's coordinates ({full}) differs from the "
                                  f"whitened one ({cp.hessian}), against Sylvester's law of inertia")
    return replace(cp, theta=theta, critical_value=value, loss=loss, hessian=full, horizontal_hessian=hor,
                   eigenvalues=lam, grad_norm=grad_norm)


def to_user_coordinates(top, user: Data, M) -> np.ndarray:
    """``M`` with its input rows multiplied by ``Sxx^{-1/2}``, shape=[n, n].

    On an adjacency matrix (block (input, layer 1) = ``W_1^T``) this is
    ``W_1 -> W_1 Sxx^{-1/2}``, which carries the whitened problem to the
    user's coordinates; on a group element ``S`` (identity on the input
    level) it gives ``D S`` with ``D`` that change of coordinates, so
    ``symmetry.act(top, D S, A_0) = D (S . A_0)``: a canonical direction moved
    and carried over in one action.
    """
    M = np.array(M, dtype=float)
    d0 = top.widths[0]
    M[:d0] = np.linalg.solve(user.Sxx_sqrt, M[:d0])
    return M


def topology_record(top: Topology) -> dict:
    """The topology as JSON: node names in ``top``'s order, edges ``[j, k]`` as indices into them, widths."""
    index = {v: i for i, v in enumerate(top.nodes)}
    return {"nodes": [str(v) for v in top.nodes], "edges": sorted([index[u], index[v]] for u, v in top.graph.edges),
            "widths": list(top.widths)}


def topology_from_record(record: dict) -> Topology:
    """The topology :func:`topology_record` wrote, with the same node order and packing of ``theta``.

    Examples
    --------
    >>> from geodln import skip_connections
    >>> top = skip_connections([2, 3, 2])
    >>> again = topology_from_record(topology_record(top))
    >>> bool((again.mask == top.mask).all()), again.n_params == top.n_params
    (True, True)
    """
    n, widths = len(record["nodes"]), record["widths"]
    G = nx.DiGraph()
    G.add_nodes_from(range(n))  # in the stored order: the levels, hence the packing, come out the same
    G.add_edges_from(map(tuple, record["edges"]))
    return Topology.from_graph(G, range(widths[0]), range(n - widths[-1], n))


def catalog_topology(catalog: Catalog) -> Topology:
    """The network of a catalog: its manifest's ``topology`` (numerical catalogs), else the fully connected
    layered network of its widths."""
    stored = catalog.manifest.get("topology")
    return topology_from_record(stored) if stored is not None else layered(catalog.manifest["parameters"]["widths"])
