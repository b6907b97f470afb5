"""Figures (the only part of geodln that imports matplotlib).

Every function takes geodln objects or plain arrays and returns a
``matplotlib.figure.Figure`` built with the object-oriented API (no pyplot
state, so no backend is needed until saving): a researcher restyles it through
``fig.axes`` and saves it with :func:`save_figure` (atomic) or
``fig.savefig``. All figures share one style, :data:`STYLE`: the Okabe-Ito
colour-blind-safe palette, a diverging blue-red map for signed weights, and
sizes that fit a two-column journal page (7 in wide, 9 pt text).

- :func:`draw_network`: the graph in a layered layout beside its adjacency
  matrix (:mod:`~geodln.plots.network`);
- :func:`plot_trajectory`, :func:`plot_mode_curves`: loss with the ladder of
  critical values ``L_J`` and the itinerary, singular values of ``W(t)`` with
  closed forms; :func:`plot_descent_vs_flow`: discretisation
  (:mod:`~geodln.plots.trajectories`);
- :func:`plot_phase_portrait`, :func:`phase_field`: scalar networks ``1,1,1``
  and ``1,1,1,1``; :func:`level_set_slice`: loss and conserved quantities on
  a plane of weights (:mod:`~geodln.plots.phase`);
- :func:`plot_catalog`, :func:`plot_hessian_spectrum`,
  :func:`plot_escape_times`: the landscape (:mod:`~geodln.plots.landscape`);
- :func:`plot_fiber`, :func:`plot_level_sets`: the loss constant on a group
  orbit, the balances conserved by the flow (:mod:`~geodln.plots.invariants`);
- :func:`plot_numerical_catalog`: a numerical catalog's critical values and classes, the network at one
  point of each class (:mod:`~geodln.plots.search`);
- :func:`plot_itineraries`, :func:`plot_escape_laws`: saddle-to-saddle
  statistics of a sweep against the theoretical escape laws (:mod:`~geodln.plots.sweeps`);
- :func:`plot_scaling`, :func:`load_scaling`: the scaling benchmark's measured costs against the
  number of weights (:mod:`~geodln.plots.scaling`).

The numbered gallery behind ``geodln figures`` is :mod:`geodln.plots.gallery`.
"""

from .invariants import plot_fiber, plot_level_sets
from .landscape import plot_catalog, plot_escape_times, plot_hessian_spectrum
from .network import draw_network
from .search import plot_numerical_catalog
from .scaling import load_scaling, plot_scaling
from .phase import LevelSlice, level_set_slice, phase_field, plot_phase_portrait
from .style import STYLE, figure_bytes, save_figure
from .sweeps import plot_escape_laws, plot_itineraries
from .trajectories import plot_descent_vs_flow, plot_mode_curves, plot_trajectory

__all__ = [
    "STYLE",
    "draw_network",
    "plot_trajectory",
    "plot_mode_curves",
    "plot_phase_portrait",
    "phase_field",
    "plot_catalog",
    "plot_numerical_catalog",
    "plot_hessian_spectrum",
    "plot_escape_times",
    "plot_fiber",
    "plot_level_sets",
    "plot_descent_vs_flow",
    "plot_itineraries",
    "plot_escape_laws",
    "plot_scaling",
    "load_scaling",
    "LevelSlice",
    "level_set_slice",
    "figure_bytes",
    "save_figure",
]
