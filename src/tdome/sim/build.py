"""Turn a validated scenario into the objects of one run: assets, radars, batteries, raid, jammers, C2 config,
network.

Edge units (degrees, km) are converted to SI here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from tdome import geo
from tdome.c2.config import AssignmentConfig, DoctrineConfig, RegistrationConfig, ThreatConfig, from_file_values
from tdome.c2.core import C2Config
from tdome.c2.lookahead import ExpectedThreats
from tdome.c2.tracking import TrackerConfig
from tdome.c2.tracking.plausibility import ThreatKinematics
from tdome.messages import BALLISTIC_CLASS_NAMES, DefendedAsset, InterceptorSpec, SensorSite
from tdome.sensors.jamming import Receiver
from tdome.sensors.radar import RadarBias, RadarModel
from tdome.sim.network import FireControlSpec, LinkSpec, NetworkSpec, OperatorSpec
from tdome.sim.streams import stream
from tdome.world.airbreathing import fly_route
from tdome.world.ballistic import fly_ballistic_many, solve_launch
from tdome.world.effectors import FireUnit
from tdome.world.faults import down_windows
from tdome.world.jammers import Emitter, JammerPath, Jamming
from tdome.world.manoeuvre import G0_MPS2, ManoeuvreSpec, fly_manoeuvring_many
from tdome.world.trajectory import Trajectory, TrajectorySet

rad = np.radians


def build_assets(sc) -> list[DefendedAsset]:
    out = []
    for a in sc.assets:
        poly = tuple((float(rad(p[0])), float(rad(p[1]))) for p in (a.polygon or []))
        if poly:
            lat = float(np.mean([p[0] for p in poly]))
            lon = float(np.mean([p[1] for p in poly]))
        else:
            lat, lon = float(rad(a.lat)), float(rad(a.lon))
        out.append(DefendedAsset(a.name, a.kind, float(a.value), lat, lon, float(a.radius_km) * 1e3, poly))
    # Radars and batteries given a value are defended for themselves: points of their names.
    for kind, sites in (("radar", sc.radars), ("battery", sc.batteries)):
        out += [DefendedAsset(x.name, kind, float(x.value), float(rad(x.lat)), float(rad(x.lon)))
                for x in sites if x.value is not None]
    return out


def sensor_sites(sc) -> list[SensorSite]:
    """What the C2 knows of each radar of ``sc`` (a scenario or a defended side): site, coverage, accuracy."""
    sites = []
    for i, r in enumerate(sc.radars):
        rt = sc.radar_types[r.type]
        bore = r.boresight_az_deg if r.boresight_az_deg is not None else rt.boresight_deg
        sites.append(SensorSite(
            index=i, name=r.name, lat_rad=float(rad(r.lat)), lon_rad=float(rad(r.lon)), alt_m=float(r.alt_m),
            max_range_m=rt.max_range_km * 1e3, min_range_m=rt.min_range_km * 1e3,
            min_el_rad=float(rad(rt.min_el_deg)), max_el_rad=float(rad(rt.max_el_deg)),
            az_center_rad=float(rad(bore)), az_half_width_rad=float(rad(min(rt.sector_deg, 360.0) / 2.0)),
            revisit_s=rt.revisit_s, sigma_range_m=rt.sigma_range_m, sigma_az_rad=float(rad(rt.sigma_az_deg)),
            sigma_el_rad=float(rad(rt.sigma_el_deg)), sigma_rdot_mps=rt.sigma_rdot_mps,
            small_target_range_m=small_target_range_m(rt.snr_ref_db, rt.ref_range_km * 1e3, rt.pfa),
        ))
    return sites


def build_sensors(sc) -> tuple[list[SensorSite], list[RadarModel]]:
    sites = sensor_sites(sc)
    models = []
    for site, r in zip(sites, sc.radars, strict=True):
        rt = sc.radar_types[r.type]
        rng = stream(sc.seed, f"radar:{r.name}")
        rx = Receiver.of(rt.gain_db, rt.sidelobe_db, rt.beamwidth_deg, rt.frequency_ghz, rt.bandwidth_mhz,
                         rt.noise_figure_db)
        models.append(RadarModel(site, 10 ** (rt.snr_ref_db / 10.0), rt.ref_range_km * 1e3, rt.pfa,
                                 rt.false_alarms_per_scan, rng, phase_s=float(rng.uniform(0.0, rt.revisit_s)),
                                 receiver=rx, bias=radar_bias(r)))
    return sites, models


def radar_bias(r) -> RadarBias | None:
    """A scenario radar's systematic errors in SI units (truth: the radar model's, never the C2's); None: none."""
    b = r.bias
    if b is None or b.is_zero:
        return None
    return RadarBias(range_m=float(b.range_m), az_rad=float(rad(b.az_deg)), el_rad=float(rad(b.el_deg)),
                     clock_s=float(b.clock_s))


