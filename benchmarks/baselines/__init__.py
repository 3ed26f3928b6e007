"""Straightforward reference implementations the benchmarks compare against.

Written for clarity, not speed: loops and NumPy transcriptions of the definitions. The tests use
them as independent oracles too (they import them from here; benchmarks never import tests).
"""
