"""Catalogs at scale: a cap never walks the strata it leaves out (their number comes from the count),
a large run reports its progress from the start, and its arrays wait on disk, not in memory."""

import os
import pty
import subprocess
import sys
import time

import tracemalloc

import numpy as np
import pytest

from geodln.catalog.store import POINTS, Catalog, build_catalog
from geodln.io.files import JsonlSpill, NpzSpill, npz_bytes
from geodln.catalog.verify import fill_saddles
from geodln.cli.main import main
from geodln.landscape.counting import count_strata
from geodln.landscape.strata import enumerate_strata


@pytest.mark.parametrize("widths, m", [([3, 3, 3, 3], 3), ([2, 3, 2, 3], 2), ([3, 2, 3], 2), ([2, 2, 2, 2, 2], 2),
                                       ([4, 2, 4], 3)])
@pytest.mark.parametrize("cap", [1, 3, 7])
def test_a_cap_keeps_the_same_strata_without_walking_the_rest(widths, m, cap):
    """The strata kept by the short walk are those of the full walk, and kept + left out = the count."""
    full = list(enumerate_strata(widths, m, cap))
    short = list(enumerate_strata(widths, m, cap, count_left_out=False))
    counts = count_strata(widths, m).by_learned
    assert [J for J, _, _ in short] == [J for J, _, _ in full] == list(counts)
    for (J, kept, left), (_, quick, none) in zip(full, short):
        assert quick == kept and none is None
        assert len(kept) + left == counts[J]


def test_capped_catalog_reports_what_it_left_out(capsys, tmp_path):
    cat = build_catalog([3, 3, 3, 3], [3.0, 2.0, 1.0], max_per_set=2)
    counts = count_strata([3, 3, 3, 3], 3)
    assert cat.manifest["n_left_out"] == counts.total - len(cat) == sum(cat.manifest["left_out"].values()) > 0
    assert all(counts.by_learned[tuple(map(int, J.split())) if J != "-" else ()] - 2 == n
               for J, n in cat.manifest["left_out"].items())
    assert main(["catalog", "--widths", "3,3,3,3", "--spectrum", "3,2,1", "--max-per-set", "2", "--no-saddles",
                 "--quiet", "--out", str(tmp_path / "c")]) == 0
    assert f"{cat.manifest['n_left_out']} more strata left out by --max-per-set 2" in capsys.readouterr().out


def test_a_huge_capped_catalog_shows_progress_at_once(tmp_path):
    """10,10,10,10 with 10 modes (5,367,676 strata), --max-per-set 1: the bar, drawn on a real terminal
    (a pseudo-terminal: off a terminal geodln draws no bar), shows the 1024 strata to analyse and the total
    within seconds (the run is then stopped)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    spectrum = ",".join(str(10 - k) for k in range(10))
    main_end, child_end = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "geodln.cli", "catalog", "--widths", "10,10,10,10", "--spectrum",
                             spectrum, "--max-per-set", "1", "--no-saddles", "--out", str(tmp_path / "big")],
                            stderr=child_end, stdout=subprocess.DEVNULL, env=env)
    os.close(child_end)
    try:
        os.set_blocking(main_end, False)
        seen, deadline = b"", time.monotonic() + 60
        while not (b"strata in all" in seen and b"/1024" in seen) and time.monotonic() < deadline:
            try:
                seen += os.read(main_end, 65536)
            except (BlockingIOError, OSError):  # nothing yet, or the child closed its end
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
        os.close(main_end)
    text = seen.decode(errors="replace")
    assert "/1024" in text and "5,367,676 strata in all, at most 1 per learnt set" in text, text


def test_a_spill_holds_one_array_at_a_time_and_writes_the_bytes_of_npz_bytes(tmp_path):
    """48 arrays of 4 MB (192 MB in all) pass through a spill with a peak of a few arrays; the file has
    exactly the bytes of :func:`npz_bytes` of the same arrays (no time stamps inside)."""
    spill = NpzSpill(tmp_path / "big.npz")
    tracemalloc.start()
    for k in range(48):
        spill[f"a{k}"] = np.full((512, 1024), float(k))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * 4 * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert len(spill) == 48 and spill["a47"][3, 5] == 47.0
    with pytest.raises(ValueError, match="takes no more arrays"):
        spill["late"] = np.zeros(2)
    small = {f"x{k}": np.random.default_rng(k).standard_normal((k + 1, 3)) for k in range(5)}
    other = NpzSpill(tmp_path / "small.npz")
    other.update(small)
    assert other.finish().read_bytes() == npz_bytes(small) == npz_bytes(dict(small))
    assert all(np.array_equal(np.load(other.path)[k], v) for k, v in small.items())


@pytest.mark.parametrize("widths, spectrum", [([2, 2, 2, 2], [3.0, 1.0]), ([3, 2, 3], [3.0, 2.0, 1.0])])
def test_a_spilled_catalog_is_the_in_memory_catalog(tmp_path, widths, spectrum):
    """With a spill folder the arrays of build_catalog and fill_saddles wait on disk (and a saddle's
    directions leave memory once checkpointed); the catalog written is the same, file for file, byte
    for byte (the manifest up to its time stamps)."""
    memory = fill_saddles(build_catalog(widths, spectrum))
    spill = tmp_path / "spill"
    disk = build_catalog(widths, spectrum, spill=spill)
    assert isinstance(disk.arrays[POINTS], NpzSpill) and isinstance(disk.records, JsonlSpill)
    assert not spill.joinpath("directions.npz").exists()
    fill_saddles(disk, checkpoint=tmp_path / "checkpoint", spill=spill)
    memory.write(tmp_path / "a")
    disk.write(tmp_path / "b")
    assert disk.arrays == {}  # read from the catalog's folder from now on
    for name in memory.manifest["checksums"]:
        if name != "manifest.json":
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert np.array_equal(disk.point("cp00001"), Catalog.load(tmp_path / "a").point("cp00001"))


def test_a_spill_folder_used_again_never_changes_a_catalog_written_from_it(tmp_path):
    """Spill files are hard-linked into the catalog; the next run into the same spill folder makes new
    files instead of truncating those, so the first catalog still matches its checksums."""
    spill = tmp_path / "spill"
    build_catalog([2, 2, 2], [2.0, 1.0], spill=spill).write(tmp_path / "first")
    fill_saddles(build_catalog([3, 2, 3], [3.0, 2.0, 1.0], spill=spill), spill=spill).write(tmp_path / "second")
    first, second = Catalog.load(tmp_path / "first"), Catalog.load(tmp_path / "second")
    assert (len(first), len(second)) == (4, 7) and first.point("cp00000").shape == (6, 6)
