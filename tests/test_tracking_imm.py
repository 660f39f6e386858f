"""Tests of the IMM that pays: its manoeuvre model, its gate, IMM-PDA and UKF updates, and the tracker on flight
profiles in clutter against constant velocity.

Modules under test: :mod:`tdome.c2.tracking.models` (the Singer model), :mod:`tdome.c2.tracking.imm`
(:func:`~tdome.c2.tracking.imm.in_gate`, :func:`~tdome.c2.tracking.imm.update_pda`, the UKF update),
:mod:`tdome.c2.tracking.estimator_imm` (through the tracker) and :mod:`tdome.world.flight_profiles`.

The tracker runs here are small versions of ``benchmarks/tracking_imm.py`` (one radar, 4 s revisits, Pd 0.9, uniform
clutter in range, azimuth and elevation): the IMM must hold airliners as cleanly as CV and fighters much better.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from tdome import geo
from tdome.c2.tracking import Tracker, TrackerConfig
from tdome.c2.tracking import imm as imm_mod
from tdome.c2.tracking.measurements import PolarRadar
from tdome.c2.tracking.models import ConstantAcceleration, Singer, singer_matrices
from tdome.messages import Detections, SensorSite
from tdome.world import flight_profiles as fp

LAT, LON = np.radians(24.0), np.radians(121.0)
G = 9.80665


# --------------------------------------------------------------------------- the Singer model


def _van_loan(alpha, sigma, dt):
    """Exact one-axis F and Q of the Singer model by Van Loan's matrix exponential."""
    A = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -alpha]])
    M = np.zeros((6, 6))
    M[:3, :3], M[:3, 3:], M[3:, 3:] = -A, np.diag([0.0, 0.0, 2 * alpha * sigma**2]), A.T
    E = expm(M * dt)
    F = E[3:, 3:].T
    return F, F @ E[:3, 3:]


@pytest.mark.parametrize("dt", [1e-3, 0.5, 4.0, 12.0, 30.0])
def test_singer_matrices_are_the_exact_discretisation(dt):
    F1, Q1 = singer_matrices(np.array([dt]), 0.2, 40.0)
    F, Q = _van_loan(0.2, 40.0, dt)
    assert np.allclose(F1[0], F, rtol=1e-9, atol=1e-9)  # the matrix exponential itself errs by ~1e-11
    assert np.allclose(Q1[0], Q, rtol=1e-8, atol=1e-10 * np.abs(Q).max())
    # the acceleration is stationary: its variance stays σ² whatever the step
    assert F1[0, 2, 2] ** 2 * 40.0**2 + Q1[0, 2, 2] == pytest.approx(40.0**2)


def test_singer_backwards_is_the_reversed_process_and_tends_to_ca():
    F, Q = singer_matrices(np.array([4.0, -4.0]), 0.2, 40.0)
    assert F[1, 0, 1] == -4.0 and F[1, 0, 2] == F[0, 0, 2] and F[1, 1, 2] == -F[0, 1, 2]
    flip = np.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]])
    assert np.allclose(Q[1], Q[0] * flip)
    assert np.linalg.eigvalsh(Q[1]).min() > -1e-9 * Q[1].max()
    # a long time constant at the same jerk density is the Wiener-process (CA) model
    alpha, q = 1e-6, 1000.0
    Fs, Qs = Singer(np.sqrt(q / (2 * alpha)), 1 / alpha).matrices([4.0])
    Fc, Qc = ConstantAcceleration(q).matrices([4.0])
    assert np.allclose(Fs, Fc, atol=1e-5) and np.allclose(Qs, Qc, rtol=1e-4, atol=1e-6)


def test_singer_bounds_what_missed_scans_do_to_the_manoeuvre_model():
    """After three missed 4 s scans the former CA model (q = 1000) claims an 11 g acceleration spread and a
    kilometres-wide position; the Singer model's acceleration spread never passes its σ_m and its position spread
    stays a fraction of the CA's."""
    P0 = np.diag([50.0**2] * 3 + [10.0**2] * 3 + [5.0**2] * 3)[None]
    x0 = np.zeros((1, 9))
    ca, sa = ConstantAcceleration(1000.0), Singer(40.0, 5.0)
    _, Pc = ca.predict(x0, P0, 16.0)
    _, Ps = sa.predict(x0, P0, 16.0)
    sig = {name: (np.sqrt(P[0, 0, 0]), np.sqrt(P[0, 6, 6])) for name, P in (("ca", Pc), ("sa", Ps))}
    print(f"\nafter 16 s: CA σ_p {sig['ca'][0]:.0f} m, σ_a {sig['ca'][1]:.0f} m/s²; "
          f"Singer σ_p {sig['sa'][0]:.0f} m, σ_a {sig['sa'][1]:.0f} m/s²")
    assert sig["ca"][1] > 11 * G and sig["ca"][0] > 5e3
    assert sig["sa"][1] <= 40.0 + 1e-9 and sig["sa"][0] < 0.5 * sig["ca"][0]


