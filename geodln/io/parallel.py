"""Where independent computations run: in this process, or on Dask (a given, an active or a local cluster).

:func:`run` is the one execution policy, shared by the sweep engine (one call
per grid point) and catalog verification (one call per saddle, sent to Dask
in batches). Results come back as they complete; callers that need an order
impose it themselves, so the outcome does not depend on the engine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import contextmanager

__all__ = ["run", "LazyCalls", "check_workers", "has_client", "on_dask", "scheduler_client"]


def run(calls: Mapping, finish, client=None, workers: int | None = None, *, cluster_by_default: bool = True,
        batch: int = 1) -> None:
    """Run every call, in this process or on Dask, and hand each result to ``finish`` as it arrives.

    The policy: on Dask when ``client`` is given, when ``workers > 1``, or
    when ``workers`` is None and a Dask client is active; in this process
    when ``workers == 1``; with ``workers`` None and no active client, on a
    local cluster of one process per core if ``cluster_by_default`` and the
    machine has more than one core, else in this process.

    Parameters
    ----------
    calls : mapping
        ``{key: (function, *args)}``; on Dask, functions and arguments must
        pickle. In this process the calls are read one at a time, in the
        mapping's order (a :class:`LazyCalls` mapping builds each when it is run).
    finish : callable
        ``finish(key, result)``, called in this process.
    client : distributed.Client, optional
    workers : int, optional
        See the policy above, and :func:`on_dask` for the local cluster.
    cluster_by_default : bool
        What ``workers=None`` means without an active client: a local
        cluster (a sweep: minutes per call) or this process (a catalog's
        saddles: milliseconds each, where starting a cluster costs more).
    batch : int
        On Dask, this many calls per task (a task costs messages; calls of
        milliseconds are worth sending together). ``finish`` still gets one
        result per key.

    Examples
    --------
    >>> out = {}
    >>> run({k: (pow, k, 2) for k in range(3)}, out.__setitem__, workers=1)
    >>> out
    {0: 0, 1: 1, 2: 4}
    """
    check_workers(workers)
    active = workers is None and "distributed" in sys.modules and has_client()  # a client only exists once imported
    serial = client is None and not active and (
        workers == 1 or (workers is None and (not cluster_by_default or (os.cpu_count() or 1) == 1)))
    if serial:
        for key in calls:
            function, *args = calls[key]
            finish(key, function(*args))
        return
    if batch == 1:
        on_dask(dict(calls.items()), finish, client, workers)
        return
    keys = list(calls)
    batches = {tuple(keys[k:k + batch]): (_run_batch, [calls[key] for key in keys[k:k + batch]])
               for k in range(0, len(keys), batch)}
    on_dask(batches, lambda group, results: [finish(key, r) for key, r in zip(group, results)], client, workers)


def _run_batch(calls: list) -> list:
    """The results of several calls ``(function, *args)``: one Dask task."""
    return [function(*args) for function, *args in calls]


class LazyCalls(Mapping):
    """``{key: make(key)}`` for ``key`` in ``keys``, each call built when it is read.

    For :func:`run` in this process: the arguments of one call (e.g. one
    saddle's point and records read from disk) are in memory only while it runs.

    Examples
    --------
    >>> calls = LazyCalls([2, 3], lambda k: (pow, k, 2))
    >>> list(calls), calls[3]
    ([2, 3], (<built-in function pow>, 3, 2))
    """

    def __init__(self, keys, make):
        self._keys, self._make = list(keys), make

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        return self._make(key)

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def check_workers(workers) -> None:
    """Refuse a worker count that is not a positive integer (None means: the caller's default)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")


def has_client() -> bool:
    """Whether a Dask client is active in this process (imports ``distributed``)."""
    from distributed import default_client

    try:
        default_client()
    except ValueError:
        return False
    return True


def on_dask(calls: dict, finish, client=None, workers: int | None = None) -> None:
    """Run every call on Dask and hand each result to ``finish`` as it arrives.

    Parameters
    ----------
    calls : dict
        ``{key: (function, *args)}``; functions and arguments must pickle.
    finish : callable
        ``finish(key, result)``, called in this process in order of completion.
    client : distributed.Client, optional
        Default: the active client, else a ``LocalCluster`` of ``workers``
        one-thread processes (default: one per core), closed afterwards.
    workers : int, optional

    Notes
    -----
    On any exception (including KeyboardInterrupt in ``finish``) the calls
    not yet done are cancelled before it propagates.
    """
    from distributed import Client, LocalCluster, as_completed, default_client

    cluster = None
    if client is None:
        try:
            client = default_client()
        except ValueError:
            cluster = LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
    try:
        futures = {client.submit(function, *args, pure=False): key for key, (function, *args) in calls.items()}
        try:
            for future in as_completed(futures):
                finish(futures[future], future.result())
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        if cluster is not None:
            client.close()
            cluster.close()


@contextmanager
def scheduler_client(address: str | None):
    """A client of the running Dask scheduler at ``address`` for the ``with`` block (None without an address).

    Gives up after Dask's connect timeout (``distributed.comm.timeouts.connect``,
    30 s unless configured) with a ValueError that names the address.
    """
    if address is None:
        yield None
        return
    from distributed import Client

    try:
        client = Client(address)
    except (OSError, TimeoutError) as err:
        raise ValueError(f"could not reach a Dask scheduler at {address}: {err}") from None
    try:
        yield client
    finally:
        client.close()