SMALL_TARGET_RCS_M2 = 0.1


def small_target_range_m(snr_ref_db: float, ref_range_m: float, pfa: float) -> float:
    """Range where a 0.1 m² Swerling-1 target is detected with Pd 0.5.

    Pd = Pfa^(1/(1+SNR)) = 0.5 needs SNR = ln Pfa / ln 0.5 − 1, and SNR falls as R⁻⁴.
    """
    snr_needed = np.log(pfa) / np.log(0.5) - 1.0
    snr_ref = 10 ** (snr_ref_db / 10.0) * SMALL_TARGET_RCS_M2
    return float(ref_range_m * (snr_ref / snr_needed) ** 0.25)


def interceptor_spec(name: str, it) -> InterceptorSpec:
    return InterceptorSpec(
        name=name, layer=it.layer, speed_mps=it.speed_mps, min_range_m=it.min_range_km * 1e3,
        max_range_m=it.max_range_km * 1e3, min_alt_m=it.min_alt_km * 1e3, max_alt_m=it.max_alt_km * 1e3,
        reaction_s=it.reaction_s, pk=dict(it.pk), cost_usd=it.cost_usd, launch_reliability=it.launch_reliability,
    )


def build_batteries(sc) -> list[FireUnit]:
    out = []
    for i, b in enumerate(sc.batteries):
        it = sc.interceptor_types[b.interceptor]
        out.append(FireUnit(
            index=i, name=b.name, layer=b.layer, lat_rad=float(rad(b.lat)), lon_rad=float(rad(b.lon)),
            alt_m=float(b.alt_m), spec=interceptor_spec(b.interceptor, it), launchers=b.launchers,
            rounds_per_launcher=b.rounds_per_launcher, magazine=b.magazine, reload_time_s=b.reload_time_s,
            homing_basket_m=it.homing_basket_m, down=launcher_faults(sc, b),
        ))
    return out


def _windows_of(sc, what: str, avail) -> np.ndarray:
    return down_windows(stream(sc.seed, f"faults:{what}"), avail.down_at_start, avail.mtbf_h, avail.mttr_h,
                        float(sc.duration_s))


def launcher_faults(sc, b) -> tuple[np.ndarray, ...]:
    """Each launcher's down intervals (its own stream); () when the battery has no faults."""
    if b.availability is None:
        return ()
    return tuple(_windows_of(sc, f"battery:{b.name}:{k}", b.availability) for k in range(b.launchers))


def radar_silences(sc) -> list[np.ndarray]:
    """Each radar's silent periods under emission control, (k, 2) in s."""
    return [np.array(r.emcon.silent if r.emcon is not None else [], dtype=float).reshape(-1, 2) for r in sc.radars]


def radar_faults(sc) -> list[np.ndarray]:
    """Each radar's down intervals (its own stream; none without faults)."""
    return [np.empty((0, 2)) if r.availability is None else _windows_of(sc, f"radar:{r.name}", r.availability)
            for r in sc.radars]