# --------------------------------------------------------------------------- the gate and the updates


def test_the_weighted_gate_is_the_chi2_gate_of_a_single_model():
    rng = np.random.default_rng(1)
    k, gamma = 3, float(chi2.ppf(0.9999, 3))
    d2 = rng.uniform(0, 40, 500)
    logdet = rng.normal(0, 5, 500)
    loglik = -0.5 * (d2 + logdet + k * np.log(2 * np.pi))
    inside = imm_mod.in_gate(loglik, np.ones((500, 1)), logdet[:, None], gamma, k)
    assert np.array_equal(inside, d2 <= gamma)


def test_a_wide_improbable_model_does_not_stretch_the_weighted_gate():
    """Two models: a tight one (μ 0.9, σ 100 m) and a wide one (μ 0.1, σ 3 km).  The union gate reaches 4σ of the
    wide model (~13 km); the weighted one holds the tight model's gate and adds the wide one only where its density
    beats the tight gate's edge."""
    k, gamma = 3, float(chi2.ppf(0.9999, 3))
    dist = np.linspace(0.0, 15e3, 15001)  # every metre
    sig = np.array([100.0, 3e3])
    mu = np.array([0.9, 0.1])
    d2 = (dist[:, None] / sig[None]) ** 2  # along one axis, isotropic covariances
    logdet = np.broadcast_to(3 * np.log(sig**2), d2.shape)
    ll = np.log(np.exp(np.log(mu) - 0.5 * (d2 + logdet + k * np.log(2 * np.pi))).sum(axis=1))
    union = (d2 <= gamma).any(axis=1)
    weighted = imm_mod.in_gate(ll, np.broadcast_to(mu, d2.shape), logdet, gamma, k)
    reach_u, reach_w = dist[union].max(), dist[weighted].max()
    print(f"\nunion gate reaches {reach_u:.0f} m, weighted {reach_w:.0f} m "
          f"(tight model's own {np.sqrt(gamma) * 100:.0f})")
    assert reach_u > 12e3
    assert np.sqrt(gamma) * 100.0 - 1.0 <= reach_w < 600.0
    assert not np.any(weighted & ~union)


def _radar(revisit_s=4.0):
    return SensorSite(index=0, name="radar", lat_rad=LAT, lon_rad=LON, alt_m=100.0, max_range_m=120e3,
                      min_range_m=500.0, min_el_rad=np.radians(-2.0), max_el_rad=np.radians(60.0), az_center_rad=0.0,
                      az_half_width_rad=np.pi, revisit_s=revisit_s, sigma_range_m=50.0, sigma_az_rad=1e-3,
                      sigma_el_rad=1e-3)


def _model_states(rng, n=6):
    """Three model states of ``n`` tracks ~40 km from the radar, spread as after a manoeuvre, and probabilities."""
    site = _radar()
    p = geo.enu_to_ecef(np.array([[30e3, 25e3, 6e3]]), LAT, LON, 100.0)[0]
    xm = np.zeros((n, 3, 9))
    xm[:, :, :3] = p + rng.normal(0, 200.0, (n, 3, 3))
    xm[:, :, 3:6] = rng.normal(0, 200.0, (n, 3, 3))
    xm[:, :, 6:] = rng.normal(0, 10.0, (n, 3, 3))
    Pm = np.empty((n, 3, 9, 9))
    for j, s in enumerate((60.0, 150.0, 400.0)):
        Pm[:, j] = np.diag([s**2] * 3 + [(s / 4) ** 2] * 3 + [(s / 40) ** 2] * 3)
    mu = rng.dirichlet([5, 2, 1], n)
    return site, PolarRadar(site.ecef, site.enu_rot), xm, Pm, mu


