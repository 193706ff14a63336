"""The one table: every figure, its ratio to the reference from the same run, its target.

HTTP figures are set against the ceiling (ratio = figure / the ceiling's, so
above 1 is more for rates, and for latency and start time more is worse).
In-process times are set against scikit-learn's ``predict_proba`` on the
same rows (ratio = scikit-learn's time / this time: how many times faster).
Targets are checked on the service (compiled forest) rows only; the other
servers are there to explain them.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

from bench.inprocess import Timings

CEILING, SERVICE = "ceiling", "service"


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    subject: str
    value: float
    unit: str
    ratio: float
    target: str = ""
    met: bool | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _wrk(load: str, key: str) -> Callable[[dict], float]:
    return lambda figures: figures["loads"][load][key]


def _ratio_at_least(least: float) -> Callable[[float, float], bool]:
    return lambda value, ratio: ratio >= least


_HTTP = "HTTP load (wrk), vs the ceiling"
_PROCESS = "start and memory, vs the ceiling"
# (section, figure, unit, the figure from a server's results, target, check(value, ratio), wrk load)
SERVER_FIGURES = (
    (_HTTP, "single row, c=8", "req/s", _wrk("1 row, c=8", "requests_per_s"),
     ">= 0.6", _ratio_at_least(0.6), "1 row, c=8"),
    (_HTTP, "single row, c=32", "req/s", _wrk("1 row, c=32", "requests_per_s"),
     ">= 0.6", _ratio_at_least(0.6), "1 row, c=32"),
    (_HTTP, "single row, c=8, p99", "ms", _wrk("1 row, c=8", "p99_ms"), "", None, "1 row, c=8"),
    (_HTTP, "single row, c=32, p99", "ms", _wrk("1 row, c=32", "p99_ms"),
     "<= 2", lambda value, ratio: ratio <= 2, "1 row, c=32"),
    (_HTTP, "1,000-row batches, c=4", "rows/s", _wrk("1,000 rows, c=4", "rows_per_s"),
     ">= 0.2", _ratio_at_least(0.2), "1,000 rows, c=4"),
    (_HTTP, "10,000-row batches, c=4", "rows/s", _wrk("10,000 rows, c=4", "rows_per_s"),
     ">= 0.27", _ratio_at_least(0.27), "10,000 rows, c=4"),
    (_PROCESS, "start to healthy /health", "s", lambda figures: figures["start_to_healthy_s"],
     "< 2 s", lambda value, ratio: value < 2, None),
    (_PROCESS, "PSS, master + workers, before load", "MiB",
     lambda figures: figures["memory_before_load"]["pss_mib"], "", None, None),
    (_PROCESS, "PSS, master + workers, after load", "MiB", lambda figures: figures["memory"]["pss_mib"],
     "<= 200 MiB", lambda value, ratio: value <= 200, None),
    (_PROCESS, "PSS alone, after load", "MiB",
     lambda figures: figures["memory"]["pss_alone_mib"], "<= 200 MiB", lambda value, ratio: value <= 200, None),
    (_PROCESS, "RSS, master + workers, after load", "MiB", lambda figures: figures["memory"]["rss_mib"],
     "", None, None),
)
SPEEDUP_TARGETS = {1: 30, 10_000: 1, 100_000: 1}  # rows: least times faster than scikit-learn


def rows_from(servers: dict, timings: list[Timings]) -> list[Row]:
    """The table's rows from each server's results (keyed by name, the ceiling among them) and the timings."""
    rows = []
    for section, figure, unit, value_of, target, check, load in SERVER_FIGURES:
        ceiling = value_of(servers[CEILING])
        if ceiling is None:
            continue  # a figure this machine cannot give (PSS alone needs root)
        for subject, figures in servers.items():
            value = value_of(figures)
            checked = subject == SERVICE and check is not None
            errors = figures["loads"][load]["errors"] if load else 0
            rows.append(Row(section, figure, subject, value, unit, value / ceiling,
                            target if checked else "", check(value, value / ceiling) if checked else None,
                            f"{errors} failed requests" if errors else ""))

    section = "in process, vs scikit-learn"
    for timing in timings:
        figure = f"predict_proba, {_rows(timing.rows)}"
        speedup = timing.sklearn_s / timing.compiled_s
        least = SPEEDUP_TARGETS.get(timing.rows)
        rows.append(Row(section, figure, "compiled forest", timing.compiled_s, "s", speedup,
                        f">= {least}" if least else "", speedup >= least if least else None))
        rows.append(Row(section, figure, "scikit-learn", timing.sklearn_s, "s", 1.0))
    for timing in timings:
        rows.append(Row(section, f"validate, {_rows(timing.rows)}", "RequestValidator",
                        timing.validator_s, "s", timing.sklearn_s / timing.validator_s))
    return rows


def render(rows: list[Row], meta: dict) -> str:
    header = ("figure", "measured on", "value", "ratio", "target", "met")
    lines = []
    section = figure = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append((f"[{section}]",) + ("",) * 5)
        shown_figure = row.figure if row.figure != figure else ""
        figure = row.figure
        met = "" if row.met is None else ("yes" if row.met else "NO")
        lines.append((shown_figure, row.subject, _value(row.value, row.unit) + (" !" if row.note else ""),
                      f"{row.ratio:.2f}" if row.ratio < 10 else f"{row.ratio:.0f}", row.target, met))
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    right = {2, 3}

    def format_line(cells):
        return "  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths))).rstrip()

    out = [
        f"python -m bench: {meta['workers']} {meta['worker_class']} workers per server, {meta['cpus']} CPUs; "
        f"wrk with 1 thread, best of {meta['rounds']} rounds of {meta['wrk_seconds']} s, "
        f"each after {meta['warmup_seconds']} s of warm-up; start: median of {meta['starts']}",
        f"load average (1, 5, 15 min): {_load(meta['load_average_before'])} before, "
        f"{_load(meta['load_average_after'])} after",
        "",
        format_line(header),
        format_line(["-" * width for width in widths]),
        *(format_line(line) for line in lines),
        "",
        "ratio: HTTP, figure / the ceiling's (run in the same way, in the same run);",
        "       in process, scikit-learn's predict_proba time / this time (times faster), same rows.",
        "met: checked on the service (compiled forest) only; the other rows explain it.",
        "PSS as read splits library pages with every process mapping them (other Pythons on this machine);",
        "PSS alone counts them once, for this server only, as on a machine of its own (bench/memory.py).",
    ]
    failed = [row for row in rows if row.note]
    if failed:
        out.append("! " + "; ".join(f"{row.subject}, {row.figure}: {row.note}" for row in failed))
    return "\n".join(out)


def _value(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} µs"
        if value < 1:
            return f"{value * 1e3:.2f} ms" if value < 0.1 else f"{value * 1e3:.0f} ms"
        return f"{value:.2f} s"
    if unit in ("req/s", "rows/s"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.1f} {unit}"


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


def _load(averages: list[float]) -> str:
    return " ".join(f"{average:.2f}" for average in averages)
