"""The operator console page in a real headless browser: Debian's Chromium driven by Playwright.

The page's files (``tdome/viz/web``) are served the way ``tdome serve`` serves them (``/`` and
``/static/<name>``, as ``tdome.live.api.STATIC`` lists them, under the service's Content-Security-Policy) by
a small stand-in on the standard library, which also plays the service's side
of the protocol (``/api/login``, the WebSocket ``/api/ws`` with its auth message and a hello and a picture,
the decisions over HTTP) closely enough to check what the page sends.  Every request is routed and
recorded: none may leave that origin.  The map's tests drive the page without the stand-in through
``window.tdomeConsole.ingest``, which takes a message exactly as the WebSocket does.

As in ``test_replay_browser.py``: under CI (CI=true) a missing browser fails the test, elsewhere it is
skipped with the reason.  A screenshot is kept in ``test-artifacts/console.png``.
"""

import base64
import hashlib
import json
import math
import select
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

from browser_tools import ARTIFACTS, chromium
from tdome.live.api import CSP, STATIC  # the policy the service sends with the page, and its files
from tdome.runfolder.scene import coverage_outline
from tdome.viz import palette
from tdome.viz.replay import Q_DEG, _coast

WEB = Path(str(resources.files("tdome.viz").joinpath("web")))
FILES = {"/": ("console.html", "text/html"), **{f"/static/{name}": v for name, v in STATIC.items()}}  # as served
SECRET = "s3cret-token-of-alice"
SESSION = "session-0123456789abcdef"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# What Chromium itself logs for an HTTP error answer: expected where a test provokes one.
HTTP_ERROR_LOG = "Failed to load resource: the server responded with a status of"


# ------------------------------------------------------------------ messages

REGION = dict(lon_min=118.3, lon_max=122.0, lat_min=23.6, lat_max=26.3)  # tests/data/small.yaml's


def _radar(name, lat, lon, range_km, az=0.0, sector=360.0):
    lon_c, lat_c = coverage_outline(math.radians(lat), math.radians(lon), range_km * 1e3, math.radians(az),
                                    math.radians(sector / 2), n=61)
    return dict(name=name, lat_deg=lat, lon_deg=lon, alt_m=100.0, max_range_m=range_km * 1e3, az_center_deg=az,
                sector_deg=sector, coverage=[[round(a, 5), round(b, 5)] for a, b in zip(lon_c, lat_c)])


def _battery(name, layer, lat, lon, magazine):
    return dict(name=name, layer=layer, interceptor=f"{layer}_notional", lat_deg=lat, lon_deg=lon, alt_m=50.0,
                launchers=2, magazine=magazine, max_range_m=60e3, max_alt_m=30e3)


def hello(role="operator", user="alice") -> dict:
    """A hello of the small test scenario's defended side (part of it), as the service sends it."""
    return dict(
        type="hello", user=user, role=role, name="small notional defence", region=REGION,
        assets=[dict(name="Taipei", kind="city", value=100.0, lat_deg=25.04, lon_deg=121.545, radius_m=7000.0,
                     polygon=[]),
                dict(name="Hsinchu Science Park", kind="industry", value=120.0, lat_deg=24.777, lon_deg=121.013,
                     radius_m=0.0, polygon=[[24.79, 120.99], [24.792, 121.03], [24.765, 121.035], [24.76, 120.995]]),
                dict(name="Taichung", kind="city", value=70.0, lat_deg=24.15, lon_deg=120.67, radius_m=7000.0,
                     polygon=[])],
        radars=[_radar("Leshan EWR", 24.499, 121.073, 450), _radar("Linkou coastal", 25.1, 121.37, 120),
                _radar("FCR North", 25.02, 121.42, 100, az=285.0, sector=120.0)],
        batteries=[_battery("Upper North", "upper", 24.98, 121.3, 16), _battery("Mid Taipei", "mid", 25.08, 121.5, 24),
                   _battery("Lower Hsinchu", "lower", 24.78, 121.02, 60),
                   _battery("Short Hsinchu gun", "short", 24.6, 120.9, 60)],
        coast=_coast(REGION), q_deg=1 / Q_DEG,
        colours=dict(classes=palette.CLASS_COLOURS, layers=palette.LAYER_COLOURS, unknown=palette.UNKNOWN,
                     safe=palette.SAFE, hit=palette.HIT, kill=palette.KILL, miss=palette.MISS, leak=palette.LEAK,
                     impact=palette.IMPACT, land=palette.LAND, sea=palette.SEA),
        layers=["upper", "mid", "lower", "short"], classes=["ballistic", "rocket", "cruise", "drone", "aircraft"])


