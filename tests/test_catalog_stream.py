"""Catalogs at scale: a cap never walks the strata it leaves out (their number comes from the count),
and a large run reports its progress from the start."""

import os
import subprocess
import sys
import time

import pytest

from geodln.catalog import build_catalog
from geodln.cli import main
from geodln.counting import count_strata
from geodln.strata import enumerate_strata


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
    """10,10,10,10 with 10 modes (5,367,676 strata), --max-per-set 1: the bar shows the 1024 strata to
    analyse and the total within seconds (the run is then stopped)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    spectrum = ",".join(str(10 - k) for k in range(10))
    proc = subprocess.Popen([sys.executable, "-m", "geodln.cli", "catalog", "--widths", "10,10,10,10", "--spectrum",
                             spectrum, "--max-per-set", "1", "--no-saddles", "--out", str(tmp_path / "big")],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    try:
        os.set_blocking(proc.stderr.fileno(), False)
        seen, deadline = b"", time.monotonic() + 60
        while b"strata in all" not in seen and time.monotonic() < deadline and proc.poll() is None:
            seen += proc.stderr.read() or b""
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    text = seen.decode()
    assert "/1024" in text and "5,367,676 strata in all, at most 1 per learnt set" in text, text
