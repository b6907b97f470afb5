"""How much of the exact catalog the numerical search finds, per budget of starts.

On fully connected layered networks the strata are known (:func:`geodln.build_catalog`); the numerical
search (:func:`geodln.find_critical_points`) is run with growing budgets of plateau and random starts
(and, separately, from the strata restricted to the mask) and compared with it: the fraction of the
exact strata reached (by label), and whether every critical value and every class was recovered. Each
budget of plateau and random starts runs without and with :data:`RESTARTS` rounds of deflation by restart
(starts that land on a known orbit kicked off it and refined again), with the entries found and the
starts made (restarts included), to say what deflation buys per start.

Run: ``python tests/benchmarks/search_completeness.py`` (a few minutes).
"""

from __future__ import annotations

import time

import geodln

ARCHITECTURES = {(2, 2, 2): [3.0, 1.0], (3, 2, 3): [3.0, 2.0, 1.0], (2, 2, 2, 2): [3.0, 1.0], (3, 3, 3): [3.0, 2.0, 1.0]}
BUDGETS = ({"plateau": 2, "random": 4}, {"plateau": 4, "random": 16}, {"plateau": 8, "random": 64},
           {"strata": None})
RESTARTS = 2


def value_classes(records, ndigits: int = 8) -> set:
    """``{(critical value rounded, kind)}`` of a catalog's records."""
    return {(round(r["critical_value"], ndigits), r["kind"]) for r in records}


def completeness(widths, spectrum, starts, seed: int = 0, topology=None, restarts: int = 0) -> dict:
    """The numerical search against the exact catalog of ``widths``.

    Returns
    -------
    dict
        ``strata`` (exact count), ``reached`` (exact strata whose label the search found),
        ``fraction``, ``values_and_classes`` (whether every (value, class) of the exact catalog was
        found), ``extra`` (numerical (value, class) pairs the exact catalog lacks), ``entries`` (records
        found), ``starts_made`` (restarts included), ``seconds``.
    """
    exact = geodln.build_catalog(list(widths), spectrum, seed=seed)
    top = geodln.layered(widths) if topology is None else topology
    data = geodln.Data.from_spectrum(spectrum, widths[0], widths[-1], seed=seed)
    start = time.monotonic()
    found = geodln.find_critical_points(top, data, starts=starts, seed=seed, restarts=restarts)
    seconds = time.monotonic() - start
    labels = {r["stratum"] for r in found.records}
    reached = sum(r["stratum"] in labels for r in exact.records)
    want, got = value_classes(exact.records), value_classes(found.records)
    return {"strata": len(exact), "reached": reached, "fraction": reached / len(exact),
            "values_and_classes": want <= got, "extra": sorted(got - want), "entries": len(found),
            "starts_made": sum(found.manifest["starts"].values()), "seconds": seconds}


def main() -> None:
    for widths, spectrum in ARCHITECTURES.items():
        for starts in BUDGETS:
            for restarts in (0,) if "strata" in starts else (0, RESTARTS):
                res = completeness(widths, spectrum, starts, restarts=restarts)
                print(f"{','.join(map(str, widths)):8} {str(starts):34} restarts {restarts}  "
                      f"strata {res['reached']:3}/{res['strata']:<3} ({res['fraction']:4.0%})  "
                      f"all values and classes: {str(res['values_and_classes']):5}  extra: {len(res['extra'])}  "
                      f"entries {res['entries']:3} from {res['starts_made']:4} starts  {res['seconds']:.1f} s")


if __name__ == "__main__":
    main()
