"""Server-side SVG charts (bars and lines): no script, no CDN, printable, readable offline."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#2f6fb0", "#e07b24", "#3a9a5b", "#b8433b", "#7a5cb0", "#7f7f7f")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5):
        for exp in range(-2, 8):
            top = step * 10**exp
            if top >= value:
                return float(top)
    return value


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def _frame(
    width: int, height: int, title: str, top: float, unit: str, left: int, bottom: int
) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    plot_h = height - bottom - 28
    for i in range(5):
        value = top * i / 4
        y = height - bottom - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{_fmt(value)}{escape(unit)}</text>"
        )
    return parts


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    unit: str = "",
    target: float | None = None,
    width: int = 640,
    height: int = 260,
) -> Markup:
    """Grouped bars: one group per label, one bar per series; an optional dashed target line."""
    left, bottom = 52, 44
    values = [v for _n, vs in series for v in vs if v is not None]
    top = _nice_max(max(values + ([target] if target else []), default=0))
    parts = _frame(width, height, title, top, unit, left, bottom)
    plot_w = width - left - 8
    plot_h = height - bottom - 28
    n = max(len(labels), 1)
    group_w = plot_w / n
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    for i, label in enumerate(labels):
        x0 = left + i * group_w + group_w * 0.1
        for j, (name, vs) in enumerate(series):
            v = vs[i] if i < len(vs) else None
            if v is None:
                continue
            h = plot_h * v / top
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{height - bottom - h:.1f}" '
                f'width="{bar_w * 0.92:.1f}" height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(label)} · {escape(name)}: {_fmt(v)}{escape(unit)}</title></rect>"
            )
        if n <= 24 or i % max(n // 24, 1) == 0:
            parts.append(
                f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{height - bottom + 14}" '
                f'text-anchor="middle" class="tick">{escape(label)}</text>'
            )
    if target:
        y = height - bottom - plot_h * target / top
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" class="target"/>'
        )
    parts += _legend(series, left, height - 10)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    unit: str = "",
    width: int = 960,
    height: int = 260,
) -> Markup:
    """Lines over a shared x axis (e.g. the 15-minute buckets of a day)."""
    left, bottom = 52, 44
    values = [v for _n, vs in series for v in vs if v is not None]
    top = _nice_max(max(values, default=0))
    parts = _frame(width, height, title, top, unit, left, bottom)
    plot_w = width - left - 8
    plot_h = height - bottom - 28
    n = max(len(labels) - 1, 1)
    for j, (name, vs) in enumerate(series):
        points = [
            f"{left + plot_w * i / n:.1f},{height - bottom - plot_h * v / top:.1f}"
            for i, v in enumerate(vs)
            if v is not None
        ]
        if points:
            parts.append(
                f'<polyline fill="none" stroke="{PALETTE[j % len(PALETTE)]}" stroke-width="2" '
                f'points="{" ".join(points)}"><title>{escape(name)}</title></polyline>'
            )
    step = max(len(labels) // 12, 1)
    for i, label in enumerate(labels):
        if i % step == 0:
            parts.append(
                f'<text x="{left + plot_w * i / n:.1f}" y="{height - bottom + 14}" '
                f'text-anchor="middle" class="tick">{escape(label)}</text>'
            )
    parts += _legend(series, left, height - 10)
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: Sequence[tuple[str, Sequence[float | None]]], x: int, y: int) -> list[str]:
    out = []
    for j, (name, _vs) in enumerate(series):
        cx = x + j * 150
        out.append(
            f'<rect x="{cx}" y="{y - 9}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{cx + 14}" y="{y}" class="legend">{escape(name)}</text>'
        )
    return out
