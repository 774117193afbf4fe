"""Drop-in names of other libraries' schedulers, built on native schedules.

Each submodule reproduces its anchor's numbers, including its off-by-one
boundaries, first-step value, warmup clock and behaviour past the horizon,
so that switching is one import line. Parity is tested against the real
packages (``tests/compat``).
"""

__all__ = []
