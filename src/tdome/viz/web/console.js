// tdome operator console: the live air picture of `tdome serve` on a canvas, and the operator's decisions.
// The page speaks the protocol of the service (a login over HTTP, then one WebSocket that carries a hello and
// a picture per C2 cycle; decisions go back over HTTP) and fetches nothing else: the service's Content-Security-
// Policy allows our own script and style and same-origin connections only. Symbols are MIL-STD-2525 (milsymbol,
// vendored, global `ms`).
(function () {
  "use strict";
  const SESSION_KEY = "tdome-session";
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 10000;
  const EVENTS_KEPT = 200;
  // Engagements listed: those in flight first, the soonest intercept first; a line counts the rest. Hundreds of
  // rows rebuilt once a second cost the page more than drawing a thousand tracks, and no one reads them.
  const ENGAGEMENTS_SHOWN = 30;
  const FRAMES_KEPT = 300;
  const HISTORY_KEPT = 120; // positions kept per track: two minutes of pictures, the selected track's trail
  const LEADER_S = 30; // a leader line is the ground the track covers in this time at its speed...
  const LEADER_MAX_PX = 60; // ...up to this length, so a ballistic missile's does not cross the map
  const TRACK_SIZE = 18; // milsymbol's size: about the height of a frame, CSS px
  const FRIEND_SIZE = 18;
  const LEGEND_SIZE = 14;
  const PICK_PX = 12;
  const DIM = 0.4; // opacity of a coasting track, a lost radar, an empty battery

  // Symbols: the SIDCs and the bitmap cache of symbols.js (shared with the replay).
  const RADAR_SIDC = "SFGPESR---"; // friend, ground equipment, sensor, radar
  const BATTERY_SIDC = "SFGPUCDM--"; // friend, ground unit, air defence, missile
  const DECOY_MARK = "DECOY"; // 2525 field H (additional information) beside the frame
  const KIND_LABELS = { order: "order", recommendation: "recommendation", launch: "launch",
    assessed_killed: "assessed killed", assessed_survived: "assessed survived", leak: "LEAK",
    order_expired: "order expired", recommendation_expired: "recommendation expired", identified: "identified",
    discriminated: "discriminated", operator_approve: "approved", operator_reject: "rejected",
    operator_authority: "authority", radar_lost: "radar lost" };

  const $ = (id) => document.getElementById(id);
  const ui = {
    overlay: $("login-overlay"), form: $("login-form"), token: $("token"), login: $("login"),
    loginError: $("login-error"), logout: $("logout"),
    name: $("name"), status: $("status"), who: $("who"), clock: $("clock"), count: $("track-count"),
    coverage: $("show-coverage"), leaders: $("show-leaders"), impacts: $("show-impacts"), labels: $("show-labels"),
    authority: $("authority"), recommendations: $("recommendations"), decision: $("decision-status"),
    details: $("details"), batteries: $("batteries"), radars: $("radars"), engagements: $("engagements"),
    events: $("events"), legend: $("legend"),
  };

  // ------------------------------------------------------------------ state

  let hello = null; // the scene: region, coast, assets, radars, batteries, colours, layers, classes
  let picture = null; // the latest picture
  let connected = false;
  let user = null;
  let role = null;
  let selected = null; // {type: "track", id} or {type: "battery"|"radar"|"asset", index}
  const errors = [];
  const frames = [];
  let draws = 0;
  const drawn = { tracks: 0, radars: 0, batteries: 0, assets: 0 };
  const trackRow = new Map(); // track id -> its column index in the latest picture
  // track id -> its Trail: [time_s, lat, lon] of the pictures it was in, oldest first, at most HISTORY_KEPT
  const history = new Map();
  const threatened = new Set(); // names of the assets some track threatens now
  let pictures = 0; // pictures received: a trail not seen in the latest one is dropped
  // Recommendations waiting, by engagement id: the element, and time_left_s with the moment it was received,
  // from which the countdown runs between pictures.
  const waiting = new Map();
  const pendingAuthority = new Set(); // layers whose change is on its way to the service

  // The last HISTORY_KEPT positions of a track in one flat ring, so a picture of a thousand tracks allocates
  // nothing for them and drops its oldest position without shifting the others.
  class Trail {
    constructor() {
      this.buf = new Float64Array(3 * HISTORY_KEPT);
      this.start = 0;
      this.length = 0;
      this.seen = 0;
    }

    push(t, lat, lon) {
      let k;
      if (this.length < HISTORY_KEPT) k = (this.start + this.length++) % HISTORY_KEPT;
      else { k = this.start; this.start = (this.start + 1) % HISTORY_KEPT; }
      this.buf[3 * k] = t;
      this.buf[3 * k + 1] = lat;
      this.buf[3 * k + 2] = lon;
    }

    // fn(time_s, lat, lon, index) for each position, oldest first.
    forEach(fn) {
      for (let j = 0; j < this.length; j++) {
        const k = 3 * ((this.start + j) % HISTORY_KEPT);
        fn(this.buf[k], this.buf[k + 1], this.buf[k + 2], j);
      }
    }

    toArray() {
      const out = [];
      this.forEach((t, lat, lon) => out.push([t, lat, lon]));
      return out;
    }
  }

  function fail(what, err) {
    const text = `${what}: ${err && err.message ? err.message : err}`;
    errors.push(text);
    console.error(text);
  }

  // ------------------------------------------------------------------ connection

  // The session token lives in sessionStorage only: it survives a reload of this tab, never reaches the
  // address bar or the console, and goes when the tab does.
  const session = () => sessionStorage.getItem(SESSION_KEY);
  let ws = null;
  let retries = 0;
  let retryTimer = null;

  function setStatus(text, on) {
    ui.status.textContent = text;
    ui.status.classList.toggle("on", Boolean(on));
  }

  function showLogin(message) {
    ui.loginError.textContent = message || "";
    ui.overlay.hidden = false;
    ui.login.disabled = false;
    ui.token.focus();
  }

  // Close the socket on our side; its close event then finds it is no longer ours and does nothing.
  function dropSocket() {
    clearTimeout(retryTimer);
    if (!ws) return;
    const old = ws;
    ws = null;
    old.close(1000);
  }

  // Drop the session and the socket: the operator must log in again.
  function logout(message) {
    sessionStorage.removeItem(SESSION_KEY);
    dropSocket();
    connected = false;
    setStatus("logged out", false);
    applyRole();
    showLogin(message);
  }

  function connect() {
    dropSocket(); // a login while an old session is still trying its socket replaces it
    const token = session();
    if (!token) { showLogin(""); return; }
    setStatus("connecting…", false);
    const sock = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/ws`);
    ws = sock;
    // The token goes in the first message, not the address, where proxies and logs would keep it.
    sock.addEventListener("open", () => sock.send(JSON.stringify({ type: "auth", token })));
    sock.addEventListener("message", (e) => {
      if (ws !== sock) return;
      let msg;
      try { msg = JSON.parse(e.data); } catch (err) { fail("unreadable message", err); return; }
      ingest(msg);
    });
    sock.addEventListener("close", (e) => {
      if (ws !== sock) return; // one we closed ourselves
      ws = null;
      connected = false;
      applyRole();
      if (e.code === 4401) {
        logout("The service refused the session (expired or revoked): log in again.");
        return;
      }
      // Anything else is the network or a restart of the service: try again, backing off so that a service
      // that is down is not hammered, and never waiting more than RETRY_MAX_MS once it is back.
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** retries);
      retries++;
      setStatus(`connection lost, retrying in ${(delay / 1000).toFixed(1)} s`, false);
      retryTimer = setTimeout(connect, delay);
    });
  }

  ui.form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = ui.token.value;
    if (!token) return;
    ui.login.disabled = true;
    ui.loginError.textContent = "";
    let r;
    try {
      r = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token }), cache: "no-store" });
    } catch (err) {
      showLogin("The service cannot be reached.");
      return;
    }
    if (!r.ok) {
      showLogin(r.status === 401 ? "Wrong token." : r.status === 429 ? "Too many failed attempts: wait, then try again."
        : `Login failed (HTTP ${r.status}).`);
      return;
    }
    let data;
    try { data = await r.json(); } catch (err) { showLogin("The service answered something unreadable."); return; }
    ui.token.value = "";
    sessionStorage.setItem(SESSION_KEY, data.session);
    user = data.user;
    role = data.role;
    ui.loginError.textContent = "Logged in; connecting…";
    retries = 0;
    connect();
  });
  ui.logout.addEventListener("click", () => logout("Logged out."));

  // One HTTP call with the session; returns {status, ok, data} (data: the JSON body, or null).
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${session()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await r.json(); } catch (err) { data = null; }
    return { status: r.status, ok: r.ok, data };
  }

  // What an HTTP error means to the operator; a 401 also sends them back to the login.
  function problem(status, data) {
    if (status === 401) {
      logout("The session has expired: log in again.");
      return "session expired";
    }
    if (status === 403) return "a viewer may not decide";
    if (status === 429) return "too many decisions, wait";
    const detail = data && (data.detail || data.error);
    return `HTTP ${status}${detail ? `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}` : ""}`;
  }

  function decisionStatus(text, bad) {
    ui.decision.textContent = text;
    ui.decision.classList.toggle("bad", Boolean(bad));
  }

  // ------------------------------------------------------------------ view

  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  const base = document.createElement("canvas"); // sea, land, graticule, coverage, assets: only the view changes it
  const bctx = base.getContext("2d");
  const view = { cLon: 121, cLat: 24, s: 100, w: 1, h: 1, dpr: 1, kx: 1 };
  let region = null;
  let coast = []; // rings as Float64Array [lon, lat, lon, lat, ...]

  function fit() {
    if (!region) return;
    view.cLon = (region.lon_min + region.lon_max) / 2;
    view.cLat = (region.lat_min + region.lat_max) / 2;
    view.s = Math.min(view.w / ((region.lon_max - region.lon_min) * view.kx),
      view.h / (region.lat_max - region.lat_min)) * 0.98;
  }
  const X = (lon) => view.w / 2 + (lon - view.cLon) * view.s * view.kx;
  const Y = (lat) => view.h / 2 - (lat - view.cLat) * view.s;
  const LON = (x) => view.cLon + (x - view.w / 2) / (view.s * view.kx);
  const LAT = (y) => view.cLat - (y - view.h / 2) / view.s;
  const pxPerM = () => view.s / 111195; // north-south; east-west is the same at the region's middle latitude

  function resize() {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    if (dpr !== view.dpr) { // cached bitmaps are drawn for one pixel ratio
      tdomeSymbols.clear();
      symbolGen++;
    }
    view.dpr = dpr;
    view.w = Math.max(1, r.width);
    view.h = Math.max(1, r.height);
    for (const c of [canvas, base]) {
      c.width = Math.round(view.w * view.dpr);
      c.height = Math.round(view.h * view.dpr);
    }
    fitOnce();
    invalidate(true);
  }

  // The view fits the region once the canvas has a size and a region; after that it is the operator's.
  let fitted = false;
  function fitOnce() {
    if (fitted || !region || view.w <= 1) return;
    fit();
    fitted = true;
  }

  // Drawing is coalesced: any number of pictures, pans and zooms between two display frames make one draw.
  let baseDirty = true;
  let drawPending = false;
  function invalidate(baseToo) {
    baseDirty = baseDirty || Boolean(baseToo);
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      try { draw(); } catch (err) { fail("draw", err); }
    });
  }

  // ------------------------------------------------------------------ symbols

  let symbolGen = 0; // counts the times the symbol cache was emptied (a new pixel ratio)
  const symbol = (sidc, size, mark) => tdomeSymbols.symbol(sidc, size, mark, view.dpr);

  // On whole device pixels: the bitmap is then copied, not resampled, which makes the frame's raster (in the
  // compositor's commit, after draw() returns) several times cheaper at a thousand tracks.
  function blit(g, s, x, y) {
    const d = view.dpr;
    g.drawImage(s.canvas, Math.round((x - s.ax) * d) / d, Math.round((y - s.ay) * d) / d, s.w, s.h);
  }

  // ------------------------------------------------------------------ drawing

  function drawBase() {
    const g = bctx;
    const C = hello.colours;
    g.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    g.fillStyle = C.sea;
    g.fillRect(0, 0, view.w, view.h);
    g.fillStyle = C.land;
    g.strokeStyle = "#8c8c7a";
    g.lineWidth = 0.7;
    for (const ring of coast) {
      g.beginPath();
      for (let i = 0; i < ring.length; i += 2) {
        if (i === 0) g.moveTo(X(ring[i]), Y(ring[i + 1])); else g.lineTo(X(ring[i]), Y(ring[i + 1]));
      }
      g.closePath();
      g.fill();
      g.stroke();
    }
    drawGraticule(g);
    if (ui.coverage.checked) {
      g.fillStyle = "rgba(70, 90, 110, 0.04)";
      g.strokeStyle = "rgba(50, 60, 70, 0.5)";
      g.lineWidth = 1;
      g.setLineDash([3, 3]);
      for (const r of hello.radars) {
        g.beginPath();
        r.coverage.forEach(([lon, lat], i) => (i ? g.lineTo(X(lon), Y(lat)) : g.moveTo(X(lon), Y(lat))));
        g.closePath();
        g.fill();
        g.stroke();
      }
      g.setLineDash([]);
    }
    drawAssets(g);
    baseDirty = false;
  }

  function drawGraticule(g) {
    tdomeMap.graticule(g, view, X, Y, LON, LAT, view.w / (view.s * view.kx));
  }

  // An asset's marker grows with its value, as in the replay.
  let vmax = 1;
  const assetRadius = (a) => 4 + 8 * Math.sqrt(a.value / vmax);

  function drawAssets(g) {
    drawn.assets = 0;
    g.fillStyle = hello.colours.safe;
    for (const a of hello.assets) {
      const x = X(a.lon_deg);
      const y = Y(a.lat_deg);
      tdomeMap.asset(g, a, X, Y, pxPerM(), assetRadius(a));
      g.fillStyle = "#10202e";
      g.font = "bold 11px system-ui, sans-serif";
      g.fillText(a.name, x + assetRadius(a) + 3, y - assetRadius(a));
      g.fillStyle = hello.colours.safe;
      drawn.assets++;
    }
  }

  // Rings around the assets some track threatens now: they change with every picture, the assets do not.
  function drawThreatRings(g) {
    g.strokeStyle = hello.colours.hit;
    g.lineWidth = 2;
    for (const a of hello.assets) {
      if (!threatened.has(a.name)) continue;
      g.beginPath();
      g.arc(X(a.lon_deg), Y(a.lat_deg), assetRadius(a) + 4, 0, 2 * Math.PI);
      g.stroke();
    }
  }

  // Radars and batteries from the hello, in the state of the latest picture.
  function drawFriends(g) {
    const radarState = new Map((picture ? picture.radars : []).map((r) => [r.name, r.state]));
    const batState = new Map((picture ? picture.batteries : []).map((b) => [b.name, b]));
    g.font = "10px system-ui, sans-serif";
    drawn.radars = 0;
    const rs = symbol(RADAR_SIDC, FRIEND_SIZE);
    for (const r of hello.radars) {
      const x = X(r.lon_deg);
      const y = Y(r.lat_deg);
      const state = radarState.get(r.name) || "emitting";
      g.globalAlpha = state === "emitting" ? 1 : state === "silent" ? 0.65 : DIM;
      blit(g, rs, x, y);
      g.globalAlpha = 1;
      if (state === "lost") cross(g, x, y, 7, hello.colours.hit);
      g.fillStyle = "#2b3642";
      g.fillText(r.name, x + rs.w - rs.ax + 2, y + 3);
      drawn.radars++;
    }
    drawn.batteries = 0;
    const bs = symbol(BATTERY_SIDC, FRIEND_SIZE);
    for (const b of hello.batteries) {
      const x = X(b.lon_deg);
      const y = Y(b.lat_deg);
      const st = batState.get(b.name);
      g.globalAlpha = !st || st.state === "ready" ? 1 : st.state === "empty" ? DIM : 0.65;
      blit(g, bs, x, y);
      g.globalAlpha = 1;
      // Magazine gauge under the symbol, in the layer's colour: the part of the magazine still in stock.
      const left = st ? Math.max(0, st.stock) / Math.max(1, st.magazine) : 1;
      const w = bs.w - 4;
      const top = y - bs.ay + bs.h + 1;
      g.fillStyle = "#fff";
      g.fillRect(x - w / 2 - 1, top, w + 2, 4);
      g.fillStyle = hello.colours.layers[b.layer] || "#333";
      g.fillRect(x - w / 2, top + 1, w * left, 2);
      g.fillStyle = "#2b3642";
      g.fillText(b.name, x + bs.w - bs.ax + 2, y + 3);
      drawn.batteries++;
    }
  }

  function cross(g, x, y, r, colour) {
    g.strokeStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(x - r, y - r); g.lineTo(x + r, y + r);
    g.moveTo(x - r, y + r); g.lineTo(x + r, y - r);
    g.stroke();
  }

  // Screen positions of the latest picture's tracks at the drawn view (CSS px), and which are on screen.
  let tx = new Float64Array(0);
  let ty = new Float64Array(0);
  let onScreen = new Uint8Array(0);

  // What each track of the latest picture looks like (its symbol, label and leader colour) is worked out once
  // per picture, when first drawn, not again in every frame of a pan or zoom: no strings or maps per track
  // and frame.
  let look = null;
  function trackLook() {
    if (look && look.picture === picture && look.gen === symbolGen) return look;
    const T = picture.tracks;
    const n = T.id.length;
    const colours = [];
    const colour = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = T.identity[i] === "civil" ? "#6a3d9a" : hello.colours.classes[T.cls[i]] || hello.colours.unknown;
      let k = colours.indexOf(c);
      if (k < 0) k = colours.push(c) - 1;
      colour[i] = k;
    }
    look = { picture, gen: symbolGen, sym: new Array(n).fill(null), label: new Array(n).fill(null), colours, colour };
    return look;
  }

  function drawTracks(g) {
    drawn.tracks = 0;
    if (!picture) return;
    const T = picture.tracks;
    const n = T.id.length;
    const L = trackLook();
    if (tx.length !== n) {
      tx = new Float64Array(n);
      ty = new Float64Array(n);
      onScreen = new Uint8Array(n);
    }
    const m = 30;
    for (let i = 0; i < n; i++) {
      tx[i] = X(T.lon[i]);
      ty[i] = Y(T.lat[i]);
      onScreen[i] = tx[i] > -m && tx[i] < view.w + m && ty[i] > -m && ty[i] < view.h + m ? 1 : 0;
    }
    const sel = selected && selected.type === "track" ? trackRow.get(selected.id) : undefined;
    // The selected track's trail: where it has been over the last pictures.
    if (sel !== undefined) {
      g.strokeStyle = "rgba(29, 39, 51, 0.7)";
      g.lineWidth = 1.5;
      g.beginPath();
      history.get(selected.id).forEach((t, lat, lon, k) => (k ? g.lineTo(X(lon), Y(lat)) : g.moveTo(X(lon), Y(lat))));
      g.stroke();
    }
    // Under the symbols: the predicted impact lines, then the leader lines, each colour one path.
    if (ui.impacts.checked || sel !== undefined) {
      g.setLineDash([4, 3]);
      g.strokeStyle = "rgba(200, 30, 30, 0.8)";
      g.lineWidth = 1;
      g.beginPath();
      for (let i = 0; i < n; i++) {
        if ((!ui.impacts.checked && i !== sel) || T.ilat[i] === null || (!onScreen[i] && i !== sel)) continue;
        const ix = X(T.ilon[i]);
        const iy = Y(T.ilat[i]);
        g.moveTo(tx[i], ty[i]); g.lineTo(ix, iy);
        g.moveTo(ix - 4, iy - 4); g.lineTo(ix + 4, iy + 4);
        g.moveTo(ix - 4, iy + 4); g.lineTo(ix + 4, iy - 4);
      }
      g.stroke();
      g.setLineDash([]);
    }
    if (ui.leaders.checked) {
      const k = LEADER_S * pxPerM();
      g.lineWidth = 1.5;
      for (let c = 0; c < L.colours.length; c++) {
        g.strokeStyle = L.colours[c];
        g.beginPath();
        for (let i = 0; i < n; i++) {
          if (!onScreen[i] || L.colour[i] !== c) continue;
          const len = Math.min(LEADER_MAX_PX, T.speed[i] * k);
          const a = T.course[i] * Math.PI / 180;
          g.moveTo(tx[i], ty[i]);
          g.lineTo(tx[i] + len * Math.sin(a), ty[i] - len * Math.cos(a));
        }
        g.stroke();
      }
    }
    const labels = ui.labels.checked;
    g.font = "10px system-ui, sans-serif";
    g.textAlign = "center";
    g.fillStyle = "#1d2733";
    for (let i = 0; i < n; i++) {
      if (!onScreen[i]) continue;
      // A decoy: found light by the discriminator, never engaged; whatever it imitates, it is only suspect.
      let s = L.sym[i];
      if (!s) {
        s = T.decoy[i] ? symbol(tdomeSymbols.trackSidc("suspect", T.cls[i]), TRACK_SIZE, DECOY_MARK)
          : symbol(tdomeSymbols.trackSidc(T.identity[i], T.cls[i]), TRACK_SIZE, "");
        L.sym[i] = s;
      }
      g.globalAlpha = T.coasting[i] ? DIM : 1;
      blit(g, s, tx[i], ty[i]);
      if (labels) {
        if (L.label[i] === null) L.label[i] = T.callsign[i] ? `T${T.id[i]} ${T.callsign[i]}` : `T${T.id[i]}`;
        g.fillText(L.label[i], tx[i], ty[i] - s.ay + s.h + 11);
      }
      drawn.tracks++;
    }
    g.globalAlpha = 1;
    g.textAlign = "start";
    if (sel !== undefined) {
      const h = TRACK_SIZE + 6;
      g.strokeStyle = "#000";
      g.lineWidth = 1.5;
      g.strokeRect(tx[sel] - h / 2, ty[sel] - h / 2, h, h);
    }
  }

  function draw() {
    if (!hello) return;
    const t0 = performance.now();
    if (baseDirty) drawBase();
    const g = ctx;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(base, 0, 0);
    g.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    drawThreatRings(g);
    drawFriends(g);
    drawTracks(g);
    draws++;
    frames.push(performance.now() - t0);
    if (frames.length > FRAMES_KEPT) frames.splice(0, frames.length - FRAMES_KEPT);
  }

  // ------------------------------------------------------------------ messages

  function ingest(msg) {
    try {
      if (msg.type === "hello") onHello(msg);
      else if (msg.type === "picture") onPicture(msg);
      // "ack" and any later type: nothing to do, the next picture shows the effect.
    } catch (err) {
      fail(`message ${msg && msg.type}`, err);
    }
  }

  function onHello(h) {
    const sameRegion = region && JSON.stringify(region) === JSON.stringify(h.region);
    hello = h;
    region = h.region;
    vmax = Math.max(1, ...h.assets.map((a) => a.value));
    view.kx = Math.cos(((region.lat_min + region.lat_max) / 2) * Math.PI / 180);
    // The coast comes as the replay's: delta-coded integer [lon, lat] pairs in units of q_deg.
    coast = h.coast.map((ring) => {
      const out = new Float64Array(ring.length);
      let lon = 0;
      let lat = 0;
      for (let i = 0; i < ring.length; i += 2) {
        lon += ring[i];
        lat += ring[i + 1];
        out[i] = lon * h.q_deg;
        out[i + 1] = lat * h.q_deg;
      }
      return out;
    });
    // A reconnect brings the same hello again: the operator's pan and zoom stay.
    if (!sameRegion) fitted = false;
    fitOnce();
    user = h.user;
    role = h.role;
    connected = true;
    retries = 0;
    setStatus("connected", true);
    ui.who.textContent = `${user} (${role})`;
    ui.name.textContent = h.name || "";
    document.title = `tdome console — ${h.name || ""}`;
    ui.overlay.hidden = true;
    ui.loginError.textContent = "";
    buildAuthority();
    batteryTable = radarTable = engagementTable = null; // made again for this scene by the next picture
    applyRole();
    invalidate(true);
  }

  function onPicture(p) {
    if (!hello) return; // a picture is meaningless before the scene it is drawn on
    picture = p;
    const T = p.tracks;
    trackRow.clear();
    threatened.clear();
    pictures++;
    for (let i = 0; i < T.id.length; i++) {
      trackRow.set(T.id[i], i);
      if (T.asset[i] !== null) threatened.add(T.asset[i]);
      let h = history.get(T.id[i]);
      if (!h) {
        h = new Trail();
        history.set(T.id[i], h);
      }
      h.push(p.time_s, T.lat[i], T.lon[i]);
      h.seen = pictures;
    }
    if (history.size > trackRow.size) for (const [id, h] of history) if (h.seen !== pictures) history.delete(id);
    setText(ui.clock, `${clockText(p.time_s)} UTC`);
    setText(ui.count, `${T.id.length} tracks`);
    showAuthority(p.authority || {});
    showRecommendations(p.recommendations || []);
    showBatteries(p.batteries || []);
    showRadars(p.radars || []);
    showEngagements(p.engagements || [], p.time_s);
    logEvents(p.events || []);
    if (selected) showDetails();
    invalidate(false);
  }

  // ------------------------------------------------------------------ side panel

  // The service's track time is seconds of the day (UTC) and can run past midnight.
  function clockText(t) {
    const s = ((Math.floor(t) % 86400) + 86400) % 86400;
    const two = (v) => String(v).padStart(2, "0");
    return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  }

  // Writes an element's text only when it differs: an unchanged write still costs style and layout.
  function setText(e, text) {
    if (e.textContent !== text) e.textContent = text;
  }

  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };

  function row(cells, header) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      if (c instanceof Node) {
        const td = el(header ? "th" : "td");
        td.append(c);
        tr.append(td);
      } else tr.append(el(header ? "th" : "td", c));
    }
    return tr;
  }

  function swatch(colour) {
    const s = el("span", undefined, "sw");
    s.style.background = colour;
    return s;
  }

  const isViewer = () => role !== "operator";

  // A viewer sees everything and changes nothing; so does anyone while the page is not connected.
  function applyRole() {
    const off = isViewer() || !connected;
    for (const s of ui.authority.querySelectorAll("select")) {
      const disabled = off || pendingAuthority.has(s.dataset.layer);
      if (s.disabled !== disabled) s.disabled = disabled;
    }
    for (const w of waiting.values()) setDecisionButtons(w.el, !off && !w.closed && !w.busy);
  }

  function buildAuthority() {
    ui.authority.replaceChildren();
    for (const layer of hello.layers) {
      const label = el("label");
      label.append(swatch(hello.colours.layers[layer] || "#333"), document.createTextNode(layer));
      const select = el("select");
      select.dataset.layer = layer;
      select.id = `authority-${layer}`;
      label.htmlFor = select.id;
      for (const v of ["auto", "confirm", "hold"]) select.append(new Option(v, v));
      select.addEventListener("change", () => changeAuthority(layer, select));
      ui.authority.append(label, select);
    }
    if (picture) showAuthority(picture.authority || {});
  }

  function showAuthority(map) {
    for (const s of ui.authority.querySelectorAll("select")) {
      const v = map[s.dataset.layer];
      // A layer whose change is on its way keeps the operator's choice until the service answers.
      if (v && s.value !== v && !pendingAuthority.has(s.dataset.layer)) s.value = v;
    }
  }

  async function changeAuthority(layer, select) {
    const want = select.value;
    pendingAuthority.add(layer);
    select.disabled = true;
    decisionStatus(`${layer}: asking for ${want}…`);
    let r;
    try {
      r = await api("PUT", `/api/authority/${encodeURIComponent(layer)}`, { authority: want });
    } catch (err) {
      r = null;
    }
    pendingAuthority.delete(layer);
    if (r && r.ok) {
      decisionStatus(`${layer} is now under ${want}`);
      if (r.data && r.data.authority) showAuthority(r.data.authority);
    } else {
      decisionStatus(`${layer}: ${r ? problem(r.status, r.data) : "the service cannot be reached"}`, true);
      if (picture) showAuthority(picture.authority || {}); // back to what the service says
    }
    applyRole();
  }

  function setDecisionButtons(li, on) {
    for (const b of li.querySelectorAll("button")) if (b.disabled !== !on) b.disabled = !on;
  }

  // The list is updated in place, not rebuilt: an operator about to click a button must not see it replaced
  // under the pointer once a second.
  function showRecommendations(recs) {
    const now = performance.now();
    const seen = new Set();
    for (const r of recs) {
      const id = String(r.engagement_id);
      seen.add(id);
      let w = waiting.get(id);
      if (!w) {
        const li = el("li");
        li.dataset.engagement = id;
        const approve = el("button", "approve");
        approve.type = "button";
        approve.dataset.approve = id;
        const reject = el("button", "reject");
        reject.type = "button";
        reject.dataset.reject = id;
        approve.addEventListener("click", () => decide(id, "approve"));
        reject.addEventListener("click", () => decide(id, "reject"));
        const what = el("span", "", "what");
        const left = el("span", "", "left");
        li.append(what, approve, reject, left);
        ui.recommendations.append(li);
        w = { el: li, what, leftEl: left, busy: false, closed: false };
        waiting.set(id, w);
      }
      w.rec = r;
      w.left = r.time_left_s;
      w.at = now;
      setText(w.what, `T${r.track_id} ← ${r.battery} (${r.layer}), ${r.rounds} round${r.rounds === 1 ? "" : "s"}`);
    }
    for (const [id, w] of waiting) {
      if (seen.has(id)) continue;
      w.el.remove();
      waiting.delete(id);
    }
    tick();
    applyRole();
  }

  // The countdown between pictures: each recommendation's time left when received, less the time since.
  function tick() {
    const now = performance.now();
    for (const w of waiting.values()) {
      const left = Math.max(0, Math.ceil(w.left - (now - w.at) / 1000));
      const closed = left <= 0;
      setText(w.leftEl, closed ? "window closed" : `closes in ${left} s`);
      if (closed !== w.closed) {
        w.closed = closed;
        w.el.classList.toggle("closed", closed);
        setDecisionButtons(w.el, !closed && !w.busy && !isViewer() && connected);
      }
    }
  }
  setInterval(tick, 1000);

  async function decide(id, verdict) {
    const w = waiting.get(id);
    if (!w || w.busy) return;
    w.busy = true;
    setDecisionButtons(w.el, false);
    decisionStatus(`${verdict} E${id}…`);
    let r;
    try {
      r = await api("POST", `/api/recommendations/${encodeURIComponent(id)}/${verdict}`);
    } catch (err) {
      r = null;
    }
    w.busy = false;
    if (r && r.ok) {
      const result = r.data && r.data.result ? r.data.result : "done";
      // "expired" or "unknown": the decision came too late, or the service no longer knows the engagement.
      decisionStatus(`E${id} (T${w.rec.track_id}, ${w.rec.battery}): ${result}`,
        result !== "approved" && result !== "rejected");
    } else {
      decisionStatus(`E${id}: ${r ? problem(r.status, r.data) : "the service cannot be reached"}`, true);
    }
    applyRole();
  }

  // A table kept in place from one picture to the next: a row per key, made once; a cell's text or class is
  // written only when it changes, and a row moves only when the order does, so that a picture like the last
  // costs the page no style, layout or paint, and an operator reading a row does not see it replaced.
  function keyedTable(table, headings) {
    const head = row(headings, true);
    table.replaceChildren(head);
    return { table, head, rows: new Map(), stamp: 0, more: null };
  }

  // Show `items` in this order: key(item) names its row, cells(item) its cells' [text, class] (a bare string
  // has no class), first(item) an element put before the first cell's text when the row is made. `more`: the
  // text of a last line spanning the table, or "" for none.
  function syncTable(t, items, key, cells, first, more) {
    t.stamp++;
    let at = t.head.nextSibling;
    for (const item of items) {
      let k = String(key(item));
      while (t.rows.has(k) && t.rows.get(k).stamp === t.stamp) k += "+"; // the same key twice: a row each
      const values = cells(item);
      let r = t.rows.get(k);
      if (!r) {
        const tr = document.createElement("tr");
        r = { tr, tds: [], texts: [], cls: [], stamp: 0 };
        for (let j = 0; j < values.length; j++) {
          const td = document.createElement("td");
          if (j === 0 && first) td.append(first(item));
          const text = document.createTextNode("");
          td.append(text);
          tr.append(td);
          r.tds.push(td);
          r.texts.push(text);
          r.cls.push("");
        }
        t.rows.set(k, r);
      }
      r.stamp = t.stamp;
      for (let j = 0; j < values.length; j++) {
        const v = values[j];
        const text = typeof v === "string" ? v : v[0];
        const cls = typeof v === "string" ? "" : v[1];
        if (r.texts[j].data !== text) r.texts[j].data = text;
        if (r.cls[j] !== cls) {
          r.cls[j] = cls;
          r.tds[j].className = cls;
        }
      }
      if (r.tr === at) at = at.nextSibling;
      else t.table.insertBefore(r.tr, at);
    }
    for (const [k, r] of t.rows) {
      if (r.stamp === t.stamp) continue;
      r.tr.remove();
      t.rows.delete(k);
    }
    if (more) {
      if (!t.more) {
        const td = el("td", "", "more");
        td.colSpan = t.head.childElementCount;
        t.more = document.createElement("tr");
        t.more.append(td);
      }
      setText(t.more.firstChild, more);
      if (t.table.lastChild !== t.more) t.table.append(t.more);
    } else if (t.more) t.more.remove();
  }

  let batteryTable = null;
  let radarTable = null;
  let engagementTable = null;

  function showBatteries(list) {
    if (!batteryTable) batteryTable = keyedTable(ui.batteries, ["battery", "layer", "ready / stock / magazine", "state"]);
    const layerOf = (b) => b.layer || (hello.batteries.find((h) => h.name === b.name) || {}).layer || "";
    syncTable(batteryTable, list, (b) => b.name,
      (b) => [b.name, layerOf(b), `${b.ready} / ${b.stock} / ${b.magazine}`, [b.state, `st-${b.state}`]],
      (b) => swatch(hello.colours.layers[layerOf(b)] || "#333"), "");
  }

  function showRadars(list) {
    if (!radarTable) radarTable = keyedTable(ui.radars, ["radar", "state", "last scan"]);
    syncTable(radarTable, list, (r) => r.name, (r) => [r.name, [r.state, `st-${r.state}`],
      r.last_scan_s === null || r.last_scan_s === undefined ? "—"
        : `${Math.max(0, picture.time_s - r.last_scan_s).toFixed(0)} s ago`], null, "");
  }

  // In flight (launched) before ordered; then the soonest intercept; then the newest.
  function engagementOrder(a, b) {
    const fa = a.state === "launched" ? 0 : 1;
    const fb = b.state === "launched" ? 0 : 1;
    if (fa !== fb) return fa - fb;
    if (a.intercept_time_s !== b.intercept_time_s) return a.intercept_time_s - b.intercept_time_s;
    return b.engagement_id - a.engagement_id;
  }

  function showEngagements(list, timeS) {
    if (!engagementTable) {
      engagementTable = keyedTable(ui.engagements, ["id", "track", "battery", "rounds", "state", "intercept"]);
    }
    let shown = list;
    let more = "";
    if (list.length > ENGAGEMENTS_SHOWN) {
      shown = list.slice().sort(engagementOrder).slice(0, ENGAGEMENTS_SHOWN);
      const byState = new Map();
      for (const e of list) byState.set(e.state, (byState.get(e.state) || 0) + 1);
      for (const e of shown) byState.set(e.state, byState.get(e.state) - 1);
      const parts = [];
      for (const [state, n] of byState) if (n > 0) parts.push(`${n} ${state}`);
      more = `and ${list.length - shown.length} more (${parts.join(", ")}), ${list.length} in all`;
    }
    syncTable(engagementTable, shown, (e) => e.engagement_id, (e) => [`E${e.engagement_id}`, `T${e.track_id}`,
      `${e.battery} (${e.layer})`, String(e.rounds), [e.state, `st-${e.state}`],
      `in ${Math.max(0, e.intercept_time_s - timeS).toFixed(0)} s`], null, more);
  }

  function eventText(e) {
    const parts = [];
    if (e.track_id !== null && e.track_id !== undefined && e.track_id >= 0) parts.push(`T${e.track_id}`);
    if (e.battery) parts.push(e.layer ? `${e.battery} (${e.layer})` : e.battery);
    else if (e.layer) parts.push(e.layer);
    if (e.detail) parts.push(e.detail);
    if (e.user) parts.push(`by ${e.user}`);
    return parts.join(" · ");
  }

  // Newest first; a picture's events come oldest first, so each goes on top in turn, all in one insertion. The
  // list is never rebuilt: only the new entries are made and the oldest beyond EVENTS_KEPT dropped.
  function logEvents(list) {
    if (!list.length) return;
    const fresh = document.createDocumentFragment();
    for (let j = Math.max(0, list.length - EVENTS_KEPT); j < list.length; j++) {
      const e = list[j];
      const li = el("li");
      li.append(el("span", clockText(e.time_s), "t"), el("span", KIND_LABELS[e.kind] || e.kind.replace(/_/g, " "),
        `k k-${e.kind}`), document.createTextNode(" " + eventText(e)));
      fresh.prepend(li);
    }
    ui.events.prepend(fresh);
    while (ui.events.childElementCount > EVENTS_KEPT) ui.events.lastElementChild.remove();
  }

  // ------------------------------------------------------------------ details and picking

  function dl(pairs) {
    const d = el("dl");
    for (const [k, v] of pairs) d.append(el("dt", k), el("dd", v));
    return d;
  }

  const ll = (lat, lon) => `${lat.toFixed(3)}°N ${lon.toFixed(3)}°E`;

  function trackPairs(id) {
    const i = trackRow.get(id);
    if (i === undefined) return [["track", `T${id}`], ["state", "no longer in the air picture"]];
    const T = picture.tracks;
    const impact = T.ilat[i] === null ? "none predicted"
      : `${ll(T.ilat[i], T.ilon[i])}${T.ttg[i] === null ? "" : `, in ${T.ttg[i].toFixed(0)} s`}`;
    return [["track", `T${id}`], ["class", T.cls[i] || "unclassified"],
      ["identity", T.identity[i] + (T.decoy[i] ? " (decoy)" : "") + (T.coasting[i] ? ", coasting" : "")],
      ["speed", `${T.speed[i].toFixed(0)} m/s`], ["altitude", `${(T.alt[i] / 1000).toFixed(1)} km`],
      ["course", `${T.course[i].toFixed(0)}°`], ["climb", `${T.climb[i].toFixed(0)} m/s`],
      ["position", ll(T.lat[i], T.lon[i])], ["threatened asset", T.asset[i] || "none"],
      ["predicted impact", impact], ["engaged by", T.engaged[i] ? `${T.engaged[i]} layer` : "none"],
      ["call sign", T.callsign[i] || "—"]];
  }

  function detailPairs(sel) {
    if (sel.type === "track") return trackPairs(sel.id);
    if (sel.type === "battery") {
      const b = hello.batteries[sel.index];
      const st = picture && picture.batteries.find((x) => x.name === b.name);
      return [["battery", b.name], ["layer", b.layer], ["interceptor", b.interceptor],
        ["ready / stock / magazine", st ? `${st.ready} / ${st.stock} / ${st.magazine}` : `— / — / ${b.magazine}`],
        ["state", st ? st.state : "no report yet"], ["launchers", String(b.launchers)],
        ["max range", `${(b.max_range_m / 1000).toFixed(0)} km`], ["position", ll(b.lat_deg, b.lon_deg)]];
    }
    if (sel.type === "radar") {
      const r = hello.radars[sel.index];
      const st = picture && picture.radars.find((x) => x.name === r.name);
      return [["radar", r.name], ["state", st ? st.state : "no report yet"],
        ["max range", `${(r.max_range_m / 1000).toFixed(0)} km`],
        ["sector", r.sector_deg >= 360 ? "360°"
          : `${r.sector_deg.toFixed(0)}° centred on ${r.az_center_deg.toFixed(0)}°`],
        ["position", ll(r.lat_deg, r.lon_deg)]];
    }
    const a = hello.assets[sel.index];
    const by = picture ? picture.tracks.id.filter((_, i) => picture.tracks.asset[i] === a.name) : [];
    return [["asset", a.name], ["kind", a.kind], ["value", String(a.value)],
      ["threatened by", by.length ? by.map((id) => `T${id}`).join(", ") : "no track"],
      ["position", ll(a.lat_deg, a.lon_deg)]];
  }

  // Refreshed with every picture: the same fields as before have their values rewritten where they changed.
  let detailKeys = "";
  function showDetails() {
    const pairs = detailPairs(selected);
    const keys = pairs.map((p) => p[0]).join("\n");
    const d = ui.details.firstElementChild;
    if (keys !== detailKeys || !d || d.tagName !== "DL") {
      ui.details.replaceChildren(dl(pairs));
      detailKeys = keys;
      return;
    }
    const dds = d.getElementsByTagName("dd");
    pairs.forEach((p, j) => setText(dds[j], p[1]));
  }

  // The nearest thing under the pointer: a track first (they move and matter most), then our own sites.
  function pick(x, y) {
    let best = null;
    let bestD = PICK_PX;
    for (let i = 0; i < onScreen.length; i++) {
      if (!onScreen[i]) continue;
      const d = Math.hypot(tx[i] - x, ty[i] - y);
      if (d < bestD) { bestD = d; best = { type: "track", id: picture.tracks.id[i] }; }
    }
    if (best) return best;
    const near = (type, list, extra) => list.forEach((o, j) => {
      const d = Math.hypot(X(o.lon_deg) - x, Y(o.lat_deg) - y) - (extra ? extra(o) : 0);
      if (d < bestD) { bestD = d; best = { type, index: j }; }
    });
    near("battery", hello.batteries);
    near("radar", hello.radars);
    near("asset", hello.assets, (a) => assetRadius(a) - 2);
    return best;
  }

  function screenOf(trackId) {
    const i = trackRow.get(trackId);
    if (i === undefined || !hello) return null;
    return [X(picture.tracks.lon[i]), Y(picture.tracks.lat[i])];
  }

  // ------------------------------------------------------------------ input

  let drag = null;
  canvas.addEventListener("mousedown", (e) => {
    drag = { x: e.offsetX, y: e.offsetY, lon: view.cLon, lat: view.cLat, moved: false };
  });
  window.addEventListener("mouseup", (e) => {
    if (drag && !drag.moved && e.target === canvas && hello) {
      const hit = pick(e.offsetX, e.offsetY);
      if (hit) {
        selected = hit;
        showDetails();
        invalidate(false);
      }
    }
    drag = null;
    canvas.classList.remove("dragging");
  });
  canvas.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const dx = e.offsetX - drag.x;
    const dy = e.offsetY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; canvas.classList.add("dragging"); }
    if (!drag.moved) return;
    view.cLon = drag.lon - dx / (view.s * view.kx);
    view.cLat = drag.lat + dy / view.s;
    invalidate(true);
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const lon = LON(e.offsetX);
    const lat = LAT(e.offsetY);
    view.s = Math.min(2e4, Math.max(20, view.s * Math.exp(-e.deltaY * 0.0015)));
    view.cLon = lon - (e.offsetX - view.w / 2) / (view.s * view.kx);
    view.cLat = lat + (e.offsetY - view.h / 2) / view.s;
    invalidate(true);
  }, { passive: false });
  const refit = () => { fit(); invalidate(true); };
  canvas.addEventListener("dblclick", refit);
  $("reset-view").addEventListener("click", refit);
  ui.coverage.addEventListener("change", () => invalidate(true));
  for (const box of [ui.leaders, ui.impacts, ui.labels]) box.addEventListener("change", () => invalidate(false));

  // ------------------------------------------------------------------ legend

  function legend() {
    const item = (sidc, text, opts) => {
      const o = opts || {};
      const m = new ms.Symbol(sidc, tdomeSymbols.symbolOptions(sidc, LEGEND_SIZE, o.mark));
      const c = m.asCanvas(window.devicePixelRatio || 1);
      c.style.width = `${m.getSize().width}px`;
      c.style.height = `${m.getSize().height}px`;
      if (o.dim) c.className = "dim";
      const span = el("span", undefined, "item");
      span.append(c, document.createTextNode(text));
      return span;
    };
    const line = (cls, text) => {
      const span = el("span", undefined, "item");
      span.append(el("span", undefined, `line ${cls}`), document.createTextNode(text));
      return span;
    };
    const rowOf = (title, ...items) => {
      const d = el("div", undefined, "row");
      d.append(el("b", title), ...items);
      return d;
    };
    ui.legend.replaceChildren(
      rowOf("identity", item("SHAP------", "hostile"), item("SSAP------", "suspect"), item("SUAP------", "unknown"),
        item(tdomeSymbols.CIVIL_SIDC, "civil (ADS-B)")),
      rowOf("class", item("SHAPWMB---", "ballistic"), item("SHAPWMCM--", "cruise"), item("SHAPWMSS--", "rocket"),
        item("SHAPMFQ---", "drone"), item("SHAPMF----", "fixed wing")),
      rowOf("friend", item(RADAR_SIDC, "radar"), item(BATTERY_SIDC, "air-defence battery")),
      rowOf("state", item("SHAPWMB---", "coasting", { dim: true }), item("SSAPMFQ---", "decoy", { mark: DECOY_MARK }),
        line("", "course, 30 s at speed"), line("impact", "predicted impact")),
    );
    ui.legend.title = "hostile: a threat class endangering a defended asset, or engaged; suspect: a threat class "
      + "endangering no asset (yet); unknown: not classified yet; civil: identified by ADS-B, never engaged; "
      + "friend: our radars and batteries";
  }

  // ------------------------------------------------------------------ start

  if (typeof ms === "undefined") fail("start", "milsymbol.js did not load");
  else legend();
  new ResizeObserver(resize).observe(canvas);
  if (session()) {
    ui.loginError.textContent = "Connecting with this tab's session…";
    connect();
  } else showLogin("");

  window.tdomeConsole = Object.freeze({
    get connected() { return connected; },
    get user() { return user; },
    get role() { return role; },
    get time_s() { return picture ? picture.time_s : null; },
    get tracks() { return picture ? picture.tracks.id.length : 0; },
    get drawn() { return { ...drawn }; },
    get draws() { return draws; },
    get recommendations() { return waiting.size; },
    get frames() { return frames.slice(); },
    get errors() { return errors.slice(); },
    get symbolsCached() { return tdomeSymbols.count; },
    get selected() { return selected ? { ...selected } : null; },
    trackIds: () => (picture ? picture.tracks.id.slice() : []),
    history: (trackId) => (history.has(trackId) ? history.get(trackId).toArray() : []),
    screenOf,
    ingest,
  });
})();
