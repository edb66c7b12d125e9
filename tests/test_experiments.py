"""Experiments: a template's variants of wording, frame order and frames shown, each user's variant
stable, the split as declared, the variant recorded on every engagement event the player sends,
and the stats comparing variants with 95% intervals (docs/STORIES.md "Experiments")."""
from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from helpers.player import ENGAGEMENT_SQL, TEMPLATE, ingest_plays, viewer_token, wait_rows
from helpers.server import basic, http
from helpers.story import app_template
from widget_server.engine import experiments
from widget_server.engine.errors import TemplateInvalid
from widget_server.engine.templates import parse

EXPERIMENT = """
[experiment]
id = "intro-test"

[[experiment.variants]]
id = "control"
percent = {control}

[[experiment.variants]]
id = "reordered"
percent = {reordered}
frames = {{ intro = {{ subtitle = "{{{{ plays | number }}}} plays, in order of how much they meant" }} }}
order = ["top-artists", "intro"]
hide = ["plays"]
"""


def with_experiment(template_id: str = "player-test", ms: int = 60_000, control: int = 50, reordered: int = 50,
                    extra: str = "") -> str:
    return (TEMPLATE.format(id=template_id, ms=ms) + EXPERIMENT.format(control=control, reordered=reordered)
            + extra)


def problems(text: str) -> dict[str, str]:
    with pytest.raises(TemplateInvalid) as caught:
        parse(text)
    return {e["path"]: e["reason"] for e in caught.value.details["errors"]}


def test_each_users_variant_is_stable_and_the_split_follows_the_percents_over_10k_users():
    experiment = parse(with_experiment(control=30, reordered=70)).spec["experiment"]
    users = [f"user-{n}" for n in range(10_000)]
    seen = [experiments.assign(experiment, "player-test", u)["id"] for u in users]
    again = parse(with_experiment(control=30, reordered=70)).spec["experiment"]  # another load, another process
    assert seen == [experiments.assign(again, "player-test", u)["id"] for u in users]
    share = Counter(seen)["control"] / len(users)
    assert abs(share - 0.30) < 3 * math.sqrt(0.3 * 0.7 / len(users))  # within three standard errors
    # Another template's experiment splits the same users independently of this one.
    other = [experiments.assign(experiment, "learning-recap", u)["id"] for u in users]
    both = Counter(zip(seen, other, strict=True))
    assert abs(both["control", "control"] / len(users) - 0.09) < 0.01


def test_a_bad_experiment_is_refused_with_the_path_of_each_mistake():
    found = problems(with_experiment(control=60, reordered=60))
    assert found == {"experiment.variants": "The variants' percents add up to 120, not 100."}
    text = (with_experiment().replace('order = ["top-artists", "intro"]', 'order = ["intro", "intro"]')
            .replace("{ intro = {", "{ outro = {")
            .replace("{{ plays | number }} plays, in", "{{ plyas | number }} plays, in"))
    found = problems(text)
    assert set(found) == {"experiment.variants[1].frames.outro", "experiment.variants[1].order[1]",
                          "experiment.variants[1].frames.outro.subtitle"}
    assert "No frame with id 'outro'" in found["experiment.variants[1].frames.outro"]
    assert "listed twice" in found["experiment.variants[1].order[1]"]
    assert "'plyas' is not a metric" in found["experiment.variants[1].frames.outro.subtitle"]
    found = problems(with_experiment().replace('percent = 50\nframes', 'percent = 50\nweight = 3\nframes'))
    assert "experiment.variants[1].weight" in found


def test_each_user_sees_their_variants_wording_order_and_frames(app, live_server, tenant):
    app_template(app.instance_path, tenant.app_id, "player-test", with_experiment())
    users = [f"listener-{n}" for n in range(16)]
    for user in users:
        ingest_plays(live_server, tenant, user, ["Björk", "Mitski"])
    by_variant: dict[str, list[dict]] = {}
    for user in users:
        reply = http("GET", f"{live_server.url}/v1/stories/player-test?user_id={user}", None,
                     basic(tenant.secret_key))
        assert reply.status == 200, reply.body
        story = reply.json()
        assert story["experiment"]["id"] == "intro-test"
        by_variant.setdefault(story["experiment"]["variant"], []).append(story)
        again = http("GET", f"{live_server.url}/v1/stories/player-test?user_id={user}", None,
                     basic(tenant.secret_key)).json()
        assert again["experiment"] == story["experiment"]
    assert set(by_variant) == {"control", "reordered"}  # 16 users: both halves (1 in 32,768 not)
    for story in by_variant["control"]:
        assert [f["id"] for f in story["frames"]] == ["intro", "plays", "top-artists", "card"]
        assert story["frames"][0]["subtitle"] is None
    for story in by_variant["reordered"]:
        assert [f["id"] for f in story["frames"]] == ["top-artists", "intro", "card"]
        assert story["frames"][1]["subtitle"] == "2 plays, in order of how much they meant"


