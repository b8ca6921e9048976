"""Write an evaluation report (JSON, Markdown, PNG plots) and compare it with a baseline."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import PdqaError
from .metrics import Mean, Rate
from .runner import HEADLINE
from .summary import Report, headline

SUMMARY_ROWS = (
    "answer_correctness", "evidence_recall", "evidence_precision", "quote_fidelity",
    "noans_accuracy", "hasans_accuracy", "false_abstention", "overall_accuracy",
    "answers_fully_cited", "exact_match", "f1", "fact_recall",
    "hit_rate@1", "hit_rate@3", "hit_rate@5", "recall@1", "recall@3", "recall@5", "mrr@10", "ndcg@10",
    "llm_answers", "llm_fallbacks", "raw_sentences_unsupported", "verified_sentences_unsupported",
)
CATEGORY_COLUMNS = ("overall_accuracy", "answer_correctness", "noans_accuracy", "evidence_recall", "recall@3")


def format_value(value: Rate | Mean) -> str:
    """A rate as "0.812 (26/32) [0.65, 0.91]"; a mean as "0.794 (n=32)"."""
    if value.value is None:
        return "—"
    if isinstance(value, Rate):
        return f"{value.value:.3f} ({value.successes}/{value.n}) [{value.low:.2f}, {value.high:.2f}]"
    return f"{value.value:.3f} (n={value.n})"


def summary_rows(report: Report) -> list[tuple[str, str]]:
    """(metric, formatted value) for the terminal and Markdown summary tables."""
    rows = [(name, format_value(report.summary[name])) for name in SUMMARY_ROWS if name in report.summary]
    for split, values in report.calibration.items():
        if values["ece"] is not None:
            rows.append((f"calibration error ({split})", f"{values['ece']:.3f}"))
        if report.sweep_area.get(split) is not None:
            rows.append((f"abstention sweep area ({split})", f"{report.sweep_area[split]:.3f}"))
    return rows


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write report.json, report.md and the plots into ``out_dir``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    plots = []
    if find_spec("matplotlib") is not None:  # the plots need the eval extra; the figures do not
        plots = [_plot_categories(report, out_dir / "category_accuracy.png")]
        plots.append(_plot_sweep(report, out_dir / "abstention_sweep.png"))
        plots.append(_plot_reliability(report, out_dir / "reliability.png"))
    md_path = out_dir / "report.md"
    md_path.write_text(markdown(report, [p.name for p in plots]), encoding="utf-8")
    return [json_path, md_path, *plots]


def markdown(report: Report, plot_names: list[str]) -> str:
    """The human report: summary, per-category table, operating point, failed questions."""
    run = report.run
    lines = [
        f"# pdqa evaluation — {run.gold}, split `{run.split}`",
        "",
        f"{len(run.questions)} questions, pdqa {run.pdqa_version}, {run.elapsed_s:.1f} s. "
        "Rates show (successes/n) and a Wilson 95 % interval.",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in summary_rows(report)],
        "",
        "## Per category",
        "",
        "| category | " + " | ".join(CATEGORY_COLUMNS) + " |",
        "|---|" + "---|" * len(CATEGORY_COLUMNS),
    ]
    for category, values in report.by_category.items():
        cells = [format_value(values[c]) for c in CATEGORY_COLUMNS]
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    if report.by_document:
        lines += ["", "## Per document", "", "| document | " + " | ".join(CATEGORY_COLUMNS) + " |",
                  "|---|" + "---|" * len(CATEGORY_COLUMNS)]
        for document, values in report.by_document.items():
            lines.append(f"| {document} | " + " | ".join(format_value(values[c]) for c in CATEGORY_COLUMNS) + " |")
    if not plot_names:
        lines += ["", "(Plots need matplotlib: pip install 'pdqa[eval]'.)"]
    lines += ["", *calibration_lines(report), "", *_operating_point_lines(report), "", *[f"![{n}]({n})" for n in plot_names], ""]
    lines += _failure_lines(report)
    return "\n".join(lines) + "\n"


def calibration_lines(report: Report) -> list[str]:
    """Expected calibration error and sweep area per split, as Markdown."""
    lines = ["## Confidence", "", "| split | expected calibration error | area under the abstention sweep |", "|---|---|---|"]
    for split, values in report.calibration.items():
        ece = "—" if values["ece"] is None else f"{values['ece']:.3f}"
        area = report.sweep_area.get(split)
        lines.append(f"| {split} | {ece} | {'—' if area is None else f'{area:.3f}'} |")
    return lines


def _operating_point_lines(report: Report) -> list[str]:
    point = report.operating_point
    if point.threshold is None:
        return ["## Abstention threshold", "", "No dev questions in this run: no operating point chosen."]
    test = ", ".join(f"{k} {v:.3f}" for k, v in point.test.items() if v is not None) or "no test questions"
    return [
        "## Abstention threshold",
        "",
        f"Best threshold on dev: {point.threshold:.3f} (dev overall accuracy "
        f"{point.dev_overall_accuracy:.3f}). At that threshold on test: {test}.",
    ]


def _failure_lines(report: Report) -> list[str]:
    failed = [q for q in report.run.questions if q.failures]
    lines = [f"## Failed questions ({len(failed)})", ""]
    for q in failed:
        lines.append(f"- **{q.id}** [{q.category}, {q.split}] {q.question}")
        lines.append(f"  - answer: {' '.join(q.answer.split())[:300]}")
        lines.extend(f"  - {reason}" for reason in q.failures)
    return lines


def _plot_categories(report: Report, path: Path) -> Path:
    plt = _pyplot()
    names = list(report.by_category)
    rates = [report.by_category[n]["overall_accuracy"] for n in names]
    values = [r.value or 0.0 for r in rates]
    errors = [[v - r.low for v, r in zip(values, rates)], [r.high - v for v, r in zip(values, rates)]]
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.bar(names, values, yerr=errors, capsize=4, color="#4C72B0")
    for i, rate in enumerate(rates):
        axes.text(i, 0.02, f"{rate.successes}/{rate.n}", ha="center", color="white", fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("accuracy (answerable: correct; unanswerable: abstained)")
    axes.set_title(f"pdqa accuracy per category ({report.run.split}) with Wilson 95% intervals")
    axes.tick_params(axis="x", rotation=30)
    return _save(plt, figure, path)


def _plot_sweep(report: Report, path: Path) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 5))
    for split, rows in report.sweep.items():
        points = [r for r in rows if r["false_abstention_rate"] is not None and r["noans_accuracy"] is not None]
        axes.plot(
            [r["false_abstention_rate"] for r in points],
            [r["noans_accuracy"] for r in points],
            marker="o", markersize=3, label=f"{split} (each point: one threshold)",
        )
    if report.operating_point.threshold is not None and report.operating_point.test:
        test = report.operating_point.test
        axes.scatter([test["false_abstention_rate"]], [test["noans_accuracy"]], s=90, marker="*",
                     color="red", zorder=5, label="test at the dev-chosen threshold")
    axes.set_xlabel("false abstention rate (answerable questions abstained)")
    axes.set_ylabel("NoAns accuracy (unanswerable questions abstained)")
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_title("Abstention trade-off across the threshold sweep")
    axes.legend(loc="lower right")
    return _save(plt, figure, path)


def _plot_reliability(report: Report, path: Path) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for split, values in report.calibration.items():
        bins = values["bins"]
        ece = values["ece"]
        label = f"{split} (ECE {ece:.3f})" if ece is not None else split
        axes.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label=label)
    axes.set_xlabel("stated confidence (mean per bin)")
    axes.set_ylabel("share of answers that were right")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title("Reliability of pdqa's confidence")
    axes.legend(loc="upper left")
    return _save(plt, figure, path)


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


class BaselineError(PdqaError):
    """A baseline file is missing, malformed, or names nothing to compare."""

    hint = "A baseline is what `pdqa eval --save-baseline FILE` writes; refresh it with that command."


class BaselineRate(BaseModel):
    """One saved figure, as ``--save-baseline`` writes it: a rate in [0, 1] with its counts.

    Strict: a figure given as text ("0.5"), a count given as a fraction or a value that its
    counts do not give is a damaged baseline, not one to coerce and compare against.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    value: float | None
    successes: int = Field(ge=0)
    n: int = Field(ge=0)
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> BaselineRate:
        if self.successes > self.n:
            raise ValueError(f"{self.successes} successes out of {self.n}")
        if self.value is not None and not (0 <= self.value <= 1 and abs(self.value - self.successes / max(self.n, 1)) < 1e-6):
            raise ValueError(f"value {self.value} is not {self.successes}/{self.n}")
        return self


