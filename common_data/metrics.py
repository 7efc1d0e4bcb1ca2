"""Every reported metric, computed from saved predictions in one place.

Both twins hand back class probabilities and nothing else, so a metric cannot differ
between frameworks because of how a framework computes it. Definitions follow
scikit-learn (``zero_division=0``), without depending on it:

* predictions are ``argmax(proba)``, first index on ties;
* ``macro_f1`` averages over the classes present in ``y_true`` or the predictions (the
  scikit-learn default label set); ``per_class`` still lists every class;
* ``roc_auc_ovr_macro`` is the mean one-vs-rest AUC (Mann-Whitney U with average ranks for
  ties) over the classes that have both positives and negatives in ``y_true``. Unlike
  scikit-learn, which raises, an absent class is skipped and named in ``roc_auc_skipped``
  (LOSO folds can lack a class); the AUC is None when no class can be scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from common_data.classes import CLASSES


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64; subtracting the row max keeps exp from overflowing."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ensemble_proba(probas: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of the members' probabilities (soft voting)."""
    if len(probas) == 0:
        raise ValueError("ensemble_proba needs at least one member, got an empty list")
    arrays = [np.asarray(p, dtype=np.float64) for p in probas]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members must share one shape, got {sorted(shapes)}")
    return np.mean(arrays, axis=0)


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str] = CLASSES
) -> dict[str, Any]:
    """Accuracy, F1s, OvR ROC AUC, per-class scores and the confusion matrix (rows = true).

    All values are plain Python types so the dict goes straight into a JSON record.
    """
    y, p = _checked(y_true, proba, classes)
    k = len(classes)
    pred = np.argmax(p, axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)

    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * tp, support + predicted)
    present = (support + predicted) > 0

    auc, skipped = _roc_auc_ovr(y, p, classes)
    return {
        "accuracy": float(tp.sum() / len(y)),
        "macro_f1": float(f1[present].mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "roc_auc_ovr_macro": auc,
        "roc_auc_skipped": skipped,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion": confusion.tolist(),
        "classes": list(classes),
        "n": len(y),
    }


def _checked(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    k = len(classes)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(
            f"y_true must be a non-empty 1-D array of class indices, got shape {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y_true must hold integer class indices, got dtype {y.dtype}")
    if p.shape != (y.size, k):
        raise ValueError(f"proba must have shape ({y.size}, {k}) for {k} classes, got {p.shape}")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(
            f"y_true must hold class indices in [0, {k}), got range [{y.min()}, {y.max()}]"
        )
    if not np.isfinite(p).all():
        raise ValueError("proba contains NaN or infinite values (a diverged run has no metrics)")
    return y.astype(np.int64), p


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0.0 where den == 0, as scikit-learn's zero_division=0."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _roc_auc_ovr(
    y: np.ndarray, p: np.ndarray, classes: Sequence[str]
) -> tuple[float | None, list[str]]:
    aucs, skipped = [], []
    for i, name in enumerate(classes):
        positive = y == i
        n_pos = int(positive.sum())
        n_neg = len(y) - n_pos
        if n_pos == 0 or n_neg == 0:
            skipped.append(name)
            continue
        ranks = _average_ranks(p[:, i])
        u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
        aucs.append(u / (n_pos * n_neg))
    return (float(np.mean(aucs)) if aucs else None), skipped


def _average_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks; tied scores share the mean of the ranks they span, which is what
    makes a tie between a positive and a negative count as half a correct ordering."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]