# One track of every identity and class the console draws: (identity, class, decoy, coasting, call sign).
KINDS = [("hostile", "ballistic", False, False, None), ("hostile", "rocket", False, False, None),
         ("hostile", "cruise", False, False, None), ("hostile", "drone", False, False, None),
         ("hostile", "aircraft", False, False, None), ("suspect", "ballistic", False, False, None),
         ("suspect", "drone", True, False, None), ("unknown", "", False, False, None),
         ("unknown", "", False, True, None), ("civil", "aircraft", False, False, "EVA123")]
HOSTILE_AT_SEA = (24.40, 119.60)  # the first track: the middle of the Taiwan Strait, away from every other mark


def tracks(n=None) -> dict:
    """Columns of a picture's tracks: KINDS, or ``n`` tracks of them spread over the region's sea and land."""
    rows = []
    count = len(KINDS) if n is None else n
    for k in range(count):
        ident, cls, decoy, coasting, callsign = KINDS[k % len(KINDS)]
        if n is None:
            lat, lon = HOSTILE_AT_SEA[0] + 0.17 * (k % 5), HOSTILE_AT_SEA[1] + 0.3 * (k // 5)
            if k == 0:
                lat, lon = HOSTILE_AT_SEA
        else:  # a grid over the region, inside it
            lat = REGION["lat_min"] + 0.05 + (REGION["lat_max"] - REGION["lat_min"] - 0.1) * ((k * 37) % 1000) / 1000
            lon = REGION["lon_min"] + 0.05 + (REGION["lon_max"] - REGION["lon_min"] - 0.1) * k / count
        threat = ident == "hostile" and cls in ("ballistic", "rocket", "cruise")
        rows.append(dict(id=100 + k, lat=lat, lon=lon, alt=8000.0 if cls != "drone" else 300.0,
                         speed=1500.0 if cls == "ballistic" else 250.0, course=(40 * k) % 360, climb=-50.0, cls=cls,
                         identity=ident, decoy=decoy, coasting=coasting,
                         ilat=25.04 if threat else None, ilon=121.545 if threat else None,
                         ttg=95.0 if threat else None, asset="Taipei" if threat else None,
                         engaged="mid" if k == 1 else None, callsign=callsign))
    return {c: [r[c] for r in rows] for c in rows[0]}


def picture(time_s=45123.0, n=None, recommendations=(), events=(), authority=None) -> dict:
    return dict(
        type="picture", time_s=time_s, tracks=tracks(n),
        radars=[dict(name="Leshan EWR", state="emitting", last_scan_s=time_s - 4),
                dict(name="Linkou coastal", state="silent", last_scan_s=None),
                dict(name="FCR North", state="lost", last_scan_s=time_s - 60)],
        batteries=[dict(name="Upper North", layer="upper", ready=8, stock=16, magazine=16, reported_s=time_s,
                        state="ready"),
                   dict(name="Mid Taipei", layer="mid", ready=3, stock=20, magazine=24, reported_s=time_s,
                        state="ready"),
                   dict(name="Lower Hsinchu", layer="lower", ready=0, stock=0, magazine=60, reported_s=time_s,
                        state="empty"),
                   dict(name="Short Hsinchu gun", layer="short", ready=0, stock=60, magazine=60, reported_s=None,
                        state="unknown")],
        authority=authority or dict(upper="confirm", mid="auto", lower="auto", short="hold"),
        recommendations=list(recommendations),
        engagements=[dict(engagement_id=7, battery="Mid Taipei", layer="mid", track_id=101, rounds=2,
                          intercept_time_s=time_s + 20, state="launched")],
        events=list(events), counts=dict(plots=1234, cycles=56))


def recommendation(eid=12, time_left_s=30.0, time_s=45123.0) -> dict:
    return dict(engagement_id=eid, battery="Upper North", layer="upper", track_id=100, rounds=2,
                launch_time_s=time_s + 2, intercept_time_s=time_s + 40, latest_launch_s=time_s + time_left_s,
                time_left_s=time_left_s)


# ------------------------------------------------------------------ the stand-in service


class Service(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.log: list[tuple] = []  # (method, path, authorization, body) of each API call, ws auth messages too
        self.kick = threading.Event()  # closes the open WebSocket with kick_code
        self.kick_code = 1011
        self.decision = (200, {"ok": True, "result": "approved"})

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Service

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj):
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else None

    def do_GET(self):
        if self.path == "/api/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        if self.path in FILES:
            name, ctype = FILES[self.path]
            return self._send(200, (WEB / name).read_bytes(), ctype + "; charset=utf-8")
        self._send(404, b"not found", "text/plain")

    def do_POST(self):
        body = self._body()
        self.server.log.append(("POST", self.path, self.headers.get("Authorization"), body))
        if self.path == "/api/login":
            if body != {"token": SECRET}:
                return self._json(401, {"detail": "bad token"})
            return self._json(200, {"session": SESSION, "user": "alice", "role": "operator", "expires_in_s": 3600})
        if self.headers.get("Authorization") != f"Bearer {SESSION}":
            return self._json(401, {"detail": "no session"})
        self._json(*self.server.decision)

    def do_PUT(self):
        body = self._body()
        self.server.log.append(("PUT", self.path, self.headers.get("Authorization"), body))
        layer = self.path.rsplit("/", 1)[-1]
        self._json(200, {"ok": True, "authority": {layer: body["authority"]}})

    # The WebSocket side, just enough of RFC 6455: the handshake, one masked text frame in, frames out.
    def _frame_out(self, opcode: int, payload: bytes):
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([n]) if n < 126 else
                                         bytes([126]) + struct.pack(">H", n) if n < 65536 else
                                         bytes([127]) + struct.pack(">Q", n))
        self.wfile.write(head + payload)
        self.wfile.flush()

    def _frame_in(self) -> tuple[int, bytes]:
        b1, b2 = self.rfile.read(2)
        n = b2 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.rfile.read(8))[0]
        mask = self.rfile.read(4) if b2 & 0x80 else bytes(4)
        data = self.rfile.read(n)
        return b1 & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    def _websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept",
                         base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode())
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        _, data = self._frame_in()
        auth = json.loads(data)
        self.server.log.append(("WS", self.path, None, auth))
        if auth != {"type": "auth", "token": SESSION}:
            return self._frame_out(0x8, struct.pack(">H", 4401))
        self._frame_out(0x1, json.dumps(hello()).encode())
        self._frame_out(0x1, json.dumps(picture(recommendations=[recommendation()])).encode())
        while True:
            if self.server.kick.is_set():
                self.server.kick.clear()
                return self._frame_out(0x8, struct.pack(">H", self.server.kick_code))
            if select.select([self.connection], [], [], 0.05)[0]:
                opcode, _ = self._frame_in()
                if opcode == 0x8:
                    return


