"""The console and the HTTP/WebSocket API of ``tdome serve`` (FastAPI, served by uvicorn on its own thread).

The C2 core stays on the service's worker thread (:mod:`tdome.live.net`);
this side never touches it.  The worker publishes each cycle's picture to a
:class:`Hub` (encoded once), which keeps the latest picture and every track's
recent history and hands the picture to each connected console; every read
endpoint answers from there.  A decision (approve, reject, set a layer's
authority) goes the other way: the handler submits it to the worker, which
records it with the session's other inputs (so ``tdome serve --replay``
repeats it), applies it at the service's clock, and answers.

Security (:mod:`tdome.live.auth`): every endpoint but ``/api/health``, the
page and its static files needs ``Authorization: Bearer <token or session>``
(401 without a valid one; 403 when a viewer tries to decide; 429 past a rate
limit, with ``Retry-After``).  The WebSocket takes no credential in its URL:
its first message must authenticate (``{"type": "auth", "token": ...}``),
within :data:`WS_AUTH_TIMEOUT_S`, before anything is sent to it; it is closed
with code 4401 otherwise, and when its session expires.  The interactive
documentation pages FastAPI offers are off (they load scripts from a CDN);
the OpenAPI schema is served at ``/api/openapi.json``, behind a token like the
rest.  The page and its static files need none: they hold no data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
from array import array
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketDisconnect

from tdome import __version__
from tdome.live.auth import Auth, Identity, RateLimit

WS_AUTH_TIMEOUT_S = 5.0
WS_MAX_CLIENTS = 64
WS_QUEUE = 2  # pictures waiting for a slow console: older ones are dropped, the newest always kept
DECISION_TIMEOUT_S = 5.0
CLOSE_UNAUTHORIZED = 4401
STATIC = {"console.js": ("console.js", "text/javascript"), "console.css": ("console.css", "text/css"),
          "map.js": ("map.js", "text/javascript"), "symbols.js": ("symbols.js", "text/javascript"),
          "milsymbol.js": ("vendor/milsymbol.js", "text/javascript")}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


class Hub:
    """What the worker publishes and the API reads (module docstring); the worker's calls are thread-safe."""

    def __init__(self, hello: dict, history_s: float = 600.0):
        self.hello = hello
        self.history_s = float(history_s)
        self.picture: dict | None = None
        self.picture_text = "null"
        # Each track's (t, lat, lon, alt, speed) at each picture, flat in an array of doubles (NaN for none): 40
        # bytes a sample, so 1,000 tracks over 10 minutes of pictures hold 24 MB.
        self.history: dict[int, array] = {}
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[asyncio.Queue] = set()
        self.health: Callable[[], dict] = dict

    def publish(self, picture: dict) -> None:
        """A new picture (worker thread): kept, added to the histories, sent to every console."""
        text = json.dumps(picture, separators=(",", ":"), allow_nan=False)
        t = float(picture["time_s"])
        tr = picture["tracks"]
        with self.lock:
            self.picture, self.picture_text = picture, text
            nan = math.nan
            for i, tid in enumerate(tr["id"]):
                h = self.history.get(tid)
                if h is None:
                    h = self.history[tid] = array("d")
                h.extend([t] + [nan if v is None else v for v in (tr["lat"][i], tr["lon"][i], tr["alt"][i],
                                                                    tr["speed"][i])])
                if h[0] < t - self.history_s - 60.0:  # trimmed a minute at a time, not at every picture
                    k = 0
                    while h[k] < t - self.history_s:
                        k += 5
                    del h[:k]
            for tid in [k for k, h in self.history.items() if h[-5] < t - self.history_s]:
                del self.history[tid]
        loop = self.loop
        if loop is not None and self.clients:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the service is stopping
                loop.call_soon_threadsafe(self._fan_out, text)

    def _fan_out(self, text: str) -> None:
        for q in self.clients:
            if q.full():
                q.get_nowait()
            q.put_nowait(text)

    def track_history(self, track_id: int, since_s: float) -> list[list]:
        """The track's samples from ``since_s`` on: (t, lat, lon, alt, speed), NaN as None."""
        with self.lock:
            h = self.history.get(track_id)
            flat = h.tolist() if h is not None else []
        rows = [flat[k:k + 5] for k in range(0, len(flat), 5) if flat[k] >= since_s]
        return [[None if v != v else v for v in row] for row in rows]


# ---- the API's shapes (what /api/openapi.json documents)


class Login(BaseModel):
    token: str = Field(description="The user's secret token.", max_length=4096)


class Session(BaseModel):
    session: str = Field(description="A session: give it as 'Authorization: Bearer <session>' until it expires.")
    user: str
    role: Literal["viewer", "operator"]
    expires_in_s: float


class AuthorityChange(BaseModel):
    authority: Literal["auto", "confirm", "hold"] = Field(
        description="auto: orders go out as decided; confirm: each waits for an operator; hold: the layer does not "
                    "fire.")


