"""A run's summary in the terminal: one table per layer and asset, then one line per measure.

Reads only the summary (the dict :func:`tdome.sim.report.summarize` returns,
as ``summary.json`` holds it), in the words of the docs: what each figure
means and which way is good.
"""

from __future__ import annotations

from rich.table import Table


def print_summary(summary: dict, console) -> None:
    """Print ``summary`` on a rich ``console``: the layers, the defended assets, then every measure in words."""
    s = summary
    title = f"{s['scenario']} — seed {s['seed']}"
    if s["fidelity"] != "full":
        title += f" — {s['fidelity'].replace('_', ' ')}"
    t = Table(title=title, show_lines=False)
    t.add_column("layer")
    for c in ("batteries", "engaged", "shots", "kills", "rounds left", "cost (USD M)"):
        t.add_column(c, justify="right")
    for layer, v in s["layers"].items():
        t.add_row(layer, str(v["batteries"]), str(v["engaged"]), str(v["shots"]), str(v["kills"]),
                  f"{v['rounds_left']}/{v['rounds_initial']}", f"{v['cost_usd'] / 1e6:.1f}")
    console.print(t)

    a = Table(title="Defended assets")
    a.add_column("asset")
    a.add_column("leakers", justify="right")
    a.add_column("hits", justify="right")
    for name in s["hits_by_asset"]:
        a.add_row(name, str(s["leakers"]["by_asset"][name]), str(s["hits_by_asset"][name]))
    console.print(a)

    th, ce, ss, tr = s["threats"], s["cost_exchange"], s["sensor_to_shooter_s"], s["tracking"]
    fmt = lambda v, f="{:.1f}": "n/a" if v is None else f.format(v)  # noqa: E731
    end = (f"battle over at t = {s['ended_s']:,.0f} s: every threat down or killed, nothing in flight "
           f"(duration_s {s['duration_s']:,.0f} s)" if s["ended_s"] < s["duration_s"] else
           f"run ended at duration_s = {s['duration_s']:,.0f} s with the battle still going")
    lines = [
        f"threats: {th['total']} ({th['aimed_at_assets']} aimed at assets, "
        + (f"{th['aimed_at_defence']} at radars and batteries not defended for themselves, "
           if th.get("aimed_at_defence") else "") + f"{th['decoys'] - th.get('decoys_released', 0)} at empty "
        f"ground or sea" + (f", {th['decoys_released']} decoys released by missiles" if th.get("decoys_released")
                            else "") + "), "
        f"killed {th['killed']}",
        f"leakers: {s['leakers']['total']} of {th['aimed_at_assets']} threats aimed at assets reached their aim "
        f"unintercepted (leak rate {s['leakers']['rate']:.1%})" + _causes(s["leakers"].get("by_cause")),
        f"defended value surviving: {s['defended_value']['surviving']:.0f} of {s['defended_value']['total']:.0f} "
        f"(the values of the assets no threat hit)",
        f"interceptors: {s['interceptors']['shots']} shots, USD {s['interceptors']['cost_usd'] / 1e6:.1f} M "
        f"({s['interceptors']['shots_at_decoys']} at decoys)",
        f"cost exchange: {fmt(ce['per_raid_cost'], '{:.2f}')} interceptor dollars per raid dollar; "
        f"USD {fmt(None if ce['per_leaker_prevented_usd'] is None else ce['per_leaker_prevented_usd'] / 1e6)} M "
        f"per leaker prevented (against no defense, where every aimed threat hits)",
        f"sensor-to-shooter: median {fmt(ss['median'])} s, p95 {fmt(ss['p95'])} s (a threat's first detection "
        f"to the first launch at it)",
        *_legs_lines(s.get("sensor_to_shooter_legs"), fmt),
        end,
        f"tracking GOSPA (c = {tr['gospa_c_m'] / 1e3:.0f} km, p = 2): mean {fmt(tr['gospa_mean_m'], '{:,.0f}')} m "
        f"per instant, 0 is a perfect picture: localisation RMS {fmt(tr['gospa_localisation_rms_m'], '{:,.0f}')} m "
        f"over tracks matched to a threat, {fmt(tr['missed_mean'], '{:.1f}')} threats missed and "
        f"{fmt(tr['false_mean'], '{:.1f}')} false tracks per instant (each costs c/√2); over the threats some radar "
        f"could see: mean {fmt(tr.get('gospa_detectable_mean_m'), '{:,.0f}')} m, "
        f"{fmt(tr.get('missed_detectable_mean'), '{:.1f}')} missed",
        *_tracking_quality_lines(tr, fmt),
        *_ghost_lines(tr),
        f"C2 tracking stage: p50 {fmt(tr['scan_ms_p50'], '{:.2f}')} ms, p99 {fmt(tr['scan_ms_p99'], '{:.2f}')} ms "
        f"per radar scan",
        _assignment_line(s["assignment"], fmt),
        *_contested_lines(s),
        f"wall time: {s['wall_time_s']:.1f} s",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)
    net = s.get("network")
    if net and _network_shown(net):
        legs = s.get("sensor_to_shooter_legs") or {}
        if len(legs) > 2:  # "all" and more than one layer
            console.print(_legs_table(legs, fmt))
        for line in _network_lines(net, fmt):
            console.print(line, soft_wrap=True)