@dataclass
class RaidTruth:
    """Truth of the raid: one row per threat, and the precomputed trajectories."""

    type_name: list[str]
    cls: list[str]
    wave: list[str]
    label: list[str]
    aim_lat_rad: np.ndarray
    aim_lon_rad: np.ndarray
    rcs_m2: np.ndarray
    lethal_radius_m: np.ndarray
    cost_usd: np.ndarray
    intended_asset: np.ndarray  # asset the aim point lies on (within lethal radius), -1 for none
    trajectories: TrajectorySet
    jammer: list[str | None] = field(default_factory=list)  # the jammer type each threat carries, if any
    # Anti-radiation threats: the radar each homes on (-1: none) and its drift once that radar is silent (m/s).
    arm_radar: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    drift_mps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Aimed by name at a radar or battery that is not a defended asset: a strike on the defence, not a decoy.
    at_defence: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # Released decoys: the row of the missile that released each row (-1: a threat itself); they come last.
    decoy_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.type_name)


def build_raid(sc, assets: list[DefendedAsset], progress: Callable[[int, int], None] | None = None) -> RaidTruth:
    """Draw every threat's launch and aim points and fly its trajectory; ``progress(done, total)`` as they fly."""
    rng = stream(sc.seed, "raid")
    rows = []
    for wave in sc.raid.waves:
        for group in wave.groups:
            tt = sc.threat_types[group.threat]
            alat, alon = sc.aim_point(group)
            for _ in range(group.count):
                t0 = wave.start_s + rng.uniform(0.0, wave.spread_s)
                # Launch point uniform in the launch disc; aim scattered by a 2-D Gaussian.
                brg = rng.uniform(0.0, 2 * np.pi)
                dist = group.launch.radius_km * 1e3 * np.sqrt(rng.uniform())
                llat, llon = geo.destination(rad(group.launch.lat), rad(group.launch.lon), brg, dist)
                de, dn = rng.normal(0.0, group.aim_spread_km * 1e3, 2)
                plat, plon = geo.destination(rad(alat), rad(alon), np.arctan2(de, dn), np.hypot(de, dn))
                rows.append((group, tt, wave.name, t0, float(llat), float(llon), float(plat), float(plon)))

    n = len(rows)
    radar_index = {r.name: k for k, r in enumerate(sc.radars)}
    site_names = set(radar_index) | {b.name for b in sc.batteries}
    trajs: dict[int, Trajectory] = {}  # row -> its trajectory: the ballistic ones first, then the routed ones
    bal = [i for i, r in enumerate(rows) if r[1].class_ in BALLISTIC_CLASS_NAMES]
    if bal:
        lat = np.array([rows[i][4] for i in bal])
        lon = np.array([rows[i][5] for i in bal])
        alat = np.array([rows[i][6] for i in bal])
        alon = np.array([rows[i][7] for i in bal])
        gam = np.array([np.nan if rows[i][1].gamma_deg is None else rad(rows[i][1].gamma_deg) for i in bal])
        beta = np.array([rows[i][1].ballistic_coefficient_kg_m2 or np.inf for i in bal])
        inv_beta = 1.0 / beta if np.isfinite(beta).any() else None  # None: all in vacuum
        v0 = np.zeros((len(bal), 3))
        for has_gamma in (False, True):
            sel = np.flatnonzero(np.isfinite(gam) == has_gamma)
            if sel.size:
                v0[sel] = solve_launch(lat[sel], lon[sel], alat[sel], alon[sel],
                                       gamma_rad=gam[sel] if has_gamma else None,
                                       inv_beta=None if inv_beta is None else inv_beta[sel])
        r0 = geo.geodetic_to_ecef(lat, lon, 0.0)
        t0 = np.array([rows[i][3] for i in bal])
        for i, tr in zip(bal, fly_ballistic_many(r0, v0, t0, inv_beta=inv_beta)):
            trajs[i] = tr
        _manoeuvre(rows, trajs)
    done = len(bal)
    for i, (group, tt, _, t0, llat, llon, plat, plon) in enumerate(rows):
        if i in trajs:
            continue
        if progress is not None and done % 200 == 0:
            progress(done, n)
        done += 1
        wl = [llat] + [float(rad(w.lat)) for w in group.via] + [plat]
        wo = [llon] + [float(rad(w.lon)) for w in group.via] + [plon]
        trajs[i] = fly_route(np.array(wl), np.array(wo), tt.speed_mps, tt.cruise_alt_m, t0)

    parents, decoys = release_decoys(sc, rows, trajs)
    aim_lat = np.array([r[6] for r in rows] + [rows[p][6] for p in parents])
    aim_lon = np.array([r[7] for r in rows] + [rows[p][7] for p in parents])
    lethal = np.array([r[1].lethal_radius_m for r in rows] + [0.0] * len(parents))  # a decoy hits nothing
    intended = np.full(n + len(parents), -1)
    if assets and n:
        d = np.stack([a.distance_m(aim_lat[:n], aim_lon[:n]) for a in assets], axis=1)
        vals = np.array([a.value for a in assets])
        on = d <= lethal[:n, None]
        j = np.argmax(np.where(on, vals[None, :], -1.0), axis=1)
        intended[:n] = np.where(on[np.arange(n), j], j, -1)
    k = len(parents)
    return RaidTruth(
        type_name=[r[0].threat for r in rows] + [f"{rows[p][0].threat} decoy" for p in parents],
        cls=[r[1].class_ for r in rows] + [rows[p][1].class_ for p in parents],
        wave=[r[2] for r in rows] + [rows[p][2] for p in parents],
        label=[r[0].label for r in rows] + [f"decoy released by threat {p}" for p in parents],
        aim_lat_rad=aim_lat, aim_lon_rad=aim_lon,
        rcs_m2=np.array([r[1].rcs_m2 for r in rows] + [rows[p][1].decoys.rcs_m2 for p in parents]),
        lethal_radius_m=lethal,
        cost_usd=np.array([r[1].cost_usd for r in rows] + [0.0] * k),  # the decoys' cost is in their missile's
        intended_asset=intended,
        trajectories=TrajectorySet([trajs[i] for i in range(n)] + decoys, dt_s=0.5, t0_s=0.0),
        jammer=[r[0].jammer for r in rows] + [None] * k,
        arm_radar=np.array([radar_index.get(r[0].aim, -1) if r[1].seeker == "anti_radiation" else -1
                            for r in rows] + [-1] * k, dtype=np.int64),
        drift_mps=np.array([r[1].drift_mps for r in rows] + [0.0] * k, dtype=float),
        at_defence=np.array([isinstance(r[0].aim, str) and r[0].aim in site_names for r in rows] + [False] * k,
                            dtype=bool) & (intended < 0),
        decoy_of=np.array([-1] * n + parents, dtype=np.int64),
    )


