"""The ``tdome`` command: start, check, run and study scenarios; replay and export runs.

Every command refuses bad input before it starts any work: a clear message
(the file or option, the value, what is allowed) and exit code 2, never a
traceback and never after a long run.

Each command imports what it needs inside its function: the simulator
(numba), pyarrow and matplotlib take seconds to load, and ``tdome --version``,
``tdome init`` or ``tdome validate`` should not wait for them.  These lazy
imports hide nothing: tests/test_architecture.py counts them as it counts
top-level ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tdome import __version__

# Plain help: typer's rich help shows every flag as taking a value ("--quiet <bool>").
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="tdome: layered air and missile defense, from radar plots to intercepts.")
console = Console()
err = Console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        console.print(f"tdome {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                       help="Print tdome's version and exit.")) -> None:
    """tdome: layered air and missile defense, from radar plots to intercepts."""


def _fail(message: str) -> NoReturn:
    """Print an error (never read as console markup: paths hold brackets) and exit 2."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _warn(message: str) -> None:
    err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _out_folder(path: Path, option: str = "--out") -> None:
    """Make sure ``path`` is a folder this process can write, before any work starts; exit 2 if not."""
    if path.exists() and not path.is_dir():
        _fail(f"{option} {path}: is a file, not a folder; name a new or an existing folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # permissions, read-only mounts, a full disk's inodes
            pass
    except OSError as e:
        _fail(f"{option} {path}: cannot write there ({e.strerror or e}); choose a folder you can write to")


def _out_file(path: Path, option: str = "--out") -> None:
    """Make sure ``path`` names a file this process can write, before any work starts; exit 2 if not."""
    if path.is_dir():
        _fail(f"{option} {path}: is a folder; name the file to write")
    _out_folder(path.parent, option)
    if path.exists():
        try:
            with open(path, "ab"):
                pass
        except OSError as e:
            _fail(f"{option} {path}: cannot write it ({e.strerror or e})")


def _load(path: Path | None, seed: int | None):
    from tdome.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path, seed=seed)
    except ScenarioError as e:
        _fail(str(e))


@app.command()
def run(
    scenario: Path | None = typer.Argument(None, help="Scenario YAML file; the built-in default if omitted."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: runs/<scenario>-seed<seed>)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the scenario's seed."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    fidelity: str | None = typer.Option(None, "--fidelity", help="full (the tracker) or perfect_picture (the C2 "
                                           "gets the true state of every detected threat); default: the scenario's."),
) -> None:
    """Run a scenario end to end and write its run folder."""
    from tdome.pipeline import write_run
    from tdome.sim.engine import run as run_sim
    from tdome.sim.report import summarize
    from tdome.viz.terminal import print_summary

    if seed is not None and seed < 0:
        _fail(f"--seed: value {seed} is invalid; must be >= 0")
    sc = _load(scenario, seed)
    if fidelity is not None:
        from tdome.scenario.schema import FIDELITIES

        if fidelity not in FIDELITIES:
            _fail(f"--fidelity: value {fidelity!r} is invalid; must be {' or '.join(FIDELITIES)}")
        sc = sc.model_copy(update={"sim": sc.sim.model_copy(update={"fidelity": fidelity})})
    suffix = "" if sc.sim.fidelity == "full" else f"-{_slug(sc.sim.fidelity)}"
    out = out or Path("runs") / f"{_slug(sc.name)}-seed{sc.seed}{suffix}"
    _out_folder(out)
    for w in sc.scale_warnings():
        _warn(w)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[t]}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as prog:
        task = prog.add_task(f"{sc.name}", total=float(sc.duration_s), t="setting up")

        def tick(t_s: float, stage: str | None = None) -> None:
            prog.update(task, completed=t_s, t=stage or f"t = {t_s:.0f} / {sc.duration_s:.0f} s")

        rec = run_sim(sc, progress=tick)
    summary = summarize(rec)
    paths = write_run(rec, summary, out)
    print_summary(summary, console)
    console.print(f"run folder: {out}  ({', '.join(p.name for p in paths.values())})", soft_wrap=True)