@pytest.fixture(scope="module")
def service():
    srv = Service()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory, 1400, 900) as ctx:
        yield ctx


class Opened:
    """A page of the console with what it logged and what it requested."""

    def __init__(self, browser, service):
        self.page = browser.new_page()
        self.console: list[str] = []
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.console.append(str(e)))

        def route(r):
            url = r.request.url
            self.requests.append(url)
            same = url.startswith(service.origin + "/") or url.startswith(service.origin.replace("http", "ws", 1) + "/")
            if same:
                r.continue_()
            else:
                self.outside.append(url)
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(service.origin + "/", wait_until="load")
        self.page.wait_for_function("() => window.tdomeConsole !== undefined", timeout=20_000)

    def errors(self, allowed=()) -> list[str]:
        """Console errors and warnings, less Chromium's own line for each HTTP status in ``allowed``."""
        return [m for m in self.console if not any(m.startswith(f"{HTTP_ERROR_LOG} {s}") for s in allowed)]

    def ingest(self, msg: dict):
        """Hand the page a message as the WebSocket would, and wait for the draw it asks for."""
        self.page.evaluate("""m => new Promise(r => { const n = tdomeConsole.draws; tdomeConsole.ingest(m);
            const wait = () => (tdomeConsole.draws > n ? r() : requestAnimationFrame(wait)); wait(); })""", msg)

    def state(self) -> dict:
        return self.page.evaluate("""() => ({connected: tdomeConsole.connected, user: tdomeConsole.user,
            role: tdomeConsole.role, time_s: tdomeConsole.time_s, tracks: tdomeConsole.tracks,
            drawn: tdomeConsole.drawn, recommendations: tdomeConsole.recommendations,
            frames: tdomeConsole.frames.length, errors: tdomeConsole.errors})""")


