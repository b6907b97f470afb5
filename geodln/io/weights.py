"""Bring your own weights: layer matrices from ``.npz`` and ``.safetensors`` files.

A fully connected linear network without biases is its layer matrices
``W_1, ..., W_h`` (``W_i`` of shape ``(d_i, d_{i-1})``, acting as ``x -> W_h ... W_1 x``).
Read from

- ``.npz``: arrays ``W1 .. Wh``, or an adjacency matrix ``A`` (``A[j, k]`` the
  weight of ``j -> k``, nodes layer by layer) with its ``widths`` (an array in
  the file, or the ``widths`` argument);
- ``.safetensors`` (read with the ``safetensors`` package's numpy API, no
  PyTorch): a stack of bias-free linear layers as PyTorch exports
  ``nn.Linear(bias=False)`` (``*.weight``, shape ``(out, in)``) or flax
  ``Dense(use_bias=False)`` (``*kernel``, shape ``(in, out)``, transposed
  here); layers are ordered by the numbers in their names. Biases must be
  zero: geodln's networks are linear maps without offsets. Where the layers'
  module numbers skip some (``0.weight``, ``2.weight``: an ``nn.Sequential``
  whose modules 1, 3, ... have no weights, usually activations), those modules
  are taken as the identity, with a warning naming them; where the layers on
  either side of a gap do not chain, a module there changes the width and no
  linear network of these layers is the trained one: refused.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..network.topology import Topology, layered

__all__ = ["Weights", "read_weights"]


@dataclass(frozen=True)
class Weights:
    """Layer matrices read from a file.

    Attributes
    ----------
    layers : tuple of ndarray
        ``W_1, ..., W_h``, float64, ``W_i`` of shape ``(d_i, d_{i-1})``.
    widths : tuple of int
        ``(d_0, ..., d_h)``.
    source : str
        The file and the names of the arrays read.
    """

    layers: tuple = field(repr=False)
    widths: tuple
    source: str

    @cached_property
    def top(self) -> Topology:
        """The fully connected layered network of these widths (built once: a graph of ``D`` edges)."""
        return layered(self.widths)

    @property
    def theta(self) -> np.ndarray:
        """Packed weights for :attr:`top`, shape=[n_params]."""
        return self.top.from_layer_weights(self.layers)


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _module_number(name: str) -> int | None:
    """The number of the module a weight belongs to (``net.2.weight`` -> 2, ``Dense_1/kernel`` -> 1), if any."""
    found = re.findall(r"(\d+)", re.split(r"[./](?:weight|kernel)$", name)[0])
    return int(found[-1]) if found else None


def _skipped(before: str, after: str) -> list:
    """The module numbers strictly between two consecutive layers' (``[1]`` for ``0.weight``, ``2.weight``)."""
    a, b = _module_number(before), _module_number(after)
    if a is None or b is None or _natural_key(before)[:-2] != _natural_key(after)[:-2]:
        return []
    return list(range(a + 1, b))


def _chain(named: list, path) -> Weights:
    """Check that ``[(name, W_i)]`` compose into a chain, and wrap them."""
    if not named:
        raise ValueError(f"{path} has no layer matrices: expected arrays W1..Wh or A (.npz), "
                         "or bias-free linear layers' weights (.safetensors)")
    layers = []
    for name, W in named:
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 2 or 0 in W.shape:
            raise ValueError(f"{path}: {name} has shape {W.shape}; a layer matrix is 2-D")
        if not np.all(np.isfinite(W)):
            raise ValueError(f"{path}: {name} contains NaN or inf")
        if layers and W.shape[1] != layers[-1].shape[0]:
            between = _skipped(named[len(layers) - 1][0], name)
            raise ValueError(f"{path}: the layers do not chain: {name} takes {W.shape[1]} inputs but the layer "
                             f"before it ({named[len(layers) - 1][0]}) has {layers[-1].shape[0]} outputs"
                             + (f"; the modules {between} between them (without weights) change the width, so "
                                "they are not the identity and this is not a linear network" if between else ""))
        layers.append(W)
    gaps = {(a, b): _skipped(a, b) for (a, _), (b, _) in zip(named, named[1:])}
    gaps = {pair: between for pair, between in gaps.items() if between}
    if gaps:
        listed = "; ".join(f"{between} between {a} and {b}" for (a, b), between in gaps.items())
        warnings.warn(f"{path}: the layers' module numbers skip {listed}: modules without weights (in "
                      "nn.Sequential usually activations such as ReLU) are taken as the identity; the analysis is "
                      "of the linear network W_h ... W_1, which is the trained one only if those modules are linear "
                      "(Identity, Dropout in evaluation)", UserWarning, stacklevel=3)
    widths = (layers[0].shape[1],) + tuple(W.shape[0] for W in layers)
    return Weights(tuple(layers), widths, f"{path}: " + ", ".join(name for name, _ in named))


