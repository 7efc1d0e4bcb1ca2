"""Metrics from predictions: the numbers every report is built from."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from common_data.run.metrics import classification_metrics, ensemble_proba, softmax

ABC = ("a", "b", "c")
CLASSES = ("angry", "happy", "natural", "sad", "surprise")


def _one_hot(pred, k):
    proba = np.full((len(pred), k), 0.1)
    proba[np.arange(len(pred)), pred] = 0.8
    return proba


def test_hand_computed_three_class_case():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y, _one_hot(pred, 3), classes=ABC)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.8)
    assert m["per_class"]["c"] == {"precision": 1.0, "recall": 0.5,
                                   "f1": pytest.approx(2 / 3), "support": 2}
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx(m["macro_f1"])
    assert m["classes"] == list(ABC) and m["n"] == 6


def test_weighted_f1_weights_by_support():
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 0, 0])  # class b never predicted: precision 0/0 -> 0
    m = classification_metrics(y, _one_hot(pred, 2), classes=("a", "b"))
    f1_a = 2 * 3 / (2 * 3 + 1)
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["weighted_f1"] == pytest.approx(3 / 4 * f1_a)
    assert m["macro_f1"] == pytest.approx(f1_a / 2)


def test_class_absent_everywhere_is_left_out_of_macro_f1_and_auc():
    y = np.array([0, 1, 0, 1])
    m = classification_metrics(y, _one_hot(y, 3), classes=ABC)
    assert m["macro_f1"] == 1.0  # scikit-learn's default label set: present classes only
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["roc_auc_ovr_macro"] == 1.0
    assert m["roc_auc_skipped"] == ["c"]


def test_predicted_but_absent_class_counts_as_zero_in_macro_f1():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])
    m = classification_metrics(y, _one_hot(pred, 3), classes=ABC)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)


def test_auc_counts_ties_as_half():
    y = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.5, 0.5, 0.9])
    m = classification_metrics(y, np.stack([1 - p1, p1], axis=1), classes=("a", "b"))
    # pairs (pos, neg): 0.5>0.1, 0.5=0.5 (half), 0.9>0.1, 0.9>0.5 -> 3.5 / 4
    assert m["roc_auc_ovr_macro"] == pytest.approx(0.875)
    assert m["roc_auc_skipped"] == []


def _pairwise_auc(scores, positive):
    pos, neg = scores[positive], scores[~positive]
    wins = sum((p > q) + 0.5 * (p == q) for p, q in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_matches_pairwise_counting_on_random_five_class_data():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 5, 60)
    proba = softmax(np.round(rng.normal(size=(60, 5)) + np.eye(5)[y], 1))  # rounding makes ties
    m = classification_metrics(y, proba, CLASSES)
    expected = np.mean([_pairwise_auc(proba[:, c], y == c) for c in range(5)])
    assert m["roc_auc_ovr_macro"] == pytest.approx(expected, abs=1e-12)
    assert list(m["per_class"]) == list(CLASSES)
    json.dumps(m)  # plain Python types, ready for the record


def test_single_class_truth_has_no_auc():
    m = classification_metrics(np.array([1, 1]), _one_hot(np.array([1, 0]), 2), classes=("a", "b"))
    assert m["roc_auc_ovr_macro"] is None
    assert m["roc_auc_skipped"] == ["a", "b"]


def test_argmax_ties_go_to_the_first_class():
    m = classification_metrics(np.array([0]), np.array([[0.5, 0.5]]), classes=("a", "b"))
    assert m["confusion"] == [[1, 0], [0, 0]]


@pytest.mark.parametrize(
    ("y", "proba", "message"),
    [
        (np.array([0, 1]), np.ones((2, 4)), r"proba must have shape \(2, 5\)"),
        (np.array([0, 5]), np.ones((2, 5)), r"class indices in \[0, 5\)"),
        (np.array([0.0, 1.0]), np.ones((2, 5)), "integer class indices"),
        (np.array([], dtype=int), np.ones((0, 5)), "non-empty"),
        (np.array([0, 1]), np.full((2, 5), np.nan), "NaN"),
    ],
)
def test_bad_inputs_are_rejected(y, proba, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(y, proba, CLASSES)


def test_softmax_is_stable_and_normalised():
    p = softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), 0.0]]))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(p[1], [0.2, 0.6, 0.2])


def test_ensemble_is_the_mean_of_members():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])
    np.testing.assert_allclose(ensemble_proba([a, b]), [[0.75, 0.25]])
    with pytest.raises(ValueError, match="share one shape"):
        ensemble_proba([a, np.ones((2, 2))])
    with pytest.raises(ValueError, match="at least one member"):
        ensemble_proba([])


def test_every_committed_record_recomputes_to_its_stored_metrics() -> None:
    """The committed records' metrics were computed by earlier, hand-written code; the
    scikit-learn implementation must give the same numbers from the stored predictions
    (to 1e-12), so no committed result changes meaning."""
    runs = Path(__file__).resolve().parent.parent / "results" / "runs"
    checked = 0
    for path in sorted(runs.glob("*.predictions.npz")):
        record = json.loads(path.with_name(path.name.replace(".predictions.npz", ".json"))
                            .read_text(encoding="utf-8"))
        with np.load(path, allow_pickle=False) as stored:
            fresh = classification_metrics(stored["y_true"], stored["proba"],
                                           record["metrics"]["classes"])
        for key in ("accuracy", "macro_f1", "weighted_f1", "roc_auc_ovr_macro"):
            assert fresh[key] == pytest.approx(record["metrics"][key], abs=1e-12), path.name
        assert fresh["confusion"] == record["metrics"]["confusion"], path.name
        checked += 1
    assert checked >= 50
