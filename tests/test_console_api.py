"""The operator console's API on a real server on loopback, driven by an HTTP and a WebSocket client.

The service runs the starter configuration with every layer under ``confirm``
and is fed a synthetic raid (three aircraft and a missile on the first
asset, :mod:`tdome.live.warmup`): its recommendations wait for an operator.
What must hold:

- every endpoint but health needs a valid token or session: none, a forged
  one, a tampered session and an expired user's token get 401; a viewer's
  decision gets 403; logins and decisions past their rate get 429;
- the WebSocket sends nothing before its first message authenticates, closes
  with 4401 on a bad credential, on silence and when the session expires;
- an operator's approval sends the order on the engagement channel; reject,
  authority and expiry are logged with who and when in the session folder,
  and a replay of the session's recording repeats them exactly;
- no token or session appears in anything the service writes or logs.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tdome.live import api, sky
from tdome.live.auth import Auth, AuthError, RateLimit, User, digest, load_users
from tdome.live.net import Service, free_loopback_ports, replay
from tdome.live.protocol import dumps
from tdome.live.warmup import raid
from tdome.runfolder.layout import FILES_LIVE
from tdome.scenario.live import CotOutput
from tdome.sim.build import build_assets, sensor_sites
from test_live_service import same_table, side_on_free_ports, wait_for

TOKENS = {"alice": "alice-operator-token-0123456789", "bob": "bob-viewer-token-0123456789",
          "carol": "carol-expired-token-0123456789"}


def users() -> list[User]:
    return [User("alice", "operator", digest(TOKENS["alice"])), User("bob", "viewer", digest(TOKENS["bob"])),
            User("carol", "operator", digest(TOKENS["carol"]), expires_s=time.time() - 1.0)]


def console_side(authority: str = "confirm", **console):
    side = side_on_free_ports()
    doc = side.c2.doctrine
    doc = doc.model_copy(update={"authority": doc.authority.model_copy(
        update=dict(upper=authority, mid=authority, lower=authority, short=authority))})
    (port,) = free_loopback_ports(1)
    cons = side.live.console.model_copy(update=dict(http=side.live.console.http.model_copy(update={"port": port}),
                                                    **console))
    return side.model_copy(update={"c2": side.c2.model_copy(update={"doctrine": doc}),
                                   "live": side.live.model_copy(update={"console": cons})})


def raid_inputs(side, duration_s: float = 60.0):
    sites, assets = sensor_sites(side), build_assets(side)
    codes = [r.sac_sic(i) for i, r in enumerate(side.radars)]
    events = sky.inputs(sites, codes, raid(assets[0].lat_rad, assets[0].lon_rad, sites), side.batteries, 0.0,
                        duration_s, 43_200.0, np.random.default_rng(0), status_every_s=1.0,
                        with_elevation=[k % 2 == 0 for k in range(len(codes))])
    return [item for _, _, item in sorted(events, key=lambda e: (e[0], e[1]))]


class Served:
    """A service with its console in a thread; the engagement channel read by a client of ours."""

    def __init__(self, side, out: Path):
        self.side, self.out = side, out
        self.svc = Service(side, out, users=users())
        self.paths: dict = {}
        self.thread = threading.Thread(target=lambda: self.paths.update(self.svc.run(300.0)), daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.svc.console_port}"
        self.ws_url = f"ws://127.0.0.1:{self.svc.console_port}/api/ws"
        self.http = httpx.Client(base_url=self.base, timeout=10.0)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.create_connection(("127.0.0.1", side.live.control.port), timeout=10.0)
        self.received = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.tcp.recv(65_536)
            except OSError:
                return
            if not data:
                return
            self.received += data

    def messages(self) -> list[dict]:
        return [json.loads(line) for line in self.received.split(b"\n") if line.strip()]

    def send(self, items, pace_s: float = 2e-4) -> None:
        for item in items:
            if isinstance(item, bytes):
                self.udp.sendto(item, ("127.0.0.1", self.side.live.listen.port))
            else:
                self.tcp.sendall(dumps(item))
            time.sleep(pace_s)

    def login(self, user: str) -> dict:
        r = self.http.post("/api/login", json={"token": TOKENS[user]})
        assert r.status_code == 200, r.text
        return {"Authorization": "Bearer " + r.json()["session"]}

    def stop(self) -> None:
        self.svc.stop()
        self.thread.join(timeout=60.0)
        assert not self.thread.is_alive()
        self.tcp.close()
        self.udp.close()
        self.http.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    side = console_side()
    s = Served(side, tmp_path_factory.mktemp("console") / "session")
    s.inputs = raid_inputs(side)
    s.send(s.inputs)
    counts = s.svc.c2.counts
    wait_for(lambda: counts["datagrams"] + counts["control"] >= len(s.inputs), state=lambda: counts)
    h = s.login("alice")
    wait_for(lambda: len(s.http.get("/api/recommendations", headers=h).json()) >= 2,
             state=lambda: s.http.get("/api/picture", headers=h).text[:500])
    yield s
    s.stop()


SECURED = [("GET", "/api/picture"), ("GET", "/api/recommendations"), ("GET", "/api/batteries"),
           ("GET", "/api/radars"), ("GET", "/api/authority"), ("GET", "/api/tracks/1/history"),
           ("POST", "/api/recommendations/1/approve"), ("POST", "/api/recommendations/1/reject"),
           ("PUT", "/api/authority/upper")]


def test_health_is_open_and_everything_else_needs_a_valid_credential(served):
    r = served.http.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["tracks"] > 0
    good = served.login("alice")["Authorization"].split()[1]
    body, _, sig = good[3:].partition(".")
    claims = json.loads(__import__("base64").urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged_body = __import__("base64").urlsafe_b64encode(json.dumps(dict(claims, r="operator", u="bob")).encode())
    tampered = "s1." + forged_body.decode().rstrip("=") + "." + sig
    for method, path in SECURED:
        kw = {"json": {"authority": "auto"}} if method == "PUT" else {}
        for headers in ({}, {"Authorization": "Bearer nonsense-token-of-no-one"}, {"Authorization": good},
                        {"Authorization": "Bearer " + tampered}, {"Authorization": "Bearer " + TOKENS["carol"]},
                        {"Authorization": "Basic " + TOKENS["alice"]}):
            r = served.http.request(method, path, headers=headers, **kw)
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
    assert served.http.post("/api/login", json={"token": TOKENS["carol"]}).status_code == 401  # expired
    # A user's own token works as a credential too (scripts), and a session as the console uses it.
    assert served.http.get("/api/picture", headers={"Authorization": "Bearer " + TOKENS["bob"]}).status_code == 200
    assert served.http.get("/api/picture", headers=served.login("bob")).status_code == 200


def test_the_picture_and_the_read_endpoints_say_what_the_console_shows(served):
    h = served.login("bob")
    pic = served.http.get("/api/picture", headers=h).json()
    tr = pic["tracks"]
    n = len(tr["id"])
    assert n >= 4 and all(len(v) == n for v in tr.values())
    assert set(tr["identity"]) <= {"hostile", "suspect", "unknown", "civil"}
    assert "hostile" in tr["identity"]  # the raid closes on the first asset
    assert pic["authority"] == {k: "confirm" for k in ("upper", "mid", "lower", "short")}
    assert [r["name"] for r in pic["radars"]] == [r.name for r in served.side.radars]
    assert {b["state"] for b in pic["batteries"]} == {"ready"}
    for rec in pic["recommendations"]:
        assert rec["time_left_s"] == pytest.approx(rec["latest_launch_s"] - pic["time_s"], abs=0.06)
    assert served.http.get("/api/batteries", headers=h).json() == pic["batteries"]
    hist = served.http.get(f"/api/tracks/{tr['id'][0]}/history", headers=h).json()
    assert len(hist["time_s"]) >= 5 and hist["time_s"] == sorted(hist["time_s"])
    assert served.http.get("/api/tracks/999999/history", headers=h).status_code == 404
    # The page and its files are served with a policy that allows no other origin.
    page = served.http.get("/")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    assert served.http.get("/static/milsymbol.js").status_code == 200
    assert served.http.get("/static/../../cli.py").status_code == 404


def test_the_openapi_schema_documents_the_api(served):
    assert served.http.get("/api/openapi.json").status_code == 401  # behind a token, as the rest
    doc = served.http.get("/api/openapi.json", headers=served.login("bob")).json()
    paths = doc["paths"]
    for path in ("/api/health", "/api/login", "/api/picture", "/api/tracks/{track_id}/history",
                 "/api/recommendations", "/api/recommendations/{engagement_id}/approve",
                 "/api/recommendations/{engagement_id}/reject", "/api/authority", "/api/authority/{layer}",
                 "/api/batteries", "/api/radars"):
        assert path in paths, path
    assert paths["/api/authority/{layer}"]["put"]["requestBody"]
    assert served.http.get("/docs").status_code == 404  # FastAPI's pages would load scripts from a CDN


def test_a_viewer_may_not_decide(served):
    h = served.login("bob")
    eid = served.http.get("/api/recommendations", headers=h).json()[0]["engagement_id"]
    assert served.http.post(f"/api/recommendations/{eid}/approve", headers=h).status_code == 403
    assert served.http.post(f"/api/recommendations/{eid}/reject", headers=h).status_code == 403
    assert served.http.put("/api/authority/mid", headers=h, json={"authority": "auto"}).status_code == 403
    assert eid in [r["engagement_id"] for r in served.http.get("/api/recommendations", headers=h).json()]


def test_an_operator_approves_rejects_and_sets_authority(served):
    h = served.login("alice")
    recs = served.http.get("/api/recommendations", headers=h).json()
    first, second = recs[0]["engagement_id"], recs[1]["engagement_id"]
    r = served.http.post(f"/api/recommendations/{first}/approve", headers=h).json()
    assert r["ok"] and r["result"] == "approved" and r["user"] == "alice"
    wait_for(lambda: any(m["type"] == "order" and m["engagement_id"] == first for m in served.messages()))
    order = next(m for m in served.messages() if m["type"] == "order" and m["engagement_id"] == first)
    assert order["battery"] == recs[0]["battery"] and order["track_id"] == recs[0]["track_id"]
    again = served.http.post(f"/api/recommendations/{first}/approve", headers=h).json()
    assert again == dict(again, ok=False, result="unknown")  # decided once only
    r = served.http.post(f"/api/recommendations/{second}/reject", headers=h).json()
    assert r["result"] == "rejected"
    assert not any(m["type"] == "order" and m["engagement_id"] == second for m in served.messages())
    assert served.http.put("/api/authority/space", headers=h, json={"authority": "auto"}).status_code == 422
    assert served.http.put("/api/authority/mid", headers=h, json={"authority": "maybe"}).status_code == 422
    r = served.http.put("/api/authority/upper", headers=h, json={"authority": "hold"}).json()
    assert r["result"] == "set" and r["authority"]["upper"] == "hold"


def test_the_websocket_authenticates_before_any_data(served, monkeypatch):
    monkeypatch.setattr(api, "WS_AUTH_TIMEOUT_S", 1.0)
    for first in (None, json.dumps({"type": "auth", "token": "forged-token-forged-token"}), "not json",
                  json.dumps({"type": "subscribe"}), json.dumps({"type": "auth", "token": TOKENS["carol"]})):
        with connect(served.ws_url) as ws:
            if first is not None:
                ws.send(first)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10.0)  # nothing is ever sent: the first thing that comes is the close
            assert closed.value.rcvd.code == api.CLOSE_UNAUTHORIZED
    session = served.login("bob")["Authorization"].split()[1]
    with connect(served.ws_url) as ws:
        ws.send(json.dumps({"type": "auth", "token": session}))
        hello = json.loads(ws.recv(timeout=10.0))
        assert hello["type"] == "hello" and hello["user"] == "bob" and hello["role"] == "viewer"
        assert len(hello["radars"]) == len(served.side.radars) and hello["coast"]
        reg = hello["region"]  # the coast, decoded as the page does, lies about the region
        lon, lat = np.cumsum(np.reshape(max(hello["coast"], key=len), (-1, 2)), axis=0).T * hello["q_deg"]
        assert reg["lon_min"] - 2 < np.median(lon) < reg["lon_max"] + 2 and reg["lat_min"] - 2 < np.median(lat) < \
            reg["lat_max"] + 2
        assert json.loads(ws.recv(timeout=10.0))["type"] == "picture"  # the latest, at once


def test_the_websocket_follows_the_picture(served):
    session = served.login("bob")["Authorization"].split()[1]
    with connect(served.ws_url) as ws:
        ws.send(json.dumps({"type": "auth", "token": session}))
        assert json.loads(ws.recv(timeout=10.0))["type"] == "hello"
        first = json.loads(ws.recv(timeout=10.0))
        more = [item for item in raid_inputs(served.side, 64.0)][-400:]  # four more seconds of the raid
        served.send(more)
        later = json.loads(ws.recv(timeout=10.0))
        assert later["time_s"] > first["time_s"]


def test_rate_limits_and_session_expiry(tmp_path, monkeypatch):
    s = Served(console_side(login_attempts_per_min=3, decisions_per_min=2, session_s=2.0), tmp_path / "session")
    try:
        for _ in range(3):
            assert s.http.post("/api/login", json={"token": "wrong-token-wrong-token"}).status_code == 401
        r = s.http.post("/api/login", json={"token": TOKENS["alice"]})  # right, but too late
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        h = {"Authorization": "Bearer " + TOKENS["alice"]}
        codes = [s.http.put("/api/authority/upper", headers=h, json={"authority": "auto"}).status_code
                 for _ in range(3)]
        assert codes[2] == 429 and 429 not in codes[:2]
        token, _ = s.svc.console.auth.login(TOKENS["bob"])  # the login's own limit is used up
        s.send(raid_inputs(s.side, 8.0))
        with connect(s.ws_url) as ws:
            ws.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(ws.recv(timeout=10.0))["type"] == "hello"
            time.sleep(2.2)
            s.send(raid_inputs(s.side, 12.0)[-300:])
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10.0)
            assert closed.value.rcvd.code == api.CLOSE_UNAUTHORIZED
    finally:
        s.stop()


def test_decisions_are_logged_replayed_and_no_secret_is_written(served, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    h = served.login("alice")
    for rec in served.http.get("/api/recommendations", headers=h).json()[:1]:
        served.http.post(f"/api/recommendations/{rec['engagement_id']}/reject", headers=h)
    served.stop()
    out = served.out
    log = [json.loads(line) for line in (out / FILES_LIVE["operator"]).read_text().splitlines()]
    actions = [e for e in log if e["user"]]
    assert {e["action"] for e in actions} >= {"approve", "reject", "authority"}
    assert all(e["wall_utc"] and e["role"] == "operator" and np.isfinite(e["time_s"]) for e in actions)
    assert any(e["action"] == "expired" and e["user"] is None for e in log)  # undecided requests expire, logged
    events = pq.read_table(out / "events.parquet").to_pydict()
    mine = [d for k, d in zip(events["kind"], events["detail"]) if k.startswith("operator_")]
    assert mine and all("alice" in d for d in mine)
    # The recording holds the decisions: a replay makes the same decisions, orders and record.
    again = tmp_path / "again"
    replay(served.side, out / FILES_LIVE["received"], again)
    assert (again / FILES_LIVE["messages"]).read_bytes() == (out / FILES_LIVE["messages"]).read_bytes()
    assert same_table(pq.read_table(out / "events.parquet"), pq.read_table(again / "events.parquet"))
    strip = lambda p: [{k: v for k, v in json.loads(x).items()} for x in p.read_text().splitlines()]  # noqa: E731
    assert strip(again / FILES_LIVE["operator"]) == strip(out / FILES_LIVE["operator"])
    # No secret anywhere: not the tokens, not a session.
    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file()) + caplog.text.encode()
    for secret in TOKENS.values():
        assert secret.encode() not in written
    assert b"s1.ey" not in written


def test_the_users_file_and_variable(tmp_path):
    f = tmp_path / "users.yaml"
    f.write_text(f"users:\n  - {{name: alice, role: operator, token_sha256: {digest(TOKENS['alice']).hex()}}}\n"
                 f"  - {{name: bob, role: viewer, token: {TOKENS['bob']}, expires: 2030-01-01T00:00:00Z}}\n")
    got = load_users(f, environ={"TDOME_TOKENS": "dave:viewer:" + "d" * 20})
    assert [(u.name, u.role) for u in got] == [("alice", "operator"), ("bob", "viewer"), ("dave", "viewer")]
    assert got[1].expires_s == pytest.approx(1893456000.0)
    for text, message in [("users: [{name: x, role: admin, token: %s}]" % ("x" * 20), "role"),
                          ("users: [{name: x, role: viewer, token: short}]", "at least 16"),
                          ("users: [{name: x, role: viewer}]", "exactly one"),
                          ("users: [{name: x, role: viewer, token_sha256: abc}]", "64 hexadecimal"),
                          ("users: [{name: x, role: viewer, token: %s, expires: soon}]" % ("x" * 20), "ISO"),
                          ("users: [{name: x, role: viewer, token: %s, colour: red}]" % ("x" * 20), "unknown key"),
                          (f"users:\n - {{name: x, role: viewer, token: {'x' * 20}}}\n"
                           f" - {{name: x, role: viewer, token: {'y' * 20}}}", "twice"),
                          ("just text", "mapping")]:
        f.write_text(text)
        with pytest.raises(AuthError, match=message):
            load_users(f, environ={})


def test_sessions_expire_and_cannot_be_forged():
    clock = [1_000.0]
    auth = Auth(users(), session_s=60.0, clock=lambda: clock[0])
    session, user = auth.login(TOKENS["alice"])
    assert user.name == "alice" and auth.identify(session).role == "operator"
    assert auth.login("wrong-token-wrong-token") is None and auth.identify("s1.x.y") is None
    other = Auth(users(), session_s=60.0, clock=lambda: clock[0])  # another service's key
    assert other.identify(session) is None
    clock[0] += 61.0
    assert auth.identify(session) is None  # expired
    limit = RateLimit(2, 10.0, clock=lambda: clock[0])
    assert limit.hit("a") and limit.hit("a") and not limit.hit("a") and limit.hit("b")
    clock[0] += 10.5
    assert limit.hit("a")


def test_a_new_token_is_printed_once_and_only_its_hash_is_kept(tmp_path):
    from typer.testing import CliRunner

    from tdome.cli import app

    f = tmp_path / "tokens.yaml"
    r = CliRunner().invoke(app, ["token", "erin", "--role", "operator", "--file", str(f)])
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1]
    assert len(secret) >= 40 and secret not in f.read_text()
    (u,) = load_users(f, environ={})
    assert u.name == "erin" and u.role == "operator" and Auth([u]).identify(secret).user == "erin"
    assert f.stat().st_mode & 0o077 == 0  # readable by its owner only
    r = CliRunner().invoke(app, ["token", "erin", "--file", str(f)])
    assert r.exit_code == 2 and "twice" in r.output


def _core(authority: str, duration_s: float, tmp: Path):
    """The service's C2 core alone, fed the raid in time order."""
    from tdome.live.service import LiveC2, Outputs

    side = console_side(authority)
    sent: list[dict] = []
    c2 = LiveC2(side, Outputs(message=sent.append), spool_dir=tmp)
    for item in raid_inputs(side, duration_s):
        c2.datagram(item) if isinstance(item, bytes) else c2.control(item)
    return c2, sent


