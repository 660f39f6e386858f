// tdome map: what the replay and the operator console draw alike on their canvas maps. Both project
// longitude and latitude the same way (equirectangular about the view's centre, longitude scaled by the cosine
// of the region's mid latitude); the replay inlines this file before its own script, the console loads it.
// It defines one global, `tdomeMap`.
var tdomeMap = (function () {
  "use strict";

  // Lines every whole, half, fifth or tenth of a degree, as the view's width asks, labelled at the edges.
  // `view`: {w, h} in CSS px; `X`, `Y`: degrees to px; `LON`, `LAT`: px to degrees; `spanDeg`: the view's
  // width in degrees of longitude.
  function graticule(g, view, X, Y, LON, LAT, spanDeg) {
    const step = spanDeg > 6 ? 1 : spanDeg > 2.5 ? 0.5 : spanDeg > 1 ? 0.2 : 0.1;
    g.strokeStyle = "rgba(60, 80, 100, 0.18)";
    g.fillStyle = "#4a5866";
    g.font = "10px system-ui, sans-serif";
    g.lineWidth = 1;
    g.beginPath();
    for (let lon = Math.ceil(LON(0) / step) * step; lon < LON(view.w); lon += step) {
      g.moveTo(X(lon), 0);
      g.lineTo(X(lon), view.h);
      g.fillText(lon.toFixed(1) + "°E", X(lon) + 2, 11);
    }
    for (let lat = Math.ceil(LAT(view.h) / step) * step; lat < LAT(0); lat += step) {
      g.moveTo(0, Y(lat));
      g.lineTo(view.w, Y(lat));
      g.fillText(lat.toFixed(1) + "°N", 2, Y(lat) - 2);
    }
    g.stroke();
  }

  // A defended asset in the current fill style: its footprint (its polygon, or its radius once that is over
  // 4 px), faint, then its marker of `radiusPx` ringed in white; `pxPerM`: the view's scale.
  function asset(g, a, X, Y, pxPerM, radiusPx) {
    const x = X(a.lon_deg);
    const y = Y(a.lat_deg);
    if (a.polygon && a.polygon.length) {
      g.globalAlpha = 0.6;
      g.beginPath();
      a.polygon.forEach(([la, lo], i) => (i ? g.lineTo(X(lo), Y(la)) : g.moveTo(X(lo), Y(la))));
      g.closePath();
      g.fill();
    } else if (a.radius_m * pxPerM > 4) {
      g.globalAlpha = 0.18;
      g.beginPath();
      g.arc(x, y, a.radius_m * pxPerM, 0, 2 * Math.PI);
      g.fill();
    }
    g.globalAlpha = 1;
    g.beginPath();
    g.arc(x, y, radiusPx, 0, 2 * Math.PI);
    g.fill();
    g.strokeStyle = "#fff";
    g.lineWidth = 1.5;
    g.stroke();
  }

  return Object.freeze({ graticule, asset });
})();