@pytest.mark.browser
def test_the_player_records_the_users_variant_on_every_engagement_event(app, phone, live_server, music, query):
    app_template(app.instance_path, music.app_id, "player-quick", with_experiment("player-quick", ms=1_000))
    token = viewer_token(live_server, music, "ana")
    story = http("GET", f"{live_server.url}/v1/stories/player-quick", None,
                 {"Authorization": f"Bearer {token}"}).json()
    arm = story["experiment"]
    phone.goto(f"{live_server.url}/embed/player-quick?token={token}")
    phone.wait_for_selector(".recap-player[data-state='ended']", timeout=15_000)
    phone.keyboard.press("Escape")
    wait_rows(query, ENGAGEMENT_SQL, music.app_id, count=len(story["frames"]) + 3)
    rows = query("SELECT name, json_extract(properties, '$.experiment'), json_extract(properties, '$.variant') "
                 "FROM event WHERE app_id = ? AND name != 'Song Played'", music.app_id)
    names = {name for name, _, _ in rows}
    assert {"story_viewed", "frame_viewed", "story_completed", "story_closed"} <= names
    assert {(experiment, variant) for _, experiment, variant in rows} == {(arm["id"], arm["variant"])}


def engagement(user: str, variant: str, completed: bool, shared: bool, experiment: str = "intro-test") -> list:
    names = ["story_viewed"] + ["story_completed"] * completed + ["story_shared"] * shared
    return [{"type": "track", "event": name, "userId": user,
             "properties": {"template": "player-test", "experiment": experiment, "variant": variant}}
            for name in names]


def send_engagement(server, tenant, viewers: dict[str, tuple[int, int, int]], extra: list | None = None) -> None:
    """For each variant (viewers, completers, sharers), their engagement events through /v1/batch."""
    batch = list(extra or [])
    for variant, (n, completers, sharers) in viewers.items():
        for i in range(n):
            batch += engagement(f"{variant}-{i}", variant, i < completers, i < sharers)
    for start in range(0, len(batch), 400):
        reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": batch[start:start + 400]}).encode(),
                     {"Content-Type": "application/json", **basic(tenant.write_key)})
        assert reply.status == 200, reply.body


def score_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The 95% score interval found the long way: the p on each side of k/n where the score test
    |k/n − p| / sqrt(p(1 − p)/n) reaches z, by bisection."""
    def edge(low: float, high: float, inside_is_low: bool) -> float:
        for _ in range(100):
            mid = (low + high) / 2
            inside = abs(k / n - mid) / math.sqrt(mid * (1 - mid) / n) <= z
            if inside == inside_is_low:
                low = mid
            else:
                high = mid
        return (low + high) / 2
    return edge(1e-12, k / n, False), edge(k / n, 1 - 1e-12, True)


def stats(server, tenant) -> dict:
    reply = http("GET", f"{server.url}/v1/stats/stories/player-test", headers=basic(tenant.secret_key))
    assert reply.status == 200, reply.body
    return reply.json()


def test_stats_compare_the_variants_with_95_percent_intervals_and_name_a_clear_leader(app, live_server, tenant):
    app_template(app.instance_path, tenant.app_id, "player-test", with_experiment())
    forged = engagement("mallory", "made-up", True, True) + engagement("eve", "control", True, True, "other")
    send_engagement(live_server, tenant, {"control": (150, 45, 9), "reordered": (140, 98, 12)}, forged)
    report = stats(live_server, tenant)["experiment"]
    assert report["id"] == "intro-test" and report["enough_data"] is True
    control, reordered = report["variants"]
    assert (control["id"], control["viewers"], control["completions"], control["sharers"]) == ("control", 150, 45, 9)
    assert (reordered["viewers"], reordered["completions"], reordered["completion_rate"]) == (140, 98, 0.7)
    for variant in (control, reordered):
        for measure, count in (("completion", variant["completions"]), ("share", variant["sharers"])):
            low, high = score_interval(count, variant["viewers"])
            assert variant[f"{measure}_ci"] == pytest.approx([low, high], abs=1e-4)
    assert report["verdict"].startswith("'reordered' is completed more (70%")
    assert "shared" not in report["verdict"]  # 6% against 8.6%: the intervals overlap


def test_stats_say_not_enough_data_yet_until_every_variant_has_100_viewers(app, live_server, tenant):
    app_template(app.instance_path, tenant.app_id, "player-test", with_experiment())
    send_engagement(live_server, tenant, {"control": (150, 10, 0), "reordered": (37, 37, 37)})
    report = stats(live_server, tenant)["experiment"]
    assert report["enough_data"] is False
    assert report["verdict"] == "Not enough data yet: each variant needs 100 viewers, and 'reordered' has 37."
    page = http("GET", f"{live_server.url}/dashboard/stories/player-test", headers=basic(tenant.secret_key))
    assert page.status == 200 and b"Experiment: intro-test" in page.body and b"Not enough data yet" in page.body
