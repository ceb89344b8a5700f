"""Montage client: share your screen to a meeting-room receiver."""

from montage_core.version import running_version

# The frozen build's stamp, else montage_core's __version__ (montage_core/version.py).
__version__ = running_version()