@pytest.fixture(scope="module")
def fed(browser, service):
    """A console page fed a hello and a picture of every kind of track, a recommendation and the authority."""
    o = Opened(browser, service)
    o.ingest(hello())
    o.ingest(picture(recommendations=[recommendation()],
                     events=[dict(time_s=45120.0, kind="order", track_id=101, battery="Mid Taipei", layer="mid",
                                  detail="2 rounds", user=None),
                             dict(time_s=45122.0, kind="operator_authority", track_id=None, battery=None,
                                  layer="upper", detail="confirm", user="alice")]))
    yield o
    o.page.close()


def pixels_at(page, x, y, r=4) -> list[tuple]:
    """The (r, g, b) of the canvas pixels within ``r`` CSS px of (x, y)."""
    return [tuple(p) for p in page.evaluate("""([x, y, r]) => { const c = document.getElementById('map');
        const k = c.width / c.clientWidth; const d = c.getContext('2d').getImageData(
            Math.round((x - r) * k), Math.round((y - r) * k), Math.round(2 * r * k), Math.round(2 * r * k)).data;
        const out = []; for (let i = 0; i < d.length; i += 4) out.push([d[i], d[i + 1], d[i + 2]]); return out; }""",
                                            [x, y, r])]


# ------------------------------------------------------------------ tests


def test_the_page_loads_its_own_files_only_and_asks_for_a_login(browser, service):
    o = Opened(browser, service)
    o.page.wait_for_timeout(200)
    assert o.page.locator("#login-overlay").is_visible()
    assert o.page.locator("#token").get_attribute("type") == "password"
    assert not o.page.evaluate("tdomeConsole.connected")
    assert o.outside == []
    assert sorted(u[len(service.origin):] for u in o.requests) == sorted(FILES)
    assert o.errors() == []  # a breach of the CSP would be logged here
    html = (WEB / "console.html").read_text()
    assert "<script>" not in html and "<style" not in html and " style=" not in html and "http" not in html
    o.page.close()


