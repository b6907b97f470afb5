"""The fast certificate of stable and unstable directions (saddles.certify_directions): it accepts
every true claim the full integration accepts, and it rejects wrong ones (a flipped claim, a wrong
eigenvalue, a vector that is not an eigenvector, a wrong escape order, a reversed path ray)."""

from dataclasses import replace

import numpy as np
import pytest

import geodln
from geodln.catalog.store import Catalog
from geodln.landscape.critical import analyze_stratum
from geodln.landscape.saddles import certify_directions, local_manifolds, verify_direction
from geodln.landscape.strata import Stratum, enumerate_strata


def _saddles(widths, spectrum, seed=3):
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=seed)
    flow = geodln.GradientFlow(geodln.layered(widths), data)
    for _, strata, _ in enumerate_strata(widths, len(spectrum)):
        for stratum in strata:
            cp = analyze_stratum(stratum, data, seed=seed)
            if cp.kind != "global_minimum":
                yield flow, cp, local_manifolds(flow, cp.theta, stratum, cp.similarity)


@pytest.mark.parametrize("widths, spectrum", [([2, 2, 2, 2], [3.0, 1.0]), ([2, 3, 2], [2.0, 1.0]),
                                              ([1, 2, 2, 1], [1.5])])
def test_certificate_accepts_what_the_flow_confirms(widths, spectrum):
    """Every direction local_manifolds finds passes both the certificate and the full integration."""
    n = 0
    for flow, cp, lm in _saddles(widths, spectrum):
        claims = lm.unstable + lm.stable
        checks = certify_directions(flow, cp.theta, claims)
        assert len(checks) == len(claims)
        for d, check in zip(claims, checks):
            assert check.verified, (cp.stratum.label, d.order, check.evidence)
            if d.eigenvalue is not None:  # the measured rate is the eigenvalue
                assert check.evidence["rate"] == pytest.approx(d.eigenvalue, rel=0.05)
            else:
                assert check.evidence["measured_order"] == pytest.approx(d.order, abs=0.3)
        n += len(claims)
    assert n > 10


def test_certificate_rejects_wrong_hessian_claims():
    """At every strict saddle of 2,2,2,2: flipped claims, a doubled or halved eigenvalue, and a
    mixture of an unstable and a stable eigenvector (with its Rayleigh quotient as eigenvalue) fail."""
    n = 0
    for flow, cp, lm in _saddles([2, 2, 2, 2], [3.0, 1.0]):
        if cp.kind != "strict_saddle" or not lm.stable:
            continue
        up, down = lm.unstable[0], lm.stable[-1]
        mix = (2 * up.vector + down.vector) / np.sqrt(5)
        rayleigh = (4 * up.eigenvalue + down.eigenvalue) / 5
        wrong = [replace(up, unstable=False), replace(down, unstable=True),
                 replace(up, eigenvalue=2 * up.eigenvalue), replace(down, eigenvalue=0.5 * down.eigenvalue),
                 replace(up, vector=mix, eigenvalue=rayleigh, unstable=rayleigh < 0)]
        for d, check in zip(wrong, certify_directions(flow, cp.theta, wrong)):
            assert not check.verified, (cp.stratum.label, d)
        zero = replace(up, eigenvalue=0.0)  # no time scale: refused without integrating
        assert not certify_directions(flow, cp.theta, [zero])[0].verified
        n += 1
    assert n >= 3


def test_certificate_rejects_wrong_path_claims():
    """At the origin of the depth-3 scalar chain (order 3): a claimed order 4, the stable ray
    claimed unstable, and the unstable ray claimed stable all fail; the true claims pass."""
    top = geodln.layered([1, 1, 1, 1])
    flow = geodln.GradientFlow(top, geodln.Data(np.eye(1), np.array([[1.0]])))
    stratum = Stratum((1, 1, 1, 1), (), (), 1)
    cp = analyze_stratum(stratum, flow.data, seed=0)
    lm = local_manifolds(flow, cp.theta, stratum, cp.similarity)
    (up,), (down,) = lm.unstable, lm.stable
    right = certify_directions(flow, cp.theta, [up, down])
    assert all(c.verified for c in right)
    wrong = [replace(up, order=4), replace(down, unstable=True), replace(up, unstable=False)]
    assert not any(c.verified for c in certify_directions(flow, cp.theta, wrong))


def test_certificate_and_full_integration_agree_on_a_flipped_claim():
    """The old full check and the new certificate give the same verdicts on true and flipped claims."""
    flow, cp, lm = next((f, c, m) for f, c, m in _saddles([2, 2, 2, 2], [3.0, 1.0]) if c.kind == "strict_saddle")
    claims = lm.unstable[:2] + lm.stable[:2]
    claims = claims + [replace(d, unstable=not d.unstable) for d in claims]
    fast = [c.verified for c in certify_directions(flow, cp.theta, claims)]
    full = [verify_direction(flow, cp.theta, d).verified for d in claims]
    assert fast == full == [True] * (len(claims) // 2) + [False] * (len(claims) // 2)


def test_saddles_on_an_already_verified_catalog_writes_nothing(tmp_path):
    """The README's promise: rerunning with the same options finds the result and does nothing (the
    shipped catalog was verified by this version); --force verifies again, every direction still verified."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "catalogs" / "w2-2-2_s2-1"
    shutil.copytree(shipped, tmp_path / "cat")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "cat").rglob("*") if p.is_file()}
    proc = subprocess.run([sys.executable, "-m", "geodln.cli", "saddles", "--catalog", "cat"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "nothing written" in proc.stdout
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "cat").rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat"]  # no checkpoint, no lock, no temporaries
    proc = subprocess.run([sys.executable, "-m", "geodln.cli", "saddles", "--catalog", "cat", "--force", "--quiet"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "wrote" in proc.stdout
    refilled = Catalog.load(tmp_path / "cat")
    assert refilled.manifest["saddles"]["n_verified"] == refilled.manifest["saddles"]["n_directions"] > 0
