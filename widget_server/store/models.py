"""Peewee models. Times are integer milliseconds since the Unix epoch, UTC."""
from __future__ import annotations

import json
import time
from typing import Any

from peewee import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BlobField,
    CharField,
    CompositeKey,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    ModelSelect,
    TextField,
)

from .db import database

# The longest id an app may send or ask about (user, anonymous, message, group and previous ids):
# ingest refuses longer ones (422), so no route needs to look further.
MAX_ID = 200


def now_ms() -> int:
    return int(time.time() * 1000)


class EventJSON(TextField):
    """An event's JSON object, kept as the client's text: ``jsonb`` on PostgreSQL, parsed once
    when stored rather than at every read (the store reads it back as text, db.PostgresStore)."""

    field_type = "EVENT_JSON"  # db.SqliteStore and db.PostgresStore map it


class JSONField(TextField):
    """JSON stored as text, so SQLite's and PostgreSQL's JSON functions can read it."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    name = CharField()
    applied_at = BigIntegerField(default=now_ms)


class App(BaseModel):
    id = AutoField()  # (the primary key peewee would add, named so the type checker sees it)
    name = CharField(unique=True, max_length=100)
    # Custom URL scheme for deep links ("musicapp"), and the web base that app/universal links use.
    deep_link_scheme = CharField(null=True, max_length=50)
    share_base_url = CharField(null=True, max_length=300)
    timezone = CharField(default="UTC", max_length=64)
    # The locale of a story whose user sent none (engine/locales.py; recap apps update --locale).
    locale = CharField(default="en-GB", max_length=35)
    # Brand colours of stories and cards: {"background", "foreground", "accent"} (apps/settings.py).
    brand = JSONField(default=dict)
    # Origins allowed to frame the embed page (CSP frame-ancestors); empty means any.
    frame_ancestors = CharField(default="", max_length=1000)
    # Mobile app association files: {"android": [...assetlinks...], "apple": {...}}.
    app_links = JSONField(default=dict)
    # Where the app is installed from, for share pages' "Get your own": {"ios": url, "android": url}.
    store_links = JSONField(default=dict)
    created_at = BigIntegerField(default=now_ms)
    keys: ModelSelect[ApiKey]  # (ApiKey.app's backref)


class ApiKey(BaseModel):
    WRITE, SECRET = "write", "secret"

    id = AutoField()  # (the primary key peewee would add, named so the type checker sees it)
    app = ForeignKeyField(App, backref="keys", on_delete="CASCADE")
    kind = CharField(max_length=10)
    # Only a SHA-256 of the key is kept; keys are 190+ bits of randomness, so a fast hash is safe.
    key_hash = CharField(unique=True, max_length=64)
    # The first characters, to tell keys apart in listings without revealing them.
    prefix = CharField(max_length=16)
    created_at = BigIntegerField(default=now_ms)
    revoked_at = BigIntegerField(null=True)


class Event(BaseModel):
    """One Segment event. ``actor`` is ``u:<userId>`` or ``a:<anonymousId>``: one column finds a
    user's events together with the anonymous ones that Identity joins to them, through
    ``event_by_actor``. Ingest only appends rows; their keys (message id, actor, name) are
    indexed behind it, in bulk (see event_keys)."""

    id = BigAutoField()
    app_id = IntegerField()
    message_id = CharField(max_length=200)
    type = CharField(max_length=10)
    name = CharField(null=True, max_length=200)
    user_id = CharField(null=True, max_length=200)
    anonymous_id = CharField(null=True, max_length=200)
    actor = CharField(max_length=202)
    timestamp = BigIntegerField()
    # Minutes east of UTC at ``timestamp`` in the user's time zone (context.timezone, else the app's),
    # so day and hour boundaries are right across daylight-saving changes.
    utc_offset = IntegerField(default=0)
    received_at = BigIntegerField()
    properties = EventJSON(null=True)  # properties, or traits for identify/group
    context = EventJSON(null=True)


class Identity(BaseModel):
    """An earlier id (``a:<anonymousId>`` or ``u:<previousId>``) that belongs to ``user_id``."""

    id = AutoField()
    app_id = IntegerField()
    actor = CharField(max_length=202)
    user_id = CharField(max_length=200)
    created_at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = (
            (("app_id", "actor"), True),
            (("app_id", "user_id"), False),
        )


class Profile(BaseModel):
    app_id = IntegerField()
    user_id = CharField(max_length=200)
    traits = JSONField(default=dict)
    timezone = CharField(null=True, max_length=64)
    locale = CharField(null=True, max_length=35)  # the last context.locale the user sent, as sent
    first_seen = BigIntegerField()
    last_seen = BigIntegerField()

    class Meta:
        indexes = ((("app_id", "user_id"), True),)


class ViewerGrant(BaseModel):
    """What a viewer token stands for. Tokens carry only this random id, never the user id."""

    id = CharField(primary_key=True, max_length=32)
    app = ForeignKeyField(App, on_delete="CASCADE")
    app_id: int  # (peewee's accessor for the column behind ``app``)
    user_id = CharField(max_length=200)
    created_at = BigIntegerField(default=now_ms)
    expires_at = BigIntegerField()


class PopulationStat(BaseModel):
    """How one metric is spread over an app's users in one period: sorted values or quantiles."""

    app_id = IntegerField()
    template_id = CharField(max_length=64)
    period_key = CharField(max_length=40)
    metric = CharField(max_length=64)
    users = IntegerField()
    points = TextField()  # JSON list, ascending
    computed_at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = ((("app_id", "template_id", "period_key", "metric"), True),)


