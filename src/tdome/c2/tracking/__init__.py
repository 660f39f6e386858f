"""Multi-radar tracking: batched EKF filters, gating and GNN association, track management."""

from tdome.c2.tracking.association import GatedPairs, candidate_pairs, gate, gate_threshold, gnn_assign
from tdome.c2.tracking.filters import (
    cv_process_noise,
    cv_transition,
    ekf_update,
    free_flight_mean,
    innovation,
    inv_spd,
    measurement_model,
    one_point_state,
    plot_to_ecef,
    predict,
    razel_jacobian,
    two_point_init,
)
from tdome.c2.tracking.tracker import AirPicture, Tracker, TrackerConfig

__all__ = [
    "AirPicture",
    "GatedPairs",
    "Tracker",
    "TrackerConfig",
    "candidate_pairs",
    "cv_process_noise",
    "cv_transition",
    "ekf_update",
    "free_flight_mean",
    "gate",
    "gate_threshold",
    "gnn_assign",
    "innovation",
    "inv_spd",
    "measurement_model",
    "one_point_state",
    "plot_to_ecef",
    "predict",
    "razel_jacobian",
    "two_point_init",
]