def test_imm_pda_with_one_sure_plot_is_the_imm_update():
    rng = np.random.default_rng(3)
    _, radar, xm, Pm, mu = _model_states(rng)
    z = radar.h(xm[:, 0]) + rng.normal(0, 1, (6, 3)) * [50.0, 1e-3, 1e-3]
    R = np.broadcast_to(np.diag([50.0**2, 1e-6, 1e-6]), (6, 3, 3))
    xu, Pu, muu, _ = imm_mod.update(xm, Pm, mu, z, R, radar)
    xp, Pp, mup = imm_mod.update_pda(xm, Pm, mu, np.arange(6), z, R, np.ones(6), np.zeros(6), radar)
    assert np.allclose(xp, xu, rtol=1e-9, atol=1e-6) and np.allclose(Pp, Pu, rtol=1e-8, atol=1e-6)
    assert np.allclose(mup, muu, atol=1e-10)


def test_imm_pda_splits_the_events_by_model():
    """Two plots and a miss: the model probabilities are μ_j (β₀ + Σ_e β_e N_ej / L_e), they add up to one, a miss
    leaves the models as predicted, and a sure miss changes nothing."""
    rng = np.random.default_rng(4)
    _, radar, xm, Pm, mu = _model_states(rng, 2)
    R1 = np.diag([50.0**2, 1e-6, 1e-6])
    z = np.concatenate([radar.h(xm[:, 0]), radar.h(xm[:, 2])]) + rng.normal(0, 1, (4, 3)) * [50.0, 1e-3, 1e-3]
    track = np.array([0, 1, 0, 1])
    R = np.broadcast_to(R1, (4, 3, 3))
    beta, beta0 = np.array([0.5, 0.3, 0.2, 0.6]), np.array([0.3, 0.1])
    _, _, muu = imm_mod.update_pda(xm, Pm, mu, track, z, R, beta, beta0, radar)
    # the expected probabilities, from each pair's per-model likelihoods
    per = np.stack([np.exp(imm_mod.score_models(xm[track][:, [j]], Pm[track][:, [j]], np.ones((4, 1)), z, R,
                                                radar)[0]) for j in range(3)], axis=1)
    L = (mu[track] * per).sum(axis=1)
    lam = beta0[:, None] + np.array([np.sum((beta * per[:, j] / L)[track == t]) for t in range(2)
                                     for j in range(3)]).reshape(2, 3)
    assert np.allclose(muu, mu * lam / (mu * lam).sum(axis=1, keepdims=True))
    assert np.allclose(muu.sum(axis=1), 1.0)
    xs, Ps, mus = imm_mod.update_pda(xm, Pm, mu, track, z, R, np.zeros(4), np.ones(2), radar)
    assert np.allclose(xs, xm) and np.allclose(Ps, Pm) and np.allclose(mus, mu)


def test_the_ukf_imm_update_agrees_with_the_ekf_on_a_near_linear_plot():
    rng = np.random.default_rng(5)
    _, radar, xm, Pm, mu = _model_states(rng)
    z = radar.h(xm[:, 1]) + rng.normal(0, 1, (6, 3)) * [50.0, 1e-3, 1e-3]
    R = np.broadcast_to(np.diag([50.0**2, 1e-6, 1e-6]), (6, 3, 3))
    xe, Pe, mue, lle = imm_mod.update(xm, Pm, mu, z, R, radar, iterations=2)
    xu, Pu, muu, llu = imm_mod.update(xm, Pm, mu, z, R, radar, unscented=True)
    sigma = np.sqrt(np.diagonal(Pe, axis1=-2, axis2=-1))
    assert np.all(np.abs(xu - xe) < 0.2 * sigma)  # the two linearisations differ by a fraction of the spread
    assert np.allclose(np.sqrt(np.diagonal(Pu, axis1=-2, axis2=-1)), np.sqrt(np.diagonal(Pe, axis1=-2, axis2=-1)),
                       rtol=0.05)
    assert np.allclose(muu, mue, atol=0.01) and np.allclose(llu, lle, atol=0.05)


# --------------------------------------------------------------------------- flight profiles