# Leg name in the summary -> its words in the terminal (the chain's order; the last two span several legs).
LEG_WORDS = {"first_plot_to_confirmed": "first plot → track", "confirmed_to_decision": "track → decision",
             "decision_to_release": "decision → release", "release_to_delivered": "release → delivered",
             "delivered_to_launch": "delivered → launch", "order_to_launch": "order → launch",
             "first_plot_to_launch": "first plot → launch"}
CHAIN = tuple(LEG_WORDS)[:5]


def _legs_lines(legs: dict | None, fmt) -> list[str]:
    """Two lines: the median of each leg over every engagement, then the whole chain per layer."""
    if not legs or not legs["all"]["first_plot_to_confirmed"]["n"]:
        return []
    a = legs["all"]
    total = a["first_plot_to_launch"]
    lines = [f"sensor-to-shooter legs, median s over {a['first_plot_to_confirmed']['n']} engagements: "
             + ", ".join(f"{LEG_WORDS[k]} {fmt(a[k]['median'])}" for k in CHAIN)
             + f"; first plot → launch {fmt(total['median'])} (p95 {fmt(total['p95'])}) over {total['n']} launched"]
    per_layer = [f"{layer} {fmt(v['first_plot_to_launch']['median'])} (p95 {fmt(v['first_plot_to_launch']['p95'])}, "
                 f"n {v['first_plot_to_launch']['n']})" for layer, v in legs.items()
                 if layer != "all" and v["first_plot_to_launch"]["n"]]
    if per_layer:
        lines.append("first plot → launch by layer, median s: " + ", ".join(per_layer))
    return lines


def _network_shown(net: dict) -> bool:
    """The network's figures are worth lines of their own: a network model, another architecture, operators."""
    return (not net["perfect"] or net["architecture"] != "integrated" or net["operators"]["decisions"] > 0
            or net["fallback"]["events"] > 0)


def _legs_table(legs: dict, fmt) -> Table:
    """One row per leg, one column per layer (and all): median / p95 in seconds, and how many engagements."""
    t = Table(title="Sensor-to-shooter legs: median / p95 (s)")
    t.add_column("leg")
    for layer in legs:
        t.add_column(layer, justify="right")
    for k, words in LEG_WORDS.items():
        t.add_row(words, *(f"{fmt(v[k]['median'])} / {fmt(v[k]['p95'])}" for v in legs.values()))
    t.add_row("engagements (launched)", *(f"{v['first_plot_to_confirmed']['n']} ({v['first_plot_to_launch']['n']})"
                                          for v in legs.values()))
    return t


