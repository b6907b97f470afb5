"""An interrupted `geodln catalog` resumes its verification where it stopped and gives the same
catalog as an uninterrupted run (byte for byte except the timestamps); real subprocesses, real signals."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from geodln.catalog.store import Catalog

ARGS = ["catalog", "--widths", "3,3,3,3", "--spectrum", "3,2,1", "--seed", "1"]


def _geodln(args, cwd, **popen):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "geodln.cli", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **popen)


def _same_catalog(a, b):
    """Records, CSV and every array identical; the manifests differ only in their timestamps and commands."""
    A, B = Catalog.load(a), Catalog.load(b)
    assert (a / "critical_points.jsonl").read_bytes() == (b / "critical_points.jsonl").read_bytes()
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()
    for name in A.manifest["checksums"]:
        if name.endswith(".npz"):
            x, y = A._file(name), B._file(name)
            assert list(x) == list(y) and all(np.array_equal(x[k], y[k]) for k in x), name
            assert (a / name).read_bytes() == (b / name).read_bytes(), name  # archives carry no time stamps
    assert {k: v for k, v in A.manifest["checksums"].items() if k != "manifest.json"} == \
           {k: v for k, v in B.manifest["checksums"].items() if k != "manifest.json"}
    volatile = ("created_at", "command", "checksums", "saddles")
    assert {k: v for k, v in A.manifest.items() if k not in volatile} == \
           {k: v for k, v in B.manifest.items() if k not in volatile}
    assert {k: v for k, v in A.manifest["saddles"].items() if k not in volatile} == \
           {k: v for k, v in B.manifest["saddles"].items() if k not in volatile}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The catalog made in one uninterrupted run."""
    folder = tmp_path_factory.mktemp("whole")
    run = _geodln([*ARGS, "--out", folder / "whole", "--quiet"], folder)
    assert run.wait(timeout=600) == 0, run.stderr.read()
    return folder / "whole"


def test_killed_during_verification_resumes_to_the_same_catalog(tmp_path, whole, sig=signal.SIGKILL):
    out, checkpoint = tmp_path / "cut", tmp_path / ".cut.geodln-checkpoint"
    proc = _geodln([*ARGS, "--out", out, "--quiet"], tmp_path)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(checkpoint.glob("cp*.npz"))) < 10 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    saved = len(list(checkpoint.glob("cp*.npz")))
    assert saved >= 10 and not (out / "manifest.json").exists()  # stopped mid-verification, nothing written
    again = _geodln([*ARGS, "--out", out], tmp_path)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"{saved} saddles resumed" in err  # it took them from the checkpoint
    assert not checkpoint.exists()  # removed once the catalog is written
    _same_catalog(whole, out)


def test_geodln_saddles_resumes_from_its_checkpoint(tmp_path, whole):
    """`geodln saddles` stopped by SIGTERM mid-way, run again: the same catalog as `geodln catalog` in one go."""
    bare = _geodln([*ARGS, "--out", tmp_path / "c", "--quiet", "--no-saddles"], tmp_path)
    assert bare.wait(timeout=600) == 0
    checkpoint = tmp_path / ".c.geodln-checkpoint"
    proc = _geodln(["saddles", "--catalog", tmp_path / "c", "--quiet"], tmp_path)
    while len(list(checkpoint.glob("cp*.npz"))) < 5 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert "saddles" not in Catalog.load(tmp_path / "c").manifest  # the folder was left as it was
    again = _geodln(["saddles", "--catalog", tmp_path / "c"], tmp_path)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0 and "saddles resumed" in err, err
    _same_catalog(whole, tmp_path / "c")


def test_killed_parallel_verification_resumes_to_the_same_catalog(tmp_path, whole):
    """`geodln catalog --workers 2` killed with its whole process group (driver and Dask workers, as a
    batch system kills a job), run again serially: the same catalog as the uninterrupted serial run."""
    out, checkpoint = tmp_path / "cut", tmp_path / ".cut.geodln-checkpoint"
    proc = _geodln([*ARGS, "--out", out, "--quiet", "--workers", "2"], tmp_path, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(checkpoint.glob("cp*.npz"))) < 10 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    saved = len(list(checkpoint.glob("cp*.npz")))
    assert saved >= 10 and not (out / "manifest.json").exists()
    again = _geodln([*ARGS, "--out", out], tmp_path)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"{saved} saddles resumed" in err
    _same_catalog(whole, out)
