"""Critical points in the path picture: pieces, strata, canonical representatives, escape paths.

Up to the hidden-layer group ``G``, a layered network ``d_0, ..., d_h`` is a
sum of *pieces*: a piece ``[a, b]`` (``0 <= a < b <= h``) is a chain of
one-dimensional links from layer ``a`` to layer ``b``. Complete pieces
``[0, h]`` carry an input vector to an output vector and make up ``W``;
input pieces ``[0, b]`` (``b < h``) carry an input vector and stop; output
pieces ``[a, h]`` (``a > 0``) start inside and carry an output vector;
internal pieces float between hidden layers. The ranks of all partial
products are piece counts: ``rank(W_b ... W_{a+1}) = #{pieces [a', b'] :
a' <= a, b' >= b}``, and at each layer the pieces covering it use at most
``d_i`` dimensions (the rest is idle).

With whitened data ``Syx = sum s_k u_k v_k^T`` a critical point learns a set
``J`` of modes: ``W = W_J`` through ``|J|`` complete pieces, and with
``E = Syx - W_J`` it is critical iff ``y^T E x = 0`` for every output vector
``y`` of a piece ``[a, h]`` and every input vector ``x`` of a piece ``[0, b]``
with ``b >= a - 1`` (idle input and output directions count as pieces
``[0, 0]`` and ``[h, h]``). Here dangling vectors are data modes (``v_k``,
``u_k`` of unlearnt modes) or directions orthogonal to all modes ("null"), so
the condition reads: for each unlearnt ``k``, ``a_k - b_k >= 2``, where
``b_k`` is where the input piece carrying ``v_k`` ends (0 if none) and
``a_k`` where the output piece carrying ``u_k`` starts (``h`` if none).

Escape: the loss falls when a new complete path for an unlearnt mode ``k``
is closed from new links, riding existing pieces for free. A path of ``n``
links that rides no piece carrying a foreign vector lowers ``L - L_J`` like
``-c eps^n``; one that lands in foreign input or output pieces also adds
cross terms ``+eps^{2 w(S)}`` (:func:`path_powers`), so its order ``m`` can
exceed ``n`` (the escape is then a curve whose links have sizes
``eps^{w_l}``), or it may not lower the loss at all. The least order over
all paths is the escape order. ``m <= 2`` (or a swap of a learnt mode for a
larger unlearnt one) means negative curvature, a strict saddle; ``m >= 3`` a
nonstrict saddle.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..network.data import Data
from ..symmetry import horizontal_basis
from ..network.topology import Topology, check_widths
from .labels import format_learned

__all__ = ["Piece", "Stratum", "EscapePath", "enumerate_strata", "check_distinct_spectrum", "path_powers", "NULL"]

NULL = 0  # label of a dangling vector orthogonal to every data mode


def check_distinct_spectrum(spectrum, spectral_gap: float) -> np.ndarray:
    """The singular values ``s_1 > ... > s_m`` as an array, refused unless distinct at the resolution ``spectral_gap``.

    The stratification of the critical points (a learnt set ``J`` of modes, each
    carried by its own paths) holds for distinct singular values; a repeated
    value makes a whole Grassmannian of learnt sets, which no stratum represents.

    Raises
    ------
    ValueError
        If the values are not strictly decreasing, or two differ by less than
        ``spectral_gap * s_1``.
    """
    s = np.asarray(spectrum, dtype=float)
    if s.ndim != 1 or np.any(np.diff(s) >= 0):
        raise ValueError(f"the spectrum must be strictly decreasing (distinct singular values), got {s.tolist()}: "
                         "the strata of critical points are defined for distinct singular values")
    gaps = -np.diff(s) / s[0]
    if gaps.size and gaps.min() < spectral_gap:
        k = int(np.argmin(gaps))
        raise ValueError(
            f"singular values {float(s[k])!r} and {float(s[k + 1])!r} differ by {s[k] - s[k + 1]:.3g}, less than "
            f"spectral_gap = {spectral_gap:g} times s_1: at this resolution they are one repeated "
            "value, whose strata and inertias cannot be represented. Merge them into a single value "
            "with a larger gap to the others, or separate them by more than that")
    return s

@dataclass(frozen=True, order=True)
class Piece:
    """A chain of links from layer ``a`` to layer ``b``.

    Attributes
    ----------
    a, b : int
        First and last layer, ``0 <= a < b <= h``.
    source : int or None
        Input pieces (``a = 0``): the 1-based mode ``k`` whose ``v_k`` they
        carry, or ``NULL`` (0) for a direction orthogonal to all modes.
    target : int or None
        Output pieces (``b = h``): the mode whose ``u_k`` they carry, or ``NULL``.
    """

    a: int
    b: int
    source: int | None = None
    target: int | None = None

    def __str__(self) -> str:
        def tag(label, vec):
            return "" if label is None else (f"{vec}{label}" if label != NULL else f"{vec}0")

        return f"{tag(self.source, 'v')}[{self.a},{self.b}]{tag(self.target, 'u')}"


@dataclass(frozen=True)
class EscapePath:
    """New links that close a complete path for an unlearnt mode.

    Attributes
    ----------
    mode : int
        The 1-based mode ``k`` the path learns.
    links : tuple of (int, object, object)
        ``(layer i, source, target)``: a new rank-one term in ``W_i``; source
        and target are slot indices at layers ``i - 1`` and ``i`` (or ``"v"`` /
        ``"u"`` for the input vector ``v_k`` and the output vector ``u_k``).
    powers : tuple of int
        Empty for a straight escape (every link of size ``eps``); else the
        exponent of each link on the escape curve (see :func:`path_order`).
    """

    mode: int
    links: tuple
    powers: tuple = ()

    def link_powers(self) -> tuple:
        """The exponent ``w_l`` of each link's size ``eps^{w_l}`` on the escape curve (all 1 unless given)."""
        return self.powers or (1,) * len(self.links)

    @property
    def order(self) -> int:
        """The escape order ``sum_l w_l``: the loss falls like ``-c eps^order``."""
        return sum(self.link_powers())

    def link_names(self) -> list:
        """``[layer, from, to]`` per link: ``v_k``/``u_k`` for the data's mode
        vectors, ``e_c`` for coordinate ``c`` of the canonical frame at that layer."""

        def name(slot):
            return f"{slot}_{self.mode}" if slot in ("u", "v") else f"e_{slot}"

        return [[layer, name(src), name(tgt)] for layer, src, tgt in self.links]


