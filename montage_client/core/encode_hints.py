"""How a picture should be encoded: sharp text or smooth motion.

Kept apart from aiortc_tuning so that choosing hints (the capture side, and
the widgets that import it) never loads aiortc.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncodeHints:
    """How a track wants its pictures encoded."""

    preset: str  # libx264 preset
    crf: int  # constant quality; lower is sharper
    name: str = ""


# Sharp text, fewer frames: a slower preset finds better references.
TEXT = EncodeHints(preset="superfast", crf=20, name="text")
# Smooth motion: the cheapest preset, quality a little lower.
MOTION = EncodeHints(preset="ultrafast", crf=25, name="motion")
