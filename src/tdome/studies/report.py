"""The study report: plots an analyst expects, the table behind each, one HTML file.

``write_report(folder)`` reads a study folder's results and writes

- ``report.html``: self-contained (plots embedded as base64 PNG, no script,
  no link outside the file), so it opens offline and can be mailed;
- ``plots/*.png``: the same plots as files;
- ``tables/*.csv``: the table behind each plot, and ``tables/summary.csv``
  with every measure at every grid point (mean, 95 % CI, percentiles).

Every title carries the study's fidelity, so a perfect-picture study is never
mistaken for a full-fidelity one.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from tdome.analysis.stats import mean_ci
from tdome.messages import LAYERS
from tdome.scenario.schema import FIDELITY_LABELS
from tdome.studies.params import value_label
from tdome.studies.results import MEASURES, SPEC_FILE, load_results
from tdome.viz.palette import LAYER_COLOURS

KEY_OUTCOMES = ["leakers", "defended_value_fraction", "shots_total", "cost_usd", "cost_exchange"]
MAX_LINES = 8  # more combinations of the other parameters than this: plot the marginal mean


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _label(params: list[str], values: tuple) -> str:
    return ", ".join(f"{p.split('.')[-1]}={v}" for p, v in zip(params, values, strict=True)) or "all runs"


def _sort_key(v):
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))


def layer_bars(ax, labels: list[str], means: dict[str, list], errors: dict[str, list]) -> None:
    """Grouped bars, one group per point, one bar per layer in the layer's colour of the map and the replay.

    A count of shots cannot be negative, so an error bar stops at 0 and the axis starts there.
    """
    width = 0.8 / len(LAYERS)
    for j, layer in enumerate(LAYERS):
        x = np.arange(len(labels)) + (j - (len(LAYERS) - 1) / 2) * width
        mean, err = np.asarray(means[layer], dtype=float), np.asarray(errors[layer], dtype=float)
        ax.bar(x, mean, width, yerr=[np.minimum(err, np.nan_to_num(mean)), err], capsize=2, label=layer,
               color=LAYER_COLOURS[layer])
    ax.set_xticks(np.arange(len(labels)), labels, rotation=20, ha="right", fontsize=7)
    ax.set_ylim(0, None)


def leaker_bars(ax, series: list[tuple[str, np.ndarray]]) -> list[dict]:
    """The leaker count distribution: bars at each whole count, one colour per series, axes from 0.

    A leaker count is an integer, so it is drawn as bars on integer ticks,
    not as a line between counts; the fraction axis starts at 0 so bar
    heights compare.  Returns the table behind the plot.
    """
    from matplotlib.ticker import MaxNLocator

    counts = [np.asarray(v, dtype=float) for _, v in series]
    counts = [v[np.isfinite(v)].astype(int) for v in counts]
    top = max((int(v.max()) for v in counts if v.size), default=0)
    width = 0.8 / max(len(series), 1)
    table = []
    for j, ((label, _), v) in enumerate(zip(series, counts, strict=True)):
        runs = np.bincount(v, minlength=top + 1)
        frac = runs / max(v.size, 1)
        ax.bar(np.arange(top + 1) + (j - (len(series) - 1) / 2) * width, frac, width, label=label)
        table += [dict(label=label, leakers=k, runs=int(r), fraction=float(f))
                  for k, (r, f) in enumerate(zip(runs, frac, strict=True))]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlim(-0.5, top + 0.5)
    ax.set_ylim(0, None)
    ax.set_xlabel("leakers in a run")
    ax.set_ylabel("fraction of runs")
    return table


class _Report:
    def __init__(self, folder: Path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt = plt
        self.folder = folder
        spec = json.loads((folder / SPEC_FILE).read_text())
        self.spec = spec
        self.params = list(spec["parameters"])
        table = load_results(folder)
        self.rows = table.to_pylist()
        self.ok = [r for r in self.rows if r["status"] == "ok"]
        fids = sorted({r["fidelity"] for r in self.rows}) or [spec.get("fidelity") or "full"]
        self.fidelity = " + ".join(FIDELITY_LABELS.get(f, f) for f in fids)
        self.title = f"{spec['name']} — {self.fidelity}"
        self.sections: list[str] = []
        (folder / "plots").mkdir(exist_ok=True)
        (folder / "tables").mkdir(exist_ok=True)
        self.points = sorted({r["point"] for r in self.rows})
        self.point_params = {r["point"]: tuple(r[p] for p in self.params) for r in self.rows}
        self.ok_at = {p: [r for r in self.ok if r["point"] == p] for p in self.points}
        self._ci: dict[tuple[int, str], object] = {}

    # ---- helpers

    def values(self, measure: str, keep=lambda r: True, point: int | None = None) -> np.ndarray:
        rows = self.ok if point is None else self.ok_at[point]
        return np.array([r[measure] for r in rows if keep(r)], dtype=float)

    def ci(self, point: int, measure: str):
        """Mean with 95 % confidence interval of ``measure`` over the runs at ``point`` (computed once)."""
        key = (point, measure)
        if key not in self._ci:
            self._ci[key] = mean_ci(self.values(measure, point=point))
        return self._ci[key]

    def add(self, name: str, heading: str, fig, table: list[dict], note: str = "") -> None:
        fig.suptitle(f"{heading}\n{self.title}", fontsize=9, y=1.04)
        png = _fig_png(fig)
        self.plt.close(fig)
        (self.folder / "plots" / f"{name}.png").write_bytes(png)
        self._write_table(name, table)
        img = base64.b64encode(png).decode("ascii")
        self.sections.append(
            f"<h2>{html.escape(heading)}</h2>" + (f"<p>{html.escape(note)}</p>" if note else "")
            + f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{img}">'
            + f"<details><summary>table behind the plot (tables/{name}.csv)</summary>{_html_table(table)}</details>")

    def _write_table(self, name: str, table: list[dict]) -> None:
        if table:
            pacsv.write_csv(pa.Table.from_pylist(table), self.folder / "tables" / f"{name}.csv")

    # ---- sections

    def summary(self) -> None:
        table = []
        for p in self.points:
            values = dict(zip(self.params, self.point_params[p], strict=True))
            for m in MEASURES:
                table.append(dict(point=p, **values, measure=m, **self.ci(p, m).as_dict()))
        self._write_table("summary", table)
        shown = [r for r in table if r["measure"] in KEY_OUTCOMES + ["leak_rate", "s2s_median_s", "s2s_chain_median_s",
                                                                     "order_to_launch_median_s", "messages_lost",
                                                                     "gospa_mean_m"]]
        compact = [dict(point=_label(self.params, self.point_params[r["point"]]), measure=r["measure"],
                        n=r["n"], mean=r["mean"], ci95=f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                        p5=r["p5"], p50=r["p50"], p95=r["p95"]) for r in shown]
        self.sections.append("<h2>Outcomes: mean with 95 % confidence interval</h2>"
                             "<p>Every measure at every point is in tables/summary.csv.</p>" + _html_table(compact))

    def versus_parameters(self) -> None:
        for k, p in enumerate(self.params):
            others = [q for q in self.params if q != p]
            combos = sorted({tuple(r[q] for q in others) for r in self.ok}, key=lambda t: [_sort_key(v) for v in t])
            if len(combos) > MAX_LINES:
                others, combos = [], [()]
            present = {r[p] for r in self.ok}
            xs = list(dict.fromkeys(v for v in map(value_label, self.spec["parameters"][p]) if v in present))
            numeric = all(isinstance(x, (int, float)) for x in xs)
            xs = sorted(xs) if numeric else xs
            pos = np.array(xs, dtype=float) if numeric else np.arange(len(xs), dtype=float)
            fig, axes = self.plt.subplots(1, len(KEY_OUTCOMES), figsize=(3.2 * len(KEY_OUTCOMES), 3.0))
            table = []
            for ax, m in zip(axes, KEY_OUTCOMES, strict=True):
                for combo in combos:
                    cis = [mean_ci(self.values(m, lambda r, x=x, c=combo, p=p, others=others: r[p] == x
                                               and tuple(r[q] for q in others) == c)) for x in xs]
                    mean = np.array([c.mean for c in cis])
                    lo = np.array([c.ci_low for c in cis])
                    hi = np.array([c.ci_high for c in cis])
                    lab = _label(others, combo) if others else None
                    ax.plot(pos, mean, marker="o", ms=3, label=lab)
                    ax.fill_between(pos, lo, hi, alpha=0.2)
                    rest = dict(zip(others, map(str, combo), strict=True))
                    table += [dict(parameter=p, value=str(x), **rest, measure=m, n=c.n, mean=c.mean, ci_low=c.ci_low,
                                   ci_high=c.ci_high) for x, c in zip(xs, cis, strict=True)]
                ax.set_title(m, fontsize=8)
                ax.set_xlabel(p, fontsize=7)
                ax.tick_params(labelsize=7)
                if not numeric:
                    ax.set_xticks(pos, [str(x) for x in xs], rotation=20)
            if len(combos) > 1:
                axes[-1].legend(fontsize=6, loc="best")
            note = ("Mean over the runs at each value, band = 95 % confidence interval"
                    + (", one line per combination of the other parameters." if others else
                       (", averaged over the other parameters." if len(self.params) > 1 else ".")))
            self.add(f"vs_param_{k}", f"Outcomes vs {p}", fig, table, note)

    def layers(self) -> None:
        fig, ax = self.plt.subplots(figsize=(max(5.0, 1.2 * len(self.points) + 2), 3.4))
        table = []
        cis = {layer: [self.ci(p, f"shots_{layer}") for p in self.points] for layer in LAYERS}
        for layer in LAYERS:
            table += [dict(point=p, label=_label(self.params, self.point_params[p]), layer=layer, n=c.n,
                           mean_shots=c.mean, ci_low=c.ci_low, ci_high=c.ci_high)
                      for p, c in zip(self.points, cis[layer], strict=True)]
        layer_bars(ax, [_label(self.params, self.point_params[p]) for p in self.points],
                   {k: [c.mean for c in v] for k, v in cis.items()},
                   {k: [np.nan_to_num(c.half_width) for c in v] for k, v in cis.items()})
        ax.set_ylabel("interceptors per run")
        ax.legend(fontsize=7)
        self.add("expenditure_by_layer", "Interceptor expenditure by layer", fig, table,
                 "Mean interceptors fired per run by layer, error bar = 95 % confidence interval.")

    def leakers(self) -> None:
        fig, ax = self.plt.subplots(figsize=(6, 3.4))
        shown = self.points[:MAX_LINES]
        series = [(_label(self.params, self.point_params[p]), self.values("leakers", point=p)) for p in shown]
        rows = leaker_bars(ax, series)
        per_point = len(rows) // max(len(shown), 1)
        table = [dict(point=shown[i // per_point], **r) for i, r in enumerate(rows)]
        ax.legend(fontsize=6)
        note = "Distribution of the leaker count over the runs at each point"
        note += f" (the first {MAX_LINES} points)." if len(self.points) > MAX_LINES else "."
        self.add("leaker_distribution", "Leaker count distribution", fig, table, note)

    def cost_exchange(self) -> None:
        fig, ax = self.plt.subplots(figsize=(max(5.0, 1.0 * len(self.points) + 2), 3.4))
        data, table = [], []
        for p in self.points:
            v = self.values("cost_exchange", point=p)
            data.append(v[np.isfinite(v)])
            table.append(dict(point=p, label=_label(self.params, self.point_params[p]),
                              **self.ci(p, "cost_exchange").as_dict()))
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(np.arange(1, len(self.points) + 1),
                      [_label(self.params, self.point_params[p]) for p in self.points], rotation=20, ha="right",
                      fontsize=7)
        ax.set_ylabel("interceptor cost / raid cost")
        self.add("cost_exchange", "Cost exchange", fig, table,
                 "Interceptor cost spent per unit of raid cost, per run (box: quartiles, whiskers 1.5 IQR, "
                 "triangle: mean).")

    def failures(self) -> None:
        bad = [r for r in self.rows if r["status"] != "ok"]
        if bad:
            rows = [dict(point=r["point"], replication=r["replication"], seed=r["seed"],
                         error=(r["error"] or "").splitlines()[0]) for r in bad]
            self.sections.append(f"<h2>Failed runs ({len(bad)})</h2><p>Rerun one with "
                                 f"<code>tdome run SCENARIO --seed SEED</code>; the full error is in the "
                                 f"results table.</p>" + _html_table(rows))

    def html(self) -> str:
        n_ok, n = len(self.ok), len(self.rows)
        head = (f"<p><b>Fidelity: {html.escape(self.fidelity)}</b></p>"
                f"<p>{n_ok} runs ({n - n_ok} failed) of {len(self.points)} point(s); study seed "
                f"{self.spec['seed']}; scenario {html.escape(str(self.spec['scenario'] or 'built-in default'))}"
                f"{'; parameters: ' + html.escape(', '.join(self.params)) if self.params else ''}.</p>")
        style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
                 "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;"
                 "text-align:right}img{max-width:100%}h2{margin-top:2em}")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{style}</style></head><body><h1>{html.escape(self.title)}</h1>{head}"
                + "".join(self.sections) + "</body></html>\n")


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4g}"


def _html_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    cols = list(rows[0])
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>"]
    for r in rows:
        cells = (_fmt(r.get(c)) if isinstance(r.get(c), float) else str(r.get(c)) for c in cols)
        out.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in cells) + "</tr>")
    return "".join(out) + "</table>"


def write_report(folder: str | Path) -> Path:
    """Write report.html, plots/*.png and tables/*.csv for the study in ``folder``; returns the HTML path."""
    folder = Path(folder)
    rep = _Report(folder)
    rep.summary()
    if rep.ok:
        rep.versus_parameters()
        rep.layers()
        rep.leakers()
        rep.cost_exchange()
    rep.failures()
    path = folder / "report.html"
    path.write_text(rep.html(), encoding="utf-8")
    return path
