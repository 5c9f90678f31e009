"""Reproducible benchmarks of ppdw against baselines run in the same script (see README)."""
