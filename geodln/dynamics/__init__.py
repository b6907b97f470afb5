"""The flow and its derivatives: ``dA/dt = -dL/dA`` block by block, its Hessian, its starts and closed forms.

- :mod:`.flow`: :class:`GradientFlow` (the field, conservation laws, ``solve``: the one
  entry of every integration) and :class:`Trajectory`;
- :mod:`.hessian`: exact Hessian-vector products (the integrator's Jacobian ``-H``), the dense Hessian, inertia;
- :mod:`.stabilizer`: the Hessian's spectrum block by block at any width, from the symmetry fixing the point;
- :mod:`.init`: initialisations (small, aligned, balanced); :mod:`.closed_forms`: the
  learning curves and escape laws that have closed forms.
"""
