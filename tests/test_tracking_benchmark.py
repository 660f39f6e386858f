"""The tracking benchmark's scenario generator and tdome's side of it (Stone Soup is optional).

benchmarks/tracking_vs_stonesoup.py feeds the same plots to tdome's tracker
and to Stone Soup.  Here: the generator is deterministic and follows the
model both trackers are told (Pd, clutter rate, white-noise acceleration),
and tdome tracks the scenario as a Kalman filter with that model should.
The comparison with Stone Soup runs only where Stone Soup is installed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import solve_discrete_are

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "tracking_vs_stonesoup.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("tracking_vs_stonesoup", PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("generator", ["poisson", "staggered"])
def test_scenario_is_deterministic(bench, generator):
    a, b = bench.make_scenario(40, 20, seed=7, generator=generator), bench.make_scenario(40, 20, 7, generator)
    c = bench.make_scenario(40, 20, seed=8, generator=generator)
    assert all(np.array_equal(x, y) for x, y in zip(a.plots, b.plots))
    assert all(np.array_equal(x, y) for x, y in zip(a.truth, b.truth))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a.plots, c.plots))


@pytest.mark.parametrize("generator", ["poisson", "staggered"])
def test_scenario_follows_the_stated_model(bench, generator):
    """Targets stay in the region, births, Pd and the clutter rate hold, the motion has the stated process noise."""
    N, K = 200, 30
    sc = bench.make_scenario(N, K, seed=3, generator=generator)
    hw, (z0, z1) = bench.HALF_WIDTH_M, bench.ALT_LIMITS_M
    for t in sc.truth:
        assert np.all(np.abs(t[:, :2]) <= hw) and np.all((t[:, 2] >= z0) & (t[:, 2] <= z1))
    for p in sc.plots:
        assert p.shape[1] == 3
    # Every scan's plots are its detections plus its clutter.
    n_alive = np.array([len(t) for t in sc.truth])
    n_det = np.array([len(p) for p in sc.plots]) - sc.n_clutter
    assert np.all((n_det >= 0) & (n_det <= n_alive))
    # Detections ~ Binomial(alive, Pd), clutter ~ Poisson(mean) per scan: 4.5σ bands.
    pd_hat = n_det.sum() / n_alive.sum()
    assert abs(pd_hat - bench.PD) < 4.5 * np.sqrt(bench.PD * (1 - bench.PD) / n_alive.sum())
    lam = bench.CLUTTER_MEAN
    assert abs(sc.n_clutter.mean() - lam) < 4.5 * np.sqrt(lam / K)
    clutter = np.concatenate([p[o < 0] for p, o in zip(sc.plots, sc.plot_target)])
    if generator == "staggered":
        # Births: 40 % at the first scan, the rest later; clutter in the birth band.
        assert sc.n_targets == N and 0 < np.sum(sc.birth_scan == 0) < N and sc.birth_scan.max() > 0
        assert np.all((clutter[:, 2] >= bench.ALT_BAND_M[0]) & (clutter[:, 2] <= bench.ALT_BAND_M[1]))
    else:
        # N at the first scan, then Poisson births of mean N / lifetime at every scan; every scan but the
        # first loses some targets; clutter uniform over the whole 0-12 km slab.
        assert np.sum(sc.birth_scan == 0) == N
        born = np.bincount(sc.birth_scan, minlength=K)[1:]
        lam = N / bench.MEAN_LIFETIME_SCANS
        assert born.min() >= 0 and abs(born.mean() - lam) < 4.5 * np.sqrt(lam / born.size)
        assert sc.n_targets == N + born.sum()
        deaths = [np.setdiff1d(sc.truth_id[k - 1], sc.truth_id[k]).size for k in range(1, K)]
        assert np.mean(deaths) > 0.5 * lam
        frac_low = np.mean(clutter[:, 2] < bench.ALT_BAND_M[0])  # below the birth band: 1/12 of the slab
        assert abs(frac_low - 1 / 12) < 4.5 * np.sqrt(1 / 12 * 11 / 12 / clutter.shape[0])
    # Second differences of a target's positions over three consecutive scans,
    # D = T b_k + a_{k+1} - a_k, have variance 2 q T³ / 3 per axis (white-noise
    # acceleration of density q) and lag-1 correlation 1/4.
    D = []
    for k in range(2, K):
        ids = np.intersect1d(np.intersect1d(sc.truth_id[k - 2], sc.truth_id[k - 1]), sc.truth_id[k])
        ids = ids[sc.birth_scan[ids] <= k - 2]
        pos = [dict(zip(sc.truth_id[j].tolist(), sc.truth[j])) for j in (k - 2, k - 1, k)]
        D.extend(pos[2][i] - 2 * pos[1][i] + pos[0][i] for i in ids.tolist())
    D = np.asarray(D).ravel()
    T, q = bench.REVISIT_S, bench.SIGMA_A_MPS2**2
    var = 2 * q * T**3 / 3
    rel_sd = np.sqrt(2 * (1 + 2 * 0.25**2) / D.size)  # sample variance of a lag-1 correlated Gaussian series
    assert abs(np.mean(D**2) / var - 1) < 4.5 * rel_sd


def ideal_management(sc, m: int, tentative_misses: int, confirmed_misses: int):
    """What track management would do with each target's own plots and nothing else.

    A first plot starts a tentative track, ``m`` plots confirm it,
    ``tentative_misses`` (``confirmed_misses``) consecutive misses delete a
    tentative (confirmed) track.  Returns ``(tracked, confirmations)``: (K, N)
    bool, the target is held by a confirmed track at that scan, and the number
    of tracks confirmed.
    """
    K, N = sc.n_scans, sc.n_targets
    alive = np.zeros((K, N), dtype=bool)
    det = np.zeros((K, N), dtype=bool)
    for k in range(K):
        alive[k, sc.truth_id[k]] = True
        own = sc.plot_target[k]
        det[k, own[own >= 0]] = True
    tracked = np.zeros((K, N), dtype=bool)
    confirmations = 0
    for i in range(N):
        state = hits = misses = 0  # state: 0 no track, 1 tentative, 2 confirmed
        for k in np.flatnonzero(alive[:, i]):
            if det[k, i]:
                hits, misses = (hits + 1 if state else 1), 0
                state = max(state, 1)
                if state == 1 and hits >= m:
                    state = 2
                    confirmations += 1
            elif state:
                misses += 1
                if misses >= (confirmed_misses if state == 2 else tentative_misses):
                    state = hits = misses = 0
            tracked[k, i] = state == 2
    return tracked, confirmations


@pytest.mark.parametrize("generator", ["poisson", "staggered"])
def test_tdome_tracks_every_target_it_can(bench, generator):
    """tdome holds exactly the targets ideal track management would, makes no clutter track, filters well."""
    N, K = 60, 30
    sc = bench.make_scenario(N, K, seed=11, generator=generator)
    run = bench.run_tdome(sc)
    s = bench.score(sc, run)
    ideal, confirmations = ideal_management(sc, bench.CONFIRM_PLOTS, bench.TENTATIVE_MISSES, bench.CONFIRMED_MISSES)
    # Target-scans where tdome differs from ideal management (a clutter plot may
    # rarely steal or lend a plot): under 1 %.
    differ = total = 0
    for k in range(bench.SKIP_SCANS, K):
        held, _ = bench._matched(sc.truth[k], run.est[k], bench.GOSPA_C_M)
        should = ideal[k, sc.truth_id[k]]
        differ += int(np.sum(held != should))
        total += int(should.sum())
    assert total > 0.5 * sum(len(t) for t in sc.truth[bench.SKIP_SCANS:])  # the check is not vacuous
    assert differ <= 0.01 * total
    assert abs(s["tracks"] - confirmations) <= 1
    # False tracks all belong to targets that died (coasting until deletion), none to clutter.
    assert s["false"] - s["false_coasting"] <= 0.05
    # Localisation: better than a raw plot (√3 σ), no better than the steady-state
    # Kalman filter with the true model (the lower bound, less 7 % sampling margin).
    T, q, r = bench.REVISIT_S, bench.SIGMA_A_MPS2**2, bench.SIGMA_M**2
    F = np.array([[1.0, T], [0.0, 1.0]])
    Q = q * np.array([[T**3 / 3, T**2 / 2], [T**2 / 2, T]])
    H = np.array([[1.0, 0.0]])
    Pp = solve_discrete_are(F.T, H.T, Q, np.array([[r]]))
    p_upd = Pp[0, 0] - Pp[0, 0] ** 2 / (Pp[0, 0] + r)
    assert 0.93 * np.sqrt(3 * p_upd) < s["loc_rms_m"] < np.sqrt(3 * r)


@pytest.mark.parametrize("generator", ["poisson", "staggered"])
def test_tdome_and_stonesoup_agree_on_the_same_model(bench, generator):
    """Same model, gate and track management: the same tracks, the same accuracy to a few per cent."""
    pytest.importorskip("stonesoup")
    sc = bench.make_scenario(10, 20, seed=5, generator=generator)
    td = bench.score(sc, bench.run_tdome(sc))
    ss = bench.score(sc, bench.run_stonesoup(sc))
    assert td["tracks"] == ss["tracks"]
    assert td["missed"] == pytest.approx(ss["missed"], abs=0.1)
    assert td["false"] == pytest.approx(ss["false"], abs=0.1)
    assert td["loc_rms_m"] == pytest.approx(ss["loc_rms_m"], rel=0.05)


def test_command_runs_several_seeds(bench, capsys):
    """The command's JSON has, per N, the mean over the seeds and each seed's figures (tdome only here)."""
    assert bench.main(["--sizes", "8", "--scans", "12", "--seeds", "2", "--seed", "3", "--no-stonesoup"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    entry = res["sizes"]["8"]
    assert res["scenario"]["generator"] == "poisson" and res["scenario"]["seeds"] == [3, 4]
    assert [r["seed"] for r in entry["per_seed"]] == [3, 4]
    assert entry["tdome"]["gospa_m"] == pytest.approx(np.mean([r["tdome"]["gospa_m"] for r in entry["per_seed"]]))
