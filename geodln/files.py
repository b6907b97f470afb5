"""Atomic output files and provenance.

Every file is written under a temporary name in its target folder and then
renamed over the target (``os.replace`` is atomic on POSIX), so an interrupted
run never leaves a half-written file behind. Every output records the
provenance that made it.
"""

from __future__ import annotations

import json
from importlib import metadata
import os
import platform
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

__all__ = ["atomic_path", "write_json", "write_npz", "provenance", "json_default"]


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    ``suffix`` keeps an extension that writers insist on (``.npz``, ``.png``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON (numpy scalars and arrays converted) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=json_default) + "\n")


def write_npz(path, **arrays) -> None:
    """Write arrays to a compressed ``.npz`` file atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def provenance(argv=None, **parameters) -> dict:
    """What made an output: versions, command line, parameters, time (UTC)."""
    versions = {f"{pkg}_version": _version(pkg) for pkg in ("geodln", "numpy", "scipy", "networkx", "geomstats")}
    return versions | {
        "python_version": platform.python_version(),
        "command": " ".join(sys.argv if argv is None else ["geodln", *argv]),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": parameters,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def json_default(obj):
    """``json.dumps(default=...)`` hook: numpy arrays and scalars, paths."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