class PrecomputedStory(BaseModel):
    """A story assembled ahead of time by ``recap stories build``; serving it is one key lookup."""

    app_id = IntegerField()
    template_id = CharField(max_length=64)
    period_key = CharField(max_length=40)
    user_id = CharField(max_length=200)
    story = TextField()  # the story JSON, ready to send
    generated_at = BigIntegerField(default=now_ms)
    # What it was built from (assemble.built_from: the template's content and the app's
    # settings the story shows): served only while both are still the same.
    built_from = CharField(max_length=64, default="")
    # The app's template version it was built from (StoredTemplate); 0: a default (a shipped
    # template the app never edited). Served only while that version is the published one.
    template_version = IntegerField(default=0)

    class Meta:
        indexes = ((("app_id", "template_id", "period_key", "user_id"), True),)


class Upload(BaseModel):
    """A user-provided picture, re-encoded from its pixels and stored under ``id`` (server-made)."""

    id = CharField(primary_key=True, max_length=32)
    app = ForeignKeyField(App, on_delete="CASCADE")
    app_id: int  # (peewee's accessor for the column behind ``app``)
    # The viewer's user; None when the app's server uploaded it with the secret key (any of the
    # app's users may then put it on a card).
    user_id = CharField(null=True, max_length=200)
    format = CharField(max_length=8)  # "jpeg" or "png", the stored encoding
    width = IntegerField()
    height = IntegerField()
    size = IntegerField()
    created_at = BigIntegerField(default=now_ms)


class Share(BaseModel):
    """A shared final card, frozen when shared: later events never change what others see.

    ``id`` is random and public (in links, signed); the user is known only to the database.
    """

    id = CharField(primary_key=True, max_length=32)
    app = ForeignKeyField(App, on_delete="CASCADE")
    app_id: int  # (peewee's accessor for the column behind ``app``)
    user_id = CharField(max_length=200)
    template_id = CharField(max_length=64)
    card = JSONField()  # the card plus what the page shows beside it (app, period, caption)
    upload = ForeignKeyField(Upload, null=True, on_delete="SET NULL")
    upload_id: str | None
    url = CharField(max_length=500)  # canonical public URL, also encoded in the QR code
    created_at = BigIntegerField(default=now_ms)
    expires_at = BigIntegerField()
    revoked_at = BigIntegerField(null=True)
    # What makes two shares one (share/shares.py): unique among live shares, so two taps sent to
    # two processes get one share; NULL once the share has ended (revoked, or expired and replaced).
    live_key = CharField(null=True, max_length=64)
    # The template version the card was made from (0: a default the app never edited).
    template_version = IntegerField(default=0)
    # The share's video (video/): pending, ready, failed or off; NULL for shares made before videos.
    video_status = CharField(null=True, max_length=16)

    class Meta:
        indexes = ((("app", "user_id"), False), (("app", "template_id"), False), (("app", "live_key"), True))


