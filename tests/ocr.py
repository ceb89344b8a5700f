"""Read the words in a screenshot, as a person would (tesseract, installed by setup.sh)."""

from __future__ import annotations

import csv
import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCALE = 3  # Xvfb's small UI fonts read far better enlarged


@dataclass(frozen=True)
class Word:
    text: str
    x: int  # centre, in screen pixels
    y: int


def read_words(rgb: np.ndarray[Any, np.dtype[np.uint8]]) -> list[Word]:
    """Every word tesseract finds in `rgb` (height × width × 3), with where it is."""
    big = np.repeat(np.repeat(rgb, SCALE, axis=0), SCALE, axis=1)
    height, width = big.shape[:2]
    with tempfile.TemporaryDirectory(prefix="montage-ocr-") as scratch:
        image = Path(scratch) / "shot.ppm"
        image.write_bytes(f"P6 {width} {height} 255\n".encode() + big.tobytes())
        result = subprocess.run(
            ["tesseract", str(image), "stdout", "--psm", "6", "tsv"],
            capture_output=True,
            text=True,
            check=True,
        )
    words = []
    for row in csv.DictReader(io.StringIO(result.stdout), delimiter="\t"):
        text = (row.get("text") or "").strip()
        if text:
            x = (int(row["left"]) + int(row["width"]) // 2) // SCALE
            y = (int(row["top"]) + int(row["height"]) // 2) // SCALE
            words.append(Word(text, x, y))
    return words
