"""Who may share, upload and revoke: a user's viewer token, or the app's secret key."""
from __future__ import annotations

from ..auth import KEY_PREFIX, Caller, key_caller, presented_credential, verify_viewer_token
from ..errors import Unauthorized
from ..store.models import ApiKey


def viewer() -> Caller:
    """The user behind a viewer token (Bearer); keys are refused."""
    credential = presented_credential()
    if not credential or credential.startswith(tuple(KEY_PREFIX.values())):
        raise Unauthorized("This needs the user's viewer token (Authorization: Bearer …).")
    return verify_viewer_token(credential)


def viewer_or_secret(action: str) -> Caller:
    """A viewer token (acting for its user) or the app's secret key (acting for the app)."""
    caller = key_caller(presented_credential())
    if caller is None:
        return viewer()
    if caller.kind != ApiKey.SECRET:
        raise Unauthorized(f"A write key can only send events; {action} with a viewer token or the secret key.")
    return caller
