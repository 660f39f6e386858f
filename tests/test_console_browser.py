"""The operator console in a real browser against a real service, with the simulator playing a raid to it.

``tdome serve`` (every layer under ``confirm``, two users) and ``tdome feed``
(the starter raid's first wave at 5 times real time) run as the user runs
them, in their own processes on loopback; Debian's Chromium, driven by
Playwright, opens the console.  What must hold:

- a forged token is refused at the login and no data flows;
- tracks appear and move;
- a viewer sees the recommendations but cannot approve them: the buttons
  are disabled and the API refuses the request (403);
- an operator approves a recommendation in the page, and the order reaches
  its battery in ``tdome feed``: the battery's launch report for that
  engagement comes back to the service;
- the page makes no request anywhere but the service; it logs no error;
- a screenshot is kept in ``test-artifacts/console-live.png``.

Under CI (CI=true) a missing browser fails the test; elsewhere it is skipped
with the reason (``.ci/install-tools`` installs it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from browser_tools import ARTIFACTS, chromium
from tdome.live.net import free_loopback_ports
from tdome.scenario import starter_scenario_path

TOKENS = {"alice": "alice-operator-token-0123456789", "bob": "bob-viewer-token-0123456789"}


class Child:
    """A tdome command in its own process, its output kept; always ended."""

    def __init__(self, args: list[str], log: Path, ready: str | None = None):
        self.log = log
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen([sys.executable, "-m", "tdome.cli", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"})
        self.word = ready
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip())
            if self.word and self.word in line:
                self.ready.set()

    def wait_ready(self, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while not self.ready.wait(0.2):
            assert self.proc.poll() is None and time.monotonic() < end, "\n".join(self.lines[-40:])

    def stop(self, timeout_s: float = 120.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30.0)
        self.log.write_text("\n".join(self.lines))
        return int(self.proc.returncode)


def scenario(tmp: Path) -> tuple[Path, int]:
    """The starter scenario's first wave, every layer under confirm, its live section on free loopback ports."""
    doc = yaml.safe_load(starter_scenario_path().read_text())
    doc["duration_s"] = 300.0
    doc["raid"]["waves"] = doc["raid"]["waves"][:1]
    doc.setdefault("c2", {}).setdefault("doctrine", {})["authority"] = dict(
        upper="confirm", mid="confirm", lower="confirm", short="confirm")
    udp, tcp, out, http = free_loopback_ports(4)
    doc["live"] = dict(listen=dict(port=udp), control=dict(port=tcp), cat062=dict(to=[dict(port=out)]),
                       console=dict(http=dict(port=http)))
    path = tmp / "raid.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, http


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory, 1500, 950) as ctx:
        yield ctx