class Decision(BaseModel):
    ok: bool = Field(description="The decision was applied (for approve: the order went out).")
    result: str = Field(description="approved, rejected, expired (the window closed), unknown (no such request "
                                    "waiting), set (authority), or refused: ...")
    time_s: float = Field(description="The service's track time it was applied at, s.")
    user: str
    authority: dict[str, str] = Field(description="Every layer's authority after it.")


class Health(BaseModel):
    status: str
    version: str
    time_s: float | None = Field(description="The service's track time, s; null before the first input.")
    tracks: int
    consoles: int


class History(BaseModel):
    track_id: int
    time_s: list[float]
    lat_deg: list[float | None]
    lon_deg: list[float | None]
    alt_m: list[float | None]
    speed_mps: list[float | None]


def _web(name: str) -> bytes:
    return resources.files("tdome.viz").joinpath("web", name).read_bytes()


def make_app(hub: Hub, auth: Auth, submit: Callable[[dict], Future], *, login_attempts_per_min: int = 5,
             decisions_per_min: int = 60) -> FastAPI:
    """The console's app: ``submit(action)`` hands an operator's action to the worker and returns a future of its
    result (:meth:`tdome.live.service.LiveC2.operator`)."""
    app = FastAPI(title="tdome serve", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  description="The live service's air picture, recommendations and decisions. Every endpoint but "
                              "/api/health needs 'Authorization: Bearer <token or session>'; the WebSocket "
                              "/api/ws authenticates with its first message.")
    logins = RateLimit(login_attempts_per_min, 60.0)
    decisions = RateLimit(decisions_per_min, 60.0)

    def who(request: Request) -> Identity:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        ident = auth.identify(credential.strip()) if scheme.lower() == "bearer" else None
        if ident is None:
            raise HTTPException(401, "a valid token or session is needed", headers={"WWW-Authenticate": "Bearer"})
        return ident

    def operator(ident: Identity = Depends(who)) -> Identity:  # noqa: B008 - FastAPI's dependency idiom
        if not ident.may_decide:
            raise HTTPException(403, f"{ident.user} is a viewer: only an operator decides")
        if not decisions.hit(ident.user):
            raise HTTPException(429, "too many decisions: wait",
                                headers={"Retry-After": str(math.ceil(decisions.retry_after_s(ident.user)))})
        return ident

    async def decide(ident: Identity, action: dict) -> Decision:
        action = dict(action, user=ident.user, role=ident.role,
                      wall_utc=datetime.now(UTC).isoformat(timespec="milliseconds"))
        try:
            r = await asyncio.wait_for(asyncio.wrap_future(submit(action)), DECISION_TIMEOUT_S)
        except TimeoutError:
            raise HTTPException(503, "the service did not take the decision in time: try again") from None
        return Decision(ok=r["result"] in ("approved", "rejected", "set"), result=r["result"], time_s=r["time_s"],
                        user=ident.user, authority=r["authority_now"])

    def picture_part(key: str):
        with hub.lock:
            pic = hub.picture
        return [] if pic is None else pic[key]

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        return Response(_web("console.html"), media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        path, media = STATIC[name]
        return Response(_web(path), media_type=media + "; charset=utf-8")

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(ident: Identity = Depends(who)) -> JSONResponse:  # noqa: B008
        """The OpenAPI schema of this API (a viewer's token or session, as every endpoint but health)."""
        return JSONResponse(app.openapi())

    @app.get("/api/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Is the service up (no token needed): its version and track time, the tracks and consoles now."""
        h = hub.health()
        with hub.lock:
            n = len(hub.picture["tracks"]["id"]) if hub.picture else 0
        return Health(status="ok", version=__version__, time_s=h.get("time_s"), tracks=n, consoles=len(hub.clients))

    @app.post("/api/login", response_model=Session, tags=["access"],
              responses={401: {"description": "wrong or expired token"}, 429: {"description": "too many attempts"}})
    def login(body: Login, request: Request) -> Session:
        """Trade a token for a session that expires (the console keeps the session, not the token)."""
        client = request.client.host if request.client else "?"
        if logins.blocked(client):
            raise HTTPException(429, "too many failed logins: wait",
                                headers={"Retry-After": str(math.ceil(logins.retry_after_s(client)))})
        got = auth.login(body.token)
        if got is None:
            logins.hit(client)
            raise HTTPException(401, "wrong or expired token", headers={"WWW-Authenticate": "Bearer"})
        session, user = got
        return Session(session=session, user=user.name, role=user.role,
                       expires_in_s=min(auth.session_s, user.expires_s - auth.clock()))

    @app.get("/api/picture", tags=["picture"])
    def picture(ident: Identity = Depends(who)) -> Response:  # noqa: B008
        """The latest picture: tracks (columns), radars, batteries, authority, recommendations, engagements and
        the events since the one before (the WebSocket's 'picture' message)."""
        with hub.lock:
            text = hub.picture_text
        return Response(text, media_type="application/json")

    @app.get("/api/tracks/{track_id}/history", response_model=History, tags=["picture"],
             responses={404: {"description": "no such track in the history kept"}})
    def history(track_id: int, ident: Identity = Depends(who)) -> History:  # noqa: B008
        """One track's positions at each picture, as far back as ``console.history_s``."""
        with hub.lock:
            now = hub.picture["time_s"] if hub.picture else math.inf
        h = hub.track_history(track_id, now - hub.history_s)
        if not h:
            raise HTTPException(404, f"no track {track_id} in the last {hub.history_s:.0f} s")
        t, lat, lon, alt, speed = (list(c) for c in zip(*h))
        return History(track_id=track_id, time_s=t, lat_deg=lat, lon_deg=lon, alt_m=alt, speed_mps=speed)

    @app.get("/api/recommendations", tags=["decisions"])
    def recommendations(ident: Identity = Depends(who)) -> list[dict[str, Any]]:  # noqa: B008
        """The orders waiting for an operator (layers under 'confirm'), with the time left before each window
        closes, as of the latest picture."""
        return picture_part("recommendations")

    @app.post("/api/recommendations/{engagement_id}/approve", response_model=Decision, tags=["decisions"],
              responses={403: {"description": "a viewer"}, 429: {"description": "too many decisions"}})
    async def approve(engagement_id: int, ident: Identity = Depends(operator)) -> Decision:  # noqa: B008
        """Approve a waiting request: the order goes to its battery now (re-timed from now)."""
        return await decide(ident, dict(type="approve", engagement_id=engagement_id))

    @app.post("/api/recommendations/{engagement_id}/reject", response_model=Decision, tags=["decisions"],
              responses={403: {"description": "a viewer"}, 429: {"description": "too many decisions"}})
    async def reject(engagement_id: int, ident: Identity = Depends(operator)) -> Decision:  # noqa: B008
        """Reject a waiting request: its threat is open to engagement again."""
        return await decide(ident, dict(type="reject", engagement_id=engagement_id))

    @app.get("/api/authority", tags=["decisions"])
    def authority(ident: Identity = Depends(who)) -> dict[str, str]:  # noqa: B008
        """Every layer's engagement authority, as of the latest picture."""
        return picture_part("authority") or {}

    @app.put("/api/authority/{layer}", response_model=Decision, tags=["decisions"],
             responses={403: {"description": "a viewer"}, 429: {"description": "too many decisions"}})
    async def set_authority(layer: Literal["upper", "mid", "lower", "short"], body: AuthorityChange,
                            ident: Identity = Depends(operator)) -> Decision:  # noqa: B008
        """Set a layer's authority.  Its requests still waiting follow: under auto they go out, under hold they
        are withdrawn."""
        return await decide(ident, dict(type="authority", layer=layer, authority=body.authority))

    @app.get("/api/batteries", tags=["picture"])
    def batteries(ident: Identity = Depends(who)) -> list[dict[str, Any]]:  # noqa: B008
        """Each battery's rounds ready, stock, magazine and state, as of the latest picture."""
        return picture_part("batteries")

    @app.get("/api/radars", tags=["picture"])
    def radars(ident: Identity = Depends(who)) -> list[dict[str, Any]]:  # noqa: B008
        """Each radar's state (emitting, silent, lost) and the time of its latest report."""
        return picture_part("radars")

    @app.websocket("/api/ws")
    async def ws(socket: WebSocket) -> None:
        """The console's feed: authenticate first, then a 'hello' and each picture as it is made."""
        await socket.accept()
        hub.loop = asyncio.get_running_loop()
        try:
            first = await asyncio.wait_for(socket.receive_text(), WS_AUTH_TIMEOUT_S)
            msg = json.loads(first)
            token = msg.get("token") if isinstance(msg, dict) and msg.get("type") == "auth" else None
        except (TimeoutError, ValueError, WebSocketDisconnect, KeyError):
            token = None
        ident = auth.identify(token) if isinstance(token, str) else None
        if ident is None:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await socket.close(CLOSE_UNAUTHORIZED, "unauthorized")
            return
        if len(hub.clients) >= WS_MAX_CLIENTS:
            await socket.close(1013, "too many consoles")
            return
        queue: asyncio.Queue = asyncio.Queue(WS_QUEUE)
        hub.clients.add(queue)
        try:
            await socket.send_text(json.dumps(dict(hub.hello, user=ident.user, role=ident.role),
                                              separators=(",", ":"), allow_nan=False))
            with hub.lock:
                text = hub.picture_text
            if text != "null":
                await socket.send_text(text)
            gone = asyncio.ensure_future(_until_closed(socket))
            try:
                while True:
                    got = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({got, gone}, return_when=asyncio.FIRST_COMPLETED)
                    if gone in done:
                        got.cancel()
                        return
                    if auth.identify(token) is None:  # the session expired (or the user's token did)
                        await socket.close(CLOSE_UNAUTHORIZED, "session expired")
                        return
                    await socket.send_text(got.result())
            finally:
                gone.cancel()
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            hub.clients.discard(queue)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app


async def _until_closed(socket: WebSocket) -> None:
    """Read (and ignore) what a console sends until it closes: the feed is one way once authenticated."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            msg = await socket.receive()
            if msg.get("type") == "websocket.disconnect":
                return
