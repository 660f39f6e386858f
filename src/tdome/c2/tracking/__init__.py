"""Multi-radar tracking: batched EKF filters, gating and GNN association, track management."""

from tdome.c2.tracking.association import GatedPairs, candidate_pairs, gate, gate_threshold, gnn_assign
from tdome.c2.tracking.filters import (
    cv_process_noise,
    cv_transition,
    ekf_update,
    free_flight_mean,
    measurement_model,
    one_point_state,
    plot_to_ecef,
    predict,
    razel_jacobian,
    two_point_init,
)
from tdome.c2.tracking.tracker import (
    KIN_BALLISTIC,
    KIN_FAST,
    KIN_NAMES,
    KIN_SLOW,
    KIN_UNKNOWN,
    AirPicture,
    Tracker,
    TrackerConfig,
)

__all__ = [
    "KIN_BALLISTIC",
    "KIN_FAST",
    "KIN_NAMES",
    "KIN_SLOW",
    "KIN_UNKNOWN",
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
    "measurement_model",
    "one_point_state",
    "plot_to_ecef",
    "predict",
    "razel_jacobian",
    "two_point_init",
]
