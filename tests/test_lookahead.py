"""Looking ahead: the value of a round held back for the threats still to come, against closed forms and in a C2."""

import numpy as np
import pytest

from tdome import geo
from tdome.c2.config import DoctrineConfig
from tdome.c2.core import BattleManager, C2Config
from tdome.c2.lookahead import ExpectedThreats, LookAhead
from tdome.c2.threat import pk_table
from tdome.messages import DefendedAsset
from test_c2_orders import LAT, LON, SPEC, Drone, status

CITY = DefendedAsset("Taichung", "city", 70.0, LAT, LON, radius_m=7e3)


def far_asset(value, km):
    lat, lon = geo.destination(LAT, LON, 0.0, km * 1e3)
    return DefendedAsset("Far", "military", value, lat, lon, radius_m=1e3)


def values(expected, rounds, assets=(CITY,), now=0.0, salvo=1, max_shots=1):
    la = LookAhead(tuple(expected), list(assets), dict.fromkeys(SPEC.pk, salvo), max_shots)
    b = status(now, ready=rounds)
    return la.round_values(now, [b], np.array([rounds]), pk_table([SPEC.pk]), np.zeros(1))[0]


@pytest.mark.parametrize("n", [1, 3, 5])
def test_a_round_is_worth_its_kill_while_threats_outnumber_rounds_and_nothing_after(n):
    # One battery, n drones expected at the city (value 70, Pk 0.9), one round each: with R rounds the later
    # battle loses 70 (n − 0.9 min(R, n)), so one round fewer costs 0.9 x 70 = 63 while R <= n, and 0 beyond.
    g = ExpectedThreats("drone", "Taichung", count=n, after_s=100.0)
    for rounds in range(1, n + 3):
        assert np.isclose(values([g], rounds), 63.0 if rounds <= n else 0.0)


def test_an_uncertain_count_averages_over_its_deciles():
    # Count 3 +- 2: the deciles give 0.44, 1.95, 3, 4.05, 5.56 -> 0, 2, 3, 4, 6 threats; with 3 rounds a round
    # fewer costs 63 in the three draws of 3 or more threats and nothing in the other two.
    g = ExpectedThreats("drone", "Taichung", count=3, count_sd=2, after_s=100.0)
    assert np.isclose(values([g], 3), 63.0 * 3 / 5)


def test_no_value_once_the_group_is_due_or_out_of_reach_or_unkillable():
    g = ExpectedThreats("drone", "Taichung", count=4, after_s=100.0)
    assert values([g], 2, now=100.0) == 0.0  # its time has come: the picture holds it now
    out_of_reach = ExpectedThreats("drone", "Far", count=4, after_s=100.0)  # 300 km away; the battery reaches 40
    assert values([out_of_reach], 2, assets=(CITY, far_asset(90, 300))) == 0.0
    assert values([ExpectedThreats("aircraft", "Taichung", count=4, after_s=100.0)], 2) > 0.0
    no_ballistic = {**SPEC.pk, "ballistic": 0.0}
    la = LookAhead((ExpectedThreats("ballistic", "Taichung", count=4, after_s=100.0),), [CITY], {}, 4)
    assert la.round_values(0.0, [status(0.0)], np.array([2]), pk_table([no_ballistic]), np.zeros(1))[0] == 0.0


def manager(intel=(), far_value=200.0):
    far = far_asset(far_value, 20)  # another asset 20 km north, within the battery's 40 km
    bm = BattleManager([], [CITY, far], C2Config(doctrine=DoctrineConfig(cost_weight_per_musd=0.0), intel=intel))
    bm.use_picture_source(Drone())
    return bm


def test_the_last_round_is_held_for_a_more_valuable_threat_to_come_and_fired_when_none_is():
    # One round left; a drone endangers the city (70 x 0.9 = 63 saved by firing now).  With one cruise missile
    # expected later at an asset worth 200 (0.9 x 200 = 180 saved then), the round waits for it; with no
    # estimate, or an estimate of a threat to an asset worth 50 (45 saved then), it is fired now.
    def fired(intel, far_value=200.0):
        bm = manager(intel, far_value)
        return any(bm.decide(float(t), [status(float(t), ready=1)]).orders for t in np.arange(1.0, 200.0))

    later = (ExpectedThreats("cruise", "Far", count=1, after_s=1e4),)
    assert fired(())
    assert not fired(later)
    assert fired(later, far_value=50.0)


def test_the_estimate_in_a_scenario_is_checked_and_a_run_with_it_defends():
    import yaml

    from tdome.scenario import ScenarioError, scenario_from_dict
    from tdome.sim.engine import run
    from tdome.sim.report import summarize
    from test_end_to_end import SMALL, small

    data = yaml.safe_load(SMALL.read_text())
    data.setdefault("c2", {})["intel"] = [{"threat_class": "ballistic", "asset": "Nowhere", "count": 4}]
    with pytest.raises(ScenarioError, match=r"c2\.intel\[0\]\.asset.*Nowhere"):
        scenario_from_dict(data, source="small.yaml")
    data["c2"]["intel"] = [{"threat_class": "ballistic", "asset": "Hsinchu Science Park", "count": -1}]
    with pytest.raises(ScenarioError, match=r"count"):
        scenario_from_dict(data, source="small.yaml")

    def look_ahead(d):
        d.setdefault("c2", {})["intel"] = [{"threat_class": "ballistic", "asset": "Taipei", "count": 4,
                                           "count_sd": 2, "after_s": 300.0}]

    s = summarize(run(small(look_ahead)))
    assert s["assignment"]["problems"] > 0 and s["leakers"]["rate"] <= 0.25
