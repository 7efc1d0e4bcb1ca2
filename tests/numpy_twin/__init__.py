"""A third twin for the tests only: NumPy float64, built on the reference model's layers.

It exists to prove that the harness takes its frameworks from `common_data.frameworks`
alone: tests/numpy_twin/framework.toml registers it (THERMAL_BENCH_FRAMEWORKS), and
tests/test_third_framework.py runs a matrix, the report and parity with it beside the two.
"""