class Baseline(BaseModel):
    """The headline figures an evaluation is compared with (``--compare``)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    gold: str
    split: str
    pdqa_version: str
    metrics: dict[str, BaselineRate]

    @model_validator(mode="after")
    def _compares_something(self) -> Baseline:
        unknown = sorted(set(self.metrics) - set(HEADLINE))
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r} (the gate compares {', '.join(HEADLINE)})")
        missing = [name for name in HEADLINE if name not in self.metrics]
        if missing:
            raise ValueError(f"no figure for {missing[0]!r}: a gate that compares nothing passes nothing")
        empty = [name for name, rate in self.metrics.items() if rate.value is None]
        if empty:
            raise ValueError(f"{empty[0]} has no value")
        return self


def load_baseline(path: Path) -> Baseline:
    """Read and check a baseline before an evaluation runs.

    Raises:
        BaselineError: The file is missing, not JSON, of the wrong shape, or names no figure to compare.
    """
    try:
        return Baseline.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        raise BaselineError(f"baseline {path} is not a valid baseline: {where + ': ' if where else ''}{message}") from exc


def baseline_of(report: Report) -> dict:
    """The figures ``--compare`` checks against, as saved in eval/baseline.json."""
    return {
        "gold": report.run.gold,
        "split": report.run.split,
        "pdqa_version": report.run.pdqa_version,
        "metrics": {name: rate.model_dump() for name, rate in headline(report.summary).items()},
    }


def save_baseline_file(report: Report, path: Path) -> None:
    path.write_text(json.dumps(baseline_of(report), indent=2) + "\n", encoding="utf-8")


def compare(report: Report, baseline: Baseline) -> list[str]:
    """Regressions against a baseline: a headline metric down by more than one question's worth,
    or any quote that is not the corpus text. Empty list: no regression."""
    problems = []
    for name in HEADLINE:
        now, before = report.summary[name], baseline.metrics[name]
        if now.value is None:
            problems.append(f"{name} could not be measured (no questions of its kind)")
            continue
        allowed = 1 / max(now.n, 1)  # one question's worth
        if before.value - now.value > allowed + 1e-9:
            problems.append(
                f"{name} fell from {before.value:.3f} ({before.successes}/{before.n}) "
                f"to {now.value:.3f} ({now.successes}/{now.n})"
            )
    fidelity = report.summary["quote_fidelity"]
    if fidelity.value is not None and fidelity.value < 1.0:
        problems.append(f"quote fidelity is {fidelity.value:.3f}: some quotes are not the corpus text")
    return problems