@pytest.mark.parametrize("family", list(fp.FAMILIES))
def test_flight_profiles_are_flown_consistently(family):
    """Velocity is the derivative of position and acceleration that of velocity; speeds, turns and climbs stay in
    their types' limits."""
    flights = fp.FAMILIES[family](4, np.random.default_rng(7), LAT, LON)
    limit = {"fighter": fp.FIGHTER, "missile": fp.CRUISE_MISSILE}.get(family, fp.AIRLINER)
    for f in flights:
        t = np.arange(f.t0_s + 1.0, f.t1_s - 1.0, 0.1)
        p, v, a = f.at(t)
        h = 1e-3
        dp = (f.at(t + h)[0] - f.at(t - h)[0]) / (2 * h)
        dv = (f.at(t + h)[1] - f.at(t - h)[1]) / (2 * h)
        assert np.abs(dp - v).max() < 0.05
        assert np.sqrt(np.mean(np.sum((dv - a) ** 2, axis=1))) < 0.08 * max(1.0, np.sqrt(np.mean(np.sum(a**2, 1))))
        lat, lon, alt = geo.ecef_to_geodetic(p)
        speed = np.linalg.norm(v, axis=1)
        up = np.einsum("nij,nj->ni", geo.enu_rotation(lat, lon), v)[:, 2]
        acc = np.linalg.norm(a, axis=1)
        assert np.all(up <= limit.max_climb_mps + 0.01) and np.all(up >= -limit.max_descent_mps - 0.01)
        assert acc.max() <= np.hypot(limit.max_lat_mps2, limit.max_vert_mps2) + limit.max_long_mps2 + 1e-6
        assert np.all(alt > 0)
        if limit is fp.AIRLINER:
            assert speed.min() > 60.0 and speed.max() < 260.0 and acc.max() < G * np.tan(np.radians(30.0)) + 1.5
    assert np.all(np.isnan(flights[0].at([flights[0].t1_s + 1.0])[0]))


def test_holding_turns_are_standard_rate_or_25_degrees_of_bank():
    f = fp.holdings(1, np.random.default_rng(2), LAT, LON)[0]
    t = np.arange(f.t0_s, f.t1_s, 0.25)
    _, v, a = f.at(t)
    rate = np.linalg.norm(np.cross(v, a), axis=1) / np.sum(v * v, axis=1)
    speed = np.linalg.norm(v, axis=1).mean()
    expect = min(np.radians(3.0), G * np.tan(np.radians(25.0)) / speed)
    assert rate.max() == pytest.approx(expect, rel=0.01)
    assert np.mean(rate > 0.9 * expect) > 0.45  # two 180° turns a lap: about half the time turning


def test_fighters_pull_their_g_and_missiles_weave():
    fl = fp.fighters(6, np.random.default_rng(3), LAT, LON)
    peak = [np.linalg.norm(f.acc, axis=1).max() / G for f in fl]
    assert min(peak) > 2.5 and max(peak) < 7.5
    ms = fp.missiles(4, np.random.default_rng(3), LAT, LON)
    for m in ms:
        lat_acc = np.linalg.norm(np.cross(m.vel, m.acc), axis=1) / np.linalg.norm(m.vel, axis=1)
        assert 2.5 * G < lat_acc.max() < 10.5 * G


# --------------------------------------------------------------------------- the tracker on the profiles


def _scan(site, t, pos, n_clutter, rng):
    seen = np.flatnonzero(site.covers(pos) & (rng.random(len(pos)) < 0.9)) if len(pos) else np.zeros(0, dtype=int)
    r, az, el = geo.enu_to_razel(site.to_enu(pos[seen])) if seen.size else (np.zeros(0),) * 3
    n = seen.size
    r = np.r_[r + rng.normal(0, 50.0, n), rng.uniform(2e3, 120e3, n_clutter)]
    az = np.mod(np.r_[az + rng.normal(0, 1e-3, n), rng.uniform(0, 2 * np.pi, n_clutter)], 2 * np.pi)
    el = np.r_[el + rng.normal(0, 1e-3, n), rng.uniform(0.0, np.radians(10.0), n_clutter)]
    source = np.r_[seen, np.full(n_clutter, -1)]
    order = rng.permutation(r.size)
    return Detections(time_s=t, sensor=0, range_m=r[order], az_rad=az[order], el_rad=el[order],
                      sigma=np.tile([50.0, 1e-3, 1e-3], (r.size, 1))), source[order]


