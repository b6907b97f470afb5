"""The one style of every figure, the figure factory, and atomic saving.

:data:`STYLE` is the Okabe-Ito colour-blind-safe palette, a diverging map for
signed weights, a sequential one for speeds, fixed colours (and markers, so
grey print works) for the kinds of critical points and the signs of Hessian
eigenvalues, and sizes that fit a two-column journal page (7 in wide, 9 pt
text). Every plotting function is wrapped in :func:`styled`, which reads
:data:`STYLE` when the figure is built, so editing it restyles later figures.

The helpers :func:`styled`, :func:`new_figure`, :func:`set_label`,
:func:`unit_numbers` and :func:`node_name` serve
the other modules of :mod:`geodln.plots`; they are not part of its public API.
"""

from __future__ import annotations

import io

import functools

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..io.files import atomic_path

__all__ = ["STYLE", "figure_bytes", "save_figure"]

# One style for every figure: Okabe-Ito colour-blind-safe palette, sizes that
# fit a two-column journal page. Kinds of critical points and the signs of
# Hessian eigenvalues get fixed colours (and markers, so grey print works).
STYLE = {
    "colors": ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"],
    "width": 7.0,
    "height": 2.8,
    "fontsize": 9,
    "weights_cmap": "RdBu_r",  # diverging, colour-blind safe (ColorBrewer)
    "speed_cmap": "cividis",  # sequential, colour-blind safe
    "time_cmap": "viridis",  # sequential, colour-blind safe; no grey middle to blur into grey guides
    "kinds": {
        "global_minimum": {"color": "#009E73", "marker": "*", "label": "global minimum"},
        "strict_saddle": {"color": "#CC79A7", "marker": "o", "label": "strict saddle"},
        "nonstrict_saddle": {"color": "#0072B2", "marker": "D", "label": "nonstrict saddle"},
        # only with weight decay, whose landscape has local minima
        "local_minimum": {"color": "#E69F00", "marker": "s", "label": "local minimum"},
    },
    "inertia": {"negative": "#D55E00", "zero": "#BBBBBB", "positive": "#56B4E9"},
}


def _rc() -> dict:
    fs = STYLE["fontsize"]
    return {
        "font.size": fs, "axes.titlesize": fs, "axes.labelsize": fs, "legend.fontsize": fs - 1,
        "xtick.labelsize": fs - 1, "ytick.labelsize": fs - 1, "lines.linewidth": 1.4,
        "axes.prop_cycle": matplotlib.cycler(color=STYLE["colors"]), "legend.frameon": False,
        "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 150,
        "pdf.fonttype": 42,  # TrueType in PDFs, editable text for journals
    }


def styled(func):
    """Build the figure under :data:`STYLE` (read when called, so edits to STYLE apply)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_rc()):
            return func(*args, **kwargs)
    return wrapper


def new_figure(ncols: int = 1, nrows: int = 1, height: float | None = None, width: float | None = None,
               **kwargs) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure (no pyplot state) and its axes, flattened to shape=[nrows * ncols].

    ``width`` defaults to ``STYLE["width"]``, ``height`` to ``STYLE["height"]``
    per row; ``kwargs`` go to ``Figure.subplots`` (``sharex``, ``gridspec_kw``, ...).
    """
    fig = Figure(figsize=(width or STYLE["width"], height or STYLE["height"] * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, **kwargs)).reshape(-1)
    return fig, axes


def set_label(J) -> str:
    """The set ``J`` of learnt modes as mathematical text, e.g. ``\\{1,2\\}`` or ``\\emptyset``."""
    J = list(J)
    return r"\emptyset" if not J else r"\{" + ",".join(map(str, J)) + r"\}"


def unit_numbers(top) -> np.ndarray:
    """Each node's position within its level, counted from 1, shape=[n] (the labels drawn on nodes)."""
    starts = np.array([sl.start for sl in top.level_slices])
    return np.arange(top.n) - starts[top.layer] + 1


def node_name(top, v: int) -> str:
    """A node in words, ``layer i, unit a`` (units counted from 1 within each level)."""
    return f"layer {top.layer[v]}, unit {unit_numbers(top)[v]}"


def figure_bytes(fig: Figure, fmt: str = "png", **kwargs) -> bytes:
    """The file content of ``fig`` in format ``fmt`` (``png``, ``pdf``, ``svg``).

    PDFs carry no creation date, so regenerating a figure gives the same bytes.
    """
    if fmt.lower() == "pdf":
        kwargs.setdefault("metadata", {"CreationDate": None})
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=kwargs.pop("dpi", 150), **kwargs)
    return buffer.getvalue()


# Two renderings are the same picture when they have the same size and at most PIXEL_SHARE of the
# pixels of either one find no pixel within PIXEL_SHIFT of their place in the other that matches them
# to PIXEL_DELTA (of full intensity, in every channel). Measured on the gallery made under other BLAS
# builds against the shipped one: a digit of a rounding-level number in a title (0.02% of the pixels
# differ in place), curves of rounding-level drifts on log axes (0.15%), and a panel moved by one
# pixel when a rounding-level value changed its axis range (1.6% in place, 0.1% within one pixel);
# a curve moved by 5% of its panel's height, or a new curve, changes several times PIXEL_SHARE.
PIXEL_DELTA = 16 / 255
PIXEL_SHIFT = 1
PIXEL_SHARE = 0.003


def _unmatched(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels of ``a`` that no pixel of ``b`` within :data:`PIXEL_SHIFT` matches, shape=[rows, cols]."""
    r = PIXEL_SHIFT
    padded = np.pad(b, ((r, r), (r, r), (0, 0)), mode="edge")
    best = np.full(a.shape[:2], np.inf)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            shifted = padded[dy:dy + a.shape[0], dx:dx + a.shape[1]]
            best = np.minimum(best, np.abs(a - shifted).max(axis=-1))
    return best > PIXEL_DELTA


def same_picture(png_a: bytes, png_b: bytes) -> bool:
    """Whether two PNG renderings show the same figure, at the tolerance of :data:`PIXEL_SHARE`.

    The content of a figure is its picture, not its bytes: a value computed
    under another BLAS build moves a line or a panel by a pixel, or changes a
    digit of a rounding-level number, never a curve.

    Parameters
    ----------
    png_a, png_b : bytes
        PNG file contents.

    Examples
    --------
    >>> fig = new_figure()[0]
    >>> same_picture(figure_bytes(fig), figure_bytes(fig))
    True
    """
    import matplotlib.image as mpimg  # on first use

    try:
        a, b = (np.atleast_3d(mpimg.imread(io.BytesIO(content), format="png")).astype(float)
                for content in (png_a, png_b))
    except (OSError, ValueError, SyntaxError):  # not a PNG (a file edited by hand): not the same picture
        return False
    if a.shape != b.shape:
        return False
    return bool(max(_unmatched(a, b).mean(), _unmatched(b, a).mean()) <= PIXEL_SHARE)


def save_figure(fig: Figure, path, **kwargs) -> None:
    """Save ``fig`` to ``path`` atomically (the format from the extension; see :func:`figure_bytes`)."""
    content = figure_bytes(fig, str(path).rsplit(".", 1)[-1], **kwargs)
    with atomic_path(path) as tmp:
        tmp.write_bytes(content)
