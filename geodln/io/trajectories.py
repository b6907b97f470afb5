"""Trajectory files (``geodln flow``'s ``trajectory.npz``): packed weights on disk, the adjacency view on read.

A trajectory of ``T`` states of a network with ``D`` weights on ``n`` nodes is
stored as its packed weights ``theta`` (shape ``[T, D]``, ``T D`` floats) and
the edge index that places them (``source``, ``target``: ``A[t, source[e],
target[e]] = theta[t, e]``, ``A`` as NetworkX writes it), not as the dense
adjacency ``A`` of shape ``[T, n, n]``: ``n^2 / D`` times less (6x for widths
64^5, and unbounded for a sparse DAG). :func:`read_trajectory` gives back
``A``, ``mask`` and every other array of the file, computing the first two
from ``theta`` and the edge index.

Formats (the member ``format_version``):

- 1 (no ``format_version``: files written before it existed): ``A`` of shape
  ``[T, n, n]``, ``mask`` ``[n, n]`` and usually ``theta``; still read, and its
  edge index derived from ``mask`` and ``layer`` in geodln's packing order
  (level pairs ``(a, b)``, ``a < b``, then row-major inside each block);
- 2 (:data:`TRAJECTORY_FORMAT`): ``theta``, ``source``, ``target`` instead of ``A`` and ``mask``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["TRAJECTORY_FORMAT", "FILE_BUDGET", "MIN_POINTS", "MAX_POINTS", "default_n_points", "trajectory_arrays",
           "TrajectoryFile", "read_trajectory"]

TRAJECTORY_FORMAT = 2  # the version :func:`trajectory_arrays` writes
# The default number of output times: MAX_POINTS (geodln flow's default before it depended on the size) while
# the packed trajectory stays under FILE_BUDGET bytes, then as many as fit, never fewer than MIN_POINTS: the
# file stays linear in D (at most max(FILE_BUDGET, 8 MIN_POINTS D) bytes; 2M weights: 656 MB, not 6.4 GB).
FILE_BUDGET = 256 * 2**20
MIN_POINTS, MAX_POINTS = 41, 401


def default_n_points(n_params: int) -> int:
    """Output times for a run of ``n_params`` weights: ``clip(FILE_BUDGET / (8 n_params), MIN_POINTS, MAX_POINTS)``.

    >>> default_n_points(16_384), default_n_points(197_632), default_n_points(2_000_000)
    (401, 169, 41)
    """
    return int(np.clip(FILE_BUDGET // (8 * max(int(n_params), 1)), MIN_POINTS, MAX_POINTS))


def trajectory_arrays(t, theta, edge_index, **extra) -> dict:
    """The members of a format-2 trajectory file (for :func:`geodln.io.files.npz_bytes`).

    Parameters
    ----------
    t : ndarray, shape=[T]
    theta : ndarray, shape=[T, D]
        Packed weights at the times ``t``.
    edge_index : (ndarray, ndarray) of int, each shape=[D]
        Source and target node of each weight (:attr:`geodln.Topology.edge_index`).
    **extra : ndarray
        Further members (``loss``, ``layer``, ``nodes``, ``singular_values``, ...);
        ``layer`` (shape ``[n]``) is needed to read the file's ``A``: it gives ``n``.
    """
    theta = np.asarray(theta, dtype=float)
    source, target = (np.asarray(e, dtype=np.int64) for e in edge_index)
    if theta.ndim != 2 or source.shape != (theta.shape[1],) or target.shape != source.shape:
        raise ValueError(f"theta of shape {theta.shape} does not match an edge index of {source.size} weights")
    if "layer" not in extra:
        raise ValueError("a trajectory file needs the nodes' 'layer' (its length is the number of nodes n)")
    for name in ("A", "mask", "theta", "source", "target", "format_version"):
        if name in extra:
            raise ValueError(f"{name!r} is written by trajectory_arrays itself (or computed on read)")
    return {"format_version": np.array(TRAJECTORY_FORMAT), "t": np.asarray(t, dtype=float), "theta": theta,
            "source": source, "target": target, **extra}


def _packing_order(mask, layer):
    """``(source, target)`` of the nonzero entries of ``mask`` in geodln's packing order (format 1 files)."""
    rows, cols = np.nonzero(mask)
    order = np.lexsort((cols, rows, layer[cols], layer[rows]))  # last key first: level pair, then row-major
    return rows[order], cols[order]


class TrajectoryFile:
    """The arrays of a trajectory file, in either format, with ``A`` and ``mask`` computed on read.

    Attributes
    ----------
    format_version : int
        1 (dense ``A`` stored) or 2 (packed).
    t : ndarray, shape=[T]
    theta : ndarray, shape=[T, D]
    source, target : ndarray of int, shape=[D]
        The edge of each weight.
    n : int
        Number of nodes.

    Items: ``f[name]`` for every member of the file, and ``f["A"]``,
    ``f["mask"]``, ``f["theta"]`` in both formats (``with read_trajectory(p) as f:``
    works as with ``numpy.load``).
    """

    def __init__(self, arrays: dict):
        self._arrays = dict(arrays)
        self.format_version = int(self._arrays.pop("format_version", 1))
        if self.format_version > TRAJECTORY_FORMAT:
            raise ValueError(f"trajectory file format {self.format_version} is newer than this geodln reads "
                             f"({TRAJECTORY_FORMAT}): upgrade geodln")
        if self.format_version == 1:
            A, mask = self._arrays["A"], self._arrays["mask"]
            self.source, self.target = _packing_order(mask, self._arrays["layer"])
            if "theta" not in self._arrays:  # the oldest files: the weights only as A
                self._arrays["theta"] = A[:, self.source, self.target]
            self.n = A.shape[1]
        else:
            self.source, self.target = self._arrays.pop("source"), self._arrays.pop("target")
            self.n = int(self._arrays["layer"].shape[0])
        self.t, self.theta = self._arrays["t"], self._arrays["theta"]

    def __enter__(self) -> "TrajectoryFile":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def keys(self) -> list:
        """The names ``f[name]`` answers: the file's members and the computed ``A``, ``mask``."""
        return sorted(set(self._arrays) | {"A", "mask", "source", "target"})

    def __contains__(self, name) -> bool:
        return name in self.keys()

    def __getitem__(self, name):
        if name == "A":
            return self.adjacency()
        if name == "mask":
            return self.mask
        if name in ("source", "target"):
            return getattr(self, name)
        return self._arrays[name]

    @property
    def mask(self) -> np.ndarray:
        """The 0/1 edge mask, shape=[n, n]."""
        mask = np.zeros((self.n, self.n))
        mask[self.source, self.target] = 1.0
        return mask

    def adjacency(self, k: int | None = None) -> np.ndarray:
        """``A(t_k)``, shape=[n, n], or all of them, shape=[T, n, n] (built from ``theta`` on each call)."""
        if k is not None:
            A = np.zeros((self.n, self.n))
            A[self.source, self.target] = self.theta[k]
            return A
        A = np.zeros((len(self.t), self.n, self.n))
        A[:, self.source, self.target] = self.theta
        return A


def read_trajectory(path) -> TrajectoryFile:
    """A trajectory file (``trajectory.npz`` of ``geodln flow``), of either format.

    Raises
    ------
    ValueError
        For a file of a newer format, or one that is not a trajectory file (the missing member is named).
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    needed = ("t", "layer") + (("theta", "source", "target") if "format_version" in arrays else ("A", "mask"))
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise ValueError(f"{path} is not a geodln trajectory file: no {', '.join(missing)}")
    return TrajectoryFile(arrays)