def _fly(flights, motion, seed, n_clutter=10, revisit_s=4.0, **config):
    """Track ``flights`` in clutter: track-number changes, confirmed tracks never on a flight, clutter plots taken by
    confirmed tracks, scans with a track faster than 1.5 times the fastest flight, the fastest track over the fastest
    flight, RMS position error."""
    site = _radar(revisit_s)
    tracker = Tracker(TrackerConfig(motion=motion, **config), [site])
    rng = np.random.default_rng(seed)
    vmax = max(np.linalg.norm(f.vel, axis=1).max() for f in flights)
    last, on_flight, seen = {}, set(), set()
    out = dict(id_changes=0, clutter=0, fast=0, se=0.0, n=0, max_speed=0.0)
    for t in np.arange(revisit_s, max(f.t1_s for f in flights), revisit_s):
        ids, pos, _ = fp.truth_at(flights, float(t))
        det, source = _scan(site, float(t), pos, n_clutter, rng)
        tracker.process(det)
        pic = tracker.picture(float(t))
        seen |= set(pic.track_id.tolist())
        pl, tid = tracker.last_association
        out["clutter"] += sum(1 for p, i in zip(pl.tolist(), tid.tolist()) if source[p] < 0 and i in seen)
        speed = np.linalg.norm(pic.x[:, 3:], axis=1)
        out["fast"] += int(np.any(speed > 1.5 * vmax))
        out["max_speed"] = max(out["max_speed"], float(speed.max(initial=0.0)) / vmax)
        if len(pic) and len(pos):
            d = np.linalg.norm(pos[:, None] - pic.x[None, :, :3], axis=2)
            rows, cols = linear_sum_assignment(np.where(d < 3e3, d, 1e9))
            for r_, c_ in zip(rows.tolist(), cols.tolist()):
                if d[r_, c_] >= 3e3:
                    continue
                fl, tk = int(ids[r_]), int(pic.track_id[c_])
                out["id_changes"] += int(fl in last and last[fl] != tk)
                last[fl] = tk
                on_flight.add(tk)
                out["se"] += d[r_, c_] ** 2
                out["n"] += 1
    out["false_tracks"] = len(seen - on_flight)
    out["rms_m"] = float(np.sqrt(out["se"] / max(out["n"], 1)))
    return out


@pytest.mark.parametrize("family", ["airliner_straight", "airliner_turning", "approach", "holding"])
def test_on_traffic_the_imm_is_as_clean_as_cv_and_more_accurate(family):
    """Airliners, straight or turning gently, approaches and holdings, in 10 clutter plots a scan: the IMM has no
    more track-number changes or false tracks than CV, takes at most one clutter plot more, has no track faster than
    five times the fastest aircraft, and a lower position error.  Before the fix, on the same traffic: 5-10 clutter
    plots taken where CV took none or one, 13-24 scans with a track 1.5 times faster than any aircraft (up to 7 km/s
    in the benchmark).  What is left, on the holdings: a track whose aircraft has gone takes a clutter plot 16 s
    after its last plot, inside the manoeuvre model's share of the weighted gate (its spread is ~3 km by then; CV's
    gate that late is ~2.5 km wide), and flies off at ~450 m/s until it is dropped."""
    flights = fp.FAMILIES[family](8, np.random.default_rng(11), LAT, LON)
    cv = _fly(flights, "cv", 1)
    imm = _fly(flights, "imm", 1)
    print(f"\n{family}: CV {cv}\n{family}: IMM {imm}")
    for key in ("id_changes", "false_tracks"):
        assert imm[key] <= cv[key], key
    assert imm["clutter"] <= cv["clutter"] + 1
    assert imm["max_speed"] < 5.0
    assert imm["rms_m"] < cv["rms_m"]


def test_on_fighters_the_imm_breaks_far_less_and_errs_less():
    """3-6 g fighters at 4 s revisits: CV loses them at every hard turn; the IMM keeps them (before the fix it did
    too, but took 8 clutter plots and ran tracks at 1.5 times any fighter's speed in 16 scans)."""
    flights = fp.fighters(6, np.random.default_rng(12), LAT, LON)
    cv = _fly(flights, "cv", 2)
    imm = _fly(flights, "imm", 2)
    print(f"\nfighter: CV {cv}\nfighter: IMM {imm}")
    assert imm["id_changes"] <= cv["id_changes"] // 4 and imm["rms_m"] < 0.5 * cv["rms_m"]


