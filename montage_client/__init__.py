"""Montage client: share your screen to a meeting-room receiver."""

__version__ = "0.1.0"