def open_console(browser, base: str):
    """A page on the console, with what it requested and logged."""
    page = browser.new_page()
    seen: dict[str, list] = {"requests": [], "sockets": [], "errors": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("websocket", lambda ws: seen["sockets"].append(ws.url))

    def route(r):
        seen["requests"].append(r.request.url)
        r.continue_() if r.request.url.startswith(base + "/") else r.abort()

    page.route("**/*", route)
    page.goto(base + "/", wait_until="load")
    return page, seen


def login(page, token: str) -> None:
    page.fill("#token", token)
    page.click("#login")


def test_an_operator_approves_in_the_page_and_the_battery_in_tdome_feed_fires(browser, tmp_path):
    config, port = scenario(tmp_path)
    users = tmp_path / "users.yaml"
    users.write_text(yaml.safe_dump({"users": [dict(name="alice", role="operator", token=TOKENS["alice"]),
                                               dict(name="bob", role="viewer", token=TOKENS["bob"])]}))
    base = f"http://127.0.0.1:{port}"
    session, run = tmp_path / "session", tmp_path / "run"
    serve = Child(["serve", str(config), "--out", str(session), "--tokens", str(users), "--duration", "900"],
                  tmp_path / "serve.log", ready="operator console: http://")
    feed = None
    try:
        serve.wait_ready(300.0)
        # A forged token: refused at the login, nothing connects.
        op, op_seen = open_console(browser, base)
        login(op, "forged-token-forged-token-forged")
        op.wait_for_function("() => document.getElementById('login-error').innerText.trim().length > 0")
        assert not op.evaluate("tdomeConsole.connected")
        login(op, TOKENS["alice"])
        op.wait_for_function("() => tdomeConsole.connected && tdomeConsole.role === 'operator'", timeout=20_000)
        viewer, viewer_seen = open_console(browser, base)
        login(viewer, TOKENS["bob"])
        viewer.wait_for_function("() => tdomeConsole.connected && tdomeConsole.role === 'viewer'", timeout=20_000)

        feed = Child(["feed", str(config), "--speed", "5", "--out", str(run), "--quiet"], tmp_path / "feed.log")
        # Tracks appear and move.
        op.wait_for_function("() => tdomeConsole.tracks > 0 && tdomeConsole.drawn.tracks > 0", timeout=120_000)
        first = op.evaluate("() => { const t = tdomeConsole.time_s; return [t, tdomeConsole.trackIds()[0]]; }")
        op.wait_for_function(f"() => tdomeConsole.time_s >= {first[0] + 4}", timeout=30_000)
        moved = op.evaluate(f"() => tdomeConsole.history({first[1]})")
        assert len(moved) >= 2 and moved[0] != moved[-1], moved

        # A recommendation waits; the viewer may not approve it.
        op.wait_for_selector("#recommendations li[data-engagement]", timeout=120_000)
        eid = int(op.get_attribute("#recommendations li[data-engagement]", "data-engagement"))
        viewer.wait_for_selector(f"#recommendations li[data-engagement='{eid}']", timeout=10_000)
        assert viewer.is_disabled(f"button[data-approve='{eid}']")
        refused = viewer.evaluate("""async eid => (await fetch(`/api/recommendations/${eid}/approve`, {method: 'POST',
            headers: {Authorization: 'Bearer ' + sessionStorage.getItem('tdome-session')}})).status""", eid)
        assert refused == 403

        # The operator approves it in the page.
        op.click(f"button[data-approve='{eid}']")
        op.wait_for_function("() => /approved/.test(document.getElementById('decision-status').innerText)",
                             timeout=10_000)
        # The map is drawn: the shipped coastline's land, not only sea.
        land = op.evaluate("""() => { const c = document.getElementById('map'); const g = c.getContext('2d');
            const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
            const near = (i, v, w) => Math.abs(d[i] - v) <= w;  // land, also under the coverage's light shade
            for (let i = 0; i < d.length; i += 4 * 13) if (near(i, 0xf3, 16) && near(i + 1, 0xef, 16)
                && near(i + 2, 0xe2, 16)) n++;
            return n / (d.length / (4 * 13)); }""")
        assert land > 0.02, land
        ARTIFACTS.mkdir(exist_ok=True)
        op.screenshot(path=str(ARTIFACTS / "console-live.png"))
        assert feed.proc.wait(300.0) == 0, "\n".join(feed.lines[-40:])
        # Chromium itself logs each 4xx answer to a fetch as an error: the forged login's 401 and the viewer's
        # 403 above, and no other.
        assert [e for e in op_seen["errors"] if "401" not in e] == [] and len(op_seen["errors"]) <= 1
        assert [e for e in viewer_seen["errors"] if "403" not in e] == [] and len(viewer_seen["errors"]) <= 1
        for seen in (op_seen, viewer_seen):
            assert all(u.startswith(base + "/") for u in seen["requests"]), seen["requests"]
            assert seen["sockets"] and all(u == f"ws://127.0.0.1:{port}/api/ws" for u in seen["sockets"])
    finally:
        if feed is not None:
            feed.stop()
        assert serve.stop() == 0, "\n".join(serve.lines[-40:])

    events = pq.read_table(session / "events.parquet").to_pydict()
    rows = list(zip(events["kind"], events["detail"]))
    assert ("operator_approve", f"engagement {eid} approved by alice") in rows
    # The battery in tdome feed carried the order out: its launch report for that engagement came back.
    assert ("launch", f"engagement {eid}: launched") in rows, [r for r in rows if r[0] in ("launch", "order")]
    log = [json.loads(line) for line in (session / "operator.jsonl").read_text().splitlines()]
    assert any(e["action"] == "approve" and e["engagement_id"] == eid and e["user"] == "alice"
               and e["result"] == "approved" for e in log)
    launches = [k for k in pq.read_table(run / "events.parquet").column("kind").to_pylist() if k == "launch"]
    assert launches  # and in the run folder of tdome feed, the launch itself
