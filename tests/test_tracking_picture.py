"""The picture sources (tdome.c2.tracking.picture) and the one association shape (tdome.c2.tracking.association).

The tracker and the simulator's perfect picture implement one protocol,
PictureSource, which is all the battle manager and the simulator read; GNN
and JPDA return the same Association.
"""

import numpy as np
import pytest

from tdome.c2.core import BattleManager
from tdome.c2.tracking import (
    AirPicture,
    Association,
    KinematicClass,
    PictureSource,
    PlotAssociation,
    Tracker,
    TrackerConfig,
)
from tdome.c2.tracking.association import GNN, JPDA, make_associator
from tdome.c2.tracking.config import MOTIONS
from tdome.c2.tracking.estimator import Estimator
from tdome.c2.tracking.estimator_imm import IMMEstimator
from tdome.c2.tracking.estimator_single import SingleModelEstimator
from tdome.c2.tracking.gating import GatedPairs
from tdome.c2.tracking.plots import ScanPlots
from tdome.c2.tracking.tracker import ESTIMATORS
from tdome.messages import PositionPlots
from tdome.sim.perfect_picture import PerfectPicture


def _feed(t, pos):
    pos = np.atleast_2d(pos)
    return PositionPlots(t, 0, pos, np.broadcast_to(np.eye(3) * 100.0, (len(pos), 3, 3)))


def test_the_tracker_and_the_perfect_picture_are_picture_sources():
    pos, vel = np.array([[6.0e6, 1.0e5, 2.5e6]]), np.array([[100.0, 0.0, 0.0]])
    perfect = PerfectPicture(lambda t: (pos + t * vel, vel, np.array([True])), ["drone"])
    tracker = Tracker(TrackerConfig(), sensors=[])
    for source in (tracker, perfect):
        assert isinstance(source, PictureSource)
        assert isinstance(source.last_association, PlotAssociation)
        assert isinstance(source.picture(1.0), AirPicture) and isinstance(source.stats, dict)
    assert len(perfect.picture(1.0)) == 0  # no plot of it has arrived yet
    perfect.observe(np.array([-1, 0]), 0.5)
    plots, ids = perfect.last_association  # unpacks like the tuple it was
    assert plots.tolist() == [1] and ids.tolist() == [1]
    assert len(perfect.picture(0.4)) == 0 and perfect.picture(1.0).track_id.tolist() == [1]
    bm = BattleManager([], [])
    assert isinstance(bm.tracker, Tracker)
    bm.use_picture_source(perfect)
    assert bm.tracker is perfect


def test_last_association_names_the_track_each_plot_went_to():
    tr = Tracker(TrackerConfig(), sensors=[])
    p = np.array([6.0e6, 1.0e5, 2.5e6])
    tr.process(_feed(0.0, [p, p + 50e3]))
    a = tr.last_association
    assert a.plot.tolist() == [0, 1] and a.track_id.tolist() == [1, 2] and a.track_id.dtype == np.int64
    tr.process(_feed(1.0, [p + [100.0, 0.0, 0.0]]))
    assert tr.last_association.plot.tolist() == [0] and tr.last_association.track_id.tolist() == [1]


@pytest.mark.parametrize("motion, kind", [("cv", SingleModelEstimator), ("imm", IMMEstimator)])
def test_the_estimator_is_chosen_once_from_the_configuration(motion, kind):
    est = ESTIMATORS[motion](TrackerConfig(motion=motion))
    assert isinstance(est, kind) and isinstance(est, Estimator)
    assert set(ESTIMATORS) == set(MOTIONS)
    assert isinstance(Tracker(TrackerConfig(motion=motion), sensors=[]).estimator, kind)


def _pairs(track, plot, cost):
    k = len(track)
    return GatedPairs(np.array(track), np.array(plot), np.zeros((k, 3)), np.zeros((k, 3, 6)),
                      np.broadcast_to(np.eye(3), (k, 3, 3)).copy(), np.array(cost, dtype=float),
                      np.zeros(k))


def test_gnn_and_jpda_return_one_association_shape():
    """Tracks 0 and 1 (confirmed, weighing their plots under JPDA) share plot 0; tentative track 2 wants plot 0 or 1."""
    pairs = _pairs([0, 0, 1, 2, 2], [0, 1, 0, 0, 1], [1.0, 4.0, 2.0, 0.5, 0.7])
    plots = ScanPlots(0.0, 0, None, np.zeros((2, 3)), np.broadcast_to(np.eye(3), (2, 3, 3)), np.zeros((2, 3)),
                      np.broadcast_to(np.eye(3), (2, 3, 3)), None, np.full(2, 1e-3))
    weighs = np.array([True, True, False])
    gnn = GNN()(pairs, 3, plots, weighs)
    jpda = JPDA(0.9, 0.9999, 1000)(pairs, 3, plots, weighs)
    for a in (gnn, jpda):
        assert isinstance(a, Association)
        s = a.single
        assert len(set(s.track.tolist())) == len(s) and len(set(s.plot.tolist())) == len(s)
        assert a.beta.shape == (len(a.mixture),) and a.beta0.shape == (3,) and a.claim.shape == (2,)
    assert len(gnn.mixture) == 0 and len(gnn.single) == 2 and not gnn.claimed.any()
    assert set(jpda.mixture.track.tolist()) == {0, 1} and set(jpda.single.track.tolist()) <= {2}
    # Per track, the marginals and the miss probability sum to one; a claimed plot is taken by no single track.
    for i in (0, 1):
        assert np.isclose(jpda.beta[jpda.mixture.track == i].sum() + jpda.beta0[i], 1.0)
    assert not np.isin(jpda.single.plot, np.flatnonzero(jpda.claimed)).any()
    assert isinstance(make_associator(TrackerConfig(association="jpda")), JPDA)


def test_kinematic_classes_are_stable_codes():
    assert [int(c) for c in KinematicClass] == [0, 1, 2, 3]
    assert [c.label for c in KinematicClass] == ["unknown", "slow", "fast", "ballistic"]
