"""Catalogs of critical points on disk: :mod:`.store` (build, write, load, match) and :mod:`.verify`
(every saddle's directions certified by integrating the flow, resumable from its checkpoint)."""