def test_login_then_the_websocket_authenticates_with_the_session_and_reconnects(browser, service):
    service.log.clear()
    o = Opened(browser, service)
    page = o.page
    page.fill("#token", "wrong")
    page.click("#login")
    page.wait_for_function("() => document.getElementById('login-error').textContent.includes('Wrong token')")
    page.fill("#token", SECRET)
    page.click("#login")
    page.wait_for_function("() => tdomeConsole.connected && tdomeConsole.tracks > 0", timeout=10_000)
    assert not page.locator("#login-overlay").is_visible()
    assert "connected" in page.inner_text("#status")
    assert page.inner_text("#who") == "alice (operator)"
    assert page.inner_text("#clock") == "12:32:03 UTC"  # 45123 s into the day
    # The session is kept in the tab's sessionStorage, never in the address; the socket's first message carries it.
    assert page.evaluate("Object.entries(sessionStorage)") == [["tdome-session", SESSION]]
    assert SECRET not in page.url and SESSION not in page.url
    assert [e for e in service.log if e[0] == "WS"] == [("WS", "/api/ws", None, {"type": "auth", "token": SESSION})]
    assert [e[:2] for e in service.log if e[0] == "POST"] == [("POST", "/api/login")] * 2
    # A drop that is not a refusal: the page says so and comes back by itself.
    service.kick_code = 1011
    service.kick.set()
    page.wait_for_function("() => !tdomeConsole.connected")
    assert "retrying" in page.inner_text("#status")
    page.wait_for_function("() => tdomeConsole.connected", timeout=10_000)
    assert len([e for e in service.log if e[0] == "WS"]) == 2
    # A refusal (4401): back to the login, with a message, and the session forgotten.
    service.kick_code = 4401
    service.kick.set()
    page.wait_for_function("() => !tdomeConsole.connected")
    page.locator("#login-overlay").wait_for(state="visible")
    assert "log in again" in page.inner_text("#login-error")
    assert page.evaluate("sessionStorage.length") == 0
    assert not any(SECRET in m or SESSION in m for m in o.console)
    assert o.outside == []
    assert o.errors(allowed=(401,)) == []
    page.close()


def test_decisions_go_to_the_service_with_the_session_and_its_answer_is_shown(browser, service):
    service.log.clear()
    o = Opened(browser, service)
    page = o.page
    page.fill("#token", SECRET)
    page.click("#login")
    page.wait_for_function("() => tdomeConsole.connected && tdomeConsole.recommendations === 1", timeout=10_000)
    service.decision = (200, {"ok": True, "result": "approved"})
    page.click("button[data-approve='12']")
    page.wait_for_function("() => document.getElementById('decision-status').textContent.includes('approved')")
    assert ("POST", "/api/recommendations/12/approve", f"Bearer {SESSION}", None) in service.log
    service.decision = (403, {"detail": "viewer"})
    page.click("button[data-reject='12']")
    page.wait_for_function("() => document.getElementById('decision-status').textContent.includes('viewer may not')")
    service.decision = (429, {"detail": "slow down"})
    page.click("button[data-approve='12']")
    page.wait_for_function("() => document.getElementById('decision-status').textContent.includes('too many')")
    page.select_option("select[data-layer='mid']", "confirm")
    page.wait_for_function("() => document.getElementById('decision-status').textContent.includes('mid is now')")
    assert ("PUT", "/api/authority/mid", f"Bearer {SESSION}", {"authority": "confirm"}) in service.log
    # An expired session sends the operator back to the login.
    service.decision = (401, {"detail": "expired"})
    page.click("button[data-approve='12']")
    page.locator("#login-overlay").wait_for(state="visible")
    assert o.outside == []
    assert o.errors(allowed=(401, 403, 429)) == []
    page.close()


def test_every_track_is_drawn_as_its_symbol(fed):
    page = fed.page
    st = fed.state()
    assert st["connected"] and st["user"] == "alice" and st["role"] == "operator" and st["time_s"] == 45123.0
    assert st["tracks"] == len(KINDS) and st["drawn"]["tracks"] == len(KINDS)
    assert st["drawn"] == {"tracks": len(KINDS), "radars": 3, "batteries": 4, "assets": 3}
    assert st["frames"] >= 1 and st["errors"] == []
    assert not page.locator("#login-overlay").is_visible()
    # One cached bitmap per distinct symbol: the tracks' (the coasting unknown shares the unknown's, the
    # decoy has its own), the radar's and the battery's; the legend draws its own.
    assert page.evaluate("tdomeConsole.symbolsCached") == len(KINDS) - 1 + 2
    # The hostile ballistic track at sea: its symbol's pixels are not the sea.
    x, y = page.evaluate("tdomeConsole.screenOf(100)")
    sea = tuple(int(palette.SEA[i:i + 2], 16) for i in (1, 3, 5))
    at = pixels_at(page, x, y)
    assert sum(p != sea for p in at) > 0.6 * len(at)
    assert page.evaluate("tdomeConsole.screenOf(99999)") is None
    assert fed.errors() == [] and fed.outside == []