class StoredTemplate(BaseModel):
    """One template of one app in the database (engine/template_store.py): which of its
    versions is published (serves stories, shares and builds) and the latest number given.
    Reading ``published`` is what each story request costs to see another process's publish."""

    app_id = IntegerField()
    template_id = CharField(max_length=64)
    published = IntegerField(null=True)  # None: only drafts so far (the default keeps serving)
    latest = IntegerField(default=0)
    updated_at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = ((("app_id", "template_id"), True),)


class TemplateVersion(BaseModel):
    """One saved version of an app's template, never changed once written: its source as sent."""

    id = BigAutoField()
    app_id = IntegerField()
    template_id = CharField(max_length=64)
    version = IntegerField()
    format = CharField(max_length=8)  # "toml" or "json", as it was sent
    source = TextField()
    created_at = BigIntegerField(default=now_ms)
    key_id = IntegerField(null=True)  # the secret key that saved it; None: the command line or an import

    class Meta:
        indexes = ((("app_id", "template_id", "version"), True),)


class TemplateAudit(BaseModel):
    """Who did what to an app's template when: put, publish, rollback, import."""

    id = BigAutoField()
    app_id = IntegerField()
    template_id = CharField(max_length=64)
    action = CharField(max_length=16)
    version = IntegerField()
    key_id = IntegerField(null=True)  # ApiKey.id; None: the command line or an import
    at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = ((("app_id", "template_id", "at"), False),)


class StoredTrigger(BaseModel):
    """One trigger of one app (triggers/store.py): its latest version is the one that acts."""

    app_id = IntegerField()
    trigger_id = CharField(max_length=64)
    latest = IntegerField(default=0)
    updated_at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = ((("app_id", "trigger_id"), True),)


class TriggerVersion(BaseModel):
    """One saved version of an app's trigger, never changed once written: its source as sent."""

    id = BigAutoField()
    app_id = IntegerField()
    trigger_id = CharField(max_length=64)
    version = IntegerField()
    format = CharField(max_length=8)  # "toml" or "json", as it was sent
    source = TextField()
    created_at = BigIntegerField(default=now_ms)
    key_id = IntegerField(null=True)  # the secret key that saved it; None: the command line

    class Meta:
        indexes = ((("app_id", "trigger_id", "version"), True),)


class WebhookSecret(BaseModel):
    """What an app's webhook secret is derived from (auth.py): a random nonce and which signing
    key derives it, by fingerprint. The secret itself is never stored."""

    app_id = IntegerField(primary_key=True)
    nonce = CharField(max_length=64)
    key_fingerprint = CharField(max_length=32)
    created_at = BigIntegerField(default=now_ms)



class TriggerRun(BaseModel):
    """One cause of one trigger being acted on (triggers/fan_out.py): an event's fan-out over the
    app's users in chunks, or a user's milestone. Unique per cause, so the same release ingested
    twice, or its job run twice, fans out once."""

    id = BigAutoField()
    app_id = IntegerField()
    trigger_id = CharField(max_length=64)
    version = IntegerField()
    cause_key = CharField(max_length=64)
    cause = JSONField()  # what the payload names: {"kind": "event", "event": name, "message_id"} …
    chunks = IntegerField(default=0)
    done_chunks = IntegerField(default=0)
    users = IntegerField(default=0)  # candidates looked at
    matched = IntegerField(default=0)  # in the audience, deliveries made (before caps)
    created_at = BigIntegerField(default=now_ms)
    finished_at = BigIntegerField(null=True)

    class Meta:
        indexes = ((("app_id", "trigger_id", "cause_key"), True),)


