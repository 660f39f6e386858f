"""Who may use the console and the API: tokens, roles, sessions and rate limits.

Two roles: ``viewer`` reads the picture; ``operator`` reads it and decides
(approve, reject, set a layer's authority).  Each user holds a secret token.
The service knows each token by its SHA-256 only when the file gives it that
way (``token_sha256``, what ``tdome token`` writes), so a leaked users file
does not leak the tokens; a plain ``token`` is accepted too, for scripts and
tests.  A token may carry an expiry.

Where the users come from (:func:`load_users`): a YAML file (``tdome serve
--tokens FILE``)::

    users:
      - {name: alice, role: operator, token_sha256: 9f86d0...}
      - {name: bob, role: viewer, token: a-long-random-string, expires: 2026-12-31T00:00:00Z}

or the environment, ``TDOME_TOKENS="alice:operator:TOKEN,bob:viewer:TOKEN"``.

A presented token is hashed and compared with every user's hash in constant
time (:func:`hmac.compare_digest`, and no early exit), so neither timing nor
the order of the file tells an attacker how close a guess came.  A login
trades the token for a session (:meth:`Auth.login`): a signed, expiring
string (HMAC-SHA-256 with a key drawn when the service starts), which the
page keeps for the browser tab instead of the token.  Tokens and sessions
are never logged: the service logs user names only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROLES = ("viewer", "operator")
ENV_TOKENS = "TDOME_TOKENS"
SESSION_PREFIX = "s1."
MIN_TOKEN_CHARS = 16  # a shorter secret is refused when the users are loaded: it could be guessed


class AuthError(ValueError):
    """The users file or variable is wrong (said with where and why)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    token_sha256: bytes
    expires_s: float = float("inf")  # Unix time after which the token is refused