def test_on_missile_weaves_the_imm_breaks_less_and_errs_about_as_much():
    """Cruise missiles' terminal weaves (±3-8 g, 4-8 s periods), pop-ups and dives at 2 s revisits: no more breaks
    than CV, and an error within 15 % of CV's.  The weave is nearly aliased by the revisit, and its error is not
    reliably lower than CV's: over four draws of missiles the IMM had 0 breaks against CV's 4, and an RMS error
    from 24 % lower to 12 % higher."""
    cv = dict(id_changes=0, se=0.0, n=0)
    imm = dict(cv)
    for draw in (12, 13):
        flights = fp.missiles(6, np.random.default_rng(draw), LAT, LON)
        for total, motion in ((cv, "cv"), (imm, "imm")):
            r = _fly(flights, motion, 2, revisit_s=2.0)
            for key in total:
                total[key] += r[key]
    print(f"\nmissile: CV {cv}\nmissile: IMM {imm}")
    assert imm["id_changes"] <= cv["id_changes"]
    assert np.sqrt(imm["se"] / imm["n"]) < 1.15 * np.sqrt(cv["se"] / cv["n"])


@pytest.mark.parametrize("config", [dict(association="jpda"), dict(filter="ukf")], ids=["imm-jpda", "ukf-imm"])
def test_imm_with_jpda_and_the_ukf_imm_hold_fighters_and_airliners(config):
    """Both combinations the configuration used to refuse: on fighters they break as seldom as the GNN/EKF IMM,
    give or take two, far below CV; on airliners they stay as clean as CV with GNN."""
    fighters = fp.fighters(6, np.random.default_rng(12), LAT, LON)
    base, other, cv = (_fly(fighters, m, 2, **c) for m, c in (("imm", {}), ("imm", config), ("cv", {})))
    print(f"\nfighters: IMM {base}\n          IMM {config} {other}\n          CV {cv}")
    assert other["id_changes"] <= base["id_changes"] + 2 and other["id_changes"] < cv["id_changes"] // 2
    assert other["rms_m"] < 0.5 * cv["rms_m"]
    airliners = fp.airliners(8, np.random.default_rng(11), LAT, LON)
    a_cv, a_other = _fly(airliners, "cv", 1), _fly(airliners, "imm", 1, **config)
    print(f"airliners: CV {a_cv}\n           IMM {config} {a_other}")
    for key in ("id_changes", "false_tracks", "clutter"):
        assert a_other[key] <= a_cv[key], key
    assert a_other["max_speed"] < 3.0


def test_after_missed_scans_the_gate_stays_near_the_aircraft():
    """An airliner's confirmed track misses two scans: the plots its gate then admits lie within a few kilometres
    (the former union gate admitted plots 16 km away), and a fresh track (one revisit since its plot) admits an
    onset that the weighted gate alone would not."""
    site = _radar()
    f = fp.airliners(1, np.random.default_rng(5), LAT, LON, turning=False)[0]
    tracker = Tracker(TrackerConfig(motion="imm"), [site])
    rng = np.random.default_rng(6)
    for t in np.arange(4.0, 80.0, 4.0):
        tracker.process(_scan(site, float(t), f.at(t)[0], 0, rng)[0])
    assert tracker.status.tolist() == [1]

    def reach(t):
        """The farthest of a fan of plots around the flight (up to 20 km, every 250 m in range) in the gate at t."""
        pos = f.at(t)[0][0]
        r0, az0, el0 = geo.enu_to_razel(site.to_enu(pos[None]))
        dr = np.arange(-20e3, 20e3 + 1, 250.0)
        det = Detections(time_s=float(t), sensor=0, range_m=r0[0] + dr, az_rad=np.full(dr.size, az0[0]),
                         el_rad=np.full(dr.size, el0[0]), sigma=np.tile([50.0, 1e-3, 1e-3], (dr.size, 1)))
        from tdome.c2.tracking.plots import ScanPlots
        c = tracker.config
        plots = ScanPlots.from_scan(det, site, c.false_alarm_density_m3, c.max_speed_mps)
        est = tracker.estimator
        pred = est.predict(tracker._table, float(t))
        gp = est.gate(tracker._table, pred, plots)
        return float(np.abs(dr[gp.plot]).max()) if len(gp) else 0.0

    fresh, after_two = reach(80.0), reach(88.0)
    print(f"\ngate reach: fresh {fresh:.0f} m, after two missed scans {after_two:.0f} m")
    assert after_two < 3e3
    assert fresh > 500.0