@app.command()
def serve(
    config: Path | None = typer.Argument(None, help="Scenario or live configuration YAML: its assets, radars (with "
                                                     "their SAC/SIC), batteries, c2 and live sections; the built-in "
                                                     "default if omitted (its raid is never read)."),
    out: Path | None = typer.Option(None, "--out", help="Session folder (default: runs/live-<name>)."),
    bind: str | None = typer.Option(None, "--bind", help="Listen on this IPv4 address instead of the "
                                                         "configuration's (127.0.0.1 unless it says otherwise)."),
    duration: float | None = typer.Option(None, "--duration", help="Stop after this many seconds (default: run "
                                                                   "until interrupted)."),
    replay_recording: Path | None = typer.Option(None, "--replay", help="Re-run a session's recording "
                                                 "(received.tdrec) instead of listening: the same tracks and "
                                                 "recommendations."),
    warm: bool = typer.Option(True, "--warm-up/--no-warm-up", help="Run a short synthetic raid through the C2 "
                                                                   "core before listening, so the first real "
                                                                   "inputs find its compiled kernels ready."),
    tokens: Path | None = typer.Option(None, "--tokens", help="The console's users: a YAML file of names, roles "
                                                              "(viewer, operator) and tokens (`tdome token` writes "
                                                              "it). TDOME_TOKENS in the environment adds users. "
                                                              "With no user the console stays closed."),
) -> None:
    """Run the C2 core live: ASTERIX radar and ADS-B reports in, CAT062 tracks and engagement orders out, and the
    operator's console (a browser page and an HTTP/WebSocket API) for the users given."""
    import gc
    import ipaddress
    import logging
    import signal

    from tdome.live.auth import AuthError, load_users
    from tdome.live.net import Service, replay
    from tdome.scenario import ScenarioError, load_defended_side

    try:
        side = load_defended_side(config)
    except ScenarioError as e:
        _fail(str(e))
    if bind is not None:
        try:
            ipaddress.IPv4Address(bind)
        except ValueError:
            _fail(f"--bind: value {bind!r} is invalid; must be an IPv4 address such as 127.0.0.1")
    if duration is not None and not duration > 0:
        _fail(f"--duration: value {duration} is invalid; must be > 0")
    try:
        users = load_users(tokens)
    except AuthError as e:
        _fail(f"--tokens: {e}")
    out = out or Path("runs") / f"live-{_slug(side.name)}"
    _out_folder(out)
    if replay_recording is not None:
        if not replay_recording.is_file():
            _fail(f"--replay {replay_recording}: no such recording (a session folder's received.tdrec)")
        try:
            paths = replay(side, replay_recording, out)
        except ValueError as e:
            _fail(str(e))
        console.print(f"replayed {replay_recording}: session folder {out}  "
                      f"({', '.join(p.name for p in paths.values())})", soft_wrap=True)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if warm:
        from tdome.live.warmup import warm_up

        with console.status("warming up the C2 core (a synthetic raid, thrown away)"):
            w = warm_up(side)
        console.print(f"warmed up in {w['seconds']:.1f} s: {w['inputs']} inputs, {w['tracks']} tracks, "
                      f"{w['engagements']} engagements (thrown away)", highlight=False)
    try:
        svc = Service(side, out, bind=bind, users=users)
    except OSError as e:
        _fail(f"cannot open the service's sockets: {e.strerror or e} (another service on the same ports?)")
    udp_port, tcp_port = svc.ports
    live = side.live
    console.print(f"tdome serve {side.name}: ASTERIX in on udp {bind or live.listen.host}:{udp_port}"
                  f"{' group ' + live.multicast_group if live.multicast_group else ''}, engagement channel on tcp "
                  f"{bind or live.control.host}:{tcp_port}, CAT062 out to "
                  + ", ".join(f"{e.host}:{e.port}" for e in live.cat062.to), soft_wrap=True, highlight=False)
    if svc.console_port is not None:
        roles = ", ".join(f"{u.name} ({u.role})" for u in users)
        console.print(f"operator console: http://{bind or live.console.http.host}:{svc.console_port}/ for {roles}",
                      soft_wrap=True, highlight=False)
    else:
        console.print("operator console: closed (no users: --tokens FILE or TDOME_TOKENS; `tdome token` makes one)",
                      soft_wrap=True, highlight=False)
    if live.cot is not None:
        console.print("Cursor on Target out to " + ", ".join(f"{e.host}:{e.port}" for e in live.cot.to)
                      + f" ({live.cot.format})", soft_wrap=True, highlight=False)
    signal.signal(signal.SIGTERM, lambda *_: svc.stop())
    # What exists now (modules, compiled kernels, the configuration) lives as long as the process: out of the
    # cyclic collector's sight, whose full passes over it paused the C2 for 0.1-0.3 s now and then.
    gc.collect()
    gc.freeze()
    try:
        paths = svc.run(duration)
    except KeyboardInterrupt:
        svc.stop()
        paths = svc.c2.write(out)
    s = svc.c2.summary()["inputs"]
    console.print(f"session folder: {out}  ({', '.join(p.name for p in paths.values())}); "
                  f"{s.get('datagrams', 0)} datagrams, {s.get('plots', 0)} plots, {s.get('cycles', 0)} cycles",
                  soft_wrap=True, highlight=False)


