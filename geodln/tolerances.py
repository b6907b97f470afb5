"""Every threshold the landscape, the saddles and the geometry use, in one frozen object.

Pass a :class:`Tolerances` explicitly (``analyze_stratum(..., tolerances=tol)``,
``build_catalog(..., tolerances=tol)``, ``verify_direction(..., tolerances=tol)``);
catalogs record the one they were made with (``dataclasses.asdict``), so a
manifest cannot drift from the code. Thresholds on gradients and Hessians are
relative to the data's own scale (:meth:`Tolerances.gradient_scale`,
:meth:`Tolerances.hessian_scale`), so that results do not change when the
data are scaled. The checks that decide with them are methods too
(:meth:`Tolerances.is_critical`, :meth:`Tolerances.at_level`), so every site
decides criticality the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tolerances", "DEFAULT_TOLERANCES", "BALANCE_ROUNDOFF", "ESCAPE_TIME_SHIFT", "ESCAPE_RTOL_FACTOR",
           "ESCAPE_RTOL_FLOOR"]

# Thresholds of the itinerary's escape test (geodln.landscape.itinerary). Named constants, not Tolerances
# fields: catalogs record asdict(Tolerances), and these thresholds decide nothing in a catalog.
#
# A conserved balance C_i counts as zero (a balanced start), or as definite, relative to the rounding of
# its computation: ||C_i|| <= BALANCE_ROUNDOFF max(||W_i||^2, ||W_{i+1}||^2) is zero; an eigenvalue beyond
# that is a sign. A start that init.balanced or init.orthogonal makes has ||C_i|| ~ 1e-16 of that scale.
BALANCE_ROUNDOFF = 1e-12
# An exit time that moves, between the trajectory's rtol and ESCAPE_RTOL_FACTOR times smaller (larger
# when that would fall below ESCAPE_RTOL_FLOOR, where solvers stop honouring rtol), by more than
# ESCAPE_TIME_SHIFT of the time from the start is not resolved by the integration: a round-off escape or
# an ill-conditioned one. Measured: genuine escapes of small starts (3,4,4,3, 3,5,3, 4,4,4,4, seeds 0-2)
# move by less than 1e-7 (the bisection's resolution) between rtol 1e-8, 1e-10 and 1e-12; round-off
# escapes from a sign-forbidden saddle (2,2,2, 3,3,3) by 3e-4 to 3e-2.
ESCAPE_TIME_SHIFT = 1e-4
ESCAPE_RTOL_FACTOR = 100.0
ESCAPE_RTOL_FLOOR = 1e-14


@dataclass(frozen=True)
class Tolerances:
    """Thresholds of the numerical checks (defaults: those of the shipped catalogs).

    Attributes
    ----------
    gradient : float
        A representative is critical when ``||dL/dtheta|| <= gradient * s_1^2``.
    loss : float
        ... and ``|L - L_J| <= loss * s_1^2``.
    inertia : float
        A Hessian eigenvalue counts as zero when
        ``|lambda| <= inertia * max(max |lambda|, s_1^(2 - 2/h))``.
    escape_order : float
        The loss decrease along a nonstrict saddle's escape path must fit the
        order ``m`` within this.
    escape_drop : float
        Step sizes ``eps`` of that fit: ``eps^m = escape_drop`` and half of it.
    plateau_rank : float
        Near (not at) a critical point, e.g. on a trajectory's plateau: a
        product of ``k`` of the ``h`` layers counts as zero on a vector, or
        one of its singular values as zero, below ``(plateau_rank * max(1, s_1))^(k/h)``.
    hessian_eps, path_eps : float
        Distance of the start from the saddle when a Hessian direction, or
        an escape path of order ``m >= 3``, is verified by the flow.
    t_max : float
        Time limit of a verification (a path ray of order ``m`` gets up to
        twice its chain's time scale ``(path_eps / sqrt(m))^(2-m) / ((m-2) s_k)``
        when that is longer: from order 6 on).
    growth_unstable, growth_stable : float
        Linear test of a Hessian direction: after ``t = 1/|lambda|`` its
        component must have grown by at least ``growth_unstable`` (``e`` in
        theory) or shrunk to at most ``growth_stable`` (``1/e``).
    linear_rate : float
        Certificate of a Hessian direction ``d`` (eigenvalue ``lambda``) in a
        catalog: the flow's velocity at ``theta + eps d`` must be
        ``-lambda eps d`` within ``linear_rate |lambda| eps``, and the rate at
        which the flow moves the component along ``d`` must be ``lambda``
        within ``linear_rate |lambda|``.
    linear_band : float
        Directions whose eigenvalues are within this ratio of each other are
        certified by one integration together (superposed starts).
    margin : float
        An escape means ``L < L(theta*) - margin * max(1, L(theta*))``.
    perturbation : float
        Relative size of the random horizontal perturbation added to an
        unstable start (the escape must be robust to it).
    verify_rtol : float
        Relative tolerance of the verifying integrations.
    linear_atol, escape_atol : float
        Absolute tolerances of the linear test and of the escape/return runs.
    horizon_rtol, horizon_atol : float
        Tolerances of a stable path ray's last leg, from its return to the
        horizon, which only has to show the loss still at the saddle's level
        (integration errors there can only make a ray leave, never stay).
    dense_limit : int
        Above this many entries of the bracket matrix, vertical projections
        use matrix-free LSQR instead of a dense SVD.
    spectral_gap : float
        A catalog needs distinct singular values: consecutive ones closer than
        ``spectral_gap * s_1`` are refused (their swap would have a Hessian
        eigenvalue of about that size, which the inertia cannot tell from
        zero near ``inertia``).
    rank_zero, rank_gap : float
        Rank decisions at a point (:func:`geodln.analyze_point`): a singular
        value ``sigma`` of a partial product ``W_b ... W_{a+1}`` (or the norm of
        ``W_b ... W_1 x_k``, ``u_k^T W_h ... W_{a+1}``), relative to the product
        of the spectral norms of its layers (the rounding scale of the
        product), is zero at or below ``z = max(rank_zero, ||grad|| / grad
        scale)``, nonzero at or above ``rank_gap * z``, and *ambiguous* in
        between (reported, never guessed silently).
    plateau_gap : float
        :func:`geodln.nearest_critical_point`: the layers' singular values
        (over ``s_1^(1/h)``) below the widest gap of at least this ratio are the
        small remnants of a plateau and are truncated.
    critical_rounding : float
        A point is critical to rounding when ``||dL/dtheta||`` is at most this fraction of the size the gradient
        would have without cancellation (:func:`geodln.landscape.critical._grad_scale`, the product of the other
        layers' norms times the error's): near a saddle of order ``m`` both shrink like ``distance^(m-1)``, so
        their ratio, unlike the gradient itself, tells an exact critical point (ratio ~1e-16) from a point
        next to one (ratio ~1).
    critical_distance : float
        :func:`geodln.analyze_point` certifies a point as critical when its projection onto the critical set
        (:func:`geodln.nearest_critical_point`) is within this distance, relative to
        ``max(||theta||, sqrt(h) s_1^(1/h))``.
    visit_speed, visit_distance : float
        An itinerary visit: ``||dtheta/dt|| <= visit_speed * s_1^(2 - 1/h)``
        and ``||(W - W_J) Sxx^(1/2)||_F <= visit_distance * s_1``.
    itinerary_points : int
        For a trajectory of gradient descent, which the itinerary reads as the
        flow from its start: the size of each of the output grids (uniform and
        geometric in ``[0, t_end]``) of that flow. A flow's trajectory is read
        at its own samples, refined with its own method and tolerances.
    itinerary_rtol : float
        For descent: relative tolerance of the itinerary's integration of the flow (its absolute
        tolerance is ``1e-3`` of that times ``s_1^(1/h)``).
    search_rcond : float
        :func:`geodln.find_critical_points`: the minimum-norm Gauss-Newton step
        ``-H^+ grad`` cuts the Hessian's singular values below ``search_rcond``
        times the largest (the critical sets are not isolated: ``H`` is singular
        along them, and the step must not move along the set).
    search_diverged : float
        ... a refinement is abandoned when ``||theta||`` exceeds this many times
        the weight size of the global minimum, ``sqrt(h min_i d_i) s_1^(1/h)``.
    escape_radius : float
        The higher-order search for a nonstrict saddle's escape direction
        minimises ``L(theta + escape_radius d)`` over unit ``d`` in the
        Hessian's kernel; the order ``m`` is then the slope of
        ``log(L(theta) - L(theta + eps d))`` against ``log eps`` over
        ``eps`` in ``[escape_radius 2^-escape_halvings, escape_radius]``.
    escape_halvings : int
        The number of halvings of ``eps`` in that fit.
    """

    gradient: float = 1e-9
    loss: float = 1e-9
    inertia: float = 1e-8
    escape_order: float = 0.3
    escape_drop: float = 1e-6
    plateau_rank: float = 1e-3
    hessian_eps: float = 1e-3
    path_eps: float = 0.1
    t_max: float = 2e4
    growth_unstable: float = 1.5
    growth_stable: float = 0.6
    linear_rate: float = 0.25
    linear_band: float = 8.0
    margin: float = 1e-3
    perturbation: float = 0.1
    verify_rtol: float = 1e-8
    linear_atol: float = 1e-14
    escape_atol: float = 1e-12
    horizon_rtol: float = 1e-6
    horizon_atol: float = 1e-8
    dense_limit: int = 20_000
    spectral_gap: float = 1e-6
    rank_zero: float = 1e-9
    rank_gap: float = 1e4
    plateau_gap: float = 10.0
    critical_rounding: float = 1e-10
    critical_distance: float = 1e-4
    visit_speed: float = 1e-2
    visit_distance: float = 5e-2
    itinerary_points: int = 1001
    itinerary_rtol: float = 1e-9
    search_rcond: float = 1e-9
    search_diverged: float = 1e3
    escape_radius: float = 0.05
    escape_halvings: int = 5

    @staticmethod
    def gradient_scale(data) -> float:
        """``s_1^2``: the size of ``L`` and of its gradient for data of scale ``s_1``."""
        return float(data.s[0]) ** 2

    @staticmethod
    def hessian_scale(data, depth: int) -> float:
        """``s_1^(2 - 2/h)``: the size of a Hessian entry of a depth-``h`` network at a critical point."""
        return float(data.s[0]) ** (2 - 2 / depth)

    def is_critical(self, grad_norm: float, data, fraction: float = 1.0) -> bool:
        """Whether a gradient is zero at this tolerance: ``||dL/dtheta|| <= fraction * gradient * s_1^2``.

        Parameters
        ----------
        grad_norm : float
            ``||dL/dtheta||`` at the point.
        data : Data
            Sets the scale ``s_1^2`` (:meth:`gradient_scale`).
        fraction : float
            A stricter test, for a search that must land inside the tolerance
            with room to spare (1: the criticality test itself).

        Examples
        --------
        >>> from geodln import Data
        >>> data = Data.from_spectrum([2.0, 1.0], 2, 2, seed=0)
        >>> Tolerances().is_critical(3e-9, data), Tolerances().is_critical(5e-9, data)
        (True, False)
        """
        return grad_norm <= fraction * self.gradient * self.gradient_scale(data)

    def at_level(self, loss: float, level: float, data) -> bool:
        """Whether a loss is at a critical value: ``|L - level| <= loss * s_1^2``.

        Parameters
        ----------
        loss : float
            ``L`` measured at the point.
        level : float
            The critical value it should have, e.g. ``L_J``.
        data : Data
            Sets the scale ``s_1^2`` (:meth:`gradient_scale`).

        Examples
        --------
        >>> from geodln import Data
        >>> data = Data.from_spectrum([2.0, 1.0], 2, 2, seed=0)
        >>> Tolerances().at_level(0.5 + 1e-9, 0.5, data), Tolerances().at_level(0.5 + 1e-8, 0.5, data)
        (True, False)
        """
        return abs(loss - level) <= self.loss * self.gradient_scale(data)


DEFAULT_TOLERANCES = Tolerances()
