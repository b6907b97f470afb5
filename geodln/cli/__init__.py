"""The ``geodln`` command: one module per sub-command, dispatched by :mod:`geodln.cli.main`.

``flow`` (integrate the gradient flow), ``catalog`` (enumerate and classify the
critical points), ``saddles`` (verify a catalog's saddle directions),
``figures`` (the gallery), ``laws`` (count conservation laws), ``classify``
(what critical point a user's weights are at) and ``sweep`` (a study over a
grid, on Dask); :mod:`geodln.cli.options` holds what they share.
"""

from .main import main

__all__ = ["main"]