def path_powers(n_links: int, x_entries, y_entries) -> tuple | None:
    """Link exponents of the cheapest escape curve along a path that joins foreign vectors.

    A new path for mode ``k`` of ``n`` links (numbered ``1..n`` from ``v_k``)
    may land in pieces carrying foreign vectors: an input piece's ``x`` (a null
    direction or another mode's ``v_j``) joins the path after the landing link
    ``p``, an output piece's ``y`` leaves it at the landing link ``q``. With
    link ``l`` of size ``eps^{w_l}``, ``W`` gains ``eps^T u_k v_k^T``
    (``T = sum w_l``) and, for each *segment* ``S`` of links between a foreign
    vector and the path's other end or another foreign vector (``x -> u_k``:
    links ``p+1..n``; ``v_k -> y``: ``1..q``; ``x -> y``: ``p+1..q``), a term
    orthogonal to ``E = Syx - W_J`` of size ``eps^{w(S)}``, which adds
    ``+eps^{2 w(S)}`` to the loss. So ``L - L_J = -c eps^T`` wins iff
    ``2 w(S) >= T`` for every segment (at equality, shrinking a link common to
    those segments makes the linear drop beat the quadratic costs). Hence
    ``T >= 2 (n - |S|)`` for every ``S`` and ``T >= n``; both bounds are met by
    giving the excess to one link in every segment, which exists iff the
    segments pairwise overlap (Helly, for intervals). E.g. both null pieces of
    widths 4,3,3,4, ``J = {1,2} + v0[0,1] [2,3]u0``: the order-3 path for mode
    3 joins ``x -> y`` in its middle link, ``T = 4`` with powers ``(1, 2, 1)``.

    Parameters
    ----------
    n_links : int
    x_entries, y_entries : sequence of int
        Landing links ``p`` of foreign input pieces, ``q`` of foreign output pieces.

    Returns
    -------
    tuple of int or None
        ``()`` when every link can have size ``eps`` and every cross term is of
        higher order than the drop (a straight line escapes at order ``n``); else
        the powers ``w`` (shape=[n]; the link common to the segments is also
        the one whose size is tuned at equality); None when no curve along
        this path lowers the loss (two segments are disjoint).
    """
    n = n_links
    segments = [(p + 1, n) for p in x_entries] + [(1, q) for q in y_entries]
    segments += [(p + 1, q) for p in x_entries for q in y_entries if p < q]
    if not segments:
        return ()
    first, last = max(lo for lo, _ in segments), min(hi for _, hi in segments)
    if first > last:
        return None
    costs = [2 * (n - (hi - lo + 1)) for lo, hi in segments]
    order = max([n] + costs)
    if max(costs) < n:  # every cross term is of higher order than the drop: a straight line escapes
        return ()
    return tuple(1 + (order - n) * (l == first) for l in range(1, n + 1))


