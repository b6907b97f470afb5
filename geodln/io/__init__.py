"""Plumbing: files that never lose anything, a user's graphs and weights, progress, where work runs.

- :mod:`.files`: atomic writes, folder swaps that keep a user's files, locks, provenance;
- :mod:`.graphs`: networks from GraphML/GML/GEXF/JSON; :mod:`.weights`: weights from ``.npz``/``.safetensors``;
- :mod:`.progress`: progress on a terminal, one closing line in a log;
- :mod:`.parallel`: the one execution policy, serial or Dask (``run(calls, finish, client, workers)``).
"""
