"""Learnt sets and itineraries as text: the one way geodln writes them for a reader.

A critical point's end-to-end map is ``W_J = sum_{k in J} s_k u_k v_k^T`` for
the set ``J`` of learnt modes, counted from 1 in decreasing order of ``s_k``;
it is written ``{1,2}`` (``{}`` for the origin's ``J``), and a flow's
itinerary, the sets it rests near one after another, ``{} -> {1} -> {1,2}``.
(Figures write the same sets as mathematical text, ``\\{1,2\\}``, in
:func:`geodln.plots.style.set_label`.)
"""

from __future__ import annotations

import numpy as np

__all__ = ["format_learned", "parse_learned", "format_itinerary", "itinerary_strings"]


def format_learned(J) -> str:
    """The learnt set ``J`` as text.

    Parameters
    ----------
    J : iterable of int
        The learnt modes, counted from 1.

    Returns
    -------
    str
        ``"{1,2}"``; ``"{}"`` for no mode.

    Examples
    --------
    >>> format_learned((1, 3)), format_learned([])
    ('{1,3}', '{}')
    """
    return "{" + ",".join(map(str, J)) + "}"


def parse_learned(text) -> tuple[int, ...] | None:
    """The learnt set written by :func:`format_learned` (or, in sweeps of geodln 0.1, ``"1,2"``); None for ``""``.

    ``""`` is the padding of a sweep's ``visit_learned`` past its last visit, never a learnt set.

    Examples
    --------
    >>> parse_learned("{1,2}"), parse_learned("{}"), parse_learned("")
    ((1, 2), (), None)
    """
    text = str(text).strip()
    if not text:
        return None
    return tuple(int(k) for k in text.strip("{}").split(",") if k.strip())


def format_itinerary(sets) -> str:
    """The learnt sets a flow visits, in time order, as one text.

    Examples
    --------
    >>> format_itinerary([(), (1,), (1, 2)])
    '{} -> {1} -> {1,2}'
    """
    return " -> ".join(map(format_learned, sets))


def itinerary_strings(ds) -> np.ndarray:
    """Each run's itinerary as text, e.g. ``"{} -> {1} -> {1,2}"`` (or its status when it did not finish).

    Parameters
    ----------
    ds : xarray.Dataset
        A table of visits, as a sweep of the ``"flow"`` or ``"descent"`` task
        stores them: ``status`` (``"ok"`` for a finished run), and over a last
        dimension ``visit`` the learnt sets ``visit_learned`` (``"{1,2}"``) and
        the classes ``visit_kind`` (``""`` past the last visit).

    Returns
    -------
    ndarray of str, shape = the shape of ``ds.status`` (grid dims, seed)
    """
    status = ds["status"].values
    learned = ds["visit_learned"].transpose(*ds["status"].dims, "visit").values
    kinds = ds["visit_kind"].transpose(*ds["status"].dims, "visit").values
    out = np.empty(status.shape, dtype=object)
    for idx in np.ndindex(status.shape):
        visited = [parse_learned(J) or () for J, kind in zip(learned[idx], kinds[idx]) if kind]
        out[idx] = format_itinerary(visited) if status[idx] == "ok" else str(status[idx])
    return out
