"""Churn prediction on the churn the demo plants: features from SQL equal the events' own count,
the model trained on a time split beats the recency baseline, its report is printed and kept,
today's scores find the users about to leave, the queue retrains it, an erased user's score goes."""
from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from demo_app.people import active_days as demo_active_days
from demo_app.people import make_people
from helpers.server import basic, http
from helpers.story import send, track
from widget_server.jobs.predictions import retrain_churn_models
from widget_server.predict import features as churn_features
from widget_server.predict import training
from widget_server.store.db import database
from widget_server.store.models import ChurnModel, ChurnScore

USERS, SEED = 300, 7
END = date(2026, 11, 1)  # fixed: the same planted year, so the same model, on every day the tests run
START = END - timedelta(days=300)


def noon_ms(day: date, hour: int = 12) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp() * 1000)


def planted_year(tenant, server) -> list:
    """The demo's people (30% of them fading out and leaving at a planted day), one to three
    'Lesson Completed' or 'App Opened' events on each of their active days."""
    people = make_people("lg", USERS, SEED, START, END)
    events = []
    for person in people:
        rng = random.Random(person.user_id)
        for day in demo_active_days(person, SEED, END):
            for n in range(rng.randint(1, 3)):
                events.append(track(person.user_id, "Lesson Completed" if n else "App Opened",
                                    noon_ms(day, 8 + n)))
    send(server, tenant.write_key, events)
    return people


@pytest.fixture
def planted(tenant, live_server):
    return planted_year(tenant, live_server)


def test_features_at_a_cutoff_are_the_events_own_counts(app, tenant, live_server):
    today = END
    days = {"ana": [today - timedelta(days=d) for d in (0, 1, 1, 5, 20, 45, 70)],  # one day twice
            "ben": [today - timedelta(days=d) for d in (3, 40, 41)],
            "cy": [today - timedelta(days=d) for d in (31, 32)]}  # inactive for 30 days: left already
    events = [track(user, "App Opened", noon_ms(day)) for user, ds in days.items() for day in ds]
    events.append(track("ana", "story_viewed", noon_ms(today), {"template": "t"}))  # the player's: not activity
    send(live_server, tenant.write_key, events)
    with app.app_context(), database.connection_context():
        (activity,) = churn_features.daily_activity(tenant.app_id)
        users, rows, _ = activity.at_cutoff(today.toordinal() - date(1970, 1, 1).toordinal())
    found = {u: dict(zip(activity.feature_names(), row, strict=True)) for u, row in zip(users, rows, strict=True)}
    assert set(found) == {"ana", "ben"}
    ana, ben = found["ana"], found["ben"]
    assert (ana["days_since_last"], ana["tenure_days"], ana["events_7"], ana["events_30"]) == (0, 70, 4, 5)
    assert (ana["active_days_7"], ana["active_days_30"], ana["active_days_90"]) == (3, 4, 6)
    assert (ben["days_since_last"], ben["events_30"], ben["active_days_90"]) == (3, 1, 3)
    assert ben["trend_events"] == pytest.approx(np.log((1 + 1) / (2 + 1)))  # one in the last 30, two before
    assert ana["share:App Opened"] == 1.0


def test_the_model_beats_the_recency_baseline_on_the_planted_churn_and_keeps_its_report(
        app, tenant, live_server, runner, planted):
    name = "Test App"
    result = runner.invoke(args=["predict", "train", "--app", str(tenant.app_id)])
    assert result.exit_code == 0, result.output
    assert "The model beats the baseline." in result.output and "ROC AUC" in result.output
    with app.app_context(), database.connection_context():
        kept = training.latest(tenant.app_id)
        report = kept.report
        evaluation = report["evaluation"]
        assert evaluation["model"]["roc_auc"] >= 0.80
        assert evaluation["model"]["roc_auc"] > evaluation["baseline"]["roc_auc"]
        # A time split: every training cutoff's horizon ends before the first evaluation cutoff.
        last_training = date.fromisoformat(report["training"]["cutoffs"][1])
        assert last_training + timedelta(days=report["horizon_days"]) <= date.fromisoformat(evaluation["cutoffs"][0])
        assert f"{evaluation['model']['roc_auc']:.3f}" in result.output
        scores = training.scores(tenant.app_id)
    shown = runner.invoke(args=["predict", "show", "--app", str(tenant.app_id)])
    assert shown.exit_code == 0 and f"{evaluation['model']['roc_auc']:.3f}" in shown.output, shown.output
    assert name in shown.output

    # Today's scores against the truth the generator planted: who leaves within the horizon.
    last_active = {p.user_id: max(demo_active_days(p, SEED, END), default=None) for p in planted}
    active_now = {u for u, day in last_active.items() if day is not None and (END - day).days < 30}
    assert set(scores) == active_now  # scored: exactly the users active in the last 30 days
    leaving = [scores[p.user_id] for p in planted if p.user_id in scores and p.leaves_on
               and END < p.leaves_on <= END + timedelta(days=30)]
    staying = [scores[p.user_id] for p in planted if p.user_id in scores and p.leaves_on is None]
    assert leaving and np.median(leaving) > 2 * np.median(staying)

    # The queue retrains it (the weekly job), keeping the earlier model and its report.
    with app.app_context(), database.connection_context():
        assert retrain_churn_models() == 1
        assert ChurnModel.select().where(ChurnModel.app_id == tenant.app_id).count() == 2

    # An erased user's score goes with the rest of them; an export shows it before.
    someone = sorted(scores)[0]
    exported = http("POST", live_server.url + "/v1/users/export", json.dumps({"user_id": someone}).encode(),
                    {"Content-Type": "application/json", **basic(tenant.secret_key)}).json()
    assert exported["churn"]["score"] == pytest.approx(scores[someone], abs=1e-3)
    erased = http("POST", live_server.url + "/v1/users/erase", json.dumps({"user_id": someone}).encode(),
                  {"Content-Type": "application/json", **basic(tenant.secret_key)})
    assert erased.status == 200 and erased.json()["erased"]["churn_scores"] == 1
    with app.app_context(), database.connection_context():
        assert not ChurnScore.select().where((ChurnScore.app_id == tenant.app_id)
                                             & (ChurnScore.user_id == someone)).exists()


def test_too_little_history_is_a_clear_error_and_nothing_is_kept(app, tenant, live_server, runner):
    send(live_server, tenant.write_key, [track(f"u{n}", "App Opened", noon_ms(END - timedelta(days=d)))
                                         for n in range(50) for d in range(0, 20, 3)])
    result = runner.invoke(args=["predict", "train", "--app", str(tenant.app_id)])
    assert result.exit_code == 1 and "A model needs about" in result.output and "days of events" in result.output
    nothing = runner.invoke(args=["predict", "show", "--app", str(tenant.app_id)])
    assert nothing.exit_code == 1 and "has no churn model yet" in nothing.output
    with app.app_context(), database.connection_context():
        assert ChurnModel.select().count() == 0 and ChurnScore.select().count() == 0
