"""Every reported metric, computed from saved predictions in one place, with scikit-learn.

Both twins hand back class probabilities and nothing else, so a metric cannot differ
between frameworks because of how a framework computes it:

* predictions are ``argmax(proba)``, first index on ties;
* F1, precision and recall use ``zero_division=0``; ``macro_f1`` averages over the classes
  present in ``y_true`` or the predictions (scikit-learn's default label set), while
  ``per_class`` and the confusion matrix list every class;
* ``roc_auc_ovr_macro`` is the mean one-vs-rest AUC (``roc_auc_score`` per class) over the
  classes that have both positives and negatives in ``y_true``. Where scikit-learn's
  multi-class call would raise, an absent class is skipped and named in ``roc_auc_skipped``
  (LOSO folds can lack a class); the AUC is None when no class can be scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)


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
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, F1s, OvR ROC AUC, per-class scores and the confusion matrix (rows = true).

    All values are plain Python types so the dict goes straight into a JSON record.
    """
    y, p = _checked(y_true, proba, classes)
    labels = list(range(len(classes)))
    pred = np.argmax(p, axis=1)
    confusion = confusion_matrix(y, pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0)

    auc, skipped = _roc_auc_ovr(y, p, classes)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y, pred, average="weighted", zero_division=0)),
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


def _roc_auc_ovr(
    y: np.ndarray, p: np.ndarray, classes: Sequence[str]
) -> tuple[float | None, list[str]]:
    aucs, skipped = [], []
    for i, name in enumerate(classes):
        positive = y == i
        if positive.all() or not positive.any():
            skipped.append(name)
            continue
        aucs.append(roc_auc_score(positive, p[:, i]))
    return (float(np.mean(aucs)) if aucs else None), skipped
