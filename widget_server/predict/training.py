"""Training a churn model on a time split, evaluating it against a recency baseline, and scoring.

Examples are (user, cutoff) pairs: the user's features at a weekly cutoff and whether they left
in the ``horizon`` days after it (features.py). The split is in time, as the model will be used:
it is fitted on cutoffs up to ``horizon`` days before the first evaluation cutoff (so no label of
the training set reaches into the evaluation's days), and evaluated on the last
``EVAL_CUTOFFS`` cutoffs whose horizon has passed. The report gives ROC AUC, precision at the top
decile and calibration (Brier score, observed rate by predicted fifth) for the model and for the
baseline a product team would use without one: days since the user's last event. The model kept
is then refitted on every labelled cutoff, and scores the users active now.
"""
from __future__ import annotations

import io
import logging
import pickle
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from ..errors import APIError
from ..store.db import write_transaction
from ..store.models import ChurnModel, ChurnScore, now_ms
from .features import Activity, daily_activity

log = logging.getLogger(__name__)

DEFAULT_HORIZON = 30
EVAL_CUTOFFS = 4  # the evaluation's weekly cutoffs, the latest whose horizon has passed last
MAX_TRAIN_CUTOFFS = 26  # half a year of weekly cutoffs before the evaluation's
MIN_HISTORY_DAYS = 28  # a training cutoff has at least this much history before it
MIN_EXAMPLES, MIN_CHURNED = 100, 10  # in each split: fewer cannot be evaluated honestly
CALIBRATION_EDGES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 1.0)  # predicted probability bins of the reliability table


class NotEnoughHistory(APIError):
    status, code, message = 409, "not_enough_history", "Not enough history to train and judge a model."


@dataclass
class Split:
    cutoffs: list[int]
    features: np.ndarray
    churned: np.ndarray


def _model() -> HistGradientBoostingClassifier:
    """Gradient-boosted trees, kept small: a few thousand examples with a few percent who left
    (on the demo's data, 15 leaves per tree fitted noise and lost to the baseline on one app)."""
    return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05, max_leaf_nodes=7, min_samples_leaf=50,
                                          l2_regularization=1.0, random_state=0)


def one_thread() -> threadpool_limits:
    """Fits and predictions on one thread: a worker process is the unit of parallelism, and
    OpenMP's threads, spinning on a busy 2-core machine, took a fit from 1.6 s to 13.9 s."""
    return threadpool_limits(limits=1)


def _split(chunks: list[Activity], cutoffs: list[int], horizon: int) -> Split:
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for activity in chunks:
        for cutoff in cutoffs:
            _, features, churned = activity.at_cutoff(cutoff, horizon)
            assert churned is not None  # (a horizon was given)
            rows.append(features)
            labels.append(churned)
    width = len(chunks[0].feature_names())
    return Split(cutoffs, np.vstack(rows) if rows else np.zeros((0, width)),
                 np.concatenate(labels) if labels else np.zeros(0, dtype=np.int8))


