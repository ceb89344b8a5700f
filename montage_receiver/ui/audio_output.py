"""Presenters' microphones through the receiver's speakers (Qt's QAudioSink).

One push-mode sink per presenter; the operating system mixes them. Decoded
frames arrive on the GUI thread (= the asyncio loop under qasync) already as
48 kHz stereo s16 in 20 ms pieces, so playing one is a copy of 3840 bytes into
the sink's buffer. The buffer is small (about 200 ms): when it is full the
frame is dropped rather than queued, so the sound cannot drift behind the
picture.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QIODevice
from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices

if TYPE_CHECKING:
    from montage_receiver.presenter import Presenter

logger = logging.getLogger(__name__)

RATE = 48_000
CHANNELS = 2
BYTES_PER_FRAME = 2 * CHANNELS
BUFFER_SECONDS = 0.2


def pcm_bytes(frame: Any) -> bytes:
    """Interleaved s16 bytes of one decoded audio frame (what the sink plays)."""
    data: bytes = frame.to_ndarray().tobytes()
    return data


class AudioOutput:
    """Plays each attached presenter's sound; does nothing where there is no output device."""

    def __init__(self) -> None:
        self._sinks: dict[int, tuple[QAudioSink, QIODevice]] = {}
        self.device = QMediaDevices.defaultAudioOutput()
        self.available = not self.device.isNull()
        if not self.available:
            logger.info("no audio output device: presenters' sound will not be played")
        self.format = QAudioFormat()
        self.format.setSampleRate(RATE)
        self.format.setChannelCount(CHANNELS)
        self.format.setSampleFormat(QAudioFormat.SampleFormat.Int16)

    def attach(self, presenter: Presenter) -> None:
        if self._play not in presenter.audio_listeners:
            presenter.audio_listeners.append(self._play)

    def detach(self, presenter: Presenter) -> None:
        if self._play in presenter.audio_listeners:
            presenter.audio_listeners.remove(self._play)
        entry = self._sinks.pop(presenter.id, None)
        if entry is not None:
            entry[0].stop()

    def close(self) -> None:
        for sink, _io in self._sinks.values():
            sink.stop()
        self._sinks.clear()

    def _play(self, presenter: Presenter, frame: Any) -> None:
        if not self.available:
            return
        entry = self._sinks.get(presenter.id)
        if entry is None:
            sink = QAudioSink(self.device, self.format)
            sink.setBufferSize(int(RATE * BUFFER_SECONDS) * BYTES_PER_FRAME)
            io = sink.start()
            if io is None:
                logger.warning(
                    "cannot play %s's sound on %s", presenter.name, self.device.description()
                )
                self.available = False
                return
            entry = self._sinks[presenter.id] = (sink, io)
        sink, io = entry
        data = pcm_bytes(frame)
        if sink.bytesFree() >= len(data):
            io.write(data)
