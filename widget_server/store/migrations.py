"""Every schema step, in order, and ``upgrade()``, which applies the pending ones at start."""
from __future__ import annotations

import logging
from collections.abc import Callable

from . import event_keys
from .db import database, is_postgres, is_sqlite, write_transaction
from .models import (
    AUDIENCE_MODELS,
    CORE_MODELS,
    DELIVERY_MODELS,
    PREDICT_MODELS,
    QUEUE_MODELS,
    TEMPLATE_MODELS,
    TRIGGER_MODELS,
    SchemaVersion,
    TriggerChunk,
)

log = logging.getLogger(__name__)

# --- schema versions -------------------------------------------------------------------------
# Each entry brings the schema from version N-1 to N. Append; never edit a released step.
MIGRATIONS: list[Callable[[], None]] = []


UPGRADE_LOCK_ID = 0x7265636170  # PostgreSQL advisory lock held while upgrading ("recap")


def migration(func: Callable[[], None]) -> Callable[[], None]:
    MIGRATIONS.append(func)
    return func


def current_version() -> int:
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def upgrade() -> list[int]:
    """Apply pending migrations in order, then bring a SQLite store's keys file up to date;
    return the versions applied."""
    applied = []
    with database.connection_context():
        if is_postgres():  # servers on several machines may start together: one upgrades at a time
            database.execute_sql("SELECT pg_advisory_lock(%s)", (UPGRADE_LOCK_ID,))
        try:
            database.create_tables([SchemaVersion], safe=True)
            version = current_version()
            for number, step in enumerate(MIGRATIONS, start=1):
                if number <= version:
                    continue
                with write_transaction():
                    step()
                    SchemaVersion.create(version=number, name=step.__name__)
                log.info("database upgraded to schema version %d (%s)", number, step.__name__)
                applied.append(number)
        finally:
            if is_postgres():
                database.execute_sql("SELECT pg_advisory_unlock(%s)", (UPGRADE_LOCK_ID,))
    if is_sqlite():
        event_keys.open_keys(database.obj.database)
    # The pool's idle connections (all of them, at start-up) are closed: a SQLite one made before
    # the keys file was (re)built would still see the old file, and none may cross a fork
    # (gunicorn --preload).
    database.obj.close_idle()
    return applied


def _add_column(table: str, column: str, definition: str) -> None:
    """Add ``column`` unless the table has it: a store made since has it from create_core_tables,
    which makes every table as the models are now."""
    if column not in {c.name for c in database.get_columns(table)}:
        database.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


@migration
def create_core_tables() -> None:
    database.create_tables(CORE_MODELS)


@migration
def index_events_in_bulk() -> None:
    # Also created the key tables in the store; step 3 moved them to their own file, so the
    # step no longer makes what the next one drops.
    event_keys.drop_schema_1_indexes()


@migration
def keep_event_keys_in_their_own_file() -> None:
    event_keys.drop_keys_from_the_store()  # the keys file is built by upgrade()


@migration
def drop_what_schema_2_left() -> None:
    # Stores made by schema 1 or 2 kept ``event.client_timestamp``, NOT NULL with no default in
    # SQL (peewee's default is applied in Python), which ingest stopped writing in schema 3:
    # every insert into such a store failed. Schema 2 also made a partial index of the
    # player's events that nothing reads since, and that every insert paid for.
    database.execute_sql("DROP INDEX IF EXISTS event_engagement")
    if "client_timestamp" in {column.name for column in database.get_columns("event")}:
        log.info("dropping event.client_timestamp: every event row is rewritten once")
        database.execute_sql("ALTER TABLE event DROP COLUMN client_timestamp")


@migration
def name_what_built_stories_were_built_from() -> None:
    # Rows built before name nothing: they are not served again (assembled on demand until the
    # next build), as nothing says which template content and app settings they were built from.
    _add_column("precomputed_story", "built_from", "VARCHAR(64) NOT NULL DEFAULT ''")


@migration
def keep_jobs_and_builds() -> None:
    # The job queue's records (widget_server/jobs/): failed jobs with their reason, and story
    # builds split into chunks that are each done once.
    database.create_tables(QUEUE_MODELS)


@migration
def index_by_name_only_the_player_events() -> None:
    # PostgreSQL indexed every event by name, which only story stats read, for the player's own
    # events; ingest paid for it on every row (event_keys.NAMED_EVENTS). SQLite's key table stays.
    if is_postgres():
        database.execute_sql("DROP INDEX IF EXISTS event_app_id_name_timestamp")
        database.execute_sql(event_keys.POSTGRES_NAME_INDEX)


