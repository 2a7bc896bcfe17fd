"""Benchmarks, run from the repository root as modules: python -m scripts.maintainer.benchmarks.NAME."""
