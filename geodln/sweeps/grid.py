"""The points of a sweep: a grid of parameter values times a list of seeds.

A grid ``{"widths": ["4,4,4,4"], "scale": [1e-4, 1e-3]}`` with seeds ``0:4``
has ``1 x 2 x 4`` points, enumerated in C order over (grid keys in their given
order, then seed): the point with flat index ``k`` is the same in every run,
so serial, local and remote runs compute identical datasets. Each point's
``params`` is its grid values merged with the fixed settings and two sizes the
engine adds: ``max_modes`` (the length of per-mode arrays) and ``max_visits``
(the length of per-visit arrays).
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "parse_seeds", "make_grid"]

RESERVED = ("seed", "visit", "mode", "max_modes", "max_visits")  # dimension names and the sizes the engine adds
DEFAULT_MAX_VISITS = 12


@dataclass(frozen=True)
class Grid:
    """The points of one sweep.

    Attributes
    ----------
    axes : dict
        ``{name: tuple of values}``, in the order of the dataset's dimensions
        (plain Python ``float``/``int``/``bool``/``str`` values).
    seeds : tuple of int
        The seeds, the last dimension.
    settings : dict
        Fixed parameters passed to every point (JSON-compatible).
    max_modes, max_visits : int
        Lengths of the ``mode`` and ``visit`` axes.
    """

    axes: dict
    seeds: tuple
    settings: dict
    max_modes: int
    max_visits: int

    @property
    def shape(self) -> tuple:
        """``(len(axis) for each grid key) + (len(seeds),)``."""
        return tuple(len(v) for v in self.axes.values()) + (len(self.seeds),)

    @property
    def size(self) -> int:
        """The number of points (runs)."""
        return int(np.prod(self.shape))

    def point(self, index: int) -> tuple[dict, int]:
        """``(params, seed)`` of the point with flat (C-order) ``index``."""
        where = np.unravel_index(index, self.shape)
        values = {name: axis[i] for (name, axis), i in zip(self.axes.items(), where)}
        return values | self.settings | {"max_modes": self.max_modes, "max_visits": self.max_visits}, self.seeds[where[-1]]

    def points(self):
        """Iterate over ``(index, params, seed)`` in flat order."""
        for index in range(self.size):
            yield (index, *self.point(index))

    def description(self) -> dict:
        """What identifies this sweep's points: grid, seeds, settings (compared on resume)."""
        return {"grid": json.dumps(self.axes), "settings": json.dumps(self.settings), "seeds": json.dumps(list(self.seeds))}


def parse_seeds(seeds) -> tuple[int, ...]:
    """Seeds from ``"a:b"`` (``range(a, b)``), ``"0,3,7"``, an int ``n`` (``0..n-1``) or an iterable of ints.

    Examples
    --------
    >>> parse_seeds("0:4"), parse_seeds("0,3,7"), parse_seeds(2)
    ((0, 1, 2, 3), (0, 3, 7), (0, 1))
    """
    if isinstance(seeds, str):
        text = seeds.strip()
        try:
            if ":" in text:
                start, stop = (int(x) for x in text.split(":"))
                values = tuple(range(start, stop))
            else:
                values = tuple(int(x) for x in text.split(","))
        except ValueError:
            raise ValueError(f"seeds {seeds!r}: expected 'a:b' (a range) or comma-separated integers like '0,3,7'") from None
    elif isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        values = tuple(range(int(seeds)))
    else:
        try:
            items = list(seeds)
        except TypeError:
            raise TypeError(f"seeds must be 'a:b', '0,3,7', an int or a list of ints, not {type(seeds).__name__}") from None
        values = tuple(_integer(s) for s in items)
    if not values:
        raise ValueError(f"seeds {seeds!r} name no seed: a sweep needs at least one")
    if min(values) < 0:
        raise ValueError(f"seeds must be non-negative (numpy seeds), got {min(values)}")
    if len(set(values)) != len(values):
        raise ValueError(f"seeds {seeds!r} repeat a seed: each seed is one coordinate")
    return values


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed {value!r} is not an integer")
    return int(value)


def _plain(name: str, value):
    """A grid or settings value as a plain Python scalar (so it can be a coordinate and JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"grid value {value!r} of {name!r} is a {type(value).__name__}; grid values are numbers or "
                    "strings (widths and spectra as comma-separated strings like '4,4,4,4')")


def parse_numbers(text, kind, name: str) -> list:
    """``"4,3,2,1"`` (or a sequence) as a list of ``kind``: the one reader of widths, spectra and scales.

    Raises
    ------
    ValueError
        Naming ``name`` and the text, if a part is not a ``kind``.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        return [kind(p) for p in parts]
    except (TypeError, ValueError):
        raise ValueError(f"{name} {text!r}: expected comma-separated numbers like '4,3,2,1'") from None


def make_grid(grid, seeds, settings=None) -> Grid:
    """Check and expand a grid, seeds and settings into a :class:`Grid`.

    Parameters
    ----------
    grid : mapping
        ``{name: list of values}``; a single value (a number or a string)
        stands for a list of one.
    seeds : str, int or iterable of int
        See :func:`parse_seeds`.
    settings : mapping, optional
        Fixed parameters of every point, e.g. ``{"t_end": 2000.0}``;
        ``max_visits`` (default 12) sets the length of per-visit arrays.

    Raises
    ------
    ValueError, TypeError
        Empty axes, repeated values, reserved names, a key both in the grid
        and in the settings, values that are not numbers or strings.
    """
    if not hasattr(grid, "items"):
        raise TypeError(f"grid must be a mapping {{name: list of values}}, not {type(grid).__name__}")
    settings = dict(settings or {})
    axes = {}
    for name, values in grid.items():
        if not isinstance(name, str) or name in RESERVED:
            raise ValueError(f"grid key {name!r} is not allowed: keys are strings other than {', '.join(RESERVED)}")
        values = [values] if isinstance(values, str | numbers.Number) else list(values)
        values = tuple(_plain(name, v) for v in values)
        if not values:
            raise ValueError(f"grid key {name!r} has no values")
        if len(set(values)) != len(values):
            raise ValueError(f"grid key {name!r} repeats a value: {list(values)}")
        if len({str if isinstance(v, str) else bool if isinstance(v, bool) else float for v in values}) > 1:
            raise TypeError(f"grid key {name!r} mixes strings, booleans and numbers: {list(values)}; "
                            "one coordinate holds one kind of value")
        axes[name] = values
    clash = sorted(set(axes) & set(settings))
    if clash:
        raise ValueError(f"{clash[0]!r} is both a grid key and a setting: give it in one place")
    reserved = sorted(set(settings) & (set(RESERVED) - {"max_visits"}))
    if reserved:
        raise ValueError(f"setting {reserved[0]!r} is reserved: the engine sets it")
    settings = {name: _plain(name, v) for name, v in settings.items()}
    max_visits = settings.get("max_visits", DEFAULT_MAX_VISITS)
    if isinstance(max_visits, bool) or not isinstance(max_visits, int) or max_visits < 1:
        raise ValueError(f"max_visits must be a positive integer, got {max_visits!r}")
    return Grid(axes, parse_seeds(seeds), settings, _max_modes(axes, settings), max_visits)


def _max_modes(axes: dict, settings: dict) -> int:
    """The most singular values of any spectrum (else the most min(d_0, d_h) of any widths; else 0)."""
    for key, count in (("spectrum", lambda s: len(s)), ("widths", lambda w: int(min(w[0], w[-1])))):
        values = axes.get(key, (settings[key],) if key in settings else ())
        if values:
            return max(count(parse_numbers(v, float, key)) for v in values)
    return 0