def test_the_side_panel_shows_the_picture(fed):
    page = fed.page
    assert [page.input_value(f"select[data-layer='{la}']") for la in ("upper", "mid", "lower", "short")] == \
        ["confirm", "auto", "auto", "hold"]
    li = page.locator("li[data-engagement='12']")
    assert "T100" in li.inner_text() and "Upper North" in li.inner_text() and "2 rounds" in li.inner_text()
    assert li.locator("button[data-approve='12']").is_enabled()
    assert li.locator("button[data-reject='12']").is_enabled()
    bats = page.inner_text("#batteries")
    assert "Lower Hsinchu" in bats and "0 / 0 / 60" in bats and "empty" in bats
    radars = page.inner_text("#radars")
    assert "lost" in radars and "silent" in radars and "emitting" in radars
    assert "E7" in page.inner_text("#engagements") and "launched" in page.inner_text("#engagements")
    events = page.locator("#events li").all_inner_texts()
    assert "authority" in events[0] and "by alice" in events[0]  # newest first
    assert "order" in events[1] and "T101" in events[1]
    assert page.inner_text("#track-count") == f"{len(KINDS)} tracks"
    legend = page.locator("#legend")
    for word in ("hostile", "suspect", "unknown", "civil", "ballistic", "rocket", "drone", "fixed wing", "radar",
                 "battery", "coasting", "decoy"):
        assert word in legend.inner_text()
    assert legend.locator("canvas").count() == 13  # identities 4, classes 5, friends 2, states 2


def test_the_countdown_of_a_recommendation_runs_down(fed):
    page = fed.page
    fed.ingest(picture(recommendations=[recommendation(time_left_s=30.0)]))

    def left():
        return int(page.inner_text("li[data-engagement='12'] .left").split()[2])

    first = left()
    page.wait_for_timeout(2100)
    assert first - 3 <= left() < first
    # Gone from the picture: gone from the list; a window already closed shows so, and cannot be decided.
    fed.ingest(picture(recommendations=[recommendation(eid=13, time_left_s=0.0)]))
    assert page.locator("li[data-engagement='12']").count() == 0
    assert "window closed" in page.inner_text("li[data-engagement='13']")
    assert page.locator("button[data-approve='13']").is_disabled()
    assert fed.state()["recommendations"] == 1
    fed.ingest(picture(recommendations=[recommendation()]))


def test_a_click_on_a_track_shows_its_details(fed):
    page = fed.page
    box = page.locator("#map").bounding_box()
    x, y = page.evaluate("tdomeConsole.screenOf(101)")
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_function("() => document.getElementById('details').textContent.includes('T101')")
    details = page.inner_text("#details")
    for word in ("rocket", "hostile", "speed", "altitude", "course", "threatened asset", "Taipei", "predicted impact",
                 "in 95 s", "engaged by", "mid layer", "call sign"):
        assert word in details, word
    x, y = page.evaluate("tdomeConsole.screenOf(109)")
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_function("() => document.getElementById('details').textContent.includes('EVA123')")
    assert "civil" in page.inner_text("#details")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"))
    assert (ARTIFACTS / "console.png").stat().st_size > 20_000


def test_pan_zoom_and_fit_move_the_map(fed):
    page = fed.page
    box = page.locator("#map").bounding_box()
    before = page.evaluate("tdomeConsole.screenOf(100)")
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 400, box["y"] + 350, steps=4)
    page.mouse.up()
    moved = page.evaluate("tdomeConsole.screenOf(100)")
    assert moved[0] == pytest.approx(before[0] + 100, abs=1) and moved[1] == pytest.approx(before[1] + 50, abs=1)
    page.mouse.wheel(0, -300)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.evaluate("tdomeConsole.screenOf(100)") != moved
    page.mouse.dblclick(box["x"] + 5, box["y"] + 5)
    assert page.evaluate("tdomeConsole.screenOf(100)") == pytest.approx(before, abs=0.01)
    assert fed.errors() == []


