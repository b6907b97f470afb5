"""Catalog verification on Dask gives the catalog of a serial run: each saddle is one task, and the
results are gathered in the catalog's order whatever the order in which they complete."""

import numpy as np
import pytest

import geodln
from geodln.catalog.store import build_catalog
from geodln.catalog.verify import fill_saddles

from test_catalog_resume import _same_catalog


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def _real_data(seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 3)) @ rng.standard_normal((3, 30))
    return geodln.Data(X, rng.standard_normal((3, 3)) @ X + 0.1 * rng.standard_normal((3, 30)))


CASES = {
    "2,2,2,2": lambda: build_catalog([2, 2, 2, 2], [3.0, 1.0], seed=2),
    "3,2,2,3": lambda: build_catalog([3, 2, 2, 3], [3.0, 2.0, 1.0], seed=2),
    "3,2,3 real data": lambda: build_catalog([3, 2, 3], data=_real_data(), seed=2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_two_workers_give_the_serial_catalog(client, case, tmp_path):
    serial = fill_saddles(CASES[case]())
    parallel = fill_saddles(CASES[case](), client=client)
    assert serial.manifest["saddles"]["n_verified"] == serial.manifest["saddles"]["n_directions"] > 0
    serial.write(tmp_path / "serial")
    parallel.write(tmp_path / "parallel")
    _same_catalog(tmp_path / "serial", tmp_path / "parallel")


def test_bad_worker_counts_are_refused():
    catalog = build_catalog([2, 2, 2], [2.0, 1.0])
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            fill_saddles(catalog, workers=bad)
