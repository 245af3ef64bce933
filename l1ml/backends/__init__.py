"""Backends: walks over the typed IR. ``emulate`` is the reference every other backend must equal."""