@dataclass(frozen=True)
class Stratum:
    """A stratum of critical points: the learnt set ``J`` and the dangling pieces.

    Attributes
    ----------
    widths : tuple of int
    learned : tuple of int
        Sorted 1-based learnt modes ``J``.
    pieces : tuple of Piece
        The non-complete pieces (the complete ones are one per learnt mode).
    n_modes : int
        Number of data modes ``m``.
    """

    widths: tuple
    learned: tuple
    pieces: tuple
    n_modes: int

    def __post_init__(self):
        # normalise, so that equality and the top-set test do not depend on list vs tuple
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "learned", tuple(sorted(int(k) for k in self.learned)))
        object.__setattr__(self, "pieces", tuple(self.pieces))

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def label(self) -> str:
        return f"J={format_learned(self.learned)}" + ("" if not self.pieces else " + " + " ".join(map(str, self.pieces)))

    def all_pieces(self) -> list[Piece]:
        h = self.depth
        return [Piece(0, h, k, k) for k in self.learned] + list(self.pieces)

    def partial_rank(self, a: int, b: int) -> int:
        """``rank(W_b ... W_{a+1})``: the pieces spanning layers ``a`` to ``b``."""
        return sum(1 for p in self.all_pieces() if p.a <= a and p.b >= b)

    def layer_ranks(self) -> list[int]:
        """``[rank W_1, ..., rank W_h]``."""
        return [self.partial_rank(i - 1, i) for i in range(1, self.depth + 1)]

    def load(self) -> list[int]:
        """Dimensions used at each layer by the pieces covering it."""
        return [sum(1 for p in self.all_pieces() if p.a <= i <= p.b) for i in range(self.depth + 1)]

    @property
    def is_top(self) -> bool:
        """Whether ``J`` is the top ``|J|`` modes."""
        return self.learned == tuple(range(1, len(self.learned) + 1))

    @property
    def is_global_min(self) -> bool:
        return self.is_top and len(self.learned) == min(min(self.widths), self.n_modes)

    def tightened(self) -> bool:
        """Achour, Malgouyres, Gerchinovitz (2024), read mode by mode.

        For every unlearnt mode ``k`` the layers split into three consecutive
        nonempty blocks ``[1..i], [i+1..j], [j+1..h]`` such that the first does
        not carry ``v_k`` (``W_i ... W_1 v_k = 0``), the middle product has rank
        exactly ``|J|`` (only complete paths cross it) and the last does not
        carry ``u_k`` (``u_k^T W_h ... W_{j+1} = 0``). Each block then needs a new
        link, so no path for ``k`` closes with fewer than three.
        """
        r, h = len(self.learned), self.depth
        for k in range(1, self.n_modes + 1):
            if k in self.learned:
                continue
            b_k, a_k = self.reach(k)
            if not any(b_k < i and self.partial_rank(i, j) == r and a_k > j
                       for i in range(1, h - 1) for j in range(i + 1, h)):
                return False
        return True

    def reach(self, k: int) -> tuple[int, int]:
        """``(b_k, a_k)``: the last layer reached by ``v_k`` (0 if none) and the
        first layer from which ``u_k`` is reached (``h`` if none)."""
        h = self.depth
        b_k = max((p.b for p in self.pieces if p.a == 0 and p.source == k), default=0)
        a_k = min((p.a for p in self.pieces if p.b == h and p.target == k), default=h)
        return b_k, a_k

    def is_critical(self) -> bool:
        """The criticality condition ``a_k - b_k >= 2`` for every unlearnt mode."""
        return all(a - b >= 2 for a, b in (self.reach(k)[::-1] for k in range(1, self.n_modes + 1)
                                           if k not in self.learned))

    # ------------------------------------------------------------ escape
    def slots(self) -> list[dict]:
        """Coordinate of each piece at each hidden layer it covers.

        Returns
        -------
        list of dict
            ``slots[i][piece_index]`` is the coordinate (0-based, within layer
            ``i``) used by piece ``piece_index`` of :meth:`all_pieces`;
            unlisted coordinates are idle.
        """
        slots = [dict() for _ in self.widths]
        for idx, p in enumerate(self.all_pieces()):
            for i in range(max(p.a, 1), min(p.b, self.depth - 1) + 1):
                slots[i][idx] = len(slots[i])
        return slots

    def escape_path(self) -> EscapePath | None:
        """The new complete path of least escape order for an unlearnt mode (ties: the lower mode index).

        Paths may re-aim or join pieces carrying other vectors ``x`` or ``y``:
        that adds ``+1/2 ||Delta W||^2`` cross terms, which raise the path's
        order when they are of lower order than its ``-c eps^m``
        (:func:`path_powers`). Among paths of the least order above two, a clean
        one (idle coordinates, internal pieces and the mode's own pieces only)
        is preferred. ``None`` when every mode is learnt or no path lowers the loss.
        """
        best = self._shortest(clean=False)
        if best is None or best.order <= 2:
            return best
        clean = self._shortest(clean=True)
        return clean if clean is not None and clean.order == best.order else best

    def _shortest(self, clean: bool) -> EscapePath | None:
        paths = [self.path_for(k, clean) for k in range(1, self.n_modes + 1) if k not in self.learned]
        paths = [p for p in paths if p is not None]
        return min(paths, key=lambda p: p.order) if paths else None

    def path_for(self, k: int, clean: bool = False) -> EscapePath | None:
        """Dynamic programming over the layers for mode ``k``'s cheapest new path.

        A new link from the current slot at layer ``i`` may go to an idle
        coordinate at layer ``i + 1``, or into any non-complete piece at a
        coordinate it covers, riding it to its end for free (an input piece
        then also carries its own vector, whose cross terms vanish to first
        order; an output piece is ridden to layer ``h - 1``, or finishes the
        path if it carries ``u_k``). The last link reaches ``u_k``. With
        ``clean``, only idle coordinates, internal pieces and the pieces carrying
        ``v_k`` or ``u_k`` are used. When the shortest path's foreign cross
        terms raise its order above its length (:func:`path_powers`), the path of
        least order over all paths is returned instead, with its link powers.
        """
        h, pieces, slots = self.depth, self.all_pieces(), self.slots()
        idle = [[c for c in range(w) if c not in slots[i].values()] for i, w in enumerate(self.widths)]
        states = {0: (0, (), "v")}  # layer -> (cost, links, slot)
        for idx, p in enumerate(pieces):
            if p.a == 0 and p.b < h and p.source == k:
                states[p.b] = (0, (), slots[p.b][idx])
        finish = None

        def offer(layer, cost, links, slot):
            nonlocal finish
            if layer == h:
                if finish is None or cost < finish[0]:
                    finish = (cost, links)
            elif layer not in states or cost < states[layer][0]:
                states[layer] = (cost, links, slot)

        for i in range(h):
            if i not in states:
                continue
            cost, links, slot = states[i]
            if i + 1 == h:
                offer(h, cost + 1, links + ((h, slot, "u"),), None)
                continue
            if idle[i + 1]:
                offer(i + 1, cost + 1, links + ((i + 1, slot, idle[i + 1][0]),), idle[i + 1][0])
            for idx, p in enumerate(pieces):
                if (p.a, p.b) == (0, h) or not p.a <= i + 1 <= p.b:
                    continue
                foreign = (p.a == 0 and p.source != k) or (p.b == h and p.target != k)
                if clean and foreign:
                    continue
                link = links + ((i + 1, slot, slots[i + 1][idx]),)
                if p.b < h:
                    offer(p.b, cost + 1, link, slots[p.b][idx])
                elif p.target == k:
                    offer(h, cost + 1, link, None)
                else:
                    offer(h - 1, cost + 1, link, slots[h - 1][idx])
        if finish is None:
            return None
        powers = self._powers(k, finish[1])
        if powers is not None and sum(powers or (1,) * len(finish[1])) == len(finish[1]):
            return EscapePath(k, finish[1], powers)  # no path has fewer links, so none has a lower order
        # the shortest path joins foreign vectors whose cross terms block it: the cheapest curve
        return self._cheapest_curve(k)

    def _powers(self, k: int, links) -> tuple | None:
        """:func:`path_powers` of the path ``links`` for mode ``k``: the landing links of its foreign pieces."""
        h, pieces, slots = self.depth, self.all_pieces(), self.slots()
        xs, ys = [], []
        for n, (layer, _, target) in enumerate(links, start=1):
            owner = [idx for idx, c in slots[layer].items() if c == target] if layer < h else []
            for p in (pieces[idx] for idx in owner):
                if p.a == 0 and p.source != k:
                    xs.append(n)
                elif p.b == h and p.target != k:
                    ys.append(n)
        return path_powers(len(links), xs, ys)

    def _paths(self, k: int):
        """Every new path for mode ``k`` (link tuples), one piece per kind of piece entered."""
        h, pieces, slots = self.depth, self.all_pieces(), self.slots()
        idle = [[c for c in range(w) if c not in slots[i].values()] for i, w in enumerate(self.widths)]
        kinds = {}
        for idx, p in enumerate(pieces):
            if (p.a, p.b) != (0, h):
                kinds.setdefault((p.a, p.b, p.a == 0 and p.source == k, p.b == h and p.target == k), idx)

        def walk(i, slot, links):
            j = i + 1
            if j == h:
                yield links + ((h, slot, "u"),)
                return
            if idle[j]:
                yield from walk(j, idle[j][0], links + ((j, slot, idle[j][0]),))
            for idx in sorted(kinds.values()):
                p = pieces[idx]
                if not p.a <= j <= p.b:
                    continue
                link = links + ((j, slot, slots[j][idx]),)
                if p.b < h:
                    yield from walk(p.b, slots[p.b][idx], link)
                elif p.target == k:
                    yield link
                else:
                    yield from walk(h - 1, slots[h - 1][idx], link)

        yield from walk(0, "v", ())
        for idx, p in enumerate(pieces):
            if p.a == 0 and p.b < h and p.source == k:
                yield from walk(p.b, slots[p.b][idx], ())

    def _cheapest_curve(self, k: int) -> EscapePath | None:
        """The path of least escape order (then fewest links) over :meth:`_paths`, or None."""
        best = None
        for links in self._paths(k):
            powers = self._powers(k, links)
            if powers is None:
                continue
            path = EscapePath(k, links, powers)
            if best is None or (path.order, len(links)) < (best.order, len(best.links)):
                best = path
        return best

    def escape_order(self) -> int | None:
        """2 for strict saddles (swap or a path of <= 2 links), the path length
        ``m >= 3`` for nonstrict ones, ``None`` for global minima."""
        if self.is_global_min:
            return None
        if not self.is_top:
            return 2
        path = self.escape_path()
        return None if path is None else max(path.order, 2)

    # --------------------------------------------------- representatives
    def canonical_adjacency(self, top: Topology, data: Data, seed=None) -> np.ndarray:
        """The stratum's representative in canonical coordinates, shape=[n, n].

        Complete paths carry ``s_k^{1/h}`` on every link (so ``W = W_J``);
        dangling links get random weights in ``[0.5, 1.5]``. Input/output
        vectors are the data modes ``v_k``, ``u_k`` or null directions.
        """
        rng = np.random.default_rng(seed)
        A = np.zeros((top.n, top.n))
        slots = self.slots()
        for idx, (p, (x, y)) in enumerate(zip(self.all_pieces(), self._vectors(data))):
            complete = p.a == 0 and p.b == self.depth
            weights = np.full(p.b - p.a, data.s[p.source - 1] ** (1 / self.depth)) if complete else rng.uniform(0.5, 1.5, p.b - p.a)
            for i, w in zip(range(p.a + 1, p.b + 1), weights):
                src = x if i - 1 == 0 else _unit(self.widths[i - 1], slots[i - 1][idx])
                tgt = y if i == self.depth else _unit(self.widths[i], slots[i][idx])
                A[top.level_slices[i - 1], top.level_slices[i]] += w * np.outer(src, tgt)
        return A

    def link_matrix(self, top: Topology, data: Data, path: EscapePath, signs=None) -> np.ndarray:
        """The new links of ``path`` as an adjacency-shaped direction, shape=[n, n].

        ``signs`` (one +-1 per link, default all +1) orients the links: an odd
        number of -1 makes the path's product point along ``-u_k v_k^T``.
        """
        D = np.zeros((top.n, top.n))
        signs = np.ones(path.order) if signs is None else signs
        for (i, src, tgt), sign in zip(path.links, signs):
            D[top.level_slices[i - 1], top.level_slices[i]] += sign * np.outer(
                self._slot_vector(src, i - 1, path.mode, data), self._slot_vector(tgt, i, path.mode, data))
        return D

    def _slot_vector(self, slot, layer: int, mode: int, data: Data) -> np.ndarray:
        if slot == "v":
            return data.V[:, mode - 1]
        if slot == "u":
            return data.U[:, mode - 1]
        return _unit(self.widths[layer], slot)

    def _vectors(self, data: Data) -> list[tuple]:
        """(input vector or None, output vector or None) for each piece."""
        m = self.n_modes  # the data's SVD also lists zero modes: null directions are orthogonal to the m real ones
        null_in, null_out = horizontal_basis(data.V[:, :m]), horizontal_basis(data.U[:, :m])  # orthonormal complements
        used_in = used_out = 0
        out = []
        for p in self.all_pieces():
            x = y = None
            if p.a == 0:
                x = null_in[:, used_in] if p.source == NULL else data.V[:, p.source - 1]
                used_in += p.source == NULL
            if p.b == self.depth:
                y = null_out[:, used_out] if p.target == NULL else data.U[:, p.target - 1]
                used_out += p.target == NULL
            out.append((x, y))
        return out


