// tdome symbols: the MIL-STD-2525 symbols of the operator console's map, and of the replay's when it is written
// with them (tdome replay --symbols, which inlines this file after milsymbol). It needs milsymbol (global `ms`)
// loaded before it is called, and defines one global, `tdomeSymbols`.
var tdomeSymbols = (function () {
  "use strict";

  // MIL-STD-2525C letter SIDCs (milsymbol reads the first 10 characters). A track's frame says what we think it
  // is (its identity), the icon what kind of object (its class). Ballistic and cruise missiles take the
  // "missile in flight" icon with 2525C's own BM and CM modifiers, a rocket the same icon marked SS
  // (surface-to-surface: 2525C has no rocket among its air weapons), so the three stay apart on the map. A
  // civil track (identified by ADS-B) is a neutral civilian fixed wing whatever its class.
  const AFFILIATION = { hostile: "H", suspect: "S", unknown: "U" };
  const CLASS_ICON = { ballistic: "APWMB---", cruise: "APWMCM--", rocket: "APWMSS--", drone: "APMFQ---",
    aircraft: "APMF----" };
  const UNCLASSIFIED_ICON = "AP------";
  const CIVIL_SIDC = "SNAPCF----";
  // In 2525C a suspect frame is drawn as a hostile one; 2525E gives it a colour of its own, this light amber
  // (milsymbol's "Light" suspect fill), borrowed so that suspect and hostile stay apart.
  const SUSPECT_FILL = "rgb(255, 229, 153)";

  function trackSidc(identity, cls) {
    if (identity === "civil") return CIVIL_SIDC;
    return "S" + (AFFILIATION[identity] || "U") + (CLASS_ICON[cls] || UNCLASSIFIED_ICON);
  }

  // milsymbol's options for a symbol: its size, the suspect fill, and a text beside it (field H).
  function symbolOptions(sidc, size, mark) {
    const opts = { size };
    if (sidc[1] === "S") opts.fillColor = SUSPECT_FILL;
    if (mark) opts.additionalInformation = mark;
    return opts;
  }

  // Each distinct symbol is drawn once by milsymbol (global `ms`, loaded before the page's script) into a bitmap
  // at the screen's pixel ratio, then copied where needed: a thousand tracks are a thousand drawImage calls,
  // not a thousand SVG paths. Returns {canvas, ax, ay, w, h}: the anchor and the size in CSS px.
  const bitmaps = new Map();
  function symbol(sidc, size, mark, dpr) {
    const key = `${sidc}|${size}|${mark || ""}|${dpr}`;
    let s = bitmaps.get(key);
    if (!s) {
      const m = new ms.Symbol(sidc, symbolOptions(sidc, size, mark));
      const a = m.getAnchor();
      const z = m.getSize();
      s = { canvas: m.asCanvas(dpr), ax: a.x, ay: a.y, w: z.width, h: z.height };
      bitmaps.set(key, s);
    }
    return s;
  }

  return Object.freeze({
    trackSidc, symbolOptions, symbol, CIVIL_SIDC,
    clear: () => bitmaps.clear(),
    get count() { return bitmaps.size; },
  });
})();
