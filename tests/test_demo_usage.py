"""The usage line in scripts/demo.sh offers only what scripts/demo.py accepts."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.demo import build_parser

ROOT = Path(__file__).resolve().parent.parent


def test_every_option_in_the_demo_usage_line_is_accepted() -> None:
    (usage,) = [
        line for line in (ROOT / "scripts/demo.sh").read_text().splitlines() if "demo.sh [" in line
    ]
    offered = re.findall(r"\[(--[a-z-]+)(?: ([^\]]+))?\]", usage)
    assert {option for option, _ in offered} >= {"--seconds", "--gui"}
    parser = build_parser()
    for option, value in offered:
        example = value.split("|")[0] if value else None
        if example == "S":
            example = "3"
        parser.parse_args([option, example] if example else [option])  # exits on an unknown one