def _unit(d: int, j: int) -> np.ndarray:
    e = np.zeros(d)
    e[j] = 1.0
    return e


def _piece_types(widths, learned, n_modes) -> list[Piece]:
    h, d0, dh = len(widths) - 1, widths[0], widths[-1]
    unlearnt = [k for k in range(1, n_modes + 1) if k not in learned]
    in_labels = unlearnt + ([NULL] if d0 > n_modes else [])
    out_labels = unlearnt + ([NULL] if dh > n_modes else [])
    types = [Piece(0, b, k, None) for b in range(1, h) for k in in_labels]
    types += [Piece(a, h, None, k) for a in range(1, h) for k in out_labels]
    types += [Piece(a, b) for a in range(1, h) for b in range(a + 1, h)]
    return types


def _multisets(types, start, chosen, capacity, n_modes, widths, max_pieces=None):
    """Multisets of piece types (at most ``max_pieces`` of them) that fit the capacity; mode labels used once per side."""
    yield tuple(chosen)
    if max_pieces is not None and len(chosen) >= max_pieces:
        return
    for t in range(start, len(types)):
        p = types[t]
        if any(capacity[i] == 0 for i in range(p.a, p.b + 1)):
            continue
        if p.source not in (None, NULL) and any(q.source == p.source for q in chosen):
            continue
        if p.target not in (None, NULL) and any(q.target == p.target for q in chosen):
            continue
        if p.source == NULL and sum(q.source == NULL for q in chosen) >= widths[0] - n_modes:
            continue
        if p.target == NULL and sum(q.target == NULL for q in chosen) >= widths[-1] - n_modes:
            continue
        for i in range(p.a, p.b + 1):
            capacity[i] -= 1
        chosen.append(p)
        yield from _multisets(types, t, chosen, capacity, n_modes, widths, max_pieces)
        chosen.pop()
        for i in range(p.a, p.b + 1):
            capacity[i] += 1


