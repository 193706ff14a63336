"""Line plots as small SVGs, written by hand: memory over time, and rates against sizes on log-log axes.

matplotlib is not among the project's dependencies, and one plot of a few
lines does not justify adding it (and its compiled wheels) to the test
extra: an SVG is text, reviewable in a diff and shown by any browser.
"""

from collections.abc import Mapping, Sequence
from html import escape
from math import ceil, floor, log10

WIDTH, HEIGHT = 760, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 30, 45
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
TICKS = 5


def line_plot(series: Mapping[str, Sequence[tuple[float, float]]], title: str, x_label: str, y_label: str,
              shaded_until_x: float | None = None, shaded_label: str = "") -> str:
    """``series``: name -> (x, y) points. Names ending in ``PSS`` are drawn dashed, in the colour
    of the series before them, so each process's two lines pair up."""
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_max = max(xs) or 1.0
    y_low, y_high = min(ys) * 0.95, max(ys) * 1.05
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return LEFT + x / x_max * plot_w, TOP + (1 - (y - y_low) / (y_high - y_low)) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>']
    if shaded_until_x:
        x0, _ = at(0, y_high)
        x1, _ = at(shaded_until_x, y_high)
        parts.append(f'<rect x="{x0}" y="{TOP}" width="{x1 - x0:.1f}" height="{plot_h}" fill="#eeeeee"/>'
                     f'<text x="{(x0 + x1) / 2:.1f}" y="{TOP + 12}" text-anchor="middle">{escape(shaded_label)}</text>')
    for tick in range(TICKS + 1):
        x_value, y_value = x_max * tick / TICKS, y_low + (y_high - y_low) * tick / TICKS
        x, _ = at(x_value, y_low)
        _, y = at(0, y_value)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dddddd"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{y_value:.0f}</text>'
                     f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{x_value:.3g}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>'
                 f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>'
                 f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
                 f'{escape(y_label)}</text>')
    colour_index = -1
    for row, (name, points) in enumerate(series.items()):
        dashed = name.endswith("PSS")
        colour_index += 0 if dashed and colour_index >= 0 else 1
        colour = COLOURS[colour_index % len(COLOURS)]
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(_line_and_legend([at(*point) for point in points], colour, dash, name, row, WIDTH - RIGHT))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


DASHES = ("", "6 3", "2 2", "8 3 2 3")


def log_log_plot(series: Mapping[str, Sequence[tuple[float, float]]], title: str, x_label: str, y_label: str,
                 colour_of: Mapping[str, int], dash_of: Mapping[str, int]) -> str:
    """``series``: name -> (x, y) points, both axes logarithmic (decades ticked). ``colour_of`` and
    ``dash_of`` give each name's colour and dash pattern (by index), so that many lines read as a grid:
    here an engine's colour, a forest's dash."""
    width, height = 900, max(420, TOP + BOTTOM + 16 * len(series) + 20)
    left, right = 80, 280
    plot_w, plot_h = width - left - right, height - TOP - BOTTOM
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_low, x_high = floor(log10(min(xs))), ceil(log10(max(xs)))
    y_low, y_high = floor(log10(min(ys))), ceil(log10(max(ys)))
    x_high, y_high = max(x_high, x_low + 1), max(y_high, y_low + 1)

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (log10(x) - x_low) / (x_high - x_low) * plot_w,
                TOP + (1 - (log10(y) - y_low) / (y_high - y_low)) * plot_h)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="{(left + plot_w / 2):.0f}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>']
    for decade in range(x_low, x_high + 1):
        x, _ = at(10.0 ** decade, 10.0 ** y_low)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#dddddd"/>'
                     f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{10 ** decade:,}</text>')
    for decade in range(y_low, y_high + 1):
        _, y = at(10.0 ** x_low, 10.0 ** decade)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dddddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">1e{decade}</text>')
    parts.append(f'<rect x="{left}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>'
                 f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">{escape(x_label)}</text>'
                 f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
                 f'{escape(y_label)}</text>')
    for row, (name, points) in enumerate(series.items()):
        colour = COLOURS[colour_of[name] % len(COLOURS)]
        dash = DASHES[dash_of[name] % len(DASHES)]
        dash = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(_line_and_legend([at(*point) for point in points], colour, dash, name, row, width - right))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _line_and_legend(points: Sequence[tuple[float, float]], colour: str, dash: str, name: str, row: int,
                     legend_x: float) -> str:
    """A series' polyline (``points`` already in pixels) and its entry on row ``row`` of the legend."""
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    legend_y = TOP + 10 + row * 16
    return (f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>\n'
            f'<line x1="{legend_x + 10}" x2="{legend_x + 34}" y1="{legend_y}" y2="{legend_y}" '
            f'stroke="{colour}" stroke-width="1.5"{dash}/>'
            f'<text x="{legend_x + 40}" y="{legend_y + 4}">{escape(name)}</text>')
