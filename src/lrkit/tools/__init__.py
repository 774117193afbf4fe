"""Library functions behind the CLI: plots (and, later, range test and benchmarks)."""

__all__ = []