def test_a_viewer_sees_the_decisions_but_cannot_make_them(browser, service):
    o = Opened(browser, service)
    o.ingest(hello(role="viewer", user="bob"))
    o.ingest(picture(recommendations=[recommendation()]))
    page = o.page
    assert page.inner_text("#who") == "bob (viewer)"
    assert page.locator("li[data-engagement='12']").count() == 1
    assert page.locator("button[data-approve='12']").is_disabled()
    assert page.locator("button[data-reject='12']").is_disabled()
    assert all(page.locator(f"select[data-layer='{la}']").is_disabled() for la in ("upper", "mid", "lower", "short"))
    assert o.errors() == [] and o.outside == []
    page.close()


def test_a_thousand_tracks_are_drawn(fed):
    fed.ingest(picture(time_s=45124.0, n=1000))
    st = fed.state()
    assert st["tracks"] == 1000 and st["drawn"]["tracks"] == 1000
    fed.ingest(picture(time_s=45125.0, n=1000))
    frames = fed.page.evaluate("tdomeConsole.frames")
    assert 2 <= len(frames) <= 300 and all(f >= 0 for f in frames)  # measured, never judged here
    assert fed.page.inner_text("#clock") == "12:32:05 UTC"
    assert fed.page.evaluate("tdomeConsole.trackIds()") == list(range(100, 1100))
    assert [h[0] for h in fed.page.evaluate("tdomeConsole.history(1099)")] == [45124.0, 45125.0]  # new in these two
    assert fed.errors() == [] and fed.outside == []


def test_the_panels_are_kept_in_place_and_the_engagements_listed_are_capped(fed):
    """A picture like the last rewrites only what changed; hundreds of engagements list the most pressing."""
    page = fed.page
    many = [dict(engagement_id=1000 + k, battery="Mid Taipei", layer="mid", track_id=100 + k % 10, rounds=1 + k % 2,
                 intercept_time_s=45200.0 + k, state="ordered" if k % 2 else "launched") for k in range(300)]
    first = picture(time_s=45130.0)
    first["engagements"] = many
    fed.ingest(first)
    rows = page.locator("#engagements tr").all_inner_texts()
    assert 10 <= len(rows) - 2 < 100  # the header, the rows shown, the line counting the rest
    assert rows[1].split()[0] == "E1000" and "launched" in rows[1] and "in 70 s" in rows[1]  # in flight, soonest
    assert all("launched" in r for r in rows[1:-1])
    assert "more" in rows[-1] and "300 in all" in rows[-1] and "150 ordered" in rows[-1]
    # The same rows (and the same battery rows), not new ones: mark them, then send the next picture.
    page.evaluate("""() => { for (const sel of ['#engagements tr:nth-child(2)', '#batteries tr:nth-child(2)'])
        document.querySelector(sel).dataset.mark = 'kept'; }""")
    second = picture(time_s=45131.0, events=[dict(time_s=45130.5 + k / 10, kind="launch", track_id=100 + k,
                                                  battery="Mid Taipei", layer="mid", detail=None, user=None)
                                             for k in range(3)])
    second["engagements"] = many
    fed.ingest(second)
    assert page.evaluate("document.querySelector('#engagements tr:nth-child(2)').dataset.mark") == "kept"
    assert page.evaluate("document.querySelector('#batteries tr:nth-child(2)').dataset.mark") == "kept"
    assert "in 69 s" in page.locator("#engagements tr").nth(1).inner_text()
    events = page.locator("#events li").all_inner_texts()
    assert "T102" in events[0] and "T101" in events[1] and "T100" in events[2]  # newest first
    # A few engagements: all of them, in the service's order, and no counting line.
    fed.ingest(picture(time_s=45132.0, events=[dict(time_s=45132.0, kind="order", track_id=100, battery=None,
                                                      layer=None, detail=None, user=None)] * 250))
    rows = page.locator("#engagements tr").all_inner_texts()
    assert len(rows) == 2 and rows[1].split()[0] == "E7" and "launched" in rows[1]
    assert page.locator("#events li").count() == 200  # the newest kept
    assert fed.errors() == [] and fed.outside == []
