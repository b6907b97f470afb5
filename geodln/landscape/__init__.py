"""The loss landscape of layered networks: the path picture, one classification rule, saddles and itineraries.

:mod:`.strata` (multiplicity tables of interval pieces, escape paths) and
:mod:`.counting` (strata counted without listing them); :mod:`.readout` (a point's
stratum from the ranks of its partial products); :mod:`.critical` (representatives,
the one rule :func:`classify`, the critical set); :mod:`.points` (any point a user
brings); :mod:`.saddles` (stable and unstable directions, their certificates,
escape times); :mod:`.itinerary` (the critical points a trajectory passes);
:mod:`.numerical` (critical points of any network, searched for numerically, certified and
classified) and :mod:`.orbits` (their orbit invariants and balanced representatives);
:mod:`.labels` (learnt sets and itineraries as text).
"""
