"""``geodln laws``: count a network's independent conservation laws and say which the known balances explain.

``D - dim Lie(W_phi)(theta)`` at a random point (:func:`geodln.laws.conservation_laws`),
and with ``--degree`` the conserved polynomials of low degree
(:func:`geodln.laws.polynomial_laws`). Writes no files.
"""

from __future__ import annotations

from pathlib import Path

from ..io.graphs import read_graph
from ..network.topology import layered
from .options import comma_list

__all__ = ["NAME", "HELP", "DESCRIPTION", "add_arguments", "run"]

NAME = "laws"
HELP = "count the independent conservation laws of a network and say which are known"
DESCRIPTION = ("Print D - dim Lie(W_phi)(theta) (Marcotte, Gribonval, Peyre 2023) at a random point, how many "
               "of these laws the known balances explain, and (with --degree) the polynomial laws of low degree. "
               "Writes no files.")


def add_arguments(parser) -> None:
    """The options of ``geodln laws``."""
    net = parser.add_mutually_exclusive_group()
    net.add_argument("--widths", type=comma_list(int), default=[1, 2, 2, 1], help="layer widths (default 1,2,2,1)")
    net.add_argument("--graph", type=Path, help="a network file (.graphml, .gml, .gexf, .json) with input/output nodes marked")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random point (default 0)")
    parser.add_argument("--degree", type=int, default=0,
                        help="also search conserved polynomials of degree <= this (default 0: no search)")


def run(args, argv) -> int:
    """Print the count (and the polynomial laws with ``--degree``)."""
    from ..laws import conservation_laws, polynomial_laws

    top = read_graph(args.graph) if args.graph is not None else layered(args.widths)
    print(conservation_laws(top, seed=args.seed).summary())
    if args.degree:
        print(polynomial_laws(top, degree=args.degree, seed=args.seed).summary())
    return 0
