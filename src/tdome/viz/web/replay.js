// tdome battle replay: draws one run, embedded as JSON in this page, on a canvas.
// No network: everything the page needs is in this file. See tdome/viz/replay.py
// for the layout of the data.
(function () {
  "use strict";
  const T_START = performance.now();
  const D = JSON.parse(document.getElementById("tdome-data").textContent);
  const M = D.meta;
  const Q = M.q_deg;
  const QT = M.q_t;
  const STEP = M.record_step_s;
  const DURATION = M.duration_s;
  const TRAIL_S = 60;
  const FLASH_S = 20;
  const EVENT_WINDOW_PAST_S = 120;
  const EVENT_WINDOW_AHEAD_S = 10;

  // One colour scheme for the PNG map, the CZML and this page: tdome/viz/palette.py, embedded in the data.
  const CLASS_COLOURS = D.colours.classes;
  const LAYER_COLOURS = D.colours.layers;
  const KIND_LABELS = { threat_launch: "threat launched (truth)", track_confirmed: "track confirmed",
    launch: "engagement ordered", kill: "kill", miss: "miss", assessed_killed: "assessed killed",
    assessed_survived: "assessed survived", leak: "LEAK", impact: "impact", order_refused: "order refused",
    order_expired: "order expired", order_unacknowledged: "order presumed lost", fallback: "fighting alone",
    rejoined: "rejoined its C2",
    c2_takeover: "standby C2 takes command" };
  const SAFE = D.colours.safe;
  const HIT = D.colours.hit;
  const KILL = D.colours.kill;
  const MISS = D.colours.miss;
  const LEAK = D.colours.leak;
  const IMPACT = D.colours.impact;
  const MARK_KINDS = new Set(["kill", "miss", "leak", "impact"]);
  // symbols:begin
  // Tracks as MIL-STD-2525 symbols, in a page written with symbols=True only (tdome/viz/replay.py removes every
  // symbols:begin..end block otherwise, so a page without them carries no symbol code); milsymbol (global `ms`)
  // and symbols.js are inlined before this script. The SIDCs and the bitmap cache are symbols.js's, as the
  // console's; the frame comes from what the recorded picture says of the track: a class and a threatened
  // asset, hostile; a class only, suspect; no class yet, unknown.
  const SYMBOLS = D.symbols === true && typeof ms !== "undefined";
  const SYMBOL_SIZE = 16;

  // The frame from what the recorded picture says of the track (class -1: none yet).
  const identityOf = (cls, asset) => (cls < 0 ? "unknown" : asset >= 0 ? "hostile" : "suspect");

  function drawTrackSymbol(g, k, i, x, y) {
    const cls = tracks.cls[i];
    const sidc = tdomeSymbols.trackSidc(identityOf(cls, tracks.asset[i]), cls < 0 ? "" : D.classes[cls]);
    const s = tdomeSymbols.symbol(sidc, SYMBOL_SIZE, "", view.dpr);
    g.drawImage(s.canvas, x - s.ax, y - s.ay, s.w, s.h);
    g.fillStyle = "#1d2733";
    g.font = "10px system-ui, sans-serif";
    g.fillText("T" + tracks.id[k], x + s.w - s.ax + 1, y + 10);
  }

  function legendSymbols() {
    const add = (sidc, text) => {
      const m = new ms.Symbol(sidc, tdomeSymbols.symbolOptions(sidc, 11));
      const c = m.asCanvas(window.devicePixelRatio || 1);
      c.style.width = `${m.getSize().width}px`;
      c.style.height = `${m.getSize().height}px`;
      c.style.verticalAlign = "middle";
      c.style.margin = "0 3px 0 8px";
      ui.legend.append(c, document.createTextNode(text));
    };
    ui.legend.append(document.createElement("br"), document.createTextNode("symbols:"));
    add("SHAP------", "hostile (threatens an asset)");
    add("SSAP------", "suspect");
    add("SUAP------", "unknown (unclassified)");
    ui.legend.append(document.createElement("br"));
    const names = { ballistic: "ballistic (BM)", cruise: "cruise (CM)", rocket: "rocket (SS)", drone: "drone",
      aircraft: "fixed wing" };
    D.classes.forEach((c) => add(tdomeSymbols.trackSidc("hostile", c), names[c] || c));
  }
  // symbols:end

  // ------------------------------------------------------------------ decoding

  // Undo the delta coding within each object of a series; returns absolute values.
  function undelta(col, series, scale) {
    const out = new Float64Array(col.length);
    for (let k = 0; k < series.id.length; k++) {
      let acc = 0;
      const s = series.start[k];
      const e = s + series.n[k];
      for (let i = s; i < e; i++) {
        acc += col[i];
        out[i] = acc / scale;
      }
    }
    return out;
  }

  function nullable(col, scale) {
    const out = new Float64Array(col.length);
    for (let i = 0; i < col.length; i++) out[i] = col[i] === null ? NaN : col[i] / scale;
    return out;
  }

  function decodeSeries(s) {
    const out = { id: s.id, start: s.start, n: s.n, count: s.id.length,
      t: undelta(s.t, s, QT), lat: undelta(s.lat, s, Q), lon: undelta(s.lon, s, Q), alt: undelta(s.alt, s, 0.1) };
    out.t0 = new Float64Array(out.count);
    out.t1 = new Float64Array(out.count);
    for (let k = 0; k < out.count; k++) {
      out.t0[k] = out.t[s.start[k]];
      out.t1[k] = out.t[s.start[k] + s.n[k] - 1];
    }
    return out;
  }

  const tracks = decodeSeries(D.tracks);
  tracks.spd = D.tracks.spd;
  tracks.cls = D.tracks.cls;
  tracks.asset = D.tracks.asset;
  tracks.truth = D.tracks.truth;
  tracks.ilat = nullable(D.tracks.ilat, Q);
  tracks.ilon = nullable(D.tracks.ilon, Q);
  tracks.ttg = nullable(D.tracks.ttg, 1);
  const truth = decodeSeries(D.truth);

  const ev = D.events;
  const nEv = ev.t.length;
  const evT = new Float64Array(nEv);
  const evLat = nullable(ev.lat, Q);
  const evLon = nullable(ev.lon, Q);
  for (let i = 0; i < nEv; i++) evT[i] = ev.t[i] / QT;
  const kindIdx = {};
  D.kinds.forEach((k, i) => { kindIdx[k] = i; });
  const KIND = (i) => D.kinds[ev.kind[i]];
  // The chain of command's events (an operator, a network that loses orders, fallback): counted in the panel
  // only when the run has any, so a run with a perfect network and no operator shows what it always did.
  const inRun = new Set(ev.kind);
  const COMMAND_EVENTS = ["order_refused", "order_expired", "order_unacknowledged", "fallback"]
    .some((k) => inRun.has(kindIdx[k]));

  const ic = D.interceptors;
  const nIc = ic.id.length;
  const icT0 = Float64Array.from(ic.t0, (v) => v / QT);
  const icT1 = Float64Array.from(ic.t1, (v) => v / QT);

  const assets = D.assets;
  const radars = D.radars;
  const batteries = D.batteries;
  const vmax = Math.max(1, ...assets.map((a) => a.value));
  // Interceptor launch times per battery, sorted, for the magazine at any time.
  const batLaunches = batteries.map(() => []);
  for (let i = 0; i < nIc; i++) batLaunches[ic.battery[i]].push(icT0[i]);
  batLaunches.forEach((a) => a.sort((x, y) => x - y));
  // Engagement orders per track (event indices), for the battery assigned at any time.
  const launchesOfTrack = new Map();
  for (let i = 0; i < nEv; i++) {
    if (KIND(i) !== "launch") continue;
    if (!launchesOfTrack.has(ev.track[i])) launchesOfTrack.set(ev.track[i], []);
    launchesOfTrack.get(ev.track[i]).push(i);
  }
  const trackIndex = new Map();
  for (let k = 0; k < tracks.count; k++) trackIndex.set(tracks.id[k], k);

  // Last index i in [lo, hi) with a[i] <= x, or lo - 1.
  function lastAtOrBefore(a, x, lo, hi) {
    let l = lo;
    let h = hi;
    while (l < h) {
      const m = (l + h) >> 1;
      if (a[m] <= x) l = m + 1; else h = m;
    }
    return l - 1;
  }

  // ------------------------------------------------------------------ view

  const canvas = document.getElementById("map");
  const ctx = canvas.getContext("2d");
  const base = document.createElement("canvas");
  const bctx = base.getContext("2d");
  const R = M.region;
  const KX = Math.cos(((R.lat_min + R.lat_max) / 2) * Math.PI / 180);
  const view = { cLon: 0, cLat: 0, s: 1, w: 1, h: 1, dpr: 1 };

  function fit() {
    view.cLon = (R.lon_min + R.lon_max) / 2;
    view.cLat = (R.lat_min + R.lat_max) / 2;
    view.s = Math.min(view.w / ((R.lon_max - R.lon_min) * KX), view.h / (R.lat_max - R.lat_min)) * 0.98;
  }
  const X = (lon) => view.w / 2 + (lon - view.cLon) * view.s * KX;
  const Y = (lat) => view.h / 2 - (lat - view.cLat) * view.s;
  const LON = (x) => view.cLon + (x - view.w / 2) / (view.s * KX);
  const LAT = (y) => view.cLat - (y - view.h / 2) / view.s;
  const pxPerM = () => view.s / 111195;
  // Length of one degree of longitude along the parallel at lat on the WGS84 ellipsoid (m): the radius of
  // the parallel times one degree (tdome/viz/mapplot.py metres_per_degree_lon). It shrinks with cos(lat).
  function metresPerDegLon(lat) {
    const phi = lat * Math.PI / 180;
    const f = 1 / 298.257223563;
    const e2 = f * (2 - f);
    return Math.PI / 180 * 6378137 * Math.cos(phi) / Math.sqrt(1 - e2 * Math.sin(phi) ** 2);
  }
  // Horizontal pixels per metre at latitude lat: the map's x scale is fixed (KX), the ground's is not.
  const pxPerMEastAt = (lat) => view.s * KX / metresPerDegLon(lat);

  function resize() {
    const r = canvas.getBoundingClientRect();
    const first = view.w === 1;
    view.dpr = window.devicePixelRatio || 1;
    view.w = Math.max(1, r.width);
    view.h = Math.max(1, r.height);
    for (const c of [canvas, base]) {
      c.width = Math.round(view.w * view.dpr);
      c.height = Math.round(view.h * view.dpr);
    }
    if (first) fit();
    baseDirty = true;
    dirty = true;
  }

  // ------------------------------------------------------------------ state

  const ui = {
    truth: document.getElementById("show-truth"),
    coverage: document.getElementById("show-coverage"),
    impacts: document.getElementById("show-impacts"),
    play: document.getElementById("play"),
    speed: document.getElementById("speed"),
    scrub: document.getElementById("scrub"),
    timeLabel: document.getElementById("time-label"),
    clock: document.getElementById("clock"),
    totals: document.getElementById("totals"),
    layers: document.getElementById("layers"),
    events: document.getElementById("events"),
    details: document.getElementById("details"),
    tooltip: document.getElementById("tooltip"),
    legend: document.getElementById("legend"),
  };
  let now = 0;
  let playing = false;
  let dirty = true;
  let baseDirty = true;
  let panelAt = -1;
  let eventRange = "";
  let selected = null; // {type, index}
  let hovered = null;
  let frames = 0;
  let readyMs = null;
  const drawn = { assets: 0, radars: 0, batteries: 0, tracks: 0, interceptors: 0, truth: 0, markers: 0 };
  let visibleTracks = []; // [{k, x, y, lat, lon, i}] at the drawn time

  // Sample of object k of a series at time t: {lat, lon, alt, i} (i: sample at or before t), or null.
  function sampleAt(S, k, t) {
    if (t < S.t0[k] || t >= S.t1[k] + STEP) return null;
    const s = S.start[k];
    const e = s + S.n[k];
    const i = lastAtOrBefore(S.t, t, s, e);
    if (i < s) return null;
    if (i + 1 < e) {
      const f = (t - S.t[i]) / (S.t[i + 1] - S.t[i]);
      return { lat: S.lat[i] + f * (S.lat[i + 1] - S.lat[i]), lon: S.lon[i] + f * (S.lon[i + 1] - S.lon[i]),
        alt: S.alt[i] + f * (S.alt[i + 1] - S.alt[i]), i };
    }
    return { lat: S.lat[i], lon: S.lon[i], alt: S.alt[i], i };
  }

  function roundsFired(b, t) {
    const a = batLaunches[b];
    return lastAtOrBefore(a, t, 0, a.length) + 1;
  }

  function assetHitAt(j, t) {
    return assets[j].hits.filter((h) => h.time_s <= t);
  }

  function assignedBattery(trackId, t) {
    const list = launchesOfTrack.get(trackId) || [];
    let last = -1;
    for (const i of list) if (evT[i] <= t) last = i;
    return last;
  }

  // ------------------------------------------------------------------ drawing

  function drawBase() {
    const g = bctx;
    g.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    g.fillStyle = D.colours.sea;
    g.fillRect(0, 0, view.w, view.h);
    // Land.
    g.fillStyle = D.colours.land;
    g.strokeStyle = "#8c8c7a";
    g.lineWidth = 0.7;
    for (const ring of D.coast) {
      g.beginPath();
      let lon = 0;
      let lat = 0;
      for (let i = 0; i < ring.length; i += 2) {
        lon += ring[i];
        lat += ring[i + 1];
        const x = X(lon / Q);
        const y = Y(lat / Q);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      }
      g.closePath();
      g.fill();
      g.stroke();
    }
    tdomeMap.graticule(g, view, X, Y, LON, LAT, view.w / (view.s * KX));
    // Radar coverage fans and sites.
    drawn.radars = 0;
    for (const r of radars) {
      if (ui.coverage.checked) {
        g.beginPath();
        r.coverage.forEach(([lon, lat], i) => (i ? g.lineTo(X(lon), Y(lat)) : g.moveTo(X(lon), Y(lat))));
        g.closePath();
        g.fillStyle = "rgba(70, 90, 110, 0.03)";
        g.fill();
        g.setLineDash([3, 3]);
        g.strokeStyle = "rgba(50, 60, 70, 0.55)";
        g.stroke();
        g.setLineDash([]);
      }
      const x = X(r.lon_deg);
      const y = Y(r.lat_deg);
      g.beginPath();
      g.moveTo(x, y - 6);
      g.lineTo(x + 5, y + 4);
      g.lineTo(x - 5, y + 4);
      g.closePath();
      g.fillStyle = "#111";
      g.fill();
      drawn.radars++;
    }
    drawScaleBar(g);
    layoutLabels();
    baseDirty = false;
  }

  // A km scale bar in the lower right, true at the latitude it is drawn at (east-west lengths shrink
  // with cos(latitude), so a bar sized for the region's middle would be wrong after a pan).
  let scaleBox = [0, 0, 0, 0];
  function drawScaleBar(g) {
    const y = view.h - 18;
    const lat = Math.max(-85, Math.min(85, LAT(y)));
    const px = pxPerMEastAt(lat);
    const km = [2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1].find((k) => k * 1000 * px < view.w / 5) || 1;
    const len = km * 1000 * px;
    const x = view.w - len - 16;
    const text = `${km} km (at ${Math.abs(lat).toFixed(1)}°${lat >= 0 ? "N" : "S"})`;
    g.font = "10px system-ui, sans-serif";
    const tw = g.measureText(text).width;
    scaleBox = [Math.min(x, view.w - 16 - tw) - 4, y - 34, view.w - 12, y + 7];
    g.fillStyle = "rgba(255, 255, 255, 0.8)";
    g.fillRect(scaleBox[0], scaleBox[1], scaleBox[2] - scaleBox[0], scaleBox[3] - scaleBox[1]);
    g.fillStyle = "#1d2733";
    g.fillRect(x, y, len, 3);
    g.fillRect(x, y - 3, 1, 9);
    g.fillRect(x + len - 1, y - 3, 1, 9);
    g.fillText(text, Math.min(x, view.w - 16 - tw), y - 6);
  }

  // ------------------------------------------------------------------ labels

  // Names of assets, radars and batteries, placed without overlap: the greedy algorithm of
  // tdome/viz/labels.py, in screen pixels (y down). Most important first (assets by value, then radars,
  // then batteries), each name takes the first free candidate box around its marker: the eight compass
  // positions just outside it (upper right first), then the same on rings further out with a leader
  // line. Markers, the legend and the scale bar are obstacles; a name with no room is dropped (hover names it).
  const LABEL_DIRS = [[1, 1], [1, -1], [-1, 1], [-1, -1], [1, 0], [-1, 0], [0, 1], [0, -1]]; // x right, y up
  const LABEL_GAP = 2;
  const LABEL_RING = 9;
  const LABEL_RINGS = 7;
  const LABEL_PAD = 2;
  const LABEL_MARGIN = 4;
  const LEADER_MIN_PX = 6;
  const LABEL_FONT = { asset: "bold 11px system-ui, sans-serif", radar: "10px system-ui, sans-serif",
    battery: "10px system-ui, sans-serif" };
  let labels = []; // [{name, kind, box: [x0, y0, x1, y1], ring, ax, ay, r}] in screen pixels

  function labelItems() {
    const items = assets.map((a) => ({ name: a.name, kind: "asset", lon: a.lon_deg, lat: a.lat_deg,
      r: assetRadius(a) + 5, priority: 2 + a.value / vmax }));
    const at = (o) => ({ name: o.name, lon: o.lon_deg, lat: o.lat_deg });
    radars.forEach((r) => items.push({ ...at(r), kind: "radar", r: 7, priority: 1 }));
    batteries.forEach((b) => items.push({ ...at(b), kind: "battery", r: 8, priority: 0 }));
    return items;
  }

  const boxesMeet = (a, b, pad) => a[0] < b[2] + pad && b[0] < a[2] + pad && a[1] < b[3] + pad && b[1] < a[3] + pad;

  function candidateBox(ax, ay, w, h, d, [ux, uy]) {
    const x0 = ux > 0 ? ax + d : ux < 0 ? ax - d - w : ax - w / 2;
    const y0 = uy > 0 ? ay - d - h : uy < 0 ? ay + d : ay - h / 2;
    return [x0, y0, x0 + w, y0 + h];
  }

  const boxDistance = (b, x, y) => Math.hypot(Math.max(b[0] - x, x - b[2], 0), Math.max(b[1] - y, y - b[3], 0));

  // Greedy placement; items: [{ax, ay, w, h, r, priority}], obstacles: boxes, bounds: box.
  // Returns, per item in input order, {box, ring} or null when dropped. A free candidate nearer another
  // marker than its own (by more than LABEL_MARGIN) is taken only when no other is free.
  function placeLabels(items, obstacles, bounds) {
    const taken = obstacles.slice();
    const out = items.map(() => null);
    const order = items.map((_, i) => i).sort((i, j) => items[j].priority - items[i].priority || i - j);
    for (const i of order) {
      const it = items[i];
      let fallback = null;
      for (let k = 0; k < LABEL_RINGS && !out[i]; k++) {
        for (const dir of LABEL_DIRS) {
          const box = candidateBox(it.ax, it.ay, it.w, it.h, it.r + LABEL_GAP + k * LABEL_RING, dir);
          if (box[0] < bounds[0] || box[1] < bounds[1] || box[2] > bounds[2] || box[3] > bounds[3]) continue;
          if (taken.some((o) => boxesMeet(box, o, LABEL_PAD))) continue;
          const own = boxDistance(box, it.ax, it.ay);
          if (items.some((o) => boxDistance(box, o.ax, o.ay) + LABEL_MARGIN < own)) {
            if (!fallback) fallback = { box, ring: k };
            continue;
          }
          out[i] = { box, ring: k };
          break;
        }
      }
      out[i] = out[i] || fallback;
      if (out[i]) taken.push(out[i].box);
    }
    return out;
  }

  function legendBox() {
    const c = canvas.getBoundingClientRect();
    const l = ui.legend.getBoundingClientRect();
    return [l.left - c.left, l.top - c.top, l.right - c.left, l.bottom - c.top];
  }

  function layoutLabels() {
    const g = bctx;
    const items = labelItems().map((it) => {
      g.font = LABEL_FONT[it.kind];
      const size = parseFloat(LABEL_FONT[it.kind].match(/(\d+)px/)[1]);
      return { ...it, ax: X(it.lon), ay: Y(it.lat), w: g.measureText(it.name).width + 2, h: size * 1.25 };
    });
    const obstacles = items.map((it) => [it.ax - it.r, it.ay - it.r, it.ax + it.r, it.ay + it.r]);
    obstacles.push(legendBox(), scaleBox);
    const placed = placeLabels(items, obstacles, [0, 14, view.w, view.h]);
    labels = [];
    items.forEach((it, i) => {
      if (placed[i]) labels.push({ ...it, box: placed[i].box, ring: placed[i].ring });
    });
  }

  function drawLabels(g) {
    g.textBaseline = "middle";
    g.lineJoin = "round";
    for (const l of labels) {
      const [x0, y0, x1, y1] = l.box;
      // A name more than LEADER_MIN_PX from its marker's edge gets a leader line to its nearest point.
      const ex = Math.min(Math.max(l.ax, x0), x1);
      const ey = Math.min(Math.max(l.ay, y0), y1);
      const d = Math.hypot(ex - l.ax, ey - l.ay) || 1;
      if (d - l.r > LEADER_MIN_PX) {
        g.strokeStyle = "rgba(60, 74, 88, 0.8)";
        g.lineWidth = 0.8;
        g.beginPath();
        g.moveTo(l.ax + (ex - l.ax) * (l.r - 3) / d, l.ay + (ey - l.ay) * (l.r - 3) / d);
        g.lineTo(ex, ey);
        g.stroke();
      }
      g.font = LABEL_FONT[l.kind];
      g.strokeStyle = "rgba(255, 255, 255, 0.9)";
      g.lineWidth = 3;
      g.strokeText(l.name, x0 + 1, (y0 + y1) / 2);
      g.fillStyle = l.kind === "asset" ? "#10202e" : "#2b3642";
      g.fillText(l.name, x0 + 1, (y0 + y1) / 2);
    }
    g.textBaseline = "alphabetic";
  }

  function star(g, x, y, r) {
    g.beginPath();
    for (let i = 0; i < 10; i++) {
      const a = -Math.PI / 2 + (i * Math.PI) / 5;
      const rr = i % 2 ? r * 0.45 : r;
      if (i) g.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a)); else g.moveTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
    }
    g.closePath();
  }

  function cross(g, x, y, r) {
    g.beginPath();
    g.moveTo(x - r, y - r); g.lineTo(x + r, y + r);
    g.moveTo(x - r, y + r); g.lineTo(x + r, y - r);
  }

  function classColour(c) {
    return c >= 0 ? CLASS_COLOURS[D.classes[c]] || "#333" : D.colours.unknown;
  }

  function drawTruth(g, t) {
    drawn.truth = 0;
    if (!ui.truth.checked) return;
    g.lineWidth = 1;
    g.setLineDash([2, 3]);
    for (let k = 0; k < truth.count; k++) {
      if (truth.t0[k] > t) continue;
      const s = truth.start[k];
      const e = lastAtOrBefore(truth.t, t, s, s + truth.n[k]);
      g.strokeStyle = CLASS_COLOURS[D.threats.cls[truth.id[k]]] || "#333";
      g.globalAlpha = 0.55;
      g.beginPath();
      for (let i = s; i <= e; i++) (i === s ? g.moveTo(X(truth.lon[i]), Y(truth.lat[i])) : g.lineTo(X(truth.lon[i]), Y(truth.lat[i])));
      const p = sampleAt(truth, k, t);
      if (p) g.lineTo(X(p.lon), Y(p.lat));
      g.stroke();
      g.globalAlpha = 1;
      if (p) {
        g.beginPath();
        g.arc(X(p.lon), Y(p.lat), 3, 0, 2 * Math.PI);
        g.stroke();
        drawn.truth++;
      }
    }
    g.setLineDash([]);
  }

  function drawAssets(g, t) {
    drawn.assets = 0;
    assets.forEach((a, j) => {
      const hit = assetHitAt(j, t).length > 0;
      g.fillStyle = hit ? HIT : SAFE;
      tdomeMap.asset(g, a, X, Y, pxPerM(), assetRadius(a));
      drawn.assets++;
    });
  }

  // A ring around every asset hit by time t, drawn over the event marks: the leaker star that hit an
  // asset sits on it, and must not hide that it was hit.
  function drawHitRings(g, t) {
    assets.forEach((a, j) => {
      if (!assetHitAt(j, t).length) return;
      const x = X(a.lon_deg);
      const y = Y(a.lat_deg);
      for (const [colour, width] of [["#fff", 4.5], [HIT, 2.5]]) {
        g.strokeStyle = colour;
        g.lineWidth = width;
        g.beginPath();
        g.arc(x, y, assetRadius(a) + 4, 0, 2 * Math.PI);
        g.stroke();
      }
    });
  }

  const assetRadius = (a) => 4 + 8 * Math.sqrt(a.value / vmax);

  function drawBatteries(g, t) {
    drawn.batteries = 0;
    batteries.forEach((b, j) => {
      const x = X(b.lon_deg);
      const y = Y(b.lat_deg);
      g.fillStyle = LAYER_COLOURS[b.layer] || "#333";
      g.strokeStyle = "#fff";
      g.lineWidth = 1;
      g.fillRect(x - 5, y - 5, 10, 10);
      g.strokeRect(x - 5, y - 5, 10, 10);
      // Magazine gauge: the part of the magazine left.
      const left = Math.max(0, b.magazine - roundsFired(j, t)) / Math.max(1, b.magazine);
      g.fillStyle = "#fff";
      g.fillRect(x - 7, y + 7, 14, 4);
      g.fillStyle = left > 0.25 ? "#2e7d32" : left > 0 ? "#e6a100" : "#c62828";
      g.fillRect(x - 6, y + 8, 12 * left, 2);
      drawn.batteries++;
    });
  }

  function drawInterceptors(g, t) {
    drawn.interceptors = 0;
    g.lineWidth = 1.2;
    for (let i = 0; i < nIc; i++) {
      if (icT0[i] > t || icT1[i] <= t) continue;
      const f = (t - icT0[i]) / Math.max(1e-9, icT1[i] - icT0[i]);
      const la0 = ic.lat0[i] / Q;
      const lo0 = ic.lon0[i] / Q;
      const la = la0 + f * (ic.lat1[i] / Q - la0);
      const lo = lo0 + f * (ic.lon1[i] / Q - lo0);
      const colour = LAYER_COLOURS[batteries[ic.battery[i]].layer] || "#333";
      g.strokeStyle = colour;
      g.beginPath();
      g.moveTo(X(lo0), Y(la0));
      g.lineTo(X(lo), Y(la));
      g.stroke();
      g.fillStyle = colour;
      g.beginPath();
      g.arc(X(lo), Y(la), 2.5, 0, 2 * Math.PI);
      g.fill();
      drawn.interceptors++;
    }
  }

  function drawMarkers(g, t) {
    drawn.markers = 0;
    const last = lastAtOrBefore(evT, t, 0, nEv);
    for (let i = 0; i <= last; i++) {
      const kind = KIND(i);
      if (!MARK_KINDS.has(kind)) continue;
      if (!isFinite(evLat[i])) continue;
      const x = X(evLon[i]);
      const y = Y(evLat[i]);
      const fresh = t - evT[i] < FLASH_S;
      const k = fresh ? 1.6 : 1;
      if (kind === "kill") {
        g.strokeStyle = KILL; g.lineWidth = 2; cross(g, x, y, 4 * k); g.stroke();
      } else if (kind === "miss") {
        g.strokeStyle = MISS; g.lineWidth = 1.2; cross(g, x, y, 3 * k); g.stroke();
      } else if (kind === "leak") {
        g.fillStyle = LEAK; g.strokeStyle = "#000"; g.lineWidth = 1; star(g, x, y, 5 * k); g.fill(); g.stroke();
      } else {
        g.fillStyle = IMPACT; g.beginPath(); g.arc(x, y, 2.5 * k, 0, 2 * Math.PI); g.fill();
      }
      if (fresh) {
        g.strokeStyle = kind === "leak" ? "rgba(200, 30, 30, 0.7)" : "rgba(26, 152, 80, 0.5)";
        g.lineWidth = 1.5;
        g.beginPath();
        g.arc(x, y, 6 + 14 * (t - evT[i]) / FLASH_S, 0, 2 * Math.PI);
        g.stroke();
      }
      drawn.markers++;
    }
  }

  function drawTracks(g, t) {
    visibleTracks = [];
    for (let k = 0; k < tracks.count; k++) {
      const p = sampleAt(tracks, k, t);
      if (!p) continue;
      const s = tracks.start[k];
      const c = classColour(tracks.cls[p.i]);
      // Trail: the last minute of the track.
      g.strokeStyle = c;
      g.globalAlpha = 0.7;
      g.lineWidth = 1.2;
      g.beginPath();
      let first = true;
      for (let i = Math.max(s, lastAtOrBefore(tracks.t, t - TRAIL_S, s, p.i + 1)); i <= p.i; i++) {
        if (first) { g.moveTo(X(tracks.lon[i]), Y(tracks.lat[i])); first = false; } else g.lineTo(X(tracks.lon[i]), Y(tracks.lat[i]));
      }
      g.lineTo(X(p.lon), Y(p.lat));
      g.stroke();
      g.globalAlpha = 1;
      const x = X(p.lon);
      const y = Y(p.lat);
      if (ui.impacts.checked || (selected && selected.type === "track" && selected.index === k)) drawImpact(g, k, p, x, y, t);
      // symbols:begin
      if (SYMBOLS) {
        drawTrackSymbol(g, k, p.i, x, y);
        visibleTracks.push({ k, x, y, p });
        continue;
      }
      // symbols:end
      // Symbol: a diamond (hostile air track) in the colour of the class.
      g.fillStyle = c;
      g.strokeStyle = "#1d2733";
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(x, y - 5); g.lineTo(x + 5, y); g.lineTo(x, y + 5); g.lineTo(x - 5, y);
      g.closePath();
      g.fill();
      g.stroke();
      g.fillStyle = "#1d2733";
      g.font = "10px system-ui, sans-serif";
      g.fillText("T" + tracks.id[k], x + 6, y + 10);
      visibleTracks.push({ k, x, y, p });
    }
    drawn.tracks = visibleTracks.length;
  }

  function drawImpact(g, k, p, x, y, t) {
    const la = tracks.ilat[p.i];
    const lo = tracks.ilon[p.i];
    if (isFinite(la)) {
      g.setLineDash([4, 3]);
      g.strokeStyle = "rgba(200, 30, 30, 0.8)";
      g.lineWidth = 1;
      g.beginPath(); g.moveTo(x, y); g.lineTo(X(lo), Y(la)); g.stroke();
      g.setLineDash([]);
      g.lineWidth = 2;
      cross(g, X(lo), Y(la), 5);
      g.stroke();
    }
    const li = assignedBattery(tracks.id[k], t);
    if (li >= 0 && selected && selected.type === "track" && selected.index === k) {
      const b = batteries[ev.battery[li]];
      g.setLineDash([1, 3]);
      g.strokeStyle = LAYER_COLOURS[b.layer];
      g.lineWidth = 1.5;
      g.beginPath(); g.moveTo(X(b.lon_deg), Y(b.lat_deg)); g.lineTo(x, y); g.stroke();
      g.setLineDash([]);
    }
  }

  function drawSelection(g) {
    const at = selected && screenOf(selected.type, selected.index);
    if (!at) return;
    g.strokeStyle = "#000";
    g.lineWidth = 1.5;
    g.strokeRect(at.x - 10, at.y - 10, 20, 20);
  }

  function draw() {
    if (baseDirty) drawBase();
    const g = ctx;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(base, 0, 0);
    g.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    drawTruth(g, now);
    drawAssets(g, now);
    drawBatteries(g, now);
    drawInterceptors(g, now);
    drawMarkers(g, now);
    drawHitRings(g, now);
    drawLabels(g);
    drawTracks(g, now);
    drawSelection(g);
    frames++;
    dirty = false;
  }

  // ------------------------------------------------------------------ side panel

  const fmtT = (t) => {
    const m = Math.floor(t / 60);
    const s = Math.floor(t - 60 * m);
    return `${m}:${String(s).padStart(2, "0")}`;
  };

  function row(cells, header) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement(header ? "th" : "td");
      td.textContent = c;
      tr.appendChild(td);
    }
    return tr;
  }

  function counts(t) {
    const last = lastAtOrBefore(evT, t, 0, nEv);
    const byKind = {};
    const killsByLayer = {};
    const missesByLayer = {};
    for (let i = 0; i <= last; i++) {
      const kind = KIND(i);
      byKind[kind] = (byKind[kind] || 0) + 1;
      if (kind === "kill" || kind === "miss") {
        const layer = batteries[ev.battery[i]] ? batteries[ev.battery[i]].layer : "";
        const m = kind === "kill" ? killsByLayer : missesByLayer;
        m[layer] = (m[layer] || 0) + 1;
      }
    }
    return { byKind, killsByLayer, missesByLayer };
  }

  function updatePanel() {
    const t = now;
    ui.clock.textContent = `t = ${t.toFixed(0)} s (${fmtT(t)})`;
    ui.timeLabel.textContent = `${fmtT(t)} / ${fmtT(DURATION)}`;
    const c = counts(t);
    let inFlight = 0;
    for (let i = 0; i < nIc; i++) if (icT0[i] <= t && icT1[i] > t) inFlight++;
    let airborne = 0;
    for (let k = 0; k < truth.count; k++) if (truth.t0[k] <= t && t < truth.t1[k] + STEP) airborne++;
    const hitAssets = assets.filter((a, j) => assetHitAt(j, t).length > 0);
    const valueLeft = assets.reduce((s, a, j) => s + (assetHitAt(j, t).length ? 0 : a.value), 0);
    const valueAll = assets.reduce((s, a) => s + a.value, 0);
    const n = (k) => c.byKind[k] || 0;
    ui.totals.replaceChildren(
      row(["tracks in the air picture", String(drawn.tracks)]),
      row(["interceptors in flight", String(inFlight)]),
      row(["threats airborne (truth)", String(airborne)]),
      row(["threats launched (truth)", `${n("threat_launch")} of ${M.summary.threats}`]),
      row(["engagements ordered", String(n("launch"))]),
      ...(COMMAND_EVENTS ? [
        row(["orders refused / expired / presumed lost",
          `${n("order_refused")} / ${n("order_expired")} / ${n("order_unacknowledged")}`]),
        row(["batteries falling back / rejoining", `${n("fallback")} / ${n("rejoined")}`]),
      ] : []),
      row(["kills / misses", `${n("kill")} / ${n("miss")}`]),
      row(["leakers", String(n("leak"))]),
      row(["impacts away from assets", String(n("impact"))]),
      row(["assets hit", `${hitAssets.length} of ${assets.length}`]),
      row(["defended value surviving", `${valueLeft.toFixed(0)} of ${valueAll.toFixed(0)}`]),
    );
    const layerRows = [row(["layer", "shots", "kills", "misses", "rounds left"], true)];
    for (const layer of D.layers) {
      const idx = batteries.map((b, j) => (b.layer === layer ? j : -1)).filter((j) => j >= 0);
      if (!idx.length) continue;
      const fired = idx.reduce((s, j) => s + roundsFired(j, t), 0);
      const mag = idx.reduce((s, j) => s + batteries[j].magazine, 0);
      layerRows.push(row([layer, String(fired), String(c.killsByLayer[layer] || 0),
        String(c.missesByLayer[layer] || 0), `${mag - fired}/${mag}`]));
    }
    ui.layers.replaceChildren(...layerRows);
    updateEvents(t);
    if (selected) showDetails(ui.details, selected);
    panelAt = t;
  }

  function eventText(i) {
    const kind = KIND(i);
    const parts = [];
    if (ev.track[i] >= 0) parts.push("T" + ev.track[i]);
    if (ev.battery[i] >= 0 && batteries[ev.battery[i]]) parts.push(batteries[ev.battery[i]].name);
    if (kind === "threat_launch" || kind === "leak" || kind === "impact") parts.push("threat #" + ev.threat[i]);
    if (ev.detail[i]) parts.push(ev.detail[i]);
    return parts.join(" · ");
  }

  function updateEvents(t) {
    const showTruth = ui.truth.checked;
    const lo = lastAtOrBefore(evT, t - EVENT_WINDOW_PAST_S, 0, nEv) + 1;
    const mid = lastAtOrBefore(evT, t, 0, nEv);
    const hi = lastAtOrBefore(evT, t + EVENT_WINDOW_AHEAD_S, 0, nEv);
    const key = `${lo}:${mid}:${hi}:${showTruth}`;
    if (key === eventRange) return;
    eventRange = key;
    const items = [];
    let divided = false;
    for (let i = hi; i >= lo; i--) {
      const kind = KIND(i);
      if (kind === "threat_launch" && !showTruth) continue;
      if (i <= mid && !divided) {
        divided = true;
        if (items.length) {
          const divider = document.createElement("li");
          divider.className = "now";
          divider.textContent = `▲ coming up · now ${fmtT(t)} · past ▼`;
          items.push(divider);
        }
      }
      const li = document.createElement("li");
      if (i > mid) li.className = "future";
      li.dataset.index = String(i);
      const ts = document.createElement("span");
      ts.className = "t";
      ts.textContent = fmtT(evT[i]);
      const ks = document.createElement("span");
      ks.className = "k k-" + kind;
      ks.textContent = KIND_LABELS[kind] || kind;
      li.append(ts, ks, document.createTextNode(" " + eventText(i)));
      items.push(li);
    }
    ui.events.replaceChildren(...items);
  }

  // ------------------------------------------------------------------ details and picking

  function dl(pairs) {
    const d = document.createElement("dl");
    for (const [k, v] of pairs) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      d.append(dt, dd);
    }
    return d;
  }

  const ll = (lat, lon) => `${lat.toFixed(3)}°N ${lon.toFixed(3)}°E`;

  function detailPairs(sel) {
    const t = now;
    if (sel.type === "track") {
      const k = sel.index;
      const p = sampleAt(tracks, k, t);
      if (!p) return [["track", `T${tracks.id[k]}`], ["state", "not in the air picture at this time"]];
      const i = p.i;
      const cls = tracks.cls[i] >= 0 ? D.classes[tracks.cls[i]] : "unclassified";
      const impact = isFinite(tracks.ilat[i]) ? `${ll(tracks.ilat[i], tracks.ilon[i])}, in ${tracks.ttg[i].toFixed(0)} s` : "none predicted";
      const asset = tracks.asset[i] >= 0 ? assets[tracks.asset[i]].name : "none";
      const li = assignedBattery(tracks.id[k], t);
      const bat = li >= 0 ? `${batteries[ev.battery[li]].name} (${batteries[ev.battery[li]].layer}), ${ev.rounds[li]} round(s) at ${fmtT(evT[li])}` : "none";
      const th = tracks.truth[k];
      return [["track", `T${tracks.id[k]}`], ["class", cls], ["speed", `${tracks.spd[i]} m/s`],
        ["altitude", `${(p.alt / 1000).toFixed(1)} km`], ["position", ll(p.lat, p.lon)],
        ["predicted impact", impact], ["threatened asset", asset], ["assigned battery", bat],
        ["first seen", fmtT(tracks.t0[k])],
        ["truth", th >= 0 ? `threat #${th}, ${D.threats.type[th]} (${D.threats.cls[th]})` : "false alarm or unknown"]];
    }
    if (sel.type === "battery") {
      const b = batteries[sel.index];
      const fired = roundsFired(sel.index, t);
      let kills = 0;
      let misses = 0;
      let flying = 0;
      const last = lastAtOrBefore(evT, t, 0, nEv);
      for (let i = 0; i <= last; i++) {
        if (ev.battery[i] !== sel.index) continue;
        if (KIND(i) === "kill") kills++;
        if (KIND(i) === "miss") misses++;
      }
      for (let i = 0; i < nIc; i++) if (ic.battery[i] === sel.index && icT0[i] <= t && icT1[i] > t) flying++;
      return [["battery", b.name], ["layer", b.layer], ["interceptor", b.interceptor],
        ["magazine", `${b.magazine - fired} of ${b.magazine} left`], ["fired", String(fired)],
        ["in flight", String(flying)], ["kills / misses", `${kills} / ${misses}`],
        ["max range", `${(b.max_range_m / 1000).toFixed(0)} km`], ["position", ll(b.lat_deg, b.lon_deg)]];
    }
    if (sel.type === "asset") {
      const a = assets[sel.index];
      const hits = assetHitAt(sel.index, t);
      const state = hits.length ? `HIT ${hits.length}× (first at ${fmtT(hits[0].time_s)} by threat #${hits[0].threat_id})` : "safe";
      return [["asset", a.name], ["kind", a.kind], ["value", String(a.value)], ["state", state],
        ["footprint", a.polygon.length ? "polygon" : `${(a.radius_m / 1000).toFixed(1)} km radius`],
        ["position", ll(a.lat_deg, a.lon_deg)]];
    }
    const r = radars[sel.index];
    return [["radar", r.name], ["max range", `${(r.max_range_m / 1000).toFixed(0)} km`],
      ["sector", r.sector_deg >= 360 ? "360°" : `${r.sector_deg.toFixed(0)}° centred on ${r.az_center_deg.toFixed(0)}°`],
      ["altitude", `${r.alt_m.toFixed(0)} m`], ["position", ll(r.lat_deg, r.lon_deg)]];
  }

  function showDetails(el, sel) {
    el.replaceChildren(dl(detailPairs(sel)));
  }

  // Screen position (CSS px in the canvas) of an item at the drawn time, or null.
  function screenOf(type, index) {
    if (type === "track") {
      const v = visibleTracks.find((o) => o.k === index);
      return v ? { x: v.x, y: v.y } : null;
    }
    const o = type === "battery" ? batteries[index] : type === "asset" ? assets[index] : type === "radar" ? radars[index] : null;
    return o ? { x: X(o.lon_deg), y: Y(o.lat_deg) } : null;
  }

  function pick(x, y) {
    let best = null;
    let bestD = 10;
    const consider = (type, index, px, py, extra) => {
      const d = Math.hypot(px - x, py - y) - (extra || 0);
      if (d < bestD) { bestD = d; best = { type, index }; }
    };
    for (const v of visibleTracks) consider("track", v.k, v.x, v.y, 1);
    batteries.forEach((b, j) => consider("battery", j, X(b.lon_deg), Y(b.lat_deg)));
    radars.forEach((r, j) => consider("radar", j, X(r.lon_deg), Y(r.lat_deg)));
    assets.forEach((a, j) => consider("asset", j, X(a.lon_deg), Y(a.lat_deg), assetRadius(a) - 2));
    return best;
  }

  function showTooltip(x, y) {
    hovered = pick(x, y);
    const tip = ui.tooltip;
    if (!hovered) { tip.hidden = true; return; }
    showDetails(tip, hovered);
    tip.hidden = false;
    const w = tip.offsetWidth;
    tip.style.left = `${Math.min(x + 14, view.w - w - 4)}px`;
    tip.style.top = `${Math.min(y + 14, view.h - tip.offsetHeight - 4)}px`;
  }

  // ------------------------------------------------------------------ input

  function setTime(t) {
    now = Math.min(DURATION, Math.max(0, Number(t) || 0));
    ui.scrub.value = String(now);
    dirty = true;
  }

  function setPlaying(on) {
    playing = on;
    if (on && now >= DURATION) setTime(0);
    ui.play.innerHTML = on ? "&#10074;&#10074;" : "&#9654;";
    lastFrame = performance.now();
  }

  ui.scrub.max = String(DURATION);
  ui.scrub.addEventListener("input", () => { setTime(parseFloat(ui.scrub.value)); });
  ui.play.addEventListener("click", () => setPlaying(!playing));
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && e.target.tagName !== "INPUT" && e.target.tagName !== "SELECT") {
      e.preventDefault();
      setPlaying(!playing);
    }
  });
  for (const box of [ui.truth, ui.coverage, ui.impacts]) {
    box.addEventListener("change", () => { baseDirty = true; dirty = true; eventRange = ""; panelAt = -1; });
  }
  document.getElementById("reset-view").addEventListener("click", () => { fit(); baseDirty = true; dirty = true; });
  ui.events.addEventListener("click", (e) => {
    const li = e.target.closest("li");
    if (li && li.dataset.index) setTime(evT[Number(li.dataset.index)]);
  });

  let drag = null;
  canvas.addEventListener("mousedown", (e) => {
    drag = { x: e.offsetX, y: e.offsetY, lon: view.cLon, lat: view.cLat, moved: false };
  });
  window.addEventListener("mouseup", (e) => {
    if (drag && !drag.moved && e.target === canvas) {
      selected = pick(e.offsetX, e.offsetY);
      if (selected) showDetails(ui.details, selected);
      dirty = true;
    }
    drag = null;
    canvas.classList.remove("dragging");
  });
  canvas.addEventListener("mousemove", (e) => {
    if (drag) {
      const dx = e.offsetX - drag.x;
      const dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; canvas.classList.add("dragging"); }
      if (drag.moved) {
        view.cLon = drag.lon - dx / (view.s * KX);
        view.cLat = drag.lat + dy / view.s;
        baseDirty = true;
        dirty = true;
        ui.tooltip.hidden = true;
        return;
      }
    }
    showTooltip(e.offsetX, e.offsetY);
  });
  canvas.addEventListener("mouseleave", () => { ui.tooltip.hidden = true; hovered = null; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const lon = LON(e.offsetX);
    const lat = LAT(e.offsetY);
    view.s = Math.min(2e4, Math.max(20, view.s * Math.exp(-e.deltaY * 0.0015)));
    view.cLon = lon - (e.offsetX - view.w / 2) / (view.s * KX);
    view.cLat = lat + (e.offsetY - view.h / 2) / view.s;
    baseDirty = true;
    dirty = true;
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { fit(); baseDirty = true; dirty = true; });

  // ------------------------------------------------------------------ legend, loop, API

  function legend() {
    const add = (colour, text) => {
      const sw = document.createElement("span");
      sw.className = "sw";
      sw.style.background = colour;
      ui.legend.append(sw, document.createTextNode(text));
    };
    ui.legend.append(document.createTextNode("tracks:"));
    D.classes.forEach((c) => add(CLASS_COLOURS[c] || "#333", c));
    ui.legend.append(document.createElement("br"), document.createTextNode("batteries:"));
    D.layers.forEach((l) => { if (batteries.some((b) => b.layer === l)) add(LAYER_COLOURS[l], l); });
    ui.legend.append(document.createElement("br"), document.createTextNode("assets:"));
    add(SAFE, "safe");
    add(HIT, "hit");
    add(KILL, "kill ×");
    add(LEAK, "leaker ★");
    // symbols:begin
    if (SYMBOLS) legendSymbols();
    // symbols:end
  }

  let lastFrame = performance.now();
  let panelTs = 0;
  function loop(ts) {
    if (playing) {
      const dt = Math.min(0.25, (ts - lastFrame) / 1000);
      setTime(now + dt * Number(ui.speed.value));
      if (now >= DURATION) setPlaying(false);
    }
    lastFrame = ts;
    if (dirty) draw();
    // While playing, the panel (DOM work) is refreshed five times a second, the map every frame.
    if (panelAt !== now && (!playing || ts - panelTs >= 200 || panelAt < 0)) {
      updatePanel();
      panelTs = ts;
    }
    requestAnimationFrame(loop);
  }

  // The replay opens at the first moment something is on the map (a track in the air picture, an
  // interceptor, an event mark), not on an empty battle at t = 0; "#t=600" in the address opens it at
  // t = 600 s instead. Values that are not a time within the run are ignored.
  function firstOnScreen() {
    let t = Infinity;
    for (let k = 0; k < tracks.count; k++) t = Math.min(t, tracks.t0[k]);
    for (let i = 0; i < nIc; i++) t = Math.min(t, icT0[i]);
    for (let i = 0; i < nEv; i++) if (MARK_KINDS.has(KIND(i))) { t = Math.min(t, evT[i]); break; }
    if (!isFinite(t) && nEv) t = evT[0];
    return isFinite(t) ? Math.min(t, DURATION) : 0;
  }

  function timeFromHash() {
    const m = /^#(?:.*&)?t=([^&]*)/.exec(window.location.hash);
    if (!m) return null;
    let text;
    try { text = decodeURIComponent(m[1]).trim(); } catch (e) { return null; }
    if (!/^\d+(\.\d*)?$|^\.\d+$/.test(text)) return null;
    const t = Number(text);
    return isFinite(t) && t <= DURATION ? t : null;
  }

  window.addEventListener("hashchange", () => {
    const t = timeFromHash();
    if (t !== null) setTime(t);
  });

  document.getElementById("title").textContent = `${M.scenario} — seed ${M.seed} — ${fmtT(DURATION)}`;
  document.title = `tdome replay — ${M.scenario} (seed ${M.seed})`;
  legend();
  new ResizeObserver(resize).observe(canvas);
  resize();
  const START = timeFromHash();
  setTime(START !== null ? START : firstOnScreen());
  draw();
  updatePanel();
  readyMs = performance.now() - T_START;
  requestAnimationFrame(loop);

  window.tdomeReplay = Object.freeze({
    get time() { return now; },
    get duration() { return DURATION; },
    get playing() { return playing; },
    get drawn() { return { ...drawn }; },
    get listedEvents() { return ui.events.querySelectorAll("li[data-index]").length; },
    get frames() { return frames; },
    get readyMs() { return readyMs; },
    get labels() { return labels.map((l) => ({ name: l.name, kind: l.kind, box: l.box.slice(), ring: l.ring })); },
    get firstOnScreen() { return firstOnScreen(); },
    get selected() { return selected ? { ...selected } : null; },
    get hovered() { return hovered ? { ...hovered } : null; },
    counts: () => ({ tracks: tracks.count, truth: truth.count, events: nEv, interceptors: nIc,
      assets: assets.length, radars: radars.length, batteries: batteries.length }),
    screenOf,
    setTime: (t) => { setTime(t); draw(); updatePanel(); },
    play: () => setPlaying(true),
    pause: () => setPlaying(false),
  });
})();