def test_an_unengaged_threat_that_reaches_its_asset_is_reported_a_leak(tmp_path):
    c2, _ = _core("hold", 100.0, tmp_path)
    leaks = [e for e in c2.events if e["kind"] == "leak"]
    missile = c2.bm.tracker.picture(c2.now)  # the missile's track is gone (it hit the ground); the aircraft fly on
    assert len(leaks) == 1 and "Taipei" in leaks[0]["detail"]
    assert leaks[0]["track_id"] not in missile.track_id.tolist()
    assert not c2.bm.engagements  # nothing fired: every layer on hold


def test_switching_a_layer_decides_its_waiting_requests(tmp_path):
    c2, sent = _core("confirm", 45.0, tmp_path)
    waiting = c2.bm.waiting()
    assert waiting
    layer = c2.units[waiting[0].battery].layer
    mine = [e.engagement_id for e in waiting if c2.units[e.battery].layer == layer]
    r = c2.operator(dict(type="authority", layer=layer, authority="auto", user="alice", role="operator"))
    assert r["result"] == "set" and r["authority_now"][layer] == "auto"
    ordered = {m["engagement_id"] for m in sent if m["type"] == "order"}
    assert set(mine) <= ordered  # weapons free: the layer's requests went out
    assert not [e for e in c2.bm.waiting() if c2.units[e.battery].layer == layer]
    assert c2.operator(dict(type="authority", layer=layer, authority="hold", user="bob", role="viewer"))[
        "result"].startswith("refused")  # the core checks the role again
    assert c2.bm.authority[layer] == "auto"
    logged = [e for e in c2.operator_log if e["user"] == "alice"]
    assert [e["action"] for e in logged] == ["approve"] * len(mine) + ["authority"]


