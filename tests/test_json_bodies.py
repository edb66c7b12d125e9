"""Every route that reads a JSON body reads it under one rule (``http``): a size cap, a
nesting depth, well-formed chunked framing; a bad body is a 4xx naming ``_body``, never a 500."""
from __future__ import annotations

import json
import socket

import pytest

from helpers.server import basic, http
from helpers.story import viewer_token

ROUTES = ["/v1/batch", "/v1/track", "/v1/viewer-tokens", "/v1/users/erase", "/v1/users/export", "/v1/shares"]


def credential(route, server, tenant) -> dict:
    if route in ("/v1/batch", "/v1/track"):
        return basic(tenant.write_key)
    if route == "/v1/shares":
        return {"Authorization": f"Bearer {viewer_token(server, tenant.secret_key, 'ana')}"}
    return basic(tenant.secret_key)


def post(server, route, body: bytes, headers: dict):
    return http("POST", server.url + route, body, {"Content-Type": "application/json", **headers})


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"batch": [{"properties": {"user_id": ' + b"[" * 100_000],
                         ids=["bare", "inside a field"])
def test_100k_nested_brackets_are_a_4xx_naming_the_body(live_server, tenant, route, body):
    reply = post(live_server, route, body, credential(route, live_server, tenant))
    # 413 past the route's size cap; 422 where a typed decoder wants an object first.
    assert reply.status in (400, 413, 422), reply.body
    details = reply.json()["error"]["details"]
    assert "_body" in details or "limit" in details, details


@pytest.mark.parametrize("route", ROUTES)
def test_nesting_deeper_than_the_decoder_takes_is_a_400_naming_the_body(live_server, tenant, route):
    body = b'{"batch": [{"user_id": ' + b"[" * 5_000 + b"]" * 5_000 + b"}]}"  # 10 KB, under every cap
    reply = post(live_server, route, body, credential(route, live_server, tenant))
    assert reply.status == 400, reply.body
    error = reply.json()["error"]
    assert error["code"] == "malformed_body" and "_body" in error["details"]


@pytest.mark.parametrize("route", ["/v1/viewer-tokens", "/v1/users/erase", "/v1/users/export", "/v1/shares"])
def test_a_body_past_the_cap_is_413(live_server, tenant, route):
    body = json.dumps({"user_id": "ana", "template": "t", "caption": "x" * 70_000}).encode()
    reply = post(live_server, route, body, credential(route, live_server, tenant))
    assert reply.status == 413, reply.body
    assert reply.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("route", ["/v1/viewer-tokens", "/v1/users/erase", "/v1/shares"])
@pytest.mark.parametrize("body", [b"[1, 2]", b'"ana"', b"{nope", b'{"user_id": 1e400}'])
def test_a_body_that_is_not_a_json_object_is_a_clear_4xx(live_server, tenant, route, body):
    reply = post(live_server, route, body, credential(route, live_server, tenant))
    assert reply.status in (400, 422), reply.body
    assert reply.json()["error"]["code"] in ("malformed_body", "validation_failed")


def raw_request(server, head: str, body: bytes) -> tuple[int, bytes]:
    """One request written to the socket as given; the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("route", ["/v1/batch", "/v1/viewer-tokens"])
@pytest.mark.parametrize("chunks", [b"zz\r\n{}\r\n0\r\n\r\n", b"-5\r\n{}\r\n0\r\n\r\n", b"5\r\n{}"],
                         ids=["not hex", "negative", "cut short"])
def test_malformed_chunk_size_is_a_400(live_server, tenant, query, route, chunks):
    auth = credential(route, live_server, tenant)["Authorization"]
    head = (f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n")
    status, body = raw_request(live_server, head, chunks)
    assert status == 400, body
    assert "_body" in json.loads(body)["error"]["details"]
    assert query("SELECT COUNT(*) FROM event") == [(0,)]


def test_a_chunk_size_past_the_cap_is_a_413(live_server, tenant):
    head = ("POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: {basic(tenant.write_key)['Authorization']}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n")
    status, body = raw_request(live_server, head, b"ffffffffffffffffffffff\r\n" + b"x" * 600_000)
    assert status == 413, body


def test_well_formed_chunked_body_is_stored(live_server, tenant, query):
    payload = json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u"}]}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (payload[:10], payload[10:])) + b"0\r\n\r\n"
    head = ("POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{'Authorization: ' + basic(tenant.write_key)['Authorization']}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n")
    status, body = raw_request(live_server, head, chunks)
    assert status == 200, body
    assert query("SELECT COUNT(*) FROM event") == [(1,)]


def test_malformed_chunk_size_is_a_400_under_gunicorn_too(tmp_path):
    """gunicorn reads chunked bodies itself and reports a bad size line as its own exception."""
    from demo_app.server import WidgetServer
    from widget_server import create_app
    from widget_server.store.db import database

    instance = tmp_path / "instance"
    create_app({"INSTANCE_PATH": str(instance)})
    database.close()
    server = WidgetServer(instance, workers=1, threads=1).start()
    try:
        head = ("POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n")
        for chunks in (b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{}"):
            status, body = raw_request(server, head, chunks)
            assert status == 400, body
            assert "_body" in json.loads(body)["error"]["details"]
    finally:
        server.stop()
