"""Multi-radar tracking: plots in, an air picture out.  One module per stage, each stating its interface.

    tracker.py           the cycle: predict, gate and associate, update, manage, start (:class:`Tracker`)
    config.py            TrackerConfig: the defaults and the rules on their combinations
    picture.py           AirPicture, and PictureSource: what the battle manager reads (tracker or perfect picture)
    track_table.py       the tracks as rows of arrays
    plots.py             one scan's plots, in measurement space and in ECEF
    estimator.py         the estimator interface: predict, gate, update, picture
      estimator_single.py   constant velocity / free flight, EKF or UKF, PDA mixture
      estimator_imm.py      an IMM for confirmed tracks
      motion.py, models.py  motion models (6-D single-model; 9-D for the IMM)
      measurements.py       measurement models (radar polar, Cartesian)
      ekf.py, ukf.py, imm.py, gaussian.py   the filters' equations
    gating.py            spatial prefilter and chi-square gate
    association.py       GNN and JPDA, one result shape (Association)
      jpda.py               JPDA marginals and the PDA update
    initiation.py        one- and two-point states, M-of-N and score confirmation
      score.py              the track score (SPRT)
    classification.py    ballistic flag and KinematicClass
    deletion.py          every deletion, in one place
"""

from tdome.c2.tracking.association import Association, gnn_assign
from tdome.c2.tracking.classification import KinematicClass
from tdome.c2.tracking.config import TrackerConfig, TrackerConfigError
from tdome.c2.tracking.ekf import ekf_update
from tdome.c2.tracking.gating import GatedPairs, candidate_pairs, gate, gate_threshold
from tdome.c2.tracking.initiation import one_point_state, two_point_init
from tdome.c2.tracking.measurements import measurement_model
from tdome.c2.tracking.motion import cv_process_noise, cv_transition, free_flight_mean, predict
from tdome.c2.tracking.picture import AirPicture, PictureSource, PlotAssociation
from tdome.c2.tracking.plots import plot_to_ecef, razel_jacobian
from tdome.c2.tracking.tracker import Tracker

__all__ = [
    "AirPicture",
    "Association",
    "GatedPairs",
    "KinematicClass",
    "PictureSource",
    "PlotAssociation",
    "Tracker",
    "TrackerConfig",
    "TrackerConfigError",
    "candidate_pairs",
    "cv_process_noise",
    "cv_transition",
    "ekf_update",
    "free_flight_mean",
    "gate",
    "gate_threshold",
    "gnn_assign",
    "measurement_model",
    "one_point_state",
    "plot_to_ecef",
    "predict",
    "razel_jacobian",
    "two_point_init",
]
