"""A user's files are sacred: killed runs, user files beside outputs, no-clobber, locks, file modes.

Every test drives the real ``geodln`` command in a subprocess and interrupts it with real signals.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from geodln.catalog.store import Catalog

CATALOG = ["catalog", "--widths", "3,2,3", "--spectrum", "3,2,1", "--quiet"]
LONG_CATALOG = ["catalog", "--widths", "4,4,4,4", "--spectrum", "4,3,2,1", "--quiet"]  # runs for several seconds
FLOW = ["flow", "--widths", "3,4,4,3", "--t-end", "60", "--n-points", "50", "--quiet"]


def _geodln(args, cwd, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "geodln.cli", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _run(args, cwd):
    proc = _geodln(args, cwd)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _leftovers(folder):
    """Hidden temporaries and locks of geodln beside the outputs."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ("geodln-tmp" in p.name or p.name.endswith(".lock")))


def _killed_at(args, cwd, delay, sig=signal.SIGKILL):
    proc = _geodln(args, cwd)
    time.sleep(delay)
    proc.send_signal(sig)
    proc.communicate(timeout=300)
    return proc.returncode


def test_a_killed_catalog_run_leaves_the_previous_catalog_or_the_new_one(tmp_path):
    out = tmp_path / "cat"
    assert _run([*CATALOG, "--seed", "1", "--out", out], tmp_path)[0] == 0
    (out / "notebook.ipynb").write_text("my analysis")
    start = time.monotonic()
    assert _run([*CATALOG, "--seed", "2", "--out", tmp_path / "timing"], tmp_path)[0] == 0
    duration = time.monotonic() - start
    for fraction in (0.15, 0.4, 0.7, 0.9, 0.97, 1.02):
        _killed_at([*CATALOG, "--seed", "2", "--out", out, "--force"], tmp_path, fraction * duration)
        catalog = Catalog.load(out)  # complete and valid, whenever the kill came
        assert catalog.manifest["parameters"]["seed"] in (1, 2)
        assert (out / "notebook.ipynb").read_text() == "my analysis"
    assert _run([*CATALOG, "--seed", "2", "--out", out, "--force"], tmp_path)[0] == 0
    assert Catalog.load(out).manifest["parameters"]["seed"] == 2
    assert (out / "notebook.ipynb").read_text() == "my analysis"
    assert _leftovers(tmp_path) == []  # the next run cleaned up after the killed ones


def test_ctrl_c_is_a_message_not_a_traceback(tmp_path):
    # as from a terminal: a suite started in the background (`cmd &`) passes SIGINT on as ignored
    proc = _geodln([*LONG_CATALOG, "--out", tmp_path / "other"], tmp_path,
                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    scratch = tmp_path / ".other.geodln-checkpoint"  # made once the catalog is under way (imports done)
    deadline = time.monotonic() + 60
    while not scratch.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "other").exists()  # nothing half-written


def test_a_second_writer_is_told_about_the_lock(tmp_path):
    out = tmp_path / "cat"
    first = _geodln([*LONG_CATALOG, "--out", out], tmp_path)
    lock = tmp_path / ".cat.lock"
    for _ in range(200):
        if lock.exists():
            break
        time.sleep(0.05)
    code, _, err = _run([*CATALOG, "--out", out, "--force"], tmp_path)
    first.communicate(timeout=300)
    assert first.returncode == 0
    assert code == 2 and "being written by another geodln process" in err
    assert Catalog.load(out).manifest["parameters"]["widths"] == [4, 4, 4, 4]


def test_catalog_is_no_clobber_and_force_replaces_it_keeping_user_files(tmp_path):
    out = tmp_path / "cat"
    assert _run([*CATALOG, "--out", out], tmp_path)[0] == 0
    made = Catalog.load(out).manifest["created_at"]
    (out / "notes.txt").write_text("mine")
    code, printed, _ = _run([*CATALOG, "--out", out], tmp_path)  # the same again: nothing to do
    assert code == 0 and "already holds this catalog" in printed
    code, _, err = _run([*CATALOG, "--seed", "5", "--out", out], tmp_path)  # other parameters: refused
    assert code == 2 and "--force" in err
    assert Catalog.load(out).manifest["created_at"] == made
    assert _run([*CATALOG, "--seed", "5", "--out", out, "--force"], tmp_path)[0] == 0
    assert Catalog.load(out).manifest["parameters"]["seed"] == 5 and (out / "notes.txt").read_text() == "mine"


def test_a_folder_with_a_stray_manifest_is_not_taken_for_a_catalog(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"name": "my web app"}))
    (folder / "index.html").write_text("<html/>")
    code, _, err = _run([*CATALOG, "--out", folder, "--force"], tmp_path)
    assert code == 2 and "no geodln catalog" in err
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "manifest.json"]


def test_flow_is_one_unit_no_clobber_and_seeded_as_in_python(tmp_path):
    import geodln

    out = tmp_path / "run"
    assert _run([*FLOW, "--seed", "3", "--out", out], tmp_path)[0] == 0
    with np.load(out / "trajectory.npz") as f:
        theta = f["theta"]
    top = geodln.layered([3, 4, 4, 3])
    data = geodln.Data.from_spectrum([3.0, 2.0, 1.0], 3, 3, seed=3)
    np.testing.assert_array_equal(theta[0], geodln.init.small(top, scale=1e-2, seed=3))  # --seed S is seed=S
    assert _run([*FLOW, "--seed", "3", "--out", out], tmp_path)[0] == 0  # the same run: nothing to do
    code, _, err = _run([*FLOW, "--seed", "4", "--out", out], tmp_path)
    assert code == 2 and "--force" in err
    (out / "plot-notes.md").write_text("mine")
    start = time.monotonic()
    assert _run([*FLOW, "--seed", "4", "--out", tmp_path / "timing"], tmp_path)[0] == 0
    duration = time.monotonic() - start
    for fraction in (0.5, 0.9, 1.0):
        _killed_at([*FLOW, "--seed", "4", "--out", out, "--force"], tmp_path, fraction * duration)
        summary = json.loads((out / "summary.json").read_text())
        with np.load(out / "trajectory.npz") as f:  # the trajectory and the summary come from one run
            assert f["loss"][-1] == summary["final_loss"]
        assert summary["parameters"]["seed"] in (3, 4) and (out / "loss.png").stat().st_size > 0
        assert (out / "plot-notes.md").read_text() == "mine"
    assert data.s[0] == pytest.approx(3.0)


