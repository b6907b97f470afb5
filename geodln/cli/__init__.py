"""The ``geodln`` command: one module per sub-command."""

from .main import main

__all__ = ["main"]