@app.command()
def token(
    name: str = typer.Argument(..., help="The user's name (as the console and the operator log show it)."),
    role: str = typer.Option("viewer", "--role", help="viewer (reads the picture) or operator (also decides)."),
    file: Path = typer.Option(Path("tokens.yaml"), "--file", help="The users file to add the user to (created "
                                                                  "if missing; give it to `tdome serve --tokens`)."),
    expires: str | None = typer.Option(None, "--expires", help="When the token stops working, ISO date and time "
                                                              "(2026-12-31T00:00:00Z); default: never."),
) -> None:
    """Make a console user: a new random token, printed once; the users file keeps only its SHA-256."""
    import os

    import yaml

    from tdome.live.auth import AuthError, load_users, new_token, users_file_entry

    secret = new_token()
    try:
        entry = users_file_entry(name, role, secret, expires)
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) if file.exists() else None
        doc = doc if isinstance(doc, dict) else {"users": []}
        doc.setdefault("users", []).append(entry)
        text = "# tdome console users (tdome token); the tokens themselves are not kept here\n" + yaml.safe_dump(
            doc, sort_keys=False)
        tmp = file.with_name(file.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o600)
        load_users(tmp, environ={})  # the file as it will be read: names unique, entries valid
        tmp.replace(file)
    except (AuthError, OSError, yaml.YAMLError) as e:
        file.with_name(file.name + ".tmp").unlink(missing_ok=True)
        _fail(f"tdome token: {e}")
    console.print(f"{name} ({role}) added to {file}. The token (shown once, keep it secret):", soft_wrap=True)
    typer.echo(secret)


