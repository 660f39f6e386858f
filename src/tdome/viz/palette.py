"""The one colour scheme of every view of a run: the map PNG, the replay, the CZML export and the study report.

Threat classes take hostile, warm or dark hues; layers take friendly, cool
ones, so an interceptor line is never read as a threat path.  The hues are
drawn from the colour-blind-aware Okabe–Ito set (vermillion, reddish purple,
black) completed from Dark2, Tableau and Set1 where Okabe–Ito runs out,
chosen so that every pair of threat classes differs by a CIE76 ΔE of about
40 in normal vision and stays apart under simulated protanopia,
deuteranopia and tritanopia (``tests/test_viz_palette.py`` checks it), and
every colour stands out from the map's land and sea.  Ballistic and rocket,
two parabolas on the map, are vermillion and gold: no longer two reds.
"""

from __future__ import annotations

CLASS_COLOURS = {"ballistic": "#d55e00", "rocket": "#e6ab02", "cruise": "#cc79a7", "drone": "#9c755f",
                 "aircraft": "#000000"}
LAYER_COLOURS = {"upper": "#1f3a93", "mid": "#377eb8", "lower": "#4daf4a", "short": "#01665e"}
UNKNOWN = "#7f7f7f"
SAFE = "#5b6c7d"  # a defended asset not hit: a neutral slate, neither a layer blue nor a threat hue
HIT = "#b2182b"  # a defended asset hit
# Event marks, shared by the map, the replay and the CZML export.
KILL = "#1a9850"
MISS = "#8a8a8a"
LEAK = "#ffd92f"  # the leaker star, black-edged
IMPACT = "#969696"
ALONE = "#000000"  # the dashed ring of a battery that fought alone after losing its C2 (event "fallback")
LAND = "#f3efe2"
SEA = "#dbe9f4"


def rgba(hex_colour: str, alpha: int = 255) -> list[int]:
    """``"#rrggbb"`` as ``[r, g, b, alpha]`` (0-255), the form CZML takes."""
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)] + [alpha]
