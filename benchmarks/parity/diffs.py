"""How far two twins' numbers are apart, each measure inf when the shapes differ or anything is
not finite, so a broken probe can never pass."""

from __future__ import annotations

import math

import numpy as np


def max_rel_diff(a: list[float], b: list[float]) -> float:
    """Largest |a - b| / max(|a|, |b|) over the steps; inf when the runs differ in length or
    either is not finite, so a broken probe can never pass."""
    x, z = np.asarray(a), np.asarray(b)
    if x.shape != z.shape or not (np.isfinite(x).all() and np.isfinite(z).all()):
        return math.inf
    rel = np.abs(x - z) / np.maximum(np.maximum(np.abs(x), np.abs(z)), 1e-12)
    return float(rel.max()) if rel.size else 0.0


def max_rel_scaled(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| / max(|a|, |b|, 1): relative for running variances that grow with
    depth, absolute for values near zero; inf when shapes differ or anything is not finite."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)
    return float((np.abs(a - b) / scale).max()) if a.size else 0.0

def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b|; inf when shapes differ or anything is not finite."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    return float(np.abs(a - b).max()) if a.size else 0.0

