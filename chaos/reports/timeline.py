"""The timeline of a run's page as an inline ``<svg>``: send, ack, error and consume rates per second,
fault windows shaded, phases marked and, under the plot, when records later lost were sent. No
scripts and no external assets."""

from __future__ import annotations

import html

from chaos.reports.series import Series

COLORS = {"sent": "#1f77b4", "acked": "#2ca02c", "processed": "#ff7f0e", "errors": "#d62728"}
FAULT_FILL = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
#: Ticks under the timeline where lost records were sent, by the stage that lost them.
LOST_COLOR = {"broker": "#b00020", "producer": "#e65100"}


def _e(text: object) -> str:
    return html.escape(str(text))


def timeline_svg(
    s: Series, width: int = 1000, height: int = 300, lost: dict[str, list[list[int]]] | None = None
) -> str:
    """The timeline plot as an inline ``<svg>``; ``lost`` (the verdict's ``lost_sent``) marks, under
    the plot, each second in which records later lost were sent."""
    plot = _Plot(s, width, height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="records per second over time, fault windows shaded">',
        f'<rect x="{plot.left}" y="{plot.top}" width="{plot.w}" height="{plot.h}" fill="#fafafa" stroke="#ccc"/>',
        *_fault_windows(plot),
        *_phase_marks(plot),
        *_rate_lines(plot),
        *_lost_ticks(plot, lost or {}),
        *_axes(plot),
        *_legend(plot, bool(lost)),
        "</svg>",
    ]
    return "\n".join(out)


class _Plot:
    """The timeline's geometry: where a second and a rate land in the ``<svg>``."""

    left, right, top, bottom = 60, 16, 34, 34

    def __init__(self, s: Series, width: int, height: int) -> None:
        self.s, self.width, self.height = s, width, height
        self.w, self.h = width - self.left - self.right, height - self.top - self.bottom
        self.seconds = max(s.seconds, 1)
        self.peak = max([1, *s.sent, *s.acked, *s.processed, *s.errors])

    def x(self, t: float) -> float:
        """Seconds since the series' start, across."""
        return self.left + self.w * min(max(t, 0.0), self.seconds) / self.seconds

    def y(self, v: float) -> float:
        """Records per second, up."""
        return self.top + self.h * (1 - v / self.peak)


def _fault_windows(plot: _Plot) -> list[str]:
    out = []
    s, top, x = plot.s, plot.top, plot.x
    for i, f in enumerate(s.faults):
        start = f["start"] - s.t0
        end = (f["end"] if f.get("end") else s.t0 + plot.seconds) - s.t0
        color = FAULT_FILL[i % len(FAULT_FILL)]
        out.append(
            f'<rect x="{x(start):.1f}" y="{top}" width="{max(x(end) - x(start), 1.5):.1f}" height="{plot.h}" '
            f'fill="{color}" fill-opacity="0.14"><title>{_e(f["name"])} on {_e(",".join(f.get("targets") or []))}: '
            f"{start:.1f}s to {end:.1f}s</title></rect>"
        )
        out.append(
            f'<text x="{x(start) + 3:.1f}" y="{top + 13 + 13 * (i % 4)}" font-size="11" fill="{color}">'
            f"{_e(f['kind'])} {_e(','.join(f.get('targets') or []))}</text>"
        )
    return out


def _phase_marks(plot: _Plot) -> list[str]:
    out = []
    top = plot.top
    for p in plot.s.phases:
        px = plot.x(float(p["start"]) - plot.s.t0)
        out.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot.h}" stroke="#bbb" stroke-dasharray="3,3"/>'
        )
        out.append(
            f'<text x="{px + 2:.1f}" y="{top - 6}" font-size="10" fill="#777" '
            f'transform="rotate(-20 {px + 2:.1f} {top - 6})">{_e(p["name"])}</text>'
        )
    return out


def _rate_lines(plot: _Plot) -> list[str]:
    out = []
    for name in ("sent", "acked", "processed", "errors"):
        values = getattr(plot.s, name)
        if not any(values):
            continue
        points = " ".join(f"{plot.x(i + 0.5):.1f},{plot.y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline points="{points}" fill="none" stroke="{COLORS[name]}" stroke-width="1.6"/>')
    return out


def _lost_ticks(plot: _Plot, lost: dict[str, list[list[int]]]) -> list[str]:
    out = []
    bottom = plot.top + plot.h
    for stage, bins in lost.items():
        color = LOST_COLOR.get(stage, "#c00")
        for second, n in bins:
            lx = plot.x(second - plot.s.t0 + 0.5)
            out.append(
                f'<line x1="{lx:.1f}" y1="{bottom - 8}" x2="{lx:.1f}" y2="{bottom}" stroke="{color}" '
                f'stroke-width="2"><title>{n} records sent here were lost by the {_e(stage)}</title></line>'
            )
    return out


def _axes(plot: _Plot) -> list[str]:
    out = []
    for frac in (0, 0.5, 1):
        v = plot.peak * frac
        out.append(
            f'<text x="{plot.left - 6}" y="{plot.y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:,.0f}</text>'
        )
    seconds = plot.seconds
    step = max(1, round(seconds / 10 / 5) * 5) if seconds > 20 else 2
    for t in range(0, seconds + 1, step):
        out.append(
            f'<text x="{plot.x(t):.1f}" y="{plot.top + plot.h + 14}" font-size="10" text-anchor="middle">{t}s</text>'
        )
    return out


def _legend(plot: _Plot, lost: bool) -> list[str]:
    out = []
    lx, height = plot.left, plot.height
    for name, color in COLORS.items():
        out.append(f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 3}" font-size="11">{name}/s</text>')
        lx += 95
    out.append(
        f'<text x="{lx + 10}" y="{height - 3}" font-size="11" fill="#777">shaded: fault active · dashed: phase'
        f"{' · red ticks: lost records, when sent' if lost else ''}</text>"
    )
    return out
