"""The ``tdome`` command: run and validate scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="tdome: layered air and missile defense, from radar plots to intercepts.")
console = Console()
err = Console(stderr=True)


def _load(path: Optional[Path], seed: Optional[int]):
    from tdome.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path, seed=seed)
    except ScenarioError as e:
        err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


@app.command()
def run(
    scenario: Optional[Path] = typer.Argument(None, help="Scenario YAML file; the built-in default if omitted."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/<scenario>-seed<seed>)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the scenario's seed."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Run a scenario end to end and write its run folder."""
    from tdome.sim.engine import run as run_sim
    from tdome.sim.report import print_summary, summarize, write_run

    if seed is not None and seed < 0:
        err.print(f"[bold red]error:[/] --seed: value {seed} is invalid; must be >= 0")
        raise typer.Exit(code=2)
    sc = _load(scenario, seed)
    out = out or Path("runs") / f"{_slug(sc.name)}-seed{sc.seed}"
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[t]}"),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as prog:
        task = prog.add_task(f"{sc.name}", total=float(sc.duration_s), t="t = 0 s")

        def tick(t_s: float) -> None:
            prog.update(task, completed=t_s, t=f"t = {t_s:.0f} / {sc.duration_s:.0f} s")

        rec = run_sim(sc, progress=tick)
    summary = summarize(rec)
    paths = write_run(rec, summary, out)
    print_summary(summary, console)
    console.print(f"run folder: {out}  ({', '.join(p.name for p in paths.values())})", soft_wrap=True)


@app.command()
def validate(scenario: Path = typer.Argument(..., help="Scenario YAML file to check.")) -> None:
    """Check a scenario file without running it."""
    sc = _load(scenario, None)
    n = sum(g.count for w in sc.raid.waves for g in w.groups)
    console.print(f"{scenario}: valid — {len(sc.assets)} assets, {len(sc.radars)} radars, "
                  f"{len(sc.batteries)} batteries, {n} threats in {len(sc.raid.waves)} waves", soft_wrap=True)


@app.command()
def replay(
    run_folder: Path = typer.Argument(..., help="Run folder written by `tdome run`."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default: RUN_FOLDER/replay.html)."),
    open_page: bool = typer.Option(False, "--open/--no-open", help="Open the page in the default browser."),
) -> None:
    """Write the run's battle replay: one self-contained HTML page that plays offline in any browser."""
    from tdome.viz.replay import human_size, write_replay

    run = _run_folder(run_folder)
    path = write_replay(run, out or run_folder / "replay.html")
    console.print(f"replay: {path}  ({human_size(path.stat().st_size)})", soft_wrap=True, highlight=False)
    if open_page:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


@app.command()
def export(
    run_folder: Path = typer.Argument(..., help="Run folder written by `tdome run`."),
    czml: bool = typer.Option(False, "--czml", help="Export CZML for Cesium-based viewers."),
    out: Optional[Path] = typer.Option(None, "--out", help="File to write (default: RUN_FOLDER/run.czml)."),
    epoch: str = typer.Option("2025-01-01T00:00:00Z", "--epoch",
                              help="UTC instant (ISO 8601) that simulated time 0 stands for."),
) -> None:
    """Export a run for other tools (CZML)."""
    from tdome.viz.czml import CzmlError, write_czml
    from tdome.viz.replay import human_size

    if not czml:
        err.print("[bold red]error:[/] say what to export: --czml (the only format so far)")
        raise typer.Exit(code=2)
    run = _run_folder(run_folder)
    try:
        path = write_czml(run, out or run_folder / "run.czml", epoch)
    except CzmlError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    console.print(f"czml: {path}  ({human_size(path.stat().st_size)})", soft_wrap=True, highlight=False)


def _run_folder(path: Path):
    from tdome.viz.runfolder import RunFolderError, load_run_folder

    try:
        return load_run_folder(path)
    except RunFolderError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "run"


if __name__ == "__main__":
    app()