@app.command()
def feed(
    scenario: Path | None = typer.Argument(None, help="Scenario YAML file; the built-in default if omitted."),
    to: str = typer.Option("127.0.0.1", "--to", help="The service's address (its ports are the scenario's live "
                                                    "section's), or HOST:PORT for its ASTERIX port."),
    speed: float = typer.Option(1.0, "--speed", help="Times real time; 0: as fast as the service keeps up."),
    lockstep: bool = typer.Option(True, "--lockstep/--no-lockstep", help="Each cycle waits for the service to "
                                                                         "decide it (same battle on any machine)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: runs/<scenario>-seed<seed>-live)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the scenario's seed."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Play a scenario to a running `tdome serve`: its radars send ASTERIX, its batteries take the service's
    orders; the run folder holds truth and the service's tracks, scored as a simulated run's."""
    from tdome.live.feed import attach_remote, utc_time_of_day_s
    from tdome.pipeline import write_run
    from tdome.sim.engine import run as run_sim
    from tdome.sim.report import summarize
    from tdome.viz.terminal import print_summary

    if seed is not None and seed < 0:
        _fail(f"--seed: value {seed} is invalid; must be >= 0")
    if not speed >= 0:
        _fail(f"--speed: value {speed} is invalid; must be >= 0 (0: as fast as the service keeps up)")
    sc = _load(scenario, seed)
    host, _, port = to.partition(":")
    if port:
        if not port.isdigit() or not 0 < int(port) < 65536:
            _fail(f"--to: port {port!r} is invalid; must be 1 to 65535")
        sc = sc.model_copy(update={"live": sc.live.model_copy(
            update={"listen": sc.live.listen.model_copy(update={"port": int(port)})})})
    out = out or Path("runs") / f"{_slug(sc.name)}-seed{sc.seed}-live"
    _out_folder(out)
    holder: list = []
    attach = attach_remote(host or "127.0.0.1", speed, lockstep, utc_time_of_day_s(), holder)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[t]}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as prog:
        task = prog.add_task(f"{sc.name} (live)", total=float(sc.duration_s), t="setting up")

        def tick(t_s: float, stage: str | None = None) -> None:
            prog.update(task, completed=t_s, t=stage or f"t = {t_s:.0f} / {sc.duration_s:.0f} s")

        try:
            rec = run_sim(sc, progress=tick, attach=attach)
        except (OSError, ValueError) as e:
            _fail(f"tdome feed: {e} (is `tdome serve` running with the same live section?)")
        finally:
            for remote in holder:
                remote.close()
    summary = summarize(rec)
    summary["live"] = dict(holder[0].stats) if holder else {}
    paths = write_run(rec, summary, out)
    print_summary(summary, console)
    console.print(f"run folder: {out}  ({', '.join(p.name for p in paths.values())})", soft_wrap=True)


@app.command()
def validate(scenario: Path = typer.Argument(..., help="Scenario YAML file to check.")) -> None:
    """Check a scenario file without running it."""
    sc = _load(scenario, None)
    n = sc.threat_count
    console.print(f"{scenario}: valid — {len(sc.assets)} assets, {len(sc.radars)} radars, "
                  f"{len(sc.batteries)} batteries, {n} threats in {len(sc.raid.waves)} waves", soft_wrap=True)
    for w in sc.scale_warnings():
        _warn(w)


@app.command()
def init(
    path: Path = typer.Argument(..., help="The scenario file to write, e.g. my_raid.yaml."),
    force: bool = typer.Option(False, "--force", help="Overwrite the file if it exists."),
) -> None:
    """Write a commented starter scenario to edit into your own."""
    from tdome.scenario import starter_text

    if path.exists() and not force:
        _fail(f"{path}: already exists; choose another name, or add --force to overwrite it")
    _out_file(path, "PATH")
    path.write_text(starter_text())
    console.print(f"wrote {path}: a small scenario with comments on every section.\n"
                  f"  tdome validate {path}    check your edits\n"
                  f"  tdome run {path}         run it\n"
                  f"  tdome schema             every field, its unit and its default (JSON Schema)",
                  soft_wrap=True, highlight=False, markup=False)


@app.command()
def schema(out: Path | None = typer.Option(None, "--out", help="Write to this file (default: print it).")) -> None:
    """Print the JSON Schema of scenario files (for editors and validators)."""
    from tdome.scenario import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    _out_file(out)
    out.write_text(text)
    console.print(f"schema: {out}", highlight=False, soft_wrap=True)


@app.command()
def replay(
    run_folder: Path = typer.Argument(..., help="Run folder written by `tdome run`."),
    out: Path | None = typer.Option(None, "--out", help="HTML file to write (default: RUN_FOLDER/replay.html)."),
    open_page: bool = typer.Option(False, "--open/--no-open", help="Open the page in the default browser."),
    symbols: bool = typer.Option(False, "--symbols", help="Draw tracks as MIL-STD-2525 symbols (milsymbol, inlined: "
                                                          "the page grows by about 0.85 MB)."),
) -> None:
    """Write the run's battle replay: one self-contained HTML page that plays offline in any browser."""
    from tdome.viz.replay import human_size, write_replay

    run = _run_folder(run_folder)
    out = out or run_folder / "replay.html"
    _out_file(out)
    path = write_replay(run, out, symbols=symbols)
    console.print(f"replay: {path}  ({human_size(path.stat().st_size)})", soft_wrap=True, highlight=False)
    if open_page:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


@app.command()
def export(
    run_folder: Path = typer.Argument(..., help="Run folder written by `tdome run`."),
    czml: bool = typer.Option(False, "--czml", help="Export CZML for Cesium-based viewers."),
    out: Path | None = typer.Option(None, "--out", help="File to write (default: RUN_FOLDER/run.czml)."),
    epoch: str = typer.Option("2025-01-01T00:00:00Z", "--epoch",
                              help="UTC instant (ISO 8601) that simulated time 0 stands for."),
) -> None:
    """Export a run for other tools (CZML)."""
    from tdome.viz.czml import CzmlError, write_czml
    from tdome.viz.replay import human_size

    if not czml:
        _fail("say what to export: --czml (the only format so far)")
    run = _run_folder(run_folder)
    out = out or run_folder / "run.czml"
    _out_file(out)
    try:
        path = write_czml(run, out, epoch)
    except CzmlError as e:
        _fail(str(e))
    console.print(f"czml: {path}  ({human_size(path.stat().st_size)})", soft_wrap=True, highlight=False)


def _run_folder(path: Path):
    from tdome.runfolder import RunFolderError, load_run_folder

    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            _fail(f"{path}: is a scenario file, not a run folder; run it first with "
                  f"`tdome run {path} --out runs/{_slug(path.stem)}`, then `tdome replay runs/{_slug(path.stem)}`")
        _fail(f"{path}: is a file, not a run folder (the folder `tdome run` writes)")
    try:
        return load_run_folder(path)
    except RunFolderError as e:
        _fail(str(e))


# Options that mc and sweep share.
_WORKERS = typer.Option(None, "--workers", help="Local worker processes (default: all cores).")
_RAY = typer.Option(None, "--ray", help="Run on this Ray cluster (address, or 'local' to start one here).")
_FIDELITY = typer.Option(None, "--fidelity", help="full: the tracker on radar plots; perfect_picture: the C2 gets "
                         "the true state of every detected threat (tracker bypassed). Default: the scenario's "
                         "sim.fidelity.")
_RESUME = typer.Option(False, "--resume", help="Finish an interrupted study in its folder (or add runs to it).")
_QUIET = typer.Option(False, "--quiet", help="No progress bar.")


def _run_study_cli(study, out: Path, workers: int | None, ray: str | None, resume: bool, quiet: bool) -> None:
    """Run a study with a progress bar, then write and summarise its report."""
    import time

    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    from tdome.scenario.schema import FIDELITY_LABELS
    from tdome.studies.report import write_report
    from tdome.studies.runner import run_study
    from tdome.studies.spec import StudyError, validate

    if workers is not None and workers < 1:
        _fail(f"--workers: value {workers} is invalid; must be >= 1")
    try:
        validated = validate(study)
        _, points, fid = validated
    except StudyError as e:
        _fail(str(e))
    if not (resume and not out.exists()):  # resuming a folder that is not there: the study says so
        _out_folder(out)
    label = " + ".join(FIDELITY_LABELS[f] for f in fid.split(" + "))
    console.print(f"{study.name}: {len(points)} point(s) x {study.runs} runs — {label}", soft_wrap=True)
    where = f"Ray cluster {ray}" if ray else f"{workers or os.cpu_count()} local worker(s)"
    with Progress(TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                  TimeRemainingColumn(), console=console, disable=quiet) as prog:
        task = prog.add_task("runs", total=None, rate="")
        t0 = time.perf_counter()
        first: list[int] = []  # the runs already done when this call began

        def tick(done: int, total: int) -> None:
            if not first:
                first.append(done)
            rate = (done - first[0]) / max(time.perf_counter() - t0, 1e-9) * 60.0
            prog.update(task, completed=done, total=total, rate=f"{rate:.1f} runs/min")

        try:
            res = run_study(study, out, workers=workers, ray_address=ray, resume=resume, progress=tick,
                            validated=validated)
        except StudyError as e:
            _fail(str(e))
        except KeyboardInterrupt:
            err.print(f"interrupted: the runs finished so far are in {out}; finish the study with the same "
                      f"command and --resume")
            raise typer.Exit(code=130) from None
    console.print(f"{res.ran} runs in {res.wall_s:.0f} s on {where} ({res.skipped} already done, "
                  f"{res.errors} failed and recorded)", soft_wrap=True)
    if res.lost:
        err.print(f"[bold red]{res.lost} runs were lost with a worker that died;[/] run the same command with "
                  f"--resume to finish the study")
    report = write_report(out)
    _print_study_summary(out)
    console.print(f"study folder: {out} (results/ Parquet dataset, {report.name}, plots/, tables/)",
                  soft_wrap=True)
    if res.lost:
        raise typer.Exit(code=1)


def _print_study_summary(out: Path, max_points: int = 12) -> None:
    import pyarrow.csv as pacsv
    from rich.table import Table

    rows = pacsv.read_csv(out / "tables" / "summary.csv").to_pylist()
    shown = ("leakers", "leak_rate", "defended_value_fraction", "shots_total", "cost_usd", "cost_exchange",
             "s2s_median_s", "gospa_mean_m")
    cell: dict = {}
    for r in rows:
        ok = r["mean"] is not None and r["mean"] == r["mean"]
        hw = r["half_width"]
        cell[(r["point"], r["measure"])] = ("n/a" if not ok else f"{r['mean']:.4g}" +
                                            ("" if hw is None or hw != hw else f" ± {hw:.2g}"))
    points = sorted({p for p, _ in cell})
    title: str | None = "mean ± 95 % confidence half-width" + (
        f" (first {max_points} of {len(points)} points; all in tables/summary.csv)" if len(points) > max_points
        else "")
    # As many point columns per table as the terminal holds; the rest in further tables below.
    width = lambda p: max(len(f"point {p}"), *(len(cell[(p, m)]) for m in shown))  # noqa: E731
    for chunk in _fit_columns(points[:max_points], width,
                              console.width - max(map(len, shown)) - 4):
        t = Table(title=title)
        title = None
        t.add_column("measure", no_wrap=True)
        for p in chunk:
            t.add_column(f"point {p}", justify="right", no_wrap=True)
        for m in shown:
            t.add_row(m, *(cell[(p, m)] for p in chunk))
        console.print(t)
    params = list(json.loads((out / "study.json").read_text())["parameters"])
    if params:
        from tdome.studies.results import load_results

        first = {r["point"]: r for r in load_results(out).select(["point", *params]).to_pylist()}
        for p in points[:max_points]:
            console.print(f"point {p}: " + ", ".join(f"{k} = {first[p][k]}" for k in params), soft_wrap=True,
                          markup=False, highlight=False)


@app.command()
def mc(
    scenario: Path | None = typer.Argument(None, help="Scenario YAML file; the built-in default if omitted."),
    runs: int = typer.Option(100, "--runs", help="Replications, each with its own seed."),
    seed: int = typer.Option(0, "--seed", help="Study seed: every run's seed is derived from it."),
    out: Path | None = typer.Option(None, "--out", help="Study folder (default: runs/mc-<scenario>-seed<seed>)."),
    workers: int | None = _WORKERS,
    ray: str | None = _RAY,
    fidelity: str | None = _FIDELITY,
    resume: bool = _RESUME,
    quiet: bool = _QUIET,
) -> None:
    """Monte Carlo: N replications of one scenario, each outcome as mean with 95 % CI, plus a report."""
    from tdome.studies.spec import Study

    stem = scenario.stem if scenario else "default"
    study = Study(name=f"{stem} Monte Carlo", scenario=str(scenario.resolve()) if scenario else None, runs=runs,
                  seed=seed, fidelity=fidelity, source="tdome mc")
    _run_study_cli(study, out or Path("runs") / f"mc-{_slug(stem)}-seed{seed}", workers, ray, resume, quiet)


@app.command()
def sweep(
    study_file: Path = typer.Argument(..., help="Study YAML: base scenario, parameters to vary, runs, seed."),
    runs: int | None = typer.Option(None, "--runs", help="Replications per point (overrides the file)."),
    out: Path | None = typer.Option(None, "--out", help="Study folder (default: runs/sweep-<study>)."),
    workers: int | None = _WORKERS,
    ray: str | None = _RAY,
    fidelity: str | None = _FIDELITY,
    resume: bool = _RESUME,
    quiet: bool = _QUIET,
) -> None:
    """Parameter sweep: a grid of scenario parameters, N replications per point, plus a report."""
    from tdome.studies.spec import StudyError, load_study

    try:
        study = load_study(study_file)
    except StudyError as e:
        _fail(str(e))
    if runs is not None:
        study.runs = runs
    if fidelity is not None:
        study.fidelity = fidelity
    _run_study_cli(study, out or Path("runs") / f"sweep-{_slug(study_file.stem)}", workers, ray, resume, quiet)


@app.command()
def campaign(
    campaign_file: Path = typer.Argument(..., help="Campaign YAML: base scenario, days, seed, resupply per "
                                                   "interceptor type."),
    out: Path | None = typer.Option(None, "--out", help="Campaign folder (default: runs/campaign-<file>)."),
    days: int | None = typer.Option(None, "--days", help="Days to fly (overrides the file)."),
    quiet: bool = _QUIET,
) -> None:
    """Campaign: a raid a day against magazines carried over and resupplied; leaks by day, when each layer runs dry."""
    from rich.table import Table

    from tdome.studies.campaign import CampaignError, check, load_campaign, run_campaign

    try:
        c = load_campaign(campaign_file)
        if days is not None:
            c.days = days
            check(c)
    except CampaignError as e:
        _fail(str(e))
    out = out or Path("runs") / f"campaign-{_slug(campaign_file.stem)}"
    _out_folder(out)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("day {task.completed:.0f} of "
                  "{task.total:.0f}"), TimeElapsedColumn(), console=console, disable=quiet, transient=True) as prog:
        task = prog.add_task(c.name, total=c.days)
        result = run_campaign(c, progress=lambda done, total: prog.update(task, completed=done))
    out.mkdir(parents=True, exist_ok=True)
    (out / "campaign.json").write_text(json.dumps(result, indent=1))
    layers = list(result["dry"])
    header = ["day", "threats", "leakers", "leak_rate", "value_surviving"]
    header += [f"{lay}_fired" for lay in layers] + [f"{lay}_left" for lay in layers]
    lines = [",".join(header)]
    t = Table(title=f"{c.name}: rounds fired / left after the day's battle, per layer")
    for h in ("day", "threats", "leakers", "leak rate", "value surviving", *layers):
        t.add_column(h, justify="right")
    for d in result["days"]:
        cells = [d["day"], d["threats"], d["leakers"], f"{d['leak_rate']:.3f}", f"{d['value_surviving_fraction']:.3f}"]
        lines.append(",".join(str(v) for v in cells + [d["fired"][lay] for lay in layers]
                              + [d["left"][lay] for lay in layers]))
        t.add_row(*map(str, cells), *(f"{d['fired'][lay]} / {d['left'][lay]}" for lay in layers))
    (out / "days.csv").write_text("\n".join(lines) + "\n")
    console.print(t)
    for lay, dry in result["dry"].items():
        when = ("not within sight (resupply keeps up)" if dry["day"] is None
                else f"day {dry['day']}" + (" (projected from the last days' net use)" if dry["projected"] else ""))
        console.print(f"{lay} layer runs dry: {when}")
    console.print(f"campaign folder: {out}  (campaign.json, days.csv)", soft_wrap=True)


def _fit_columns(items: list, width_of, room: int) -> list[list]:
    """Split ``items`` into runs whose columns (width plus 3 for borders and padding) fit in ``room``."""
    chunks: list[list] = [[]]
    used = 0
    for it in items:
        w = width_of(it) + 3
        if chunks[-1] and used + w > room:
            chunks.append([])
            used = 0
        chunks[-1].append(it)
        used += w
    return chunks


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "run"


if __name__ == "__main__":
    app()
