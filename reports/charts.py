"""Charts for the dashboard as inline SVG, drawn on the server: no script, no CDN, readable
without styles, scaled to any width (a viewBox and width 100 %). Every bar links to the cases
behind it. Text is escaped; colors are presentation attributes."""

from django.utils.html import escape
from django.utils.safestring import mark_safe

COLORS = ("#b3261e", "#1a5fb4", "#146c2e", "#8a5a00", "#6b3fa0")
INK, MUTED, LINE = "#1d1b20", "#5f5b66", "#d9d4dc"
FONT = (
    'font-family="Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"'
)


def _number(value):
    """Thousands separated; a Decimal keeps its own places (money 2, hours 1)."""
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def _scale_max(values):
    top = max([float(v) for v in values] + [0.0])
    if top <= 0:
        return 1.0
    # A round upper bound: 1, 2 or 5 times a power of ten.
    magnitude = 10 ** (len(str(int(top))) - 1)
    for step in (1, 2, 5, 10):
        if top <= step * magnitude:
            return float(step * magnitude)
    return top


WIDTH = 500  # drawing units; shown at most this many pixels wide, narrower on a phone


def _svg(name, title, width, height, body):
    # Sized by site.css (svg.report-chart): the natural width on a desk, the screen's width on
    # a phone — not by a style attribute, which the content security policy refuses.
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" data-chart="{escape(name)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" {FONT}>'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _text_width(text, size=13):
    """About how wide a label is drawn: CJK characters are square, Latin ones about half."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.56 for ch in str(text))


def _fit(text, room, size=13):
    """The label, cut with an ellipsis to about `room` units wide."""
    text = str(text)
    if _text_width(text, size) <= room:
        return text
    while text and _text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def _link(href, inner, label):
    if not href:
        return inner
    return f'<a href="{escape(href)}" aria-label="{escape(label)}">{inner}</a>'


def bar_chart(name, title, items, *, unit=""):
    """Horizontal bars, one per (label, value, href) — long Chinese labels fit on the left."""
    row, right, top = 28, 70, 10
    width = WIDTH
    left = min(max([_text_width(label) for label, _v, _h in items] + [40]) + 14, 220)
    height = top + row * max(len(items), 1) + 10
    scale = (width - left - right) / _scale_max(v for _l, v, _h in items)
    parts = [f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{height - 6}" stroke="{LINE}"/>']
    for index, (label, value, href) in enumerate(items):
        y = top + index * row
        length = max(float(value) * scale, 0)
        text = f"{_number(value)}{unit}"
        bar = (
            f'<rect x="{left}" y="{y + 4}" width="{length:.1f}" height="{row - 10}" rx="3" '
            f'fill="{COLORS[0]}" data-value="{escape(str(value))}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + row / 2 + 4}" font-size="13" '
            f'fill="{INK}">{escape(text)}</text>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{y + row / 2 + 4}" font-size="13" text-anchor="end" '
            f'fill="{INK}"><title>{escape(label)}</title>{escape(_fit(label, left - 12))}</text>'
            + _link(href, bar, f"{label}: {text}")
        )
    return _svg(name, title, width, height, "".join(parts))


def column_chart(name, title, categories, series):
    """Grouped vertical bars: `series` = [(name, [values], [hrefs])] over `categories`."""
    width, height = WIDTH, 240
    left, right, top, bottom = 44, 12, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _scale_max(v for _n, values, _h in series for v in values)
    parts = _grid(left, top, plot_w, plot_h, top_value)
    group = plot_w / max(len(categories), 1)
    bar = min(36, (group - 16) / max(len(series), 1))
    for c_index, category in enumerate(categories):
        x0 = left + c_index * group + (group - bar * len(series)) / 2
        for s_index, (series_name, values, hrefs) in enumerate(series):
            value = values[c_index]
            h = float(value) / top_value * plot_h
            x = x0 + s_index * bar
            rect = (
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 3:.1f}" '
                f'height="{h:.1f}" fill="{COLORS[s_index % len(COLORS)]}" '
                f'data-value="{escape(str(value))}"/>'
                f'<text x="{x + (bar - 3) / 2:.1f}" y="{top + plot_h - h - 4:.1f}" font-size="11" '
                f'text-anchor="middle" fill="{INK}">{escape(_number(value))}</text>'
            )
            parts.append(_link(hrefs[c_index], rect, f"{category} · {series_name}: {value}"))
        parts.append(
            f'<text x="{left + c_index * group + group / 2:.1f}" y="{height - bottom + 18}" '
            f'font-size="13" text-anchor="middle" fill="{INK}">{escape(category)}</text>'
        )
    parts.append(_legend([n for n, _v, _h in series], left, 8))
    return _svg(name, title, width, height, "".join(parts))


def line_chart(name, title, categories, series):
    """Lines over `categories` (e.g. months): `series` = [(name, [values])]."""
    width, height = WIDTH, 240
    left, right, top, bottom = 44, 16, 34, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _scale_max(v for _n, values in series for v in values)
    parts = _grid(left, top, plot_w, plot_h, top_value)
    step = plot_w / max(len(categories) - 1, 1)
    every = max(1, (len(categories) + 11) // 12)
    for index, category in enumerate(categories):
        if index % every == 0:
            parts.append(
                f'<text x="{left + index * step:.1f}" y="{height - bottom + 16}" font-size="11" '
                f'text-anchor="middle" fill="{MUTED}">{escape(category)}</text>'
            )
    for s_index, (series_name, values) in enumerate(series):
        color = COLORS[s_index % len(COLORS)]
        points = " ".join(
            f"{left + i * step:.1f},{top + plot_h - float(v) / top_value * plot_h:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5" '
            f'data-series="{escape(series_name)}"/>'
        )
        for i, v in enumerate(values):
            parts.append(
                f'<circle cx="{left + i * step:.1f}" cy="{top + plot_h - float(v) / top_value * plot_h:.1f}" '
                f'r="3" fill="{color}"><title>{escape(categories[i])} · {escape(series_name)}: '
                f"{escape(str(v))}</title></circle>"
            )
    parts.append(_legend([n for n, _v in series], left, 8))
    return _svg(name, title, width, height, "".join(parts))


def _grid(left, top, plot_w, plot_h, top_value):
    parts = []
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        value = top_value * i / 4
        label = f"{value:,.0f}" if top_value >= 4 else f"{value:g}"
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{LINE}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{MUTED}">{escape(label)}</text>'
        )
    return parts


def _legend(names, x, y):
    parts = []
    for index, name in enumerate(names):
        color = COLORS[index % len(COLORS)]
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{color}"/>'
            f'<text x="{x + 16}" y="{y + 11}" font-size="12" fill="{INK}">{escape(name)}</text>'
        )
        x += 28 + _text_width(name, 12)
    return "".join(parts)
