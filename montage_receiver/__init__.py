"""Montage receiver: the meeting-room display that shows shared screens."""

__version__ = "0.1.0"
