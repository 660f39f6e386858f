"""tdome feed against tdome serve on loopback: the whole chain across two sides of a socket.

The starter scenario's raid, played by the simulator to the service: its radars' plots go out as ASTERIX, the
service's orders come back and its batteries fire, and the run is scored on the service's CAT062 tracks.  What
must hold: the service tracks and engages the raid (intercepts happen), the run's tracks are the service's and
lie on the threats, and the battle ends as a battle does: every threat down or killed.
"""

from __future__ import annotations

import numpy as np

from tdome.live.feed import attach_remote
from tdome.scenario import load_scenario, starter_scenario_path
from tdome.sim.engine import run
from tdome.sim.report import summarize
from test_live_service import Running, side_on_free_ports


def test_a_raid_played_to_the_service_is_tracked_engaged_and_scored(tmp_path):
    sc = load_scenario(starter_scenario_path())
    sc = side_on_free_ports(sc)  # the same scenario, its live section on free loopback ports
    holder: list = []
    with Running(sc, tmp_path / "service", duration_s=900.0) as svc:
        try:
            rec = run(sc, attach=attach_remote("127.0.0.1", 0.0, True, 36_000.0, holder))
        finally:
            for remote in holder:
                remote.close()
        remote = holder[0]
        assert remote.stats.get("lockstep_timeouts", 0) == 0
        assert svc.c2.counts["plots"] == remote.stats["plots_sent"]  # every plot reached the tracker
    s = summarize(rec)
    launches = [e for e in rec.events if e["kind"] == "launch"]
    kills = [e for e in rec.events if e["kind"] == "kill"]
    assert launches and kills, "the service's orders were not carried out"
    assert s["threats"]["killed"] >= s["threats"]["total"] // 2
    # The run's tracks are the service's, read back from CAT062, and they lie on the threats.
    err = np.array([row[9] for row in rec.track_rows])
    assert np.isfinite(err).mean() > 0.8
    assert np.nanmedian(err) < 500.0
    assert {e["track_id"] for e in launches} <= {row[1] for row in rec.track_rows}
