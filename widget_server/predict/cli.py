"""``recap predict``: train an app's churn model and print its report, show the kept one, score."""
from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup, with_appcontext

from ..apps.cli import find_app
from ..errors import APIError

EXTRA = "churn prediction needs the predict extra: pip install 'recap[predict]' (scikit-learn, numpy)"


def _training() -> Any:
    """The training module, which needs scikit-learn: a clear error where it is not installed."""
    try:
        from . import training
    except ImportError as exc:
        raise click.ClickException(f"{EXTRA} ({exc.name} is missing)") from None
    return training


@click.group("predict", cls=AppGroup)
def predict() -> None:
    """Churn prediction: a model per app, trained and judged on a time split (docs/PREDICT.md)."""


@predict.command("train")
@click.option("--app", "app_name", required=True, help="The app's name or id.")
@click.option("--horizon", default=30, show_default=True, type=click.IntRange(7, 180),
              help="Days without activity after a cutoff that count as having left.")
@with_appcontext
def train_command(app_name: str, horizon: int) -> None:
    """Train APP's churn model on its events, print the evaluation against the recency baseline,
    keep the model with its report and score the users active now."""
    training = _training()
    app = find_app(app_name)
    click.echo(f"Training the churn model of {app.name} (horizon {horizon} days)…", err=True)
    try:
        kept = training.train(app.id, horizon)
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    print_report(app.name, kept.report, training.trained_on(kept))


@predict.command("show")
@click.option("--app", "app_name", required=True, help="The app's name or id.")
@with_appcontext
def show_command(app_name: str) -> None:
    """Print the report of APP's latest model, with the date it was trained."""
    training, app, kept = _latest(app_name)
    print_report(app.name, kept.report, training.trained_on(kept))


@predict.command("score")
@click.option("--app", "app_name", required=True, help="The app's name or id.")
@with_appcontext
def score_command(app_name: str) -> None:
    """Score APP's active users again with its latest model (the queue does it daily)."""
    training, app, kept = _latest(app_name)
    try:
        scored = training.score(app.id, kept)
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{scored:,} users of {app.name} scored with the model of {training.trained_on(kept)}.")


def _latest(app_name: str) -> tuple[Any, Any, Any]:
    """The training module, the app and its latest model, or a clear error for an app without one."""
    training = _training()
    app = find_app(app_name)
    kept = training.latest(app.id)
    if kept is None:
        raise click.ClickException(f"{app.name} has no churn model yet: recap predict train --app {app_name!r}")
    return training, app, kept


def print_report(app_name: str, report: dict[str, Any], trained: str) -> None:
    training, evaluation = report["training"], report["evaluation"]
    model, baseline = evaluation["model"], evaluation["baseline"]
    click.echo(f"Churn model of {app_name}, trained {trained}: who has no activity in the "
               f"{report['horizon_days']} days after a cutoff.")
    for name, split in (("training", training), ("evaluation", evaluation)):
        click.echo(f"  {name:<10} {split['cutoff_count']:>2} weekly cutoffs {split['cutoffs'][0]} … "
                   f"{split['cutoffs'][1]}: {split['examples']:,} examples, {split['churned']:,} left "
                   f"({split['churn_rate']:.1%})")
    click.echo("")
    click.echo(f"  {'on the evaluation split':<38} {'ROC AUC':>8} {'precision, top 10%':>19} {'Brier':>7}")
    click.echo(f"  {'model':<38} {model['roc_auc']:>8.3f} {model['precision_top_decile']:>19.1%} "
               f"{model['brier']:>7.3f}")
    click.echo(f"  {'baseline: ' + baseline['name']:<38} {baseline['roc_auc']:>8.3f} "
               f"{baseline['precision_top_decile']:>19.1%}")
    click.echo("")
    click.echo(f"  {'calibration: predicted':<24} {'examples':>9} {'predicted':>10} {'left':>7}")
    for row in evaluation["calibration"]:
        low, high = row["bin"]
        click.echo(f"  {f'{low:.0%} – {high:.0%}':<24} {row['examples']:>9,} {row['predicted']:>10.1%} "
                   f"{row['observed']:>7.1%}")
    verdict = "beats" if report["beats_baseline"] else "does NOT beat"
    click.echo("")
    click.echo(f"  The model {verdict} the baseline. {report.get('scored_users', 0):,} active users scored.")