def enumerate_strata(widths, n_modes: int, max_per_set: int | None = None, count_left_out: bool = True):
    """All strata of critical points of a layered network, grouped by learnt set.

    Parameters
    ----------
    widths : sequence of int
        ``(d_0, ..., d_h)``.
    n_modes : int
        Number ``m`` of distinct nonzero data singular values.
    max_per_set : int, optional
        Cap on the strata kept per learnt set ``J``: the simplest ones (fewest
        pieces, then fewest links) are kept, the rest counted.
    count_left_out : bool
        With a cap, walk every stratum to count those left out (default), or
        only as far as the cap needs -- strata by increasing number of
        pieces, up to the first number at which the cap is reached -- and
        yield ``left_out = None`` (:func:`geodln.count_strata` gives the
        count without listing). The strata kept are the same.

    Yields
    ------
    learned : tuple of int
        ``J``, for every ``|J| <= min(min(widths), m)``, by size then order.
    strata : list of Stratum
    left_out : int or None
        Strata of this ``J`` beyond the cap (None when not counted).

    Examples
    --------
    >>> [(J, len(s)) for J, s, _ in enumerate_strata([1, 1, 1], 1)]
    [((), 1), ((1,), 1)]
    """
    widths = check_widths(widths)
    h, r_max = len(widths) - 1, min(widths)
    if max_per_set is not None and max_per_set < 1:
        raise ValueError(f"max_per_set must be a positive integer, got {max_per_set!r}")
    if n_modes > min(widths[0], widths[-1]):
        raise ValueError(f"{n_modes} modes do not fit d_0 = {widths[0]}, d_h = {widths[-1]}")
    for size in range(0, min(r_max, n_modes) + 1):
        for learned in combinations(range(1, n_modes + 1), size):
            capacity = [w - size for w in widths]
            types = _piece_types(widths, learned, n_modes) if h >= 2 else []
            found, n_pieces = [], None  # None: every number of pieces at once
            if max_per_set is not None and not count_left_out:
                n_pieces = 0
            while True:
                sizes = []
                for pieces in _multisets(types, 0, [], capacity, n_modes, widths, n_pieces):
                    sizes.append(len(pieces))
                    stratum = Stratum(widths, learned, pieces, n_modes)
                    if (n_pieces is None or len(pieces) == n_pieces) and stratum.is_critical():
                        found.append(stratum)
                # the sort puts fewer pieces first: once the cap is reached at n pieces, no
                # stratum with more pieces can be among the kept ones
                if n_pieces is None or len(found) >= max_per_set or max(sizes) < n_pieces:
                    break
                n_pieces += 1
            found.sort(key=lambda s: (len(s.pieces), sum(p.b - p.a for p in s.pieces), s.pieces))
            kept = found if max_per_set is None else found[:max_per_set]
            yield learned, kept, (len(found) - len(kept)) if n_pieces is None else None