def release_decoys(sc, rows: list, trajs: dict[int, Trajectory]) -> tuple[list[int], list[Trajectory]]:
    """Each missile's decoys: ``(the row that released each, its trajectory)``, in row order.

    A missile of a group with ``decoys`` releases them ``release_s`` after
    launch from its own state, each pushed off at ``spread_mps`` in a
    direction uniform on the sphere (stream ``decoys``), and each flies on
    with its own ballistic coefficient through the air (in vacuum the cloud
    keeps to the warhead's arc; drag pulls it apart on re-entry).  A missile
    that lands first releases nothing.
    """
    rng = stream(sc.seed, "decoys")
    parents, r0, v0, t0, inv_beta = [], [], [], [], []
    for i, row in enumerate(rows):
        group, tt = row[0], row[1]
        if not group.decoys or tt.decoys is None:
            continue
        spec, tr = tt.decoys, trajs[i]
        t_rel = tr.launch_s + spec.release_s
        if t_rel >= tr.impact_s:
            continue
        p, v = tr.sample(t_rel)
        for _ in range(group.decoys):
            u = rng.normal(size=3)
            parents.append(i)
            r0.append(p)
            v0.append(v + spec.spread_mps * u / np.linalg.norm(u))
            t0.append(t_rel)
            inv_beta.append(1.0 / spec.ballistic_coefficient_kg_m2)
    if not parents:
        return [], []
    return parents, fly_ballistic_many(np.array(r0), np.array(v0), np.array(t0), inv_beta=np.array(inv_beta))