@pytest.mark.parametrize("fmt", ["xml", "protobuf"])
def test_the_service_sends_its_picture_as_cursor_on_target(tmp_path, fmt):
    """With a ``cot`` section the service sends each track to TAK clients: read back by takproto."""
    takproto = __import__("takproto") if os.environ.get("CI") else pytest.importorskip("takproto")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10.0)
    side = console_side("hold")
    cot = dict(to=[dict(host="127.0.0.1", port=rx.getsockname()[1])], format=fmt, period_s=1.0, stale_s=10.0)
    side = side.model_copy(update={"live": side.live.model_copy(update={"cot": CotOutput(**cot)})})
    s = Served(side, tmp_path / "session")
    try:
        s.send(raid_inputs(side, 40.0))
        events = {}
        end = time.monotonic() + 30.0
        while time.monotonic() < end and len({e.type for e in events.values()}) < 2:
            data = rx.recv(65_535)
            msg = takproto.parse_proto(data if fmt == "protobuf" else takproto.xml2proto(data.decode()))
            events[msg.cotEvent.uid] = msg.cotEvent
    finally:
        s.stop()
        rx.close()
    missile = next(e for e in events.values() if e.type == "a-h-A-W-M")  # the raid's missile, hostile
    assert missile.uid.startswith("tdome.") and missile.how == "m-f"
    assert 20.0 < missile.lat < 28.0 and 118.0 < missile.lon < 124.0 and missile.detail.track.speed > 500.0
    assert missile.staleTime - missile.startTime == 10_000
    assert any(e.type.startswith("a-") and e.type != missile.type for e in events.values())  # the aircraft too


