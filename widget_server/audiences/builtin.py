"""The built-in audience ``likely_to_churn``: the users whose latest churn score (predict/) is at
least CHURN_THRESHOLD. It exists for an app once the ``predict`` extra is installed and the app
has a trained model; it cannot be saved over (PUT answers 409)."""
from __future__ import annotations

import importlib.util

from ..errors import APIError
from ..store.models import ChurnModel, ChurnScore

LIKELY_TO_CHURN = "likely_to_churn"
# A score is the model's likelihood of no activity within its horizon (docs/PREDICT.md): at one
# half, the model holds leaving likelier than staying.
CHURN_THRESHOLD = 0.5
BUILTIN = (LIKELY_TO_CHURN,)


class BuiltinAudience(APIError):
    status, code, message = 409, "builtin_audience", "A built-in audience cannot be saved over."


def predict_installed() -> bool:
    return importlib.util.find_spec("sklearn") is not None


def available(app_id: int) -> list[str]:
    """The built-in audiences the app has now."""
    if not predict_installed() or not ChurnModel.select().where(ChurnModel.app_id == app_id).exists():
        return []
    return [LIKELY_TO_CHURN]


def churners(app_id: int, user_ids: list[str] | None = None) -> set[str]:
    """Those of ``user_ids`` (all the app's scored users without it) likely to churn."""
    query = ChurnScore.select(ChurnScore.user_id).where(
        (ChurnScore.app_id == app_id) & (ChurnScore.score >= CHURN_THRESHOLD))
    if user_ids is not None:
        query = query.where(ChurnScore.user_id.in_(user_ids))
    return {row.user_id for row in query}