def _manoeuvre(rows: list, trajs: dict[int, Trajectory]) -> None:
    """Re-fly, in place, the ballistic rows whose threat type has a terminal manoeuvre (:mod:`tdome.world.manoeuvre`).

    Each keeps its ballistic arc down to the manoeuvre's start altitude and is re-aimed on its own aim point.
    """
    man = [i for i in trajs if rows[i][1].class_ in BALLISTIC_CLASS_NAMES and rows[i][1].manoeuvre is not None]
    if not man:
        return
    specs = [ManoeuvreSpec(m.kind, float(m.below_alt_m), float(m.accel_g) * G0_MPS2, float(m.period_s))
             for m in (rows[i][1].manoeuvre for i in man)]
    flown, _ = fly_manoeuvring_many([trajs[i] for i in man], specs, np.array([rows[i][6] for i in man]),
                                    np.array([rows[i][7] for i in man]))
    for i, tr in zip(man, flown):
        trajs[i] = tr


def build_jamming(sc, raid: RaidTruth) -> Jamming | None:
    """The raid's jammers (stand-off paths and the threats that carry one); None when there are none."""
    types = sc.jammer_types
    standoff = []
    for j in sc.raid.jammers:
        pts = j.waypoints
        path = JammerPath(lat_rad=np.array([rad(p.lat) for p in pts]), lon_rad=np.array([rad(p.lon) for p in pts]),
                          alt_m=float(j.alt_m), speed_mps=float(j.speed_mps), start_s=float(j.start_s),
                          end_s=float(sc.duration_s if j.end_s is None else j.end_s))
        standoff.append((j.name, path, Emitter.of(types[j.type])))
    rows = [i for i, name in enumerate(raid.jammer) if name is not None]
    if not standoff and not rows:
        return None
    return Jamming(standoff=tuple(standoff), escort_rows=np.array(rows, dtype=np.int64),
                   escort=tuple(Emitter.of(types[raid.jammer[i]]) for i in rows))


def threat_kinematics(types) -> tuple[ThreatKinematics, ...]:
    """The catalog's threat types (name -> :class:`~tdome.scenario.catalog.ThreatType`) as the C2's tracker knows
    them, for its plausibility envelope (:mod:`tdome.c2.tracking.plausibility`), in SI units."""
    out = []
    for t in types.values():
        m = t.manoeuvre
        # the lightest object the type flies: its re-entry vehicle or its decoys (none given: vacuum flight)
        betas = [float(b) for b in (t.ballistic_coefficient_kg_m2,
                                    t.decoys.ballistic_coefficient_kg_m2 if t.decoys else None) if b is not None]
        out.append(ThreatKinematics(
            threat_class=t.class_, speed_mps=float(t.speed_mps), max_range_m=float(t.max_range_km) * 1e3,
            cruise_alt_m=None if t.cruise_alt_m is None else float(t.cruise_alt_m),
            gamma_rad=None if t.gamma_deg is None else float(rad(t.gamma_deg)),
            manoeuvre_accel_mps2=0.0 if m is None else float(m.accel_g) * G0_MPS2,
            manoeuvre_period_s=0.0 if m is None else float(m.period_s),
            manoeuvre_below_alt_m=0.0 if m is None else float(m.below_alt_m),
            lightest_beta_kg_m2=min(betas) if betas else None))
    return tuple(out)