def test_the_hub_keeps_each_track_history_for_its_span_only():
    hub = api.Hub(hello={}, history_s=100.0)

    def picture(t, ids):
        n = len(ids)
        return dict(time_s=t, tracks=dict(id=ids, lat=[24.0 + t * 1e-3] * n, lon=[121.0] * n, alt=[None] * n,
                                          speed=[200.0] * n))

    for t in range(0, 402):
        hub.publish(picture(float(t), [1, 2] if t < 300 else [1]))
    h = hub.track_history(1, 401.0 - 100.0)
    assert [row[0] for row in h] == [float(t) for t in range(301, 402)]
    assert h[-1][1] == pytest.approx(24.401) and h[-1][3] is None
    assert len(hub.history[1]) <= 5 * (100 + 61)  # trimmed as it goes
    assert 2 not in hub.history  # gone for longer than the span


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                 st.text(max_size=200).map(lambda s: "s1." + s),
                 st.tuples(st.text(max_size=80), st.text(max_size=80)).map(lambda p: f"s1.{p[0]}.{p[1]}")))
def test_no_credential_but_a_real_one_identifies_anyone(credential):
    """Whatever a client sends as a token or session, identify answers None without raising."""
    auth = _FUZZ_AUTH
    assert auth.identify(credential) is None
    assert auth.login(credential) is None


