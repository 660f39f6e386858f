"""One run's outputs, composed in the order of the chain: record -> summary -> run folder -> map.

The simulator writes what it recorded through :mod:`tdome.runfolder`; the
map is then drawn from what the folder holds (:mod:`tdome.viz.mapplot`), as
the replay and the CZML export are.  Composing here, above both, is what
lets the simulator know nothing of pictures and the pictures nothing of the
simulator.  ``tdome run`` calls this; so can a notebook or a test.
"""

from __future__ import annotations

from pathlib import Path

from tdome.runfolder import FILES, load_run_folder
from tdome.sim.engine import RunRecord
from tdome.sim.report import write_record
from tdome.viz.mapplot import plot_run


def write_run(rec: RunRecord, summary: dict, out: Path) -> dict[str, Path]:
    """Write the whole run folder of ``rec`` into ``out``; returns every file's path, keyed as :data:`FILES`
    (``links`` only when the run had a network: a perfect network has no links)."""
    out = Path(out)
    paths = write_record(rec, summary, out)
    paths["map"] = plot_run(load_run_folder(out), out / FILES["map"])
    return {key: paths[key] for key in FILES if key in paths}
