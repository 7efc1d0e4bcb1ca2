"""Findings as data: each `*.toml` here states a published claim, its arms and comparisons; the
modules turn one into matrix cells and verdicts (benchmarks/findings/verdicts.py)."""