_FUZZ_AUTH = Auth(users())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "engagement_id", "layer", "authority", "user", "role", "wall_utc"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                                 st.sampled_from(["approve", "reject", "authority", "operator", "viewer", "upper",
                                                  "auto", "hold", "confirm"])), max_size=7))
def test_a_decision_message_of_any_shape_is_answered_never_raised(msg):
    """The core takes a recorded decision of any shape: it answers, and only an operator's well-formed one acts."""
    c2 = _fuzz_core()
    before = dict(c2.bm.authority)
    r = c2.operator(msg)
    assert isinstance(r["result"], str)
    json.dumps(c2.operator_log[-1], allow_nan=False)  # what the session folder's operator.jsonl will hold
    if msg.get("role") != "operator":
        assert r["result"].startswith("refused") and c2.bm.authority == before


@functools.cache
def _fuzz_core():
    from tdome.live.service import LiveC2

    return LiveC2(console_side("confirm"))


def test_a_failing_console_never_stops_the_c2(tmp_path, monkeypatch, caplog):
    """The picture is the console's: if publishing it fails, the service says so and the C2 goes on deciding."""

    def broken(self, picture):
        raise ValueError("Out of range float values are not JSON compliant")

    monkeypatch.setattr(api.Hub, "publish", broken)
    caplog.set_level(logging.WARNING, logger="tdome.live")
    s = Served(console_side("hold"), tmp_path / "session")
    try:
        s.send(raid_inputs(s.side, 10.0))
        counts = s.svc.c2.counts
        wait_for(lambda: counts["cycles"] >= 8, state=lambda: counts)
        assert s.thread.is_alive()
    finally:
        s.stop()
    assert "could not go to the console" in caplog.text