@migration
def keep_event_json_as_jsonb() -> None:
    # PostgreSQL re-parsed an event's properties text at every read, about 15 times a row in a
    # story's slice (146 ms of a 10k-event story). jsonb is parsed once, when stored. jsonb
    # cannot hold an escaped NUL, which ingest now refuses; one stored before becomes U+FFFD.
    # The table is rewritten once (docs/SCALE.md).
    if not is_postgres():
        return
    text = [c.name for c in database.get_columns("event") if c.name in ("properties", "context")
            and c.data_type.lower() == "text"]  # a store made since has jsonb from its first step
    if text:  # one rewrite of the table
        database.execute_sql("ALTER TABLE event " + ", ".join(
            f"ALTER COLUMN {column} TYPE jsonb USING replace({column}, '\\u0000', '\\ufffd')::jsonb"
            for column in text))


@migration
def make_one_share_of_one_card() -> None:
    # Two taps on Share that reached two processes each made a share of the same card (the
    # per-process lock could not see the other): a unique key of the live shares makes them one.
    # Shares made before have no key; a new share of such a card is made once more.
    _add_column("share", "live_key", "VARCHAR(64)")
    database.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS share_app_id_live_key ON share (app_id, live_key)")


@migration
def name_where_an_app_is_installed_from() -> None:
    # A share page invites a friend without the app to get their own story: from the App Store or
    # Google Play (``recap apps update --app-store-url/--play-store-url``).
    _add_column("app", "store_links", "TEXT NOT NULL DEFAULT '{}'")


@migration
def keep_templates_in_the_database() -> None:
    # Templates per app, versioned, one published (engine/template_store.py). Files an app kept in
    # <instance>/templates/<app id>/ are imported as version 1 the first time they are read.
    # Built stories and shares name the version they came from; those made before name 0, the
    # default's, which is what served them.
    database.create_tables(TEMPLATE_MODELS)
    _add_column("precomputed_story", "template_version", "INTEGER NOT NULL DEFAULT 0")
    _add_column("share", "template_version", "INTEGER NOT NULL DEFAULT 0")


@migration
def keep_a_shares_video_status() -> None:
    # A share's MP4 is drawn on the queue (video/): whether it is pending, ready, failed or off is
    # answered to its owner (GET /v1/shares/<id>) and decides what story.mp4 answers.
    _add_column("share", "video_status", "VARCHAR(16)")


@migration
def keep_triggers_and_webhook_secrets() -> None:
    # Triggers per app, versioned (triggers/store.py), and what each app's webhook secret is
    # derived from (auth.py): apps made before have none until `recap keys rotate APP --kind webhook`.
    database.create_tables(TRIGGER_MODELS)


@migration
def keep_trigger_runs_and_deliveries() -> None:
    # What triggers did (triggers/fan_out.py, deliveries.py): each cause's run, one delivery per
    # (trigger, user, cause), unique, and every attempt to post it. The player's
    # notification_opened is found by name (event_keys.NAMED_EVENTS), for triggers' funnels.
    database.create_tables(DELIVERY_MODELS)
    if is_postgres():
        database.execute_sql("DROP INDEX IF EXISTS event_player_by_name")
        database.execute_sql(event_keys.POSTGRES_NAME_INDEX)


@migration
def keep_churn_models_and_scores() -> None:
    # Churn prediction (predict/): each app's models with their reports, and each active user's
    # latest score.
    database.create_tables(PREDICT_MODELS)


@migration
def keep_the_locale_of_users_and_apps() -> None:
    # Stories speak the user's language (engine/locales.py): their last context.locale is kept on
    # the profile at ingest, as their time zone is, so a story reads it with the profile; an app's
    # default is a setting. Apps made before read as they always did, in British English.
    _add_column("profile", "locale", "VARCHAR(35)")
    _add_column("app", "locale", "VARCHAR(35) NOT NULL DEFAULT 'en-GB'")


@migration
def keep_audiences_and_their_members() -> None:
    # Audiences per app, versioned (audiences/store.py); each one's members as of its last
    # refresh, and one count per refresh (audiences/refresh.py).
    database.create_tables(AUDIENCE_MODELS)


@migration
def keep_trigger_chunks() -> None:
    # A fan-out's chunks as rows (triggers/fan_out.py), each claimed for a lease as a build's
    # chunk is, so a chunk lost with a killed worker is enqueued again and counted once.
    database.create_tables([TriggerChunk])
