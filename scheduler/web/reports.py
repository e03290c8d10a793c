"""Daily and monthly reports per service, window or clerk: tables, charts, CSV and XLSX.

The figures come from ``scheduler.stats``; this module only lays them out. Charts are
drawn as inline SVG on the server, so the dashboard needs no chart library.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from hallbus.hall_file import HallConfig
from hallbus.i18n import Texts
from scheduler.planning import StaffingRow
from scheduler.stats import StatRow
from scheduler.web.words import N_, minutes_seconds, window_name


@dataclass(frozen=True)
class ReportColumn:
    """One column of a report: its heading (a catalog id) and how to read it from a row."""

    key: str
    label: str

    def heading(self, texts: Texts) -> str:
        """The heading in exports: spreadsheets get times in seconds, so they say so."""
        label = texts(self.label)
        return texts("{label} (s)", label=label) if self.kind == "duration" else label

    @property
    def kind(self) -> str:
        """How the page shows its cells: ``duration``, ``rate`` or ``plain``."""
        if self.key.endswith("_s"):
            return "duration"
        return "rate" if self.key.endswith(("_rate", "_share")) else "plain"

    def value(self, row: StatRow) -> Any:
        """The cell of ``row`` (rates as fractions, times in seconds)."""
        match self.key:
            case "waiting_mean_s":
                return row.waiting.mean_s
            case "waiting_p90_s":
                return row.waiting.p90_s
            case "service_mean_s":
                return row.service.mean_s
            case "service_p90_s":
                return row.service.p90_s
            case _:
                return getattr(row, self.key)


COLUMNS = (
    ReportColumn("day", N_("Date")),
    ReportColumn("group", N_("Group")),
    ReportColumn("issued", N_("Issued")),
    ReportColumn("served", N_("Served")),
    ReportColumn("no_show", N_("No-show")),
    ReportColumn("transferred", N_("Transferred")),
    ReportColumn("waiting_mean_s", N_("Mean wait")),
    ReportColumn("waiting_p90_s", N_("Wait P90")),
    ReportColumn("service_mean_s", N_("Mean service")),
    ReportColumn("service_p90_s", N_("Service P90")),
    ReportColumn("rated", N_("Rated")),
    ReportColumn("good", N_("Good")),
    ReportColumn("bad", N_("Bad")),
    ReportColumn("unrated", N_("Unrated")),
    ReportColumn("not_adopted", N_("Not adopted")),
    ReportColumn("satisfaction_rate", N_("Satisfaction")),
    ReportColumn("unrated_share", N_("Unrated share")),
    ReportColumn("on_time_rate", N_("On time")),
    # How far the wait printed on tickets was from the real one: mean absolute error, and
    # the bias (real minus printed; above zero the hall promised too short).
    ReportColumn("estimate_error_s", N_("Estimate error")),
    ReportColumn("estimate_bias_s", N_("Estimate bias")),
)


def group_names(config: HallConfig, by: str, texts: Texts) -> dict[str, str]:
    """Readable names of the groups: service names, clerk names, window numbers."""
    if by == "service":
        return {s.code: texts.pick(s.names, s.code) for s in config.services}
    if by == "clerk":
        return {c.code: f"{c.name} ({c.code})" for c in config.clerks}
    return {str(w.number): window_name(texts, w.number) for w in config.windows}


def table(rows: Sequence[StatRow], names: dict[str, str], texts: Texts) -> list[list[Any]]:
    """The report as rows of cells, headings first."""
    cells: list[list[Any]] = [[c.heading(texts) for c in COLUMNS]]
    for row in rows:
        line = [c.value(row) for c in COLUMNS]
        line[1] = names.get(row.group, row.group)
        cells.append(line)
    return cells


def as_csv(rows: Sequence[StatRow], names: dict[str, str], texts: Texts) -> bytes:
    """CSV with a BOM, so a spreadsheet program opens the Chinese headings correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    for line in table(rows, names, texts):
        writer.writerow(["" if v is None else v for v in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(rows: Sequence[StatRow], names: dict[str, str], title: str, texts: Texts) -> bytes:
    """An XLSX workbook with the report on one sheet, rates formatted as percentages."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    for line in table(rows, names, texts):
        sheet.append(line)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    rate_columns = [i + 1 for i, c in enumerate(COLUMNS) if c.key.endswith(("_rate", "_share"))]
    for column in rate_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = "0.0%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float | None]],
    *,
    percent: bool = False,
    shown_as: Any = None,
) -> str:
    """A horizontal bar chart as inline SVG (labels escaped)."""
    width, label_w, bar_h, gap = 560, 170, 18, 6
    height = 28 + len(bars) * (bar_h + gap)
    top = max((v for _, v in bars if v is not None), default=0.0) or 1.0
    if percent:
        top = 1.0
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = 28 + i * (bar_h + gap)
        length = 0 if value is None else (width - label_w - 60) * value / top
        if value is None:
            shown = "—"
        elif shown_as is not None:
            shown = shown_as(value)
        else:
            shown = f"{value:.1%}" if percent else f"{value:g}"
        parts.append(f'<text x="0" y="{y + 13}" class="chart-label">{escape(label)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" class="bar"/>'
        )
        parts.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 13}">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)


def charts(rows: Sequence[StatRow], names: dict[str, str], texts: Texts) -> list[str]:
    """The report's charts: served, satisfaction and mean wait per group over the period."""
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        t = totals.setdefault(row.group, {"served": 0, "good": 0, "rated": 0, "wait": 0, "n": 0})
        t["served"] += row.served
        t["good"] += row.good
        t["rated"] += row.rated
        if row.waiting.mean_s is not None:
            t["wait"] += row.waiting.mean_s * row.waiting.count
            t["n"] += row.waiting.count
    groups = sorted(totals)

    def per_group(value: Any) -> list[tuple[str, float | None]]:
        return [(names.get(g, g), value(totals[g])) for g in groups]

    return [
        bar_chart(texts("Served"), per_group(lambda t: t["served"])),
        bar_chart(
            texts("Satisfaction"),
            per_group(lambda t: t["good"] / t["rated"] if t["rated"] else None),
            percent=True,
        ),
        # Seconds, shown as the table shows them (分秒).
        bar_chart(
            texts("Mean wait"),
            per_group(lambda t: round(t["wait"] / t["n"]) if t["n"] else None),
            shown_as=lambda seconds: minutes_seconds(texts, seconds),
        ),
    ]


def _text_width(text: str, size: float = 12) -> float:
    """About how wide ``text`` is drawn at ``size`` px: Chinese characters are square,
    Latin letters a little over half as wide (enough to keep legend keys apart)."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def staffing_chart(rows: Sequence[StaffingRow], texts: Texts) -> str:
    """Windows per hour: recommended from the history beside those that were open, as
    paired columns (inline SVG), the hours along the bottom."""
    width, height, left, bottom = 640, 220, 30, 30
    top = max([r.recommended for r in rows] + [r.open for r in rows] + [1])
    step = (width - left) / max(len(rows), 1)
    scale = (height - bottom - 30) / top
    # Said outside the f-strings below, where a catalog's extractor can find them.
    described = escape(texts("Windows: recommended and open"))
    title, recommended = escape(texts("Windows per hour")), escape(texts("Recommended"))
    actually_open = escape(texts("Actually open"))
    # The legend from the right edge, each key as wide as its words in this language.
    open_x = width - 18 - _text_width(texts("Actually open"))
    recommended_x = open_x - 28 - _text_width(texts("Recommended"))
    parts = [
        f'<svg class="chart" role="img" aria-label="{described}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<text x="0" y="16" class="chart-title">{title}</text>',
        f'<rect x="{recommended_x:.0f}" y="6" width="12" height="12" class="bar"/>'
        f'<text x="{recommended_x + 16:.0f}" y="16">{recommended}</text>',
        f'<rect x="{open_x:.0f}" y="6" width="12" height="12" class="bar-open"/>'
        f'<text x="{open_x + 16:.0f}" y="16">{actually_open}</text>',
    ]
    base = height - bottom
    for i, row in enumerate(rows):
        x = left + i * step
        bar = step * 0.38
        for offset, value, kind in ((0.1, row.recommended, "bar"), (0.5, row.open, "bar-open")):
            h = value * scale
            parts.append(
                f'<rect x="{x + step * offset:.1f}" y="{base - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" class="{kind}"><title>{row.hour}:00 {value:g}</title></rect>'
            )
        parts.append(f'<text x="{x + step * 0.25:.1f}" y="{base + 16}">{row.hour}</text>')
    parts.append("</svg>")
    return "".join(parts)