def _network_lines(net: dict, fmt) -> list[str]:
    """The network, the orders and the operators in words: what was lost, late, refused, or fought alone."""
    o, op, pl, fb = net["orders"], net["operators"], net["plots"], net["fallback"]
    lines = [f"network ({net['architecture'].replace('_', ' ')}, "
             f"{'perfect: every message arrives at once' if net['perfect'] else 'modelled links'}): "
             f"{net['messages_lost']:,} of {net['messages_sent']:,} messages lost"
             + ("" if not net["messages_lost"] else " (" + ", ".join(
                 f"{k} {m['lost']:,}/{m['sent']:,}" for k, m in net["messages"].items() if m["lost"]) + ")")]
    if not net["perfect"]:
        late = sum(ln["late"] for ln in net["links"])
        lines.append(f"plots: {pl['scans']:,} scans reached a tracker, age median "
                     f"{fmt(pl['age_median_s'], '{:.2f}')} s, "
                     f"p95 {fmt(pl['age_p95_s'], '{:.2f}')} s, max {fmt(pl['age_max_s'], '{:.2f}')} s; "
                     f"{pl['out_of_sequence_scans']:,} scans ({pl['out_of_sequence_plots']:,} plots) out of sequence; "
                     f"{late:,} messages overtaken on a link")
    lines.append(f"orders: {o['decided']} decided, {o['released']} released, {o['delivered']} delivered, "
                 f"{o['launched']} launched; {o['undelivered']} never delivered, {o['refused']} refused, "
                 f"{o['expired']} expired waiting, {o['unacknowledged']} presumed lost (unacknowledged)")
    if op["decisions"]:
        lines.append(f"operators: {op['decisions']} decisions, delay median {fmt(op['delay_median_s'])} s, "
                     f"p95 {fmt(op['delay_p95_s'])} s, {op['refused']} refused")
    if fb["events"]:
        n = fb["batteries"]
        lines.append(f"fallback: {n} {'battery' if n == 1 else 'batteries'} fought alone after losing the C2 "
                     f"({', '.join(fb['names'])}); {fb['events']} fallbacks, {fb['rejoined']} rejoined")
    return lines


def _causes(by_cause: dict | None) -> str:
    """``: 3 never tracked, 5 tracked and not engaged, 7 engaged and missed`` (older summaries: nothing)."""
    if not by_cause or not sum(by_cause.values()):
        return ""
    return (f": {by_cause['untracked']} never tracked, {by_cause['tracked_not_engaged']} tracked and not engaged, "
            f"{by_cause['engaged_and_missed']} engaged and missed")


def _contested_lines(s: dict) -> list[str]:
    """Jamming and the defence's own losses, when there were any (older summaries have neither)."""
    lines = []
    jam = s.get("jamming") or {}
    if jam.get("standoff_jammers") or jam.get("escort_jammers"):
        worst = max(jam["by_radar"].items(), key=lambda kv: kv[1]["plots_lost"], default=None)
        lines.append(f"jamming: {jam['standoff_jammers']} stand-off and {jam['escort_jammers']} escort jammers; "
                     f"{jam['plots_lost']:,} plots lost to it"
                     + (f" (most by {worst[0]}: {worst[1]['plots_lost']:,})" if worst and worst[1]["plots_lost"]
                        else "") + f", {jam['strobes']:,} strobes reported")
    em = s.get("emcon") or {}
    if em.get("silent_scans"):
        lines.append(f"emission control: {sum(em['silent_scans'].values()):,} silent scans, "
                     f"{sum(em['plots_lost_to_silence'].values()):,} plots they would have made")
    arm = s.get("anti_radiation") or {}
    if arm.get("threats"):
        lines.append(f"anti-radiation threats: {arm['threats']}, {arm['landed']} landed, "
                     f"{arm['on_their_radar']} on their radar")
    dis = s.get("discrimination") or {}
    if dis.get("decoys_released") or dis.get("threats_found_light"):
        lines.append(f"decoys: {dis['decoys_released']} released, {dis['decoys_found_light']} found light by their "
                     f"deceleration ({dis['threats_found_light']} warheads wrongly so); rounds at decoys "
                     f"{dis['shots_at_decoys_before']} before that and {dis['shots_at_decoys_after']} after")
    lost = s.get("defence_lost") or {}
    if lost.get("radars") or lost.get("batteries"):
        names = [f"{n} at {t:,.0f} s" for n, t in {**lost["radars"], **lost["batteries"]}.items()]
        lines.append(f"defence lost: {len(lost['radars'])} radars and {len(lost['batteries'])} batteries "
                     f"({', '.join(names)}); {lost['rounds_on_launchers']} rounds lost on launchers, "
                     f"{lost['rounds_stranded']} left in magazines with no launcher")
    return lines


