"""Churn prediction: behavioural features of an app's users (``features``), a scikit-learn model
trained and judged on a time split against a recency baseline (``training``), each active
user's score kept, and ``recap predict`` (``cli``). scikit-learn and numpy come with the
``predict`` extra; without it the commands say so and the scheduled retraining does nothing
(docs/PREDICT.md)."""
from __future__ import annotations

from flask import Flask

from .cli import predict


def init_app(app: Flask) -> None:
    app.cli.add_command(predict)
