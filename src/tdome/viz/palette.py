"""The one colour scheme of every view of a run: the map PNG, the replay and the CZML export.

Threat classes and layers follow ColorBrewer's qualitative "Paired" scheme,
darkened where a light tint is lost on the map's land colour.
"""

from __future__ import annotations

CLASS_COLOURS = {"ballistic": "#e31a1c", "rocket": "#f26b6b", "cruise": "#b15928", "drone": "#8f6fbf",
                 "aircraft": "#555555"}
LAYER_COLOURS = {"upper": "#6a3d9a", "mid": "#1f78b4", "lower": "#33a02c", "short": "#ff7f00"}
UNKNOWN = "#7f7f7f"
SAFE = "#2b8cbe"  # a defended asset not hit
HIT = "#d7301f"  # a defended asset hit


def rgba(hex_colour: str, alpha: int = 255) -> list[int]:
    """``"#rrggbb"`` as ``[r, g, b, alpha]`` (0-255), the form CZML takes."""
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)] + [alpha]
