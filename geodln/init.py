"""Initialisations (placeholder being written)."""