def test_outputs_honour_the_umask(tmp_path):
    out = tmp_path / "run"
    proc = _geodln([*FLOW, "--out", out], tmp_path, preexec_fn=lambda: os.umask(0o022))
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    for name in ("trajectory.npz", "summary.json", "loss.png"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    assert out.stat().st_mode & 0o777 == 0o755


def test_figures_never_replace_a_user_readme_nor_differing_figures_without_force(tmp_path):
    out = tmp_path / "figs"
    out.mkdir()
    (out / "README.md").write_text("# My thesis figures\n")
    code, _, err = _run(["figures", "--out", out, "--quiet"], tmp_path)
    assert code == 2 and "README.md was not written by geodln" in err
    assert (out / "README.md").read_text() == "# My thesis figures\n"
    assert _run(["figures", "--only", "phase-depth2", "--format", "png", "--out", out, "--quiet"], tmp_path)[0] == 0
    png = out / "04-phase-depth2.png"
    assert _run(["figures", "--only", "phase-depth2", "--format", "png", "--out", out, "--quiet"], tmp_path)[0] == 0
    png.write_bytes(b"edited by hand")
    code, _, err = _run(["figures", "--only", "phase-depth2", "--format", "png", "--out", out, "--quiet"], tmp_path)
    assert code == 2 and "--force" in err and png.read_bytes() == b"edited by hand"
    assert _run(["figures", "--only", "phase-depth2", "--format", "png", "--out", out, "--quiet", "--force"], tmp_path)[0] == 0
    assert png.read_bytes().startswith(b"\x89PNG")


WRITERS = {  # every command that writes, with cheap arguments; the output path comes last
    "flow": ["flow", "--widths", "2,2,2", "--spectrum", "2,1", "--t-end", "5", "--n-points", "5", "--quiet", "--out"],
    "catalog": ["catalog", "--widths", "2,2,2", "--spectrum", "2,1", "--quiet", "--out"],
    "figures": ["figures", "--only", "network", "--format", "png", "--quiet", "--out"],
    "sweep": ["sweep", "--widths", "2,2,2", "--spectrum", "2,1", "--scale", "1e-2", "--seeds", "0:1", "--t-end", "5",
              "--workers", "1", "--quiet", "--out"],
}


def _tree(folder):
    """Every path under ``folder`` with its bytes (None for folders and links' targets)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() and not p.is_symlink() else os.readlink(p)
                                         if p.is_symlink() else None) for p in folder.rglob("*")}


@pytest.mark.parametrize("command", sorted(WRITERS))
@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_a_users_file_at_out_is_refused_and_never_moved(tmp_path, command, kind):
    """--out naming a user's file (or a link to a folder) is refused; the file stays where it is, nothing is
    left beside it, and a second run (whose clean-up of killed runs' temporaries goes first) keeps it too."""
    name = "result.zarr" if command == "sweep" else "result"
    target = tmp_path / name
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "mine.txt").write_text("the user's")
    if kind == "file":
        target.write_text("a file of the user's\n")
    else:
        target.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    before = _tree(tmp_path)
    for _ in range(2):
        code, out, err = _run(WRITERS[command] + [name], tmp_path)
        if kind == "symlink" and command == "figures":  # figures write files into a folder, never swap it
            assert code == 0 and target.is_symlink() and (tmp_path / "elsewhere" / "01-network.png").exists()
            assert (tmp_path / "elsewhere" / "mine.txt").read_text() == "the user's"
            continue
        assert code == 2, (out, err)
        assert str(target) in err or name in err
        assert _tree(tmp_path) == before  # not moved, not renamed, nothing left beside it


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_users_folder_at_out_keeps_what_is_inside_and_beside_it(tmp_path, command):
    """--out naming a user's folder: the user's file and empty folder inside it, and a user's files beside it
    (one named like geodln's lock), survive two runs. flow and figures write beside the user's files; catalog
    and sweep refuse a folder that holds files but none of theirs (it is not a catalog or a store)."""
    name = "result.zarr" if command == "sweep" else "result"
    out = tmp_path / name
    (out / "empty").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (tmp_path / f"{name}.bak").write_text("beside")
    mine = {p: p.read_bytes() for p in (out / "notes.txt", tmp_path / f"{name}.bak")}
    for _ in range(2):
        code, _, err = _run(WRITERS[command] + [name], tmp_path)
        assert code == (2 if command in ("sweep", "catalog") else 0), err
        assert all(p.read_bytes() == content for p, content in mine.items()) and (out / "empty").is_dir()
        assert _leftovers(tmp_path) == [] and _leftovers(out) == []
    lock = tmp_path / f".{name}.lock"
    lock.write_text("a note of the user's, named like a lock\n")
    code, _, err = _run(WRITERS[command] + [name, "--force"] if command != "sweep" else WRITERS[command] + [name],
                        tmp_path)
    assert code == 2 and "not a lock of geodln's" in err
    assert lock.read_text() == "a note of the user's, named like a lock\n"