def read_weights(path, widths=None) -> Weights:
    """Read the layer matrices of a linear network from an ``.npz`` or ``.safetensors`` file.

    Parameters
    ----------
    path : str or Path
    widths : sequence of int, optional
        ``(d_0, ..., d_h)`` of an adjacency matrix ``A`` whose file holds no ``widths``.

    Returns
    -------
    Weights

    Raises
    ------
    ValueError
        On a file with no layer matrices, layers that do not chain, nonzero
        biases, an adjacency matrix that is not layered by ``widths``, or an
        unknown extension.

    See Also
    --------
    nearest_critical_point
        Which critical point the weights are at or shadow.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> np.savez(f, W1=np.ones((3, 2)), W2=np.ones((1, 3)))
    >>> read_weights(f).widths
    (2, 3, 1)
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    if path.suffix == ".npz":
        return _read_npz(path, widths)
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    raise ValueError(f"{path}: unknown weight file type {path.suffix!r}; use .npz or .safetensors")


def _read_npz(path: Path, widths) -> Weights:
    with np.load(path) as f:
        arrays = {name: f[name] for name in f.files}
    layer_names = sorted((n for n in arrays if re.fullmatch(r"W\d+", n)), key=_natural_key)
    if layer_names:
        numbers = [int(n[1:]) for n in layer_names]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{path}: layer arrays {layer_names} are not W1..W{len(numbers)} without gaps")
        return _chain([(n, arrays[n]) for n in layer_names], path)
    if "A" not in arrays:
        return _chain([], path)
    if widths is None:
        if "widths" not in arrays:
            raise ValueError(f"{path} holds an adjacency matrix A but no widths: pass widths=(d_0, ..., d_h)")
        widths = arrays["widths"]
    top = layered([int(w) for w in np.ravel(widths)])
    A = np.asarray(arrays["A"], dtype=np.float64)
    if A.shape != (top.n, top.n):
        raise ValueError(f"{path}: A has shape {A.shape}, but widths {top.widths} need ({top.n}, {top.n})")
    theta = top.pack(A)  # refuses weights off the layered pattern
    return _chain([(f"A[W{i}]", W) for i, W in enumerate(top.layer_weights(theta), start=1)], path)


def _read_safetensors(path: Path) -> Weights:
    from safetensors.numpy import load_file  # on first use

    tensors = load_file(str(path))
    for name, t in tensors.items():
        if name.split(".")[-1].split("/")[-1] == "bias" and np.any(np.asarray(t) != 0):
            raise ValueError(f"{path}: {name} is a nonzero bias (max |b| = {np.abs(t).max():.3g}); geodln's networks "
                             "are linear maps W_h ... W_1 x without offsets: retrain with bias=False or zero the biases")
    named = []
    for name in sorted(tensors, key=_natural_key):
        leaf = re.split(r"[./]", name)[-1]
        t = np.asarray(tensors[name])
        if leaf == "weight" and t.ndim == 2:
            named.append((name, t))  # torch nn.Linear: (out, in)
        elif leaf == "kernel" and t.ndim == 2:
            named.append((name, t.T))  # flax Dense: (in, out)
        elif leaf != "bias":
            raise ValueError(f"{path}: {name} (shape {t.shape}) is not the weight of a bias-free linear layer")
    return _chain(named, path)
