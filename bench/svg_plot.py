"""A line plot of memory over time as a small SVG, written by hand.

matplotlib is not among the project's dependencies, and one plot of a few
lines does not justify adding it (and its compiled wheels) to the test
extra: an SVG is text, reviewable in a diff and shown by any browser.
"""

from collections.abc import Mapping, Sequence
from html import escape

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
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(*point) for point in points))
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>')
        legend_y = TOP + 10 + row * 16
        parts.append(f'<line x1="{WIDTH - RIGHT + 10}" x2="{WIDTH - RIGHT + 34}" y1="{legend_y}" y2="{legend_y}" '
                     f'stroke="{colour}" stroke-width="1.5"{dash}/>'
                     f'<text x="{WIDTH - RIGHT + 40}" y="{legend_y + 4}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
