"""Benchmarks of Ponder's reasoning: ``make bench-reasoning`` or ``python -m bench.reasoning``."""
