"""One look for every figure of the study: setting colours and markers, framework order, axes.

A setting ('BPTT', 'TBPTT(4, 8)', ...) gets its colour and marker from its place in the
study's whole list of settings (`analysis.settings.study_settings`), which the workflow
hands to every figure: the same setting looks the same in every figure. BPTT is black;
grey is kept for reference lines (baselines, chance, model, ceilings).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

import implementations
from bptt_bench.analysis.benchmarks import impl_and_device

# Okabe-Ito, then Tol's muted colours: distinguishable for colour-blind readers; no grey, no yellow.
COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#882255",
    "#999933",
    "#332288",
    "#44AA99",
    "#DDCC77",
    "#CC6677",
    "#117733",
    "#88CCEE",
    "#AA4499",
    "#661100",
)  # 16 colours: the default study's settings with the LSTM and GRU ones (15 beside BPTT's black)
MARKERS = (
    "s",
    "^",
    "D",
    "v",
    "P",
    "X",
    "<",
    ">",
    "p",
    "h",
    "*",
)  # colour and marker advance together: pairs stay unique
BPTT = ("black", "o")
REFERENCE = "0.45"  # grey of reference lines; never a setting's colour


def _plain(value, _=None) -> str:
    """0.002 rather than 2x10^-3; powers of ten beyond 1e+-5 as 10^k (a decimal would be unreadable)."""
    exponent = np.log10(abs(value)) if value != 0 else 0.0
    if abs(exponent) >= 5 and abs(exponent - round(exponent)) < 1e-9:
        return f"$10^{{{round(exponent)}}}$"
    return f"{value:g}"


PLAIN = FuncFormatter(_plain)


def impl_order(present: Iterable[str]) -> list[str]:
    """Frameworks in the registry's order (implementations.NAMES), unknown ones after, by name."""
    present = set(present)
    known = [name for name in implementations.NAMES if name in present]
    return known + sorted(present - set(known))


def native_memory_label(impl: str) -> str:
    """What a framework's native peak-memory column counts (from the registry when it says); for a
    panel of GPU rows ('torch on cuda', analysis.apart_by_device), the device memory it counts there."""
    name, device = impl_and_device(impl)
    entry = getattr(implementations, "REGISTRY", {}).get(name)
    if device:
        return f"{device} memory, {entry.device_memory if entry else 'framework-reported'}"
    if entry:
        return entry.native_memory
    return {"numpy": "tracemalloc", "torch": "saved tensors", "jax": "XLA temp buffers"}.get(
        impl, "framework-reported"
    )


class SettingStyle:
    """Colour and marker of each setting: a fixed function of its place in the study's list."""

    def __init__(self, settings: Iterable[str]):
        self.settings = list(dict.fromkeys(settings))
        others = [s for s in self.settings if s != "BPTT"]
        pairs = ((COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]) for i in range(len(others)))
        self._look = {"BPTT": BPTT} | dict(zip(others, pairs))

    def extended(self, settings: Iterable[str]) -> SettingStyle:
        """This style, with settings it lacks appended (they take the next free looks)."""
        return SettingStyle(self.settings + [s for s in settings if s not in self._look])

    def colour(self, setting: str):
        return self._look[setting][0]

    def marker(self, setting: str) -> str:
        return self._look[setting][1]

    def handle(self, setting: str, **line) -> Line2D:
        """A legend entry drawn like the setting's lines."""
        return Line2D([], [], color=self.colour(setting), marker=self.marker(setting), label=setting, **line)


def legend(fig, handles: list, title: str = "setting") -> None:
    """The figure's one legend, below the axes: the same placement and type sizes in every figure."""
    fig.legend(
        handles=handles,
        title=title,
        loc="outside lower center",
        ncols=min(len(handles), 5),
        fontsize=9,
        title_fontsize=9,
    )


def reference_handle(label: str, linestyle: str = ":", **line) -> Line2D:
    return Line2D([], [], color=REFERENCE, linestyle=linestyle, label=label, **line)


def tag(artists, setting: str):
    """Mark drawn artists with their setting (gid), so tests can check every figure's colours."""
    for artist in artists if isinstance(artists, (list, tuple)) else [artists]:
        for child in getattr(artist, "get_children", lambda: [])() or []:
            child.set_gid(setting)
        artist.set_gid(setting)
    return artists


def log_axis(ax, which: str = "y", min_labels: int = 4) -> None:
    """Log scale with plain tick labels and at least `min_labels` of them; call after plotting.

    Labels 1, 10, 100 over wide ranges, 1-2-5 steps over a few decades, finer steps over
    less; a range too narrow for that many log ticks keeps a linear scale.
    """
    axis = getattr(ax, f"{which}axis")
    set_scale, get_lim, set_lim = (
        (ax.set_yscale, ax.get_ylim, ax.set_ylim)
        if which == "y"
        else (ax.set_xscale, ax.get_xlim, ax.set_xlim)
    )
    set_scale("log")
    ax.relim()
    ax.autoscale_view()
    low, high = get_lim()
    for subs in ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), tuple(np.arange(1.0, 10.0))):
        ticks = LogLocator(subs=subs).tick_values(low, high)
        if ((ticks >= low) & (ticks <= high)).sum() >= min_labels:
            break
    else:
        set_scale("linear")
        ax.autoscale_view()
        axis.set_major_locator(MaxNLocator(min_labels + 1))
        axis.set_major_formatter(PLAIN)
        return
    set_lim(low, high)
    axis.set_major_locator(LogLocator(subs=subs))
    axis.set_major_formatter(PLAIN)
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def sizes_text(row) -> str:
    """'B=32, H=256, D=32, O=32, float32' from a row's sizes (those present)."""
    sizes = ", ".join(
        f"{name}={row[name]:g}" for name in ("B", "H", "D", "O") if name in row and row[name] == row[name]
    )
    return f"{sizes}, {row['dtype']}" if "dtype" in row else sizes
