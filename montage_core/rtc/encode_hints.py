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
    # Encode this picture whole (a keyframe): after a large change settles,
    # so the blocks predicted from the old picture are redrawn sharp.
    refresh: bool = False

    @property
    def codec_settings(self) -> tuple[str, int]:
        """What the encoder must be rebuilt for when it changes."""
        return self.preset, self.crf


# Sharp text, fewer frames: a slower preset finds better references.
TEXT = EncodeHints(preset="superfast", crf=20, name="text")
# Smooth motion: the cheapest preset, quality a little lower.
MOTION = EncodeHints(preset="ultrafast", crf=25, name="motion")
