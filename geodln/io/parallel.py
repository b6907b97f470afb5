"""Where independent computations run: in this process, or on Dask (a given, an active or a local cluster).

Shared by the sweep engine (one call per grid point) and catalog verification
(one call per saddle). Results come back as they complete; callers that need
an order impose it themselves, so the outcome does not depend on the engine.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

__all__ = ["check_workers", "has_client", "on_dask", "scheduler_client"]


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
