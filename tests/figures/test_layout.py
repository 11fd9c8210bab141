"""The fixed layout (figures.layout.fit): every label inside the figure, none over another panel's.

Checked on the drawn figures themselves (matplotlib's own text extents after a draw), so a
margin measured too small by ``fit`` fails here.
"""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from figures.layout import FITTED
from figures.render import render_all
from figures.style import style

METHODS = ["attention_unet/dice", "attention_unet/dice_focal", "segresnet/l1dfl"]


def _in_view(axis):
    """The tick labels matplotlib draws: those of ticks inside the view interval."""
    low, high = sorted(axis.get_view_interval())
    span = 1e-9 * max(1.0, high - low)
    labels = axis.get_ticklabels()
    return [
        t
        for v, t in zip(axis.get_ticklocs(), labels, strict=False)
        if low - span <= v <= high + span
    ]


def _texts(ax, renderer):
    """Window extents of an Axes' visible, non-empty labels: ticks, axis labels, title."""
    texts = [*_in_view(ax.xaxis), *_in_view(ax.yaxis), ax.xaxis.label, ax.yaxis.label, ax.title]
    return [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("width", ["double", "single"])
def test_labels_inside_the_figure_and_off_other_panels(synth, width):
    cases = synth.cases(METHODS, n_cases=8)
    figs = render_all(synth.measurements(METHODS, n_cases=8), agreement=synth.agreement(METHODS),
                      cases=cases, lesions=synth.lesions(cases), width=width)  # fmt: skip
    for name, fig in figs.items():
        assert fig in FITTED, name
        canvas = FigureCanvasAgg(fig)
        with style():
            canvas.draw()
        renderer = canvas.get_renderer()
        page = fig.bbox.padded(1.0)  # one pixel of antialiasing
        axes = [ax for ax in fig.axes if ax.get_visible()]
        for ax in axes:
            for box in _texts(ax, renderer):
                assert page.contains(box.x0, box.y0) and page.contains(box.x1, box.y1), name
                for other in axes:
                    if other is not ax:
                        inner = other.bbox.shrunk(0.98, 0.98)
                        assert not box.overlaps(inner), (name, ax.get_title(), other.get_title())
