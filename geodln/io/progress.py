"""Progress bars for long runs (tqdm), on standard error, quiet when it is not a terminal."""

from __future__ import annotations

import os
import sys
import time

__all__ = ["Progress", "pace"]


class Progress:
    """A tqdm bar ``label: pct% |bar| value/total [elapsed, info]`` driven by absolute values.

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
    stream : file-like, optional
        Where the bar is drawn (default standard error). No bar is drawn
        when the stream is not a terminal (logs, pipes, batch jobs stay
        clean); they get only the closing line ``label: message in T s``.
    """

    def __init__(self, total: float, label: str, enabled: bool = True, interval: float = 0.5, stream=None):
        self.total, self.label, self.interval = float(total), label, interval
        self.stream = stream if stream is not None else sys.stderr
        self.requested = bool(enabled)
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled and isatty is not None and isatty())
        self._start = time.monotonic()
        self._bar = None
        if self.enabled:
            from tqdm import tqdm  # on first use, keeping `import geodln` fast

            columns, lines = _shape(self.stream)
            self._bar = tqdm(total=self.total, desc=label, file=self.stream, mininterval=interval, ncols=columns, nrows=lines,
                             bar_format="{desc}: {percentage:5.1f}%|{bar}| {n:.6g}/{total:.6g} [{elapsed}{postfix}]")

    def update(self, value: float, info: str = "") -> None:
        """Report that ``value`` of ``total`` is done (redrawn at most every ``interval`` s), with an ``info`` note."""
        if self._bar is None:
            return
        self._bar.set_postfix_str(info, refresh=False)
        step = float(value) - self._bar.n
        if step:
            self._bar.update(step)
        else:  # no progress, news only (a count, a method): show it now
            self._bar.refresh()

    def close(self, message: str = "done") -> None:
        """Finish the bar with a closing message (off a terminal: one line ``label: message in T s``)."""
        if self._bar is None:
            if self.requested:
                self.stream.write(f"{self.label}: {message} in {time.monotonic() - self._start:.1f} s\n")
                self.stream.flush()
                self.requested = False
            return
        self._bar.set_postfix_str(message, refresh=False)
        self._bar.close()
        self._bar = None


def _shape(stream) -> tuple[int, int]:
    """The terminal's columns and lines; 100 and 24 where it does not say (a pseudo-terminal of size 0,
    on which tqdm would otherwise hide the bar as lying below the last line)."""
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, lines = size.columns, size.lines
    except (AttributeError, OSError, ValueError):
        columns = lines = 0
    return columns or 100, lines or 24


def pace(done: int, total: int, start: float, unit: str) -> str:
    """``"12.3 strata/s, ~45 s left"``: the rate since ``start`` (``time.monotonic()``) and the time the rest takes at that rate."""
    elapsed = time.monotonic() - start
    if done == 0 or elapsed <= 0:
        return ""
    rate = done / elapsed
    return f"{rate:.3g} {unit}/s, ~{(total - done) / rate:.0f} s left"
