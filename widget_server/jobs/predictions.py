"""Churn models kept fresh on the queue: each app that has a model is retrained weekly and its
active users scored daily (an app gets its first model from ``recap predict train``)."""
from __future__ import annotations

import logging

from ..errors import APIError
from ..store.models import ChurnModel
from .queue import crontab, job

log = logging.getLogger(__name__)


def _apps_with_models() -> list[int]:
    return sorted({model.app_id for model in ChurnModel.select(ChurnModel.app_id).distinct()})


@job("retrain_churn_models", periodic=crontab(minute="17", hour="3", day_of_week="1"))
def retrain_churn_models() -> int:
    """Train every app's churn model again on its latest events; how many were kept."""
    try:
        from ..predict import training
    except ImportError:  # the predict extra is not installed here
        return 0
    kept = 0
    for app_id in _apps_with_models():
        previous = training.latest(app_id)
        try:
            training.train(app_id, previous.horizon_days if previous else training.DEFAULT_HORIZON)
            kept += 1
        except APIError as exc:  # not enough history any more: the previous model stays
            log.warning("churn model of app %s not retrained: %s", app_id, exc.message)
    return kept


@job("score_churn", periodic=crontab(minute="17", hour="4"))
def score_churn() -> int:
    """Score every app's active users with its latest churn model; how many users."""
    try:
        from ..predict import training
    except ImportError:
        return 0
    scored = 0
    for app_id in _apps_with_models():
        kept = training.latest(app_id)
        if kept is None:
            continue
        try:
            scored += training.score(app_id, kept)
        except APIError as exc:
            log.warning("churn scores of app %s not refreshed: %s", app_id, exc.message)
    return scored