class Delivery(BaseModel):
    """One notification of one user for one cause of one trigger: ``id`` is the idempotency key
    the payload carries, made from (app, trigger, user, cause), and that triple is unique here, so
    no retry or re-run notifies anyone twice (triggers/deliveries.py)."""

    id = CharField(primary_key=True, max_length=32)
    app_id = IntegerField()
    trigger_id = CharField(max_length=64)
    version = IntegerField()
    user_id = CharField(max_length=200)
    cause_key = CharField(max_length=64)
    cause = JSONField()
    message = JSONField()  # {"title", "body"}, rendered when the delivery was made
    # pending (due, or deferred to ``due_at``) | retrying | delivered | failed (24 h of refusals)
    # | capped (over a daily limit: never sent) | dropped (opted out or erased before it went)
    status = CharField(max_length=16)
    attempts = IntegerField(default=0)
    created_at = BigIntegerField(default=now_ms)
    due_at = BigIntegerField()
    delivered_at = BigIntegerField(null=True)
    last_error = TextField(null=True)

    class Meta:
        indexes = ((("app_id", "trigger_id", "user_id", "cause_key"), True),
                   (("app_id", "trigger_id", "created_at"), False),
                   (("app_id", "user_id", "created_at"), False))


class DeliveryAttempt(BaseModel):
    """Every POST of a delivery to the webhook, kept: when, how long, what came back."""

    id = BigAutoField()
    delivery = CharField(max_length=32, index=True)
    number = IntegerField()
    at = BigIntegerField(default=now_ms)
    status_code = IntegerField(null=True)  # None: no answer (refused address, timeout, connection)
    error = TextField(null=True)
    duration_ms = IntegerField(default=0)


CORE_MODELS = [App, ApiKey, Event, Identity, Profile, ViewerGrant, PopulationStat, PrecomputedStory,
               Upload, Share]
TEMPLATE_MODELS = [StoredTemplate, TemplateVersion, TemplateAudit]
TRIGGER_MODELS = [StoredTrigger, TriggerVersion, WebhookSecret]
DELIVERY_MODELS = [TriggerRun, Delivery, DeliveryAttempt]


class TriggerChunk(BaseModel):
    """One chunk of a run's users (triggers/fan_out.py), done once whichever worker ends up doing
    it: held for ``TRIGGER_CHUNK_LEASE`` seconds as a build's chunk is (jobs/leases.py), so one
    lost with a killed worker is enqueued again, and counted in its run once."""

    id = BigAutoField()
    run = ForeignKeyField(TriggerRun, on_delete="CASCADE")
    seq = IntegerField()
    users = JSONField()  # the user ids
    state = CharField(max_length=16, default="queued")  # queued | done | failed
    job_id = CharField(max_length=64, null=True)  # the job holding (or last holding) the claim
    claimed_until = BigIntegerField(null=True)
    attempts = IntegerField(default=0)
    enqueued_at = BigIntegerField(default=now_ms)
    done_at = BigIntegerField(null=True)

    class Meta:
        indexes = ((("run", "seq"), True), (("state",), False))


class JobRecord(BaseModel):
    """A queued job that is running, waiting to be retried, or failed for good (widget_server/jobs/).

    The queue itself (huey's) holds what waits; this row is what an operator reads in ``recap
    jobs``, kept in the database so that every worker on every machine writes the same list. A
    job that completes deletes its row; one that failed keeps it, with the reason, until retried.
    """

    id = CharField(primary_key=True, max_length=64)  # huey's task id
    name = CharField(max_length=100)
    args = TextField()  # JSON list: what ``recap jobs retry`` enqueues again
    status = CharField(max_length=16)  # running | retrying | failed
    attempts = IntegerField(default=0)
    reason = TextField(null=True)
    worker = CharField(max_length=200, default="")  # host:pid of the last worker that ran it
    updated_at = BigIntegerField(default=now_ms)

    class Meta:
        table_name = "job"


class StoryBuild(BaseModel):
    """A ``recap stories build`` run on the queue: which stories, for when, and when it ended."""

    id = BigAutoField()
    app_id = IntegerField()
    template_id = CharField(max_length=64)
    period_key = CharField(max_length=40)
    now = CharField(max_length=40)  # the ISO moment that resolved the period
    chunks = IntegerField()
    users = IntegerField()
    created_at = BigIntegerField(default=now_ms)
    finished_at = BigIntegerField(null=True)


