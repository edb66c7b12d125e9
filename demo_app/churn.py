"""The demo's churn check: train each app's churn model on the year just sent, then hold its
scores against the churn the generator planted (people.py): the users who are fading out now and
leave within the model's horizon are the truth a good model ranks first."""
from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

from widget_server.store.db import database

from .instance import DemoApp, server_app
from .people import make_people

MIN_USERS = 100  # fewer leave too few to train and judge a model on


def check(instance: Path, apps: dict[str, DemoApp], users: int, seed: int, start: date, end: date) -> list[str]:
    """One line per app: the model's ROC AUC on its later split against the recency baseline's,
    and how well today's scores find the users planted to leave in the next horizon."""
    if users < MIN_USERS:
        return [f"Churn prediction: skipped (it needs --users {MIN_USERS} or more to train and judge a model)."]
    try:
        from sklearn.metrics import roc_auc_score

        from widget_server.predict import training
    except ImportError:
        return ["Churn prediction: skipped (pip install -e '.[predict]' to train a model on the demo's data)."]
    lines = []
    flask_app = server_app(instance)
    logging.getLogger(training.__name__).setLevel(logging.WARNING)  # the demo prints its own line per app
    with flask_app.app_context(), database.connection_context():
        for app in apps.values():
            try:
                kept = training.train(app.app_id)
            except training.NotEnoughHistory as exc:
                lines.append(f"Churn model of {app.name}: not trained ({exc.message})")
                continue
            judged = kept.report["evaluation"]
            horizon = timedelta(days=kept.horizon_days)
            leaving = {p.user_id for p in make_people(app.prefix, users, seed, start, end)
                       if p.leaves_on is not None and end < p.leaves_on <= end + horizon}
            scores = training.scores(app.app_id)
            truth = [user in leaving for user in scores]
            found = (f"; today's scores rank the {sum(truth)} users planted to leave in the next "
                     f"{kept.horizon_days} days with ROC AUC {roc_auc_score(truth, list(scores.values())):.2f}"
                     if 0 < sum(truth) < len(truth) else "")
            lines.append(f"Churn model of {app.name}: ROC AUC {judged['model']['roc_auc']:.2f} on the later split "
                         f"(days since the last event alone: {judged['baseline']['roc_auc']:.2f}){found}. "
                         f"Report: recap predict show --app {app.name}")
    return lines