@dataclass(frozen=True)
class Identity:
    """Who made a request: the user, the role, and how (a token or a session)."""

    user: str
    role: str
    via: str  # "token" or "session"

    @property
    def may_decide(self) -> bool:
        return self.role == "operator"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    """A fresh secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _expiry(value, where: str) -> float:
    if value is None:
        return float("inf")
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise AuthError(f"{where}: expires {value!r} is not an ISO date and time (2026-12-31T00:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _user(entry, where: str) -> User:
    if not isinstance(entry, dict):
        raise AuthError(f"{where}: each user is a mapping with name, role and token or token_sha256")
    unknown = set(entry) - {"name", "role", "token", "token_sha256", "expires"}
    if unknown:
        raise AuthError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name, role = entry.get("name"), entry.get("role")
    if not isinstance(name, str) or not name.strip():
        raise AuthError(f"{where}: a user needs a name")
    if role not in ROLES:
        raise AuthError(f"{where}: role {role!r} of {name} is not one of {', '.join(ROLES)}")
    token, hashed = entry.get("token"), entry.get("token_sha256")
    if (token is None) == (hashed is None):
        raise AuthError(f"{where}: user {name} needs exactly one of token and token_sha256")
    if token is not None:
        if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS:
            raise AuthError(f"{where}: the token of {name} must be a string of at least {MIN_TOKEN_CHARS} characters")
        h = digest(token)
    else:
        try:
            h = bytes.fromhex(str(hashed))
        except ValueError:
            h = b""
        if len(h) != 32:
            raise AuthError(f"{where}: token_sha256 of {name} must be 64 hexadecimal digits")
    return User(name.strip(), role, h, _expiry(entry.get("expires"), where))


def load_users(path: Path | None = None, environ: dict[str, str] | None = None) -> list[User]:
    """The users of the file ``path`` and of :data:`ENV_TOKENS` (both may give users; names must differ)."""
    env = os.environ if environ is None else environ
    users: list[User] = []
    if path is not None:
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise AuthError(f"{path}: cannot read the users file: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise AuthError(f"{path}: not YAML: {e}") from None
        entries = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise AuthError(f"{path}: expected a mapping with a list 'users'")
        users += [_user(u, f"{path}: users[{i}]") for i, u in enumerate(entries)]
    spec = env.get(ENV_TOKENS, "").strip()
    if spec:
        for i, item in enumerate(spec.split(",")):
            name, _, rest = item.strip().partition(":")
            role, _, token = rest.partition(":")
            users.append(_user(dict(name=name, role=role, token=token), f"{ENV_TOKENS} entry {i + 1}"))
    names = [u.name for u in users]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise AuthError(f"users named twice: {', '.join(dup)}")
    return users


def users_file_entry(name: str, role: str, token: str, expires: str | None = None) -> dict:
    """The users-file entry of a new token: its hash only."""
    if role not in ROLES:
        raise AuthError(f"role {role!r} is not one of {', '.join(ROLES)}")
    entry = dict(name=name, role=role, token_sha256=digest(token).hex())
    if expires:
        _expiry(expires, "expires")
        entry["expires"] = expires
    return entry


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Auth:
    """Checks tokens and sessions against the users (module docstring)."""

    def __init__(self, users: list[User], session_s: float = 3600.0, clock=time.time):
        self.users = list(users)
        self.session_s = float(session_s)
        self.clock = clock
        self._key = secrets.token_bytes(32)  # sessions die with the service

    def _by_token(self, token: str) -> User | None:
        h = digest(token)
        found = None
        for u in self.users:  # every user compared, whoever matches: the time does not depend on which
            if hmac.compare_digest(h, u.token_sha256):
                found = u
        if found is None or self.clock() > found.expires_s:
            return None
        return found

    def login(self, token: str) -> tuple[str, User] | None:
        """A session for a valid token, and its user; None for a wrong or expired token."""
        u = self._by_token(token) if isinstance(token, str) else None
        if u is None:
            return None
        exp = min(self.clock() + self.session_s, u.expires_s)
        body = _b64(json.dumps(dict(u=u.name, r=u.role, e=round(exp, 3), n=_b64(secrets.token_bytes(9))),
                               separators=(",", ":")).encode())
        return SESSION_PREFIX + body + "." + self._sign(body), u

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def identify(self, credential: str | None) -> Identity | None:
        """Who presents ``credential`` (a session or a token); None if nobody valid does."""
        if not credential or not isinstance(credential, str) or len(credential) > 4096:
            return None
        if credential.startswith(SESSION_PREFIX):
            body, _, sig = credential[len(SESSION_PREFIX):].partition(".")
            if not hmac.compare_digest(sig.encode(), self._sign(body).encode()):
                return None
            try:
                claims = json.loads(_unb64(body))
                name, role, exp = str(claims["u"]), str(claims["r"]), float(claims["e"])
            except (ValueError, KeyError, TypeError):
                return None
            user = next((u for u in self.users if u.name == name), None)
            if user is None or user.role != role or self.clock() > exp or self.clock() > user.expires_s:
                return None
            return Identity(name, role, "session")
        u = self._by_token(credential)
        return None if u is None else Identity(u.name, u.role, "token")


class RateLimit:
    """At most ``limit`` events per ``window_s`` per key (a sliding window); thread-safe."""

    def __init__(self, limit: int, window_s: float = 60.0, clock=time.monotonic, max_keys: int = 10_000):
        self.limit, self.window_s, self.clock, self.max_keys = int(limit), float(window_s), clock, max_keys
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _window(self, key: str) -> deque:
        now = self.clock()
        q = self._seen.get(key)
        if q is None:
            if len(self._seen) >= self.max_keys:  # bounded memory: forget keys with nothing in their window
                self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.window_s}
            q = self._seen[key] = deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        """Has ``key`` used up its window (without counting a new event)?"""
        with self._lock:
            return len(self._window(key)) >= self.limit

    def hit(self, key: str) -> bool:
        """Count one event of ``key``; False (and not counted) when the window is already full."""
        with self._lock:
            q = self._window(key)
            if len(q) >= self.limit:
                return False
            q.append(self.clock())
            return True

    def retry_after_s(self, key: str) -> float:
        with self._lock:
            q = self._window(key)
            return max(0.0, q[0] + self.window_s - self.clock()) if q else 0.0