def _day(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def train(app_id: int, horizon: int = DEFAULT_HORIZON, until_ms: int | None = None) -> ChurnModel:
    """Fit, evaluate and keep a churn model of the app's events (before ``until_ms``); score the
    users active at the end. Raises NotEnoughHistory when either split is too small to judge."""
    started = time.perf_counter()
    chunks = list(daily_activity(app_id, until_ms))
    if not chunks:
        raise NotEnoughHistory("The app has no activity of identified users yet.", details={"app_id": app_id})
    first, last = chunks[0].first_day, chunks[0].last_day
    evaluation_days = [last - horizon - 7 * k for k in range(EVAL_CUTOFFS)][::-1]
    train_end = evaluation_days[0] - horizon
    train_days = [d for d in (train_end - 7 * k for k in range(MAX_TRAIN_CUTOFFS))
                  if d - first >= MIN_HISTORY_DAYS][::-1]
    if not train_days or evaluation_days[0] - first < MIN_HISTORY_DAYS:
        raise NotEnoughHistory(
            f"A model needs about {MIN_HISTORY_DAYS + 2 * horizon + 7 * EVAL_CUTOFFS} days of events; "
            f"this app has {last - first + 1}.", details={"app_id": app_id, "days": last - first + 1})
    fit_on, judged_on = _split(chunks, train_days, horizon), _split(chunks, evaluation_days, horizon)
    for name, split in (("training", fit_on), ("evaluation", judged_on)):
        if len(split.churned) < MIN_EXAMPLES or split.churned.sum() < MIN_CHURNED or split.churned.all():
            raise NotEnoughHistory(
                f"The {name} split has {len(split.churned)} examples and {int(split.churned.sum())} who left; "
                f"a model needs {MIN_EXAMPLES} and {MIN_CHURNED} (and some who stayed).",
                details={"app_id": app_id, "split": name})
    with one_thread():
        model = _model().fit(fit_on.features, fit_on.churned)
        predicted = model.predict_proba(judged_on.features)[:, 1]
    recency = judged_on.features[:, 0]  # days since the last event: the baseline's score
    report: dict[str, Any] = {
        "horizon_days": horizon,
        "features": chunks[0].feature_names(),
        "training": _describe(fit_on),
        "evaluation": {**_describe(judged_on), "model": _quality(judged_on.churned, predicted),
                       "baseline": {"name": "days since the last event",
                                    **_quality(judged_on.churned, recency, calibrated=False)},
                       "calibration": _calibration(judged_on.churned, predicted)},
    }
    evaluation = report["evaluation"]
    report["beats_baseline"] = evaluation["model"]["roc_auc"] > evaluation["baseline"]["roc_auc"]
    everything = _split(chunks, train_days + evaluation_days, horizon)
    with one_thread():
        final = _model().fit(everything.features, everything.churned)
    report["kept"] = {"fitted_on_examples": int(len(everything.churned)),
                      "seconds": round(time.perf_counter() - started, 2)}
    buffer = io.BytesIO()
    pickle.dump(final, buffer)
    with write_transaction():
        kept = ChurnModel.create(app_id=app_id, horizon_days=horizon, report=report, model=buffer.getvalue())
    report["scored_users"] = score(app_id, kept, chunks)
    ChurnModel.update(report=report).where(ChurnModel.id == kept.id).execute()
    kept.report = report
    log.info("churn model %s of app %s: ROC AUC %.3f (baseline %.3f), %d users scored", kept.id, app_id,
             evaluation["model"]["roc_auc"], evaluation["baseline"]["roc_auc"], report["scored_users"])
    return kept


def _describe(split: Split) -> dict[str, Any]:
    return {"cutoffs": [_day(split.cutoffs[0]), _day(split.cutoffs[-1])], "cutoff_count": len(split.cutoffs),
            "examples": int(len(split.churned)), "churned": int(split.churned.sum()),
            "churn_rate": round(float(split.churned.mean()), 4)}


def _quality(churned: np.ndarray, score: np.ndarray, calibrated: bool = True) -> dict[str, Any]:
    """ROC AUC, the share who left among the top tenth by score, and (for probabilities) the Brier score."""
    top = np.argsort(-score, kind="stable")[: max(1, len(score) // 10)]
    out = {"roc_auc": round(float(roc_auc_score(churned, score)), 4),
           "precision_top_decile": round(float(churned[top].mean()), 4)}
    if calibrated:
        out["brier"] = round(float(brier_score_loss(churned, score)), 4)
    return out


def _calibration(churned: np.ndarray, predicted: np.ndarray) -> list[dict[str, Any]]:
    """The reliability table: the evaluation's examples by predicted probability, the mean
    predicted against the share who left, in each bin that has examples."""
    bins = np.clip(np.searchsorted(CALIBRATION_EDGES, predicted, side="right") - 1, 0, len(CALIBRATION_EDGES) - 2)
    table = []
    for b in range(len(CALIBRATION_EDGES) - 1):
        part = bins == b
        if part.any():
            table.append({"bin": [CALIBRATION_EDGES[b], CALIBRATION_EDGES[b + 1]], "examples": int(part.sum()),
                          "predicted": round(float(predicted[part].mean()), 4),
                          "observed": round(float(churned[part].mean()), 4)})
    return table


def load(kept: ChurnModel) -> HistGradientBoostingClassifier:
    model: HistGradientBoostingClassifier = pickle.loads(bytes(kept.model))  # noqa: S301 (written by train above)
    return model


def latest(app_id: int) -> ChurnModel | None:
    newest = ChurnModel.select().where(ChurnModel.app_id == app_id).order_by(ChurnModel.trained_at.desc(),
                                                                              ChurnModel.id.desc())
    found: ChurnModel | None = newest.first()
    return found


def score(app_id: int, kept: ChurnModel, chunks: list[Activity] | None = None) -> int:
    """Score every user active in the last days of the data with ``kept``; how many. Users no
    longer active lose their score (they have left: no prediction is needed)."""
    chunks = chunks if chunks is not None else list(daily_activity(app_id))
    model = load(kept)
    at = now_ms()
    rows: list[tuple[Any, ...]] = []
    for activity in chunks:
        if activity.feature_names() != kept.report.get("features"):
            raise NotEnoughHistory("The app's most frequent events changed since the model was trained: "
                                   "train it again.", details={"app_id": app_id})
        users, features, _ = activity.at_cutoff(activity.last_day)
        if users:
            with one_thread():
                predicted = model.predict_proba(features)[:, 1]
            rows += [(app_id, u, float(p), kept.id, at) for u, p in zip(users, predicted, strict=True)]
    with write_transaction():
        ChurnScore.delete().where(ChurnScore.app_id == app_id).execute()
        for start in range(0, len(rows), 500):
            ChurnScore.insert_many(rows[start:start + 500], fields=[ChurnScore.app_id, ChurnScore.user_id,
                                                                    ChurnScore.score, ChurnScore.model_id,
                                                                    ChurnScore.scored_at]).execute()
    return len(rows)


def scores(app_id: int) -> dict[str, float]:
    """The app's users with a churn score, by user id."""
    rows = ChurnScore.select(ChurnScore.user_id, ChurnScore.score).where(ChurnScore.app_id == app_id)
    return {row.user_id: row.score for row in rows.order_by(ChurnScore.user_id)}


def trained_on(kept: ChurnModel) -> str:
    return datetime.fromtimestamp(kept.trained_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")