class BuildChunk(BaseModel):
    """One chunk of a build's users: done once, whichever worker ends up building it.

    A worker claims a chunk for ``BUILD_CHUNK_LEASE`` seconds; a chunk whose claim ran out
    without being done (its worker was killed) is enqueued again, and a second copy of a job
    finds it done and does nothing.
    """

    id = BigAutoField()
    build = ForeignKeyField(StoryBuild, on_delete="CASCADE")
    seq = IntegerField()
    users = TextField()  # JSON list of user ids
    state = CharField(max_length=16, default="queued")  # queued | done | failed
    job_id = CharField(max_length=64, null=True)  # the job holding (or last holding) the claim
    claimed_until = BigIntegerField(null=True)
    attempts = IntegerField(default=0)
    built = IntegerField(default=0)
    not_eligible = IntegerField(default=0)
    failed = IntegerField(default=0)
    failures = TextField(default="[]")  # JSON [[user id, reason], ...], the first few
    enqueued_at = BigIntegerField(default=now_ms)
    done_at = BigIntegerField(null=True)
    built_by = CharField(max_length=200, default="")  # host:pid of the worker that built it
    cpu_ms = IntegerField(default=0)  # CPU time its worker spent assembling and writing it

    class Meta:
        indexes = ((("build", "seq"), True), (("build", "state"), False))


QUEUE_MODELS = [JobRecord, StoryBuild, BuildChunk]


class ChurnModel(BaseModel):
    """One app's churn model as trained on a date: the fitted model (a pickle of scikit-learn's
    estimator, written and read by this server only) and its report (widget_server/predict/)."""

    id = AutoField()  # (the primary key peewee would add, named so the type checker sees it)
    app_id = IntegerField()
    trained_at = BigIntegerField(default=now_ms)
    horizon_days = IntegerField()
    report = JSONField(default=dict)
    model = BlobField()

    class Meta:
        indexes = ((("app_id", "trained_at"), False),)


class ChurnScore(BaseModel):
    """A user's latest likelihood of leaving within the model's horizon, 0–1."""

    app_id = IntegerField()
    user_id = CharField(max_length=MAX_ID)
    score = FloatField()
    model_id = IntegerField()
    scored_at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = ((("app_id", "user_id"), True), (("app_id", "score"), False))


PREDICT_MODELS = [ChurnModel, ChurnScore]


class StoredAudience(BaseModel):
    """One audience of one app (audiences/store.py): its latest version is the one computed."""

    app_id = IntegerField()
    audience_id = CharField(max_length=64)
    latest = IntegerField(default=0)
    updated_at = BigIntegerField(default=now_ms)

    class Meta:
        indexes = ((("app_id", "audience_id"), True),)


class AudienceVersion(BaseModel):
    """One saved version of an app's audience, never changed once written: its source as sent."""

    id = BigAutoField()
    app_id = IntegerField()
    audience_id = CharField(max_length=64)
    version = IntegerField()
    format = CharField(max_length=8)
    source = TextField()
    created_at = BigIntegerField(default=now_ms)
    key_id = IntegerField(null=True)

    class Meta:
        indexes = ((("app_id", "audience_id", "version"), True),)


class AudienceMember(BaseModel):
    """A user in an audience as of its last refresh (audiences/refresh.py), all of an audience's
    rows replaced together."""

    app_id = IntegerField()
    audience_id = CharField(max_length=64)
    user_id = CharField(max_length=MAX_ID)
    computed_at = BigIntegerField()

    class Meta:
        primary_key = CompositeKey("app_id", "audience_id", "user_id")


class AudienceCount(BaseModel):
    """One refresh of an audience: how many members it found, when, from which version."""

    id = BigAutoField()
    app_id = IntegerField()
    audience_id = CharField(max_length=64)
    version = IntegerField()  # 0: a built-in audience
    members = IntegerField()
    users = IntegerField()  # the app's users it was computed over
    computed_at = BigIntegerField()

    class Meta:
        indexes = ((("app_id", "audience_id", "computed_at"), False),)


AUDIENCE_MODELS = [StoredAudience, AudienceVersion, AudienceMember, AudienceCount]