def _assignment_line(a: dict, fmt) -> str:
    line = (f"assignment ({a['solver']}, {a['objective']} objective): {a['problems']} problems up to "
            f"{a['batteries_max']} batteries x {a['threats_max']} threats, "
            f"solve p50 {fmt(a['solve_ms_p50'], '{:.1f}')} ms, "
            f"p99 {fmt(a['solve_ms_p99'], '{:.1f}')} ms")
    if a["gap_mean"] is not None:
        line += f"; gap mean {a['gap_mean']:.2e}, max {a['gap_max']:.2e}, {a['proven_optimal']} proven optimal"
    if a["timed_out"]:
        line += f"; {a['timed_out']} cut by the time limit (results then depend on machine speed)"
    if a.get("overruns"):
        line += f"; {a['overruns']} ran past their time limit (events solver_overrun)"
    return line


def _ghost_lines(tr: dict) -> list[str]:
    """Tracks no object could be (0 is the goal) and what the tracker's plausibility test did about them."""
    if "implausible_tracks" not in tr:
        return []
    st = tr.get("tracker", {})
    return [f"ghosts: {tr['implausible_tracks']} tracks in the picture moved as no catalog object or aircraft can "
            f"({tr['implausible_track_instants']} record instants), {tr['false_ballistic_tracks']} tracks classed "
            f"ballistic or rocket held no such threat; the tracker dropped {st.get('implausible_tentative', 0)} "
            f"tentative and {st.get('implausible_confirmed', 0)} confirmed tracks as implausible and kept "
            f"{st.get('implausible_hidden', 0)} out of the picture while their estimate was"]


def _tracking_quality_lines(tr: dict, fmt) -> list[str]:
    """SIAP and NEES in the terms of the docs, each with what it means and which way is good."""

    def nees_line(key, label):
        v = tr[key]
        if not v["n"]:
            return f"{label}: no samples"
        return (f"{label} ({v['dof']} dof): median {fmt(v['median'], '{:.2f}')} "
                f"({v['consistent_median']:.2f} if consistent), {fmt(v['in_sample_band'], '{:.0%}')} of samples "
                f"in the 95% single-sample band; mean {fmt(v['mean'], '{:.2f}')} against its band "
                f"{v['band'][0]:.2f}-{v['band'][1]:.2f}: {v['verdict']}")

    return [f"air picture (SIAP): completeness {fmt(tr['siap_completeness'], '{:.2f}')} (share of threat-time "
            f"held by a track, 1 is best; time before first detection counts), "
            f"ambiguity {fmt(tr['siap_ambiguity'], '{:.2f}')} (tracks per tracked threat, 1 is best), "
            f"spuriousness {fmt(tr['siap_spuriousness'], '{:.2f}')} (share of tracks on no threat, 0 is best), "
            f"{fmt(tr['siap_track_changes_per_truth'], '{:.2f}')} track-number changes per threat; over the threats "
            f"some radar could see ({fmt(tr.get('detectable_fraction'), '{:.0%}')} of threat-time): completeness "
            f"{fmt(tr.get('siap_detectable_completeness'), '{:.2f}')}",
            f"track accuracy (SIAP, every track against the threat it took most plots from, swapped and "
            f"diverged tracks included): position RMS {fmt(tr['siap_position_rms_m'], '{:,.0f}')} m, "
            f"velocity RMS {fmt(tr['siap_velocity_rms_mps'], '{:,.0f}')} m/s",
            nees_line("nees_position", "filter consistency, position NEES"),
            nees_line("nees_state", "filter consistency, state NEES")]