def c2_config(sc) -> C2Config:
    """The C2's configuration from the scenario's ``c2`` section, and the catalog's threat types its tracker's
    plausibility test knows (every type of the catalog, not only the raid's: the C2 does not know the raid)."""
    c = sc.c2
    return C2Config(
        tracker=replace(from_file_values(TrackerConfig, c.tracker.model_dump()),
                        threat_kinematics=threat_kinematics(sc.threat_types)),
        # The scenario's sections hold each setting under its file name and unit (tdome.c2.config).
        threat=from_file_values(ThreatConfig, c.threat.model_dump()),
        doctrine=from_file_values(DoctrineConfig, c.doctrine.model_dump()),
        assignment=from_file_values(AssignmentConfig, c.assignment.model_dump()),
        registration=from_file_values(RegistrationConfig, c.registration.model_dump()),
        intel=tuple(ExpectedThreats(g.threat_class, g.asset, g.count, g.count_sd, g.after_s) for g in c.intel),
    )


def build_network(sc, sites: Sequence[SensorSite]) -> NetworkSpec:
    """The network, the C2 architecture and the operators of a run, in SI units (``sites``: from :func:`build_sensors`).

    Each battery's fire control names its radars by index; without ``radars``
    in the file it is the radar nearest the battery (ground distance).
    ``default_link`` becomes one link from every radar and every battery to
    each C2 node that ``links`` does not already join.  No ``network``
    section: ``links`` None, a perfect network with one C2 node.
    """
    index = {r.name: i for i, r in enumerate(sc.radars)}
    fire_control = []
    for i, b in enumerate(sc.batteries):
        if b.radars is None:
            d = geo.great_circle_distance_m(float(rad(b.lat)), float(rad(b.lon)),
                                            np.array([s.lat_rad for s in sites]), np.array([s.lon_rad for s in sites]))
            own: tuple[int, ...] = (int(np.argmin(d)),)
        else:
            own = tuple(index[n] for n in b.radars)
        fire_control.append(FireControlSpec(battery=i, radars=own, cued_by=tuple(index[n] for n in b.cued_by)))
    o = sc.operators
    common = dict(architecture=sc.c2.architecture, fallback_after_s=float(sc.c2.fallback_after_s),
                  fire_control=tuple(fire_control),
                  operators=OperatorSpec(delay=o.delay, delay_s=float(o.delay_s), delay_sigma=float(o.delay_sigma),
                                         refusal_probability=float(o.refusal_probability)))
    net = sc.network
    if net is None:
        return NetworkSpec(**common)
    links = [_link_spec(link.between[0], link.between[1], link) for link in net.links]
    if net.default_link is not None:
        named = {frozenset(link.between) for link in net.links}
        for c2 in net.c2_nodes:
            for node in [*(r.name for r in sc.radars), *(b.name for b in sc.batteries)]:
                if frozenset((node, c2.name)) not in named:
                    links.append(_link_spec(node, c2.name, net.default_link))
    return NetworkSpec(
        links=tuple(links), c2_nodes=tuple(n.name for n in net.c2_nodes),
        c2_outages=tuple(_windows(n.outages) for n in net.c2_nodes), failover_after_s=float(net.failover_after_s),
        **common)


def _link_spec(a: str, b: str, p) -> LinkSpec:
    """A link between the nodes ``a`` and ``b`` with the parameters ``p`` of a scenario link (ms -> s)."""
    return LinkSpec(
        a=a, b=b, latency_s=float(p.latency_ms) * 1e-3, jitter_s=float(p.jitter_ms) * 1e-3, jitter=p.jitter,
        loss=float(p.loss), max_rate_hz=None if p.max_rate_hz is None else float(p.max_rate_hz),
        outages=_windows(p.outages), mtbf_s=None if p.mtbf_s is None else float(p.mtbf_s),
        mttr_s=None if p.mttr_s is None else float(p.mttr_s))


def _windows(outages) -> tuple[tuple[float, float], ...]:
    return tuple((float(w.start_s), float(w.end_s)) for w in outages)
