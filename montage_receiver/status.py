"""`--status-json`: one JSON object per line on stdout, for scripts and checks."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, TextIO

from . import __version__
from .meeting import Meeting
from .service import (
    CloudMeetingEnded,
    PinRejected,
    PresenterAdded,
    PresenterChanged,
    PresenterRemoved,
    ServiceEvent,
)


class StatusReporter:
    def __init__(self, meeting: Meeting, out: TextIO, interval: float = 1.0) -> None:
        self.meeting = meeting
        self.out = out
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        m = self.meeting
        self.write(
            {
                "event": "ready",
                "meeting_id": str(m.meeting_id),
                "pin": m.pin,
                "port": m.port,
                "room": m.room.name,
                "address": str(m.meeting_id.address()),
                # The 6-digit ID presenters type when the cloud gave one.
                "cloud_meeting_id": str(m.cloud_meeting_id) if m.cloud_meeting_id else None,
                "path": m.path,
                "cloud_error": m.cloud_error,
                "version": __version__,
            }
        )
        m.service.subscribe(self._on_event)
        self._task = asyncio.ensure_future(self._stats_loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def write(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def _on_event(self, event: ServiceEvent) -> None:
        now = time.monotonic()
        if isinstance(event, PresenterAdded):
            self.write({"event": "presenter_joined", **event.presenter.snapshot(now)})
        elif isinstance(event, PresenterRemoved):
            self.write(
                {"event": "presenter_left", **event.presenter.snapshot(now), "reason": event.reason}
            )
        elif isinstance(event, PresenterChanged):
            self.write({"event": "presenter_changed", **event.presenter.snapshot(now)})
        elif isinstance(event, CloudMeetingEnded):
            self.write(
                {
                    "event": "cloud_meeting_ended",
                    "meeting_id": str(self.meeting.meeting_id),
                    "path": self.meeting.path,
                    "reason": event.reason,
                }
            )
        elif isinstance(event, PinRejected):
            self.write(
                {
                    "event": "pin_rejected",
                    "source": event.source,
                    "tries_left": event.tries_left,
                    "locked_for": event.locked_for,
                }
            )

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            presenters = sorted(self.meeting.service.presenters, key=lambda p: p.id)
            self.write({"event": "stats", "presenters": [p.snapshot(now) for p in presenters]})
