"""'Rooms near you' in the client's window: the rooms heard nearby are listed, one click fills
in the ID, and the join goes to the port the room announced."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from montage_core.protocol.discovery import RoomAnnouncement
from montage_receiver.meeting import Meeting
from tests.test_client_gui import PIN, Person, drive, until


def test_one_click_on_a_room_nearby_fills_in_its_id_and_joins_it(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(meeting: Meeting, person: Person) -> None:
        join = person.join
        assert not join.nearby_list.isVisible()  # nothing heard yet: no empty box
        person.controller.port = 1  # what the person set: not where this room listens
        here = RoomAnnouncement(
            "GUI Room", True, str(meeting.meeting_id), "127.0.0.1", meeting.port
        )
        person.controller.show_nearby([here, RoomAnnouncement("Quiet Room", False, None, "", 443)])
        assert join.nearby_list.isVisible()
        lines = [join.nearby_list.item(i).text() for i in range(join.nearby_list.count())]
        assert lines == [
            f"GUI Room — {meeting.meeting_id.display()}",
            "Quiet Room — type the ID on its screen",
        ]

        def click(row: int) -> None:
            rect = join.nearby_list.visualItemRect(join.nearby_list.item(row))
            QTest.mouseClick(
                join.nearby_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
            )

        click(1)
        assert "type the one on its screen" in join.status_label.text()
        assert join.meeting_edit.text() == ""
        click(0)
        assert join.meeting_edit.text() == meeting.meeting_id.display()
        QTest.keyClicks(join.name_edit, "Ada")
        QTest.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
        await until(lambda: join.asking_pin, "the PIN prompt")
        person.type_pin(PIN)
        await until(lambda: person.bar.isVisible(), "the sharing bar")
        (presenter,) = meeting.service.presenters
        await until(lambda: presenter.frames > 3, "frames at the receiver")
        QTest.mouseClick(person.bar.stop_button, Qt.MouseButton.LeftButton)
        await until(lambda: join.isVisible(), "the join window again")

    drive(qapp, tmp_path, monkeypatch, scenario)
