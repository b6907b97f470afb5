"""Progress reports for long runs, on standard error, at most a few per second."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """A one-line progress report ``label: value/total (pct%)``.

    Parameters
    ----------
    total : float
        The value that means done (an end time, a number of items).
    label : str
        What is being done.
    enabled : bool
        When False every call is a no-op, so callers need no branches.
    interval : float
        Minimum seconds between two redraws.
    """

    def __init__(self, total: float, label: str, enabled: bool = True, interval: float = 0.5, stream=None):
        self.total, self.label, self.enabled, self.interval = float(total), label, enabled, interval
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self._last = -float("inf")

    def update(self, value: float, info: str = "") -> None:
        """Report that ``value`` of ``total`` is done (redrawn at most every ``interval`` s), with an ``info`` note."""
        now = time.monotonic()
        if not self.enabled or now - self._last < self.interval:
            return
        self._last = now
        frac = min(max(value / self.total, 0.0), 1.0) if self.total > 0 else 1.0
        note = f", {info}" if info else ""
        self.stream.write(f"\r{self.label}: {value:.6g}/{self.total:.6g} ({100 * frac:5.1f}%, {now - self._start:.1f} s{note})")
        self.stream.flush()

    def close(self, message: str = "done") -> None:
        """Finish the line with a closing message."""
        if self.enabled:
            self.stream.write(f"\r{self.label}: {message} in {time.monotonic() - self._start:.1f} s\n")
            self.stream.flush()
