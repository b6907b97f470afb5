"""Where a sweep keeps its results: one file per finished point, then one dataset.

A sweep with ``store="study.zarr"`` (or ``"study.nc"``) writes each point the
moment it finishes into the folder ``study.zarr.points/`` beside the store, as
one ``.npz`` file written under a temporary name and renamed (a point is
either fully there or absent, whenever the run is killed), next to a
``manifest.json`` that says which sweep the points belong to (task, grid,
settings, seeds, geodln version). A rerun of the same sweep reads the points
that are there and computes only the others; a different sweep is refused
unless forced. When every point is done, the labelled dataset is written to
the store in one step (the netCDF file renamed into place; the zarr folder
swapped in by :func:`geodln.io.files.replace_directory`) and the points folder
is removed. A path that geodln did not write is never overwritten, forced or not.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..io.files import atomic_path, read_provenance, replace_directory, write_json, write_npz

__all__ = ["SweepStore", "IDENTITY"]

IDENTITY = ("geodln_version", "task", "grid", "settings", "seeds")  # a sweep is the same sweep iff these agree
_FORMATS = {".zarr": "zarr", ".nc": "netcdf"}
_MANIFEST = "manifest.json"
_ZARR_META = {"zarr.json", ".zattrs", ".zgroup", ".zmetadata", ".zarray"}


class SweepStore:
    """The store of one sweep: the dataset at ``path`` and its points folder ``path.points``.

    Parameters
    ----------
    path : path
        Ends in ``.zarr`` (a zarr folder) or ``.nc`` (a netCDF-4 file written through h5netcdf).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.format = _FORMATS.get(self.path.suffix)
        if self.format is None:
            raise ValueError(f"store {self.path}: the name must end in .zarr (zarr) or .nc (netCDF)")
        self.parts = self.path.with_name(self.path.name + ".points")

    # the finished dataset
    def finished(self, identity: dict, force: bool):
        """The dataset already in the store if it is this sweep (else None, when absent or ``force``).

        Raises
        ------
        ValueError
            The path holds something geodln did not write, or another sweep and not ``force``.
        """
        if not self.path.exists():
            return None
        ds = self._open()
        if ds is None:
            raise ValueError(f"{self.path} exists and was not written by geodln sweep: refusing to touch it; "
                             "choose another store")
        if force:
            return None
        _check_same(ds.attrs, identity, self.path)
        return ds

    def _open(self):
        """The dataset at ``path`` loaded into memory, if it is a geodln sweep; else None."""
        import xarray as xr

        try:
            if self.format == "zarr":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = xr.open_zarr(self.path).load()
            else:
                with xr.open_dataset(self.path, engine="h5netcdf") as opened:
                    ds = opened.load()
        except Exception:  # any unreadable file is simply not ours
            return None
        return ds if all(key in ds.attrs for key in IDENTITY) else None

    def write(self, ds) -> None:
        """Write the finished dataset in one step, then remove the points folder."""
        if self.path.exists() and self._open() is None:
            raise ValueError(f"{self.path} exists and was not written by geodln sweep: refusing to overwrite it")
        if self.format == "netcdf":
            with atomic_path(self.path, suffix=".nc") as tmp:
                ds.to_netcdf(tmp, engine="h5netcdf")
        else:
            self._write_zarr(ds)
        self._remove_parts()

    def _write_zarr(self, ds) -> None:
        previous = self._open() if self.path.exists() else None
        ours = () if previous is None else [p for p in _files(self.path)
                                           if p.split("/")[0] in set(previous.variables) | _ZARR_META]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:  # read back as bytes, then swapped in as one unit
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zarr 3 warns that consolidated metadata is not in its spec yet
                ds.to_zarr(Path(tmp) / "store.zarr", mode="w")
            files = {name: (Path(tmp) / "store.zarr" / name).read_bytes() for name in _files(Path(tmp) / "store.zarr")}
        replace_directory(self.path, files, ours=ours)

    # the points of a sweep in progress
    def resume(self, identity: dict, force: bool) -> dict:
        """Open the points folder for ``identity``: the points already finished, ``{index: result}``.

        A folder of another sweep is refused unless ``force``, which empties it.
        """
        manifest = self.parts / _MANIFEST
        if self.parts.exists():
            previous = read_provenance(manifest, *IDENTITY)
            if previous is None:
                raise ValueError(f"{self.parts} exists and was not written by geodln sweep: refusing to use it; "
                                 "move it away or choose another store")
            if not force:
                _check_same(previous, identity, self.parts)
                return self._points()
            self._remove_parts()
        self.parts.mkdir(parents=True)
        write_json(manifest, identity)
        return {}

    def save_point(self, index: int, result: dict) -> None:
        """Write one finished point atomically (``{name: numpy array}``)."""
        write_npz(self.parts / f"{index:08d}.npz", result)

    def _points(self) -> dict:
        points = {}
        for path in sorted(self.parts.glob("*.npz")):
            try:
                with np.load(path, allow_pickle=False) as arrays:
                    points[int(path.stem)] = {name: arrays[name] for name in arrays.files}
            except (OSError, ValueError, EOFError):  # not one of ours or damaged: the point is computed again
                continue
        return points

    def _remove_parts(self) -> None:
        """Remove the points folder: only the files geodln put there (a user's file keeps the folder)."""
        if not self.parts.is_dir():
            return
        for path in self.parts.iterdir():
            if path.name == _MANIFEST or (path.suffix == ".npz" and path.stem.isdigit()):
                path.unlink()
        for stale in self.parts.glob(".*geodln-tmp-*"):  # temporary files of killed runs
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        if not any(self.parts.iterdir()):
            self.parts.rmdir()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _check_same(stored, identity: dict, where: Path) -> None:
    """Refuse a store made by another sweep, naming what differs."""
    differ = [key for key in IDENTITY if str(stored.get(key)) != str(identity[key])]
    if differ:
        details = "; ".join(f"{key}: stored {_short(stored.get(key))}, asked {_short(identity[key])}" for key in differ)
        raise ValueError(f"{where} holds another sweep ({details}); pass force=True (--force) to replace it, "
                         "or choose another store")


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
