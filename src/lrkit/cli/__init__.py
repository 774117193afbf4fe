"""The ``lrkit`` command: a thin shell over the library (one module per command)."""

__all__ = []
