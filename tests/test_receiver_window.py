"""The meeting-room display: idle screen, grid, frames, stopping."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from montage_receiver.presenter import Presenter, frame_mean_square
from montage_receiver.ui import window as window_module
from montage_receiver.ui.window import ReceiverWindow, fit_size, grid_rects, tile_layout

GREEN = (30, 200, 90)
MAGENTA = (210, 40, 190)


def make_frame(colour: tuple[int, int, int], width: int = 640, height: int = 360) -> Any:
    array = np.empty((height, width, 3), np.uint8)
    array[:] = colour
    return av.VideoFrame.from_ndarray(array, format="rgb24")


def make_presenter(pid: int, name: str, colour: tuple[int, int, int] | None = None) -> Presenter:
    presenter = Presenter(pid, name, "local")
    if colour is not None:
        give_frame(presenter, make_frame(colour))
    return presenter


def give_frame(presenter: Presenter, frame: Any) -> None:
    # What Presenter.consume does for each decoded frame.
    presenter.latest = frame
    presenter.seq += 1
    presenter.frames += 1
    presenter.width, presenter.height = frame.width, frame.height


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[ReceiverWindow]:
    win = ReceiverWindow("Boardroom 3", "123 456 7890", "1234")
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def colour_near(image: QImage, point: QPoint, colour: tuple[int, int, int], tol: int = 6) -> bool:
    pixel = image.pixelColor(point)
    got = (pixel.red(), pixel.green(), pixel.blue())
    return all(abs(a - b) <= tol for a, b in zip(got, colour, strict=True))


def tile_rects(window: ReceiverWindow) -> list[QRect]:
    return [tile.geometry() for tile in window.tiles]


# -- idle ------------------------------------------------------------------------


def test_idle_screen_shows_room_id_and_pin(window: ReceiverWindow) -> None:
    idle = window.idle_page
    assert idle.isVisible()
    assert idle.room_label.text() == "Boardroom 3"
    assert idle.id_label.text() == "123 456 7890"
    assert idle.pin_label is not None and idle.pin_label.text() == "1234"
    assert "enter this meeting ID" in idle.hint_label.text()
    # Readable across a room: the ID is the biggest thing, scaled to the window.
    assert idle.id_label.font().pixelSize() >= 0.1 * window.height()
    assert idle.id_label.font().pixelSize() > idle.room_label.font().pixelSize()


def test_a_new_meeting_id_replaces_the_shown_one(window: ReceiverWindow) -> None:
    # A cloud receiver whose 6-digit meeting ended shows its local ID instead.
    window.set_meeting_id("033 839 8987")
    assert window.idle_page.id_label.text() == "033 839 8987"
    assert window.join_text() == "Meeting ID 033 839 8987 · PIN 1234"
    assert window.idle_page.id_label.font().pixelSize() >= 0.1 * window.height()


def test_idle_screen_without_pin_has_no_pin_line(qtbot: QtBot) -> None:
    win = ReceiverWindow("Huddle", "987 654 3210", None)
    qtbot.addWidget(win)
    win.resize(800, 450)
    win.show()
    texts = [label.text() for label in win.idle_page.findChildren(type(win.idle_page.id_label))]
    assert "987 654 3210" in texts
    assert "PIN" not in texts
    assert win.idle_page.pin_label is None
    assert "PIN" not in win.join_text()
    win.shutdown()


def test_id_font_shrinks_to_fit_a_narrow_window(qtbot: QtBot) -> None:
    win = ReceiverWindow("Huddle", "987 654 3210", "0000")
    qtbot.addWidget(win)
    win.resize(400, 800)
    win.show()
    label = win.idle_page.id_label
    assert label.fontMetrics().horizontalAdvance(label.text()) <= win.width()
    win.shutdown()


# -- grid ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_grid_geometry(window: ReceiverWindow, qtbot: QtBot, count: int) -> None:
    for pid in range(1, count + 1):
        window.add_presenter(make_presenter(pid, f"P{pid}"))
    qtbot.wait(1)
    assert window.sharing_page.isVisible()
    assert window.join_card.isVisible()
    assert window.join_card.text().endswith("Meeting ID 123 456 7890 · PIN 1234")

    # The tiles share the whole window: no banner takes a strip off the top.
    area = window.grid.rect()
    assert area == window.rect()
    rects = tile_rects(window)
    assert len(rects) == count
    for i, a in enumerate(rects):
        assert area.contains(a), (a, area)
        for b in rects[i + 1 :]:
            assert not a.intersects(b), (a, b)
    covered = sum(r.width() * r.height() for r in rects)
    cell = (area.width() * area.height()) / (1 if count == 1 else 2 if count == 2 else 4)
    assert covered == pytest.approx(cell * count, rel=0.01)

    if count == 1:
        assert rects[0] == area
    elif count == 2:
        left, right = rects
        assert left.height() == right.height() == area.height()
        assert left.right() + 1 == right.left()
        assert left.width() == pytest.approx(area.width() / 2, abs=1)
    else:
        top_row = [r for r in rects if r.top() == area.top()]
        assert len(top_row) == 2
        assert all(r.height() == pytest.approx(area.height() / 2, abs=1) for r in rects)
        assert all(r.width() == pytest.approx(area.width() / 2, abs=1) for r in rects)


def test_grid_rects_share_edges() -> None:
    area = QRect(0, 40, 1921, 1041)
    for count in range(1, 7):
        rects = grid_rects(count, area)
        for i, a in enumerate(rects):
            assert area.contains(a)
            assert all(not a.intersects(b) for b in rects[i + 1 :])
    one, two = grid_rects(2, area)
    assert one.width() + two.width() == area.width()


def test_fit_size_keeps_aspect_and_is_even() -> None:
    assert fit_size(1920, 1080, 960, 1000) == (960, 540)
    assert fit_size(1920, 1200, 961, 541) == (864, 540)
    w, h = fit_size(1000, 1, 3, 3)
    assert (w, h) == (2, 2)
    assert all(v % 2 == 0 for v in fit_size(1366, 768, 777, 555))


def test_last_presenter_leaving_returns_to_idle(window: ReceiverWindow) -> None:
    window.add_presenter(make_presenter(1, "Alice"))
    window.add_presenter(make_presenter(2, "Bob"))
    window.remove_presenter(1)
    assert window.presenter_ids() == [2]
    assert window.sharing_page.isVisible()
    window.remove_presenter(2)
    assert window.presenter_ids() == []
    assert window.idle_page.isVisible()
    assert not window.sharing_page.isVisible()
    window.remove_presenter(99)  # unknown ids are ignored


# -- frames ----------------------------------------------------------------------


def test_frame_is_painted_in_its_tile(window: ReceiverWindow, qtbot: QtBot) -> None:
    window.add_presenter(make_presenter(1, "Alice", GREEN))
    window.add_presenter(make_presenter(2, "Bob", MAGENTA))
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0 and window.frames_painted(2) > 0)

    image = window.grab().toImage()
    left, right = tile_rects(window)
    offset = window.grid.pos()
    assert colour_near(image, left.center() + offset, GREEN)
    assert colour_near(image, right.center() + offset, MAGENTA)


def test_yuv_frame_is_painted(window: ReceiverWindow, qtbot: QtBot) -> None:
    presenter = make_presenter(1, "Alice")
    give_frame(presenter, make_frame(GREEN, 1280, 720).reformat(format="yuv420p"))
    window.add_presenter(presenter)
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
    image = window.grab().toImage()
    centre = tile_rects(window)[0].center() + window.grid.pos()
    assert colour_near(image, centre, GREEN, tol=12)


def test_letterbox_is_black(window: ReceiverWindow, qtbot: QtBot) -> None:
    presenter = make_presenter(1, "Alice")
    give_frame(presenter, make_frame(GREEN, 400, 400))  # square in a wide tile
    window.add_presenter(presenter)
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
    image = window.grab().toImage()
    tile = tile_rects(window)[0].translated(window.grid.pos())
    assert colour_near(image, QPoint(tile.left() + 20, tile.center().y()), (0, 0, 0))
    assert colour_near(image, tile.center(), GREEN)


def test_new_frames_are_painted(window: ReceiverWindow, qtbot: QtBot) -> None:
    presenter = make_presenter(1, "Alice", GREEN)
    window.add_presenter(presenter)
    qtbot.waitUntil(lambda: window.frames_painted(1) == 1)
    for n in range(2, 5):
        give_frame(presenter, make_frame(MAGENTA if n % 2 else GREEN))
        qtbot.waitUntil(lambda n=n: window.frames_painted(1) == n)  # type: ignore[misc]
    image = window.grab().toImage()
    centre = tile_rects(window)[0].center() + window.grid.pos()
    assert colour_near(image, centre, GREEN)
    # Nothing new arrived: the count stays put however often it repaints.
    window.repaint()
    qtbot.wait(50)
    assert window.frames_painted(1) == 4
    # The stats count what reached the wall, beside what was decoded.
    assert presenter.frames_painted == 4
    assert presenter.snapshot(time.monotonic())["painted_fps"] > 0


def test_frames_arriving_during_a_conversion_are_skipped(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    presenter = make_presenter(1, "Alice", GREEN)
    window.add_presenter(presenter)
    # A burst of frames between two ticks: only the newest is converted.
    for _ in range(50):
        give_frame(presenter, make_frame(MAGENTA))
    qtbot.waitUntil(lambda: window.tiles[0].screen_picture.image_seq == presenter.seq)
    qtbot.wait(50)
    assert window.frames_painted(1) <= 2


def test_paused_overlay(window: ReceiverWindow, qtbot: QtBot) -> None:
    presenter = make_presenter(1, "Alice", GREEN)
    window.add_presenter(presenter)
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
    tile = tile_rects(window)[0].translated(window.grid.pos())
    probe = QPoint(tile.center().x(), tile.top() + tile.height() // 4)
    assert colour_near(window.grab().toImage(), probe, GREEN)

    presenter.share_state = "paused"
    window.update_presenter(presenter)
    image = window.grab().toImage()
    pixel = image.pixelColor(probe)
    # Dimmed under the overlay, and the word is there.
    assert pixel.green() < GREEN[1] * 0.6
    assert not colour_near(image, probe, GREEN)
    text_area = image.copy(tile.adjusted(0, tile.height() // 3, 0, -tile.height() // 3))
    bright = sum(
        1
        for y in range(0, text_area.height(), 2)
        for x in range(0, text_area.width(), 2)
        if text_area.pixelColor(x, y).lightness() > 200
    )
    assert bright > 50

    presenter.share_state = "sharing"
    window.update_presenter(presenter)
    assert colour_near(window.grab().toImage(), probe, GREEN)


def test_a_presenter_who_is_reconnecting_keeps_the_last_picture_marked(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    presenter = make_presenter(1, "Alice", GREEN)
    window.add_presenter(presenter)
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
    tile = tile_rects(window)[0].translated(window.grid.pos())
    probe = QPoint(tile.center().x(), tile.top() + tile.height() // 4)

    presenter.reconnecting = True
    window.update_presenter(presenter)
    image = window.grab().toImage()
    # The picture is still there, dimmed (not a black tile, not "Waiting for…").
    pixel = image.pixelColor(probe)
    assert 0 < pixel.green() < GREEN[1] * 0.6 and pixel.green() > pixel.red() + 10
    text_area = image.copy(tile.adjusted(0, tile.height() // 3, 0, -tile.height() // 3))
    bright = sum(
        1
        for y in range(0, text_area.height(), 2)
        for x in range(0, text_area.width(), 2)
        if text_area.pixelColor(x, y).lightness() > 200
    )
    # "Reconnecting…" is a longer word than "Paused": more of it is lit.
    assert bright > 80

    presenter.reconnecting = False
    window.update_presenter(presenter)
    assert colour_near(window.grab().toImage(), probe, GREEN)


def test_grid_captions_show_the_name_under_the_picture(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    window.add_presenter(make_presenter(1, "Alice", GREEN))
    window.add_presenter(make_presenter(2, "Bob", MAGENTA))
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
    tile = window.tiles[0]
    picture, caption = tile.layout_rects()
    assert caption is not None and not caption.intersects(picture)
    assert caption.top() == picture.bottom() + 1  # right under the picture
    image = tile.grab().toImage()
    # White text on the dark caption, left of the buttons.
    text = image.copy(QRect(caption.x(), caption.y(), caption.width() // 3, caption.height()))
    assert any(
        text.pixelColor(x, y).lightness() > 200
        for y in range(text.height())
        for x in range(text.width())
    )


# -- nothing covers a picture ---------------------------------------------------


@pytest.mark.parametrize("tile", [(1920, 1080), (960, 540), (640, 1080), (1280, 720), (301, 99)])
@pytest.mark.parametrize("frame", [(1920, 1080), (1280, 1024), (1080, 1920), (902, 508), None])
@pytest.mark.parametrize("reserve", [False, True])
def test_tile_layout_keeps_the_caption_off_the_picture(
    tile: tuple[int, int], frame: tuple[int, int] | None, reserve: bool
) -> None:
    picture, caption = tile_layout(tile[0], tile[1], frame, 40, reserve)
    whole = QRect(0, 0, *tile)
    assert whole.contains(picture)
    if reserve:
        assert caption is not None
    if caption is not None:
        assert whole.contains(caption) and not caption.intersects(picture)
    if frame is not None:
        # The frame's aspect, within rounding to even sides.
        assert (
            abs(picture.width() / picture.height() - frame[0] / frame[1]) < 0.03
            or min(picture.width(), picture.height()) < 20
        )
        # As large as the box allows: it touches two opposite sides of it.
        box_h = tile[1] - (40 if reserve else 0)
        assert tile[0] - picture.width() <= 2 or box_h - picture.height() <= 2


def test_tile_layout_shows_a_same_size_frame_one_to_one() -> None:
    picture, caption = tile_layout(1920, 1080, (1920, 1080), 43, reserve=False)
    assert picture == QRect(0, 0, 1920, 1080) and caption is None
    # A 4:3 screen on a 16:9 wall: the name goes into the band under it? No
    # band under a full-height picture; bands are at the sides.
    picture, caption = tile_layout(1920, 1080, (1440, 1080), 43, reserve=False)
    assert picture == QRect(240, 0, 1440, 1080) and caption is None
    # A wide screen leaves a band below: the caption goes there.
    picture, caption = tile_layout(1920, 1080, (1920, 800), 43, reserve=False)
    assert caption is not None and caption.top() == picture.bottom() + 1


def pattern_frame(width: int, height: int) -> Any:
    """Fine detail (a checkerboard of 1-px cells in colour): any scaling would blur it."""
    yy, xx = np.mgrid[0:height, 0:width]
    array = np.zeros((height, width, 3), np.uint8)
    array[..., 0] = ((xx + yy) % 2) * 200 + 20
    array[..., 1] = (xx * 255 // max(1, width - 1)).astype(np.uint8)
    array[..., 2] = (yy * 255 // max(1, height - 1)).astype(np.uint8)
    return av.VideoFrame.from_ndarray(array, format="rgb24").reformat(format="yuv420p")


def qimage_rgb(image: QImage) -> np.ndarray[Any, np.dtype[np.uint8]]:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8)  # type: ignore[call-overload]
    rows = data.reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_lone_presenter_of_the_window_size_is_shown_pixel_for_pixel(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    frame = pattern_frame(window.width(), window.height())
    presenter = make_presenter(1, "Alice")
    give_frame(presenter, frame)
    window.add_presenter(presenter)
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
    tile = window.tiles[0]
    assert tile.geometry() == window.rect()
    assert tile.picture_rect() == window.rect()
    # The join details float for a while; the picture itself is exact.
    window.join_card.hide()
    shown = qimage_rgb(window.grab().toImage())
    expected = frame.to_ndarray(format="rgb24")
    assert shown.shape == expected.shape
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 2
    # Nothing else on the picture: no Stop button while nobody moves the pointer.
    assert not tile.stop_button.isVisible() and not tile.mute_button.isVisible()


def test_a_whole_number_enlargement_repeats_each_pixel(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    # A 1080p screen on a 4K wall, at a test's scale: converted at its own
    # size, enlarged by the paint without smoothing.
    frame = pattern_frame(window.width() // 2, window.height() // 2)
    presenter = make_presenter(1, "Alice")
    give_frame(presenter, frame)
    window.add_presenter(presenter)
    qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
    tile = window.tiles[0]
    image = tile.screen_picture.image
    assert image is not None and (image.width(), image.height()) == (frame.width, frame.height)
    window.join_card.hide()
    shown = qimage_rgb(window.grab().toImage())
    expected = frame.to_ndarray(format="rgb24").repeat(2, axis=0).repeat(2, axis=1)
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 2


def test_join_card_floats_over_a_full_screen_picture_then_fades(
    window: ReceiverWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_module, "JOIN_CARD_SECONDS", 0.2)
    monkeypatch.setattr(window_module, "FADE_MS", 100)
    window.add_presenter(make_presenter(1, "Alice", GREEN))
    card = window.join_card
    assert card.isVisible() and card.floating
    assert "Alice" in card.text() and "Meeting ID 123 456 7890 · PIN 1234" in card.text()
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=3000)

    # Someone else joins: two side by side leave free bands; the card sits in one for good.
    window.add_presenter(make_presenter(2, "Bob", MAGENTA))
    assert card.isVisible() and not card.floating
    assert card.text() == "Meeting ID 123 456 7890 · PIN 1234"
    assert not any(card.geometry().intersects(rect) for rect in window.grid.occupied())
    qtbot.wait(500)
    assert card.isVisible()

    # Four: no free band, so it floats again after the join, then fades.
    window.add_presenter(make_presenter(3, "Cy", GREEN))
    window.add_presenter(make_presenter(4, "Di", GREEN))
    assert card.isVisible() and card.floating
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=3000)


def test_four_tiles_keep_names_and_buttons_off_every_picture(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    for pid in range(1, 5):
        window.add_presenter(make_presenter(pid, f"P{pid}", GREEN))
    qtbot.waitUntil(lambda: all(window.frames_painted(pid) > 0 for pid in range(1, 5)))
    pictures = [t.picture_rect().translated(t.pos()) for t in window.tiles]
    for tile in window.tiles:
        caption = tile.caption_rect()
        assert caption is not None
        assert tile.stop_button.isVisible()
        for button in (tile.stop_button, tile.mute_button):
            placed = button.geometry().translated(tile.pos())
            assert caption.translated(tile.pos()).contains(placed)
        for picture in pictures:
            assert not caption.translated(tile.pos()).intersects(picture)
            assert not tile.stop_button.geometry().translated(tile.pos()).intersects(picture)
        # Every picture is all green: nothing drawn over it.
        image = window.grab(tile.geometry()).toImage()
        picture = tile.picture_rect()
        for point in (picture.topLeft(), picture.bottomRight(), picture.center()):
            assert colour_near(image, point, GREEN), point


def test_pointer_brings_a_lone_presenters_controls_beside_the_picture(
    window: ReceiverWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_module, "CONTROLS_SECONDS", 0.3)
    window.add_presenter(make_presenter(1, "Alice", GREEN))
    tile = window.tiles[0]
    assert tile.picture_rect() == tile.rect() and not tile.stop_button.isVisible()
    qtbot.mouseMove(tile, tile.rect().center())
    qtbot.mouseMove(tile, tile.rect().center() + QPoint(5, 5))
    qtbot.waitUntil(lambda: tile.stop_button.isVisible(), timeout=2000)
    # The picture made room: the button is under it, not on it.
    assert not tile.stop_button.geometry().intersects(tile.picture_rect())
    # Clicking it still works.
    with qtbot.waitSignal(window.stop_requested, timeout=1000) as blocker:
        qtbot.mouseClick(tile.stop_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [1]
    qtbot.mouseMove(tile, QPoint(5, 5))  # off the button, then rest
    qtbot.waitUntil(lambda: not tile.stop_button.isVisible(), timeout=3000)
    assert tile.picture_rect() == tile.rect()


def test_each_presenter_is_told_the_box_it_is_shown_in(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    views: dict[int, tuple[int, int]] = {}
    window.view_changed.connect(lambda pid, w, h: views.__setitem__(pid, (w, h)))
    ratio = window.devicePixelRatioF()
    full = (round(window.width() * ratio), round(window.height() * ratio))
    window.add_presenter(make_presenter(1, "Alice", GREEN))
    qtbot.waitUntil(lambda: views.get(1) == full)
    window.add_presenter(make_presenter(2, "Bob", GREEN))
    caption = window.tiles[0].caption_height
    half = (round(window.width() / 2 * ratio), round((window.height() - caption) * ratio))
    qtbot.waitUntil(lambda: views.get(1) == half and views.get(2) == half)
    # Bob leaves: Alice is alone again and gets the whole wall back.
    window.remove_presenter(2)
    qtbot.waitUntil(lambda: views.get(1) == full)


# -- camera and microphone -------------------------------------------------------


def give_camera_frame(presenter: Presenter, frame: Any) -> None:
    # What Presenter.consume_camera does for each decoded camera frame.
    presenter.camera_latest = frame
    presenter.camera_seq += 1
    presenter.camera_frames += 1


def red_share(image: QImage, rect: QRect) -> float:
    hits = total = 0
    for y in range(rect.top() + 2, rect.bottom() - 2, 4):
        for x in range(rect.left() + 2, rect.right() - 2, 4):
            total += 1
            hits += colour_near(image, QPoint(x, y), MAGENTA, tol=12)
    return hits / max(1, total)


def test_camera_is_an_inset_that_goes_when_switched_off(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    presenter = make_presenter(1, "Alice", GREEN)
    presenter.set_media_state(camera=True, microphone=False)
    give_camera_frame(presenter, make_frame(MAGENTA, 320, 240))
    window.add_presenter(presenter)
    tile = window.tiles[0]
    qtbot.waitUntil(lambda: tile.camera_frames_painted > 0 and window.frames_painted(1) > 0)
    inset = tile.camera_rect()
    assert inset is not None
    # The picture's bottom-right corner, a quarter of its width, the camera's aspect.
    picture = tile.picture_rect()
    assert picture.contains(inset)
    assert inset.right() > picture.right() - picture.width() * 0.05
    assert inset.bottom() > picture.bottom() - picture.height() * 0.05
    assert abs(inset.width() - picture.width() * 0.26) <= 2
    assert abs(inset.width() / inset.height() - 320 / 240) < 0.05
    image = tile.grab().toImage()
    assert red_share(image, inset) > 0.95
    assert colour_near(image, tile.rect().center(), GREEN)  # the screen around it

    presenter.set_media_state(camera=False, microphone=False)
    window.update_presenter(presenter)
    assert tile.camera_rect() is None
    image = tile.grab().toImage()
    assert red_share(image, inset) == 0


def test_muted_mark_and_mute_button(window: ReceiverWindow, qtbot: QtBot) -> None:
    presenter = make_presenter(4, "Alice", GREEN)
    window.add_presenter(presenter)
    window.add_presenter(make_presenter(5, "Bob", GREEN))  # a grid: captions under pictures
    tile = window.tiles[0]
    # No microphone: the mark shows, and there is nothing to mute.
    assert tile.shows_muted_mark and not tile.mute_button.isVisible()
    caption = tile.caption_rect()
    assert caption is not None
    # The mark sits just left of the buttons.
    mark_area = QRect(
        tile.stop_button.x() - caption.height() * 3,
        caption.y(),
        caption.height() * 3,
        caption.height(),
    )
    marked = tile.grab().toImage().copy(mark_area)

    presenter.set_media_state(camera=False, microphone=True)
    window.update_presenter(presenter)
    assert not tile.shows_muted_mark
    assert tile.mute_button.isVisible() and tile.mute_button.text() == "Mute"
    assert caption.contains(tile.mute_button.geometry())
    clean = tile.grab().toImage().copy(mark_area)

    # The red stroke of the mark is in the first picture only.
    def reds(image: QImage) -> int:
        return sum(
            1
            for y in range(image.height())
            for x in range(image.width())
            if image.pixelColor(x, y).red() > 180 and image.pixelColor(x, y).green() < 120
        )

    assert reds(marked) > 5 and reds(clean) == 0

    with qtbot.waitSignal(window.mute_requested, timeout=1000) as blocker:
        qtbot.mouseClick(tile.mute_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [4, True]
    presenter.muted_by_room = True
    window.update_presenter(presenter)
    assert tile.shows_muted_mark and tile.mute_button.text() == "Unmute"
    with qtbot.waitSignal(window.mute_requested, timeout=1000) as blocker:
        qtbot.mouseClick(tile.mute_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [4, False]


def test_audio_level_and_stats_fields() -> None:
    presenter = Presenter(1, "Alice", "local")
    tone = (np.sin(np.arange(960) * 2 * np.pi * 1000 / 48000) * 16384).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(
        np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo"
    )
    for _ in range(5):
        presenter.audio_levels.append(frame_mean_square(frame))
    assert abs(presenter.audio_rms - 0.5 / np.sqrt(2)) < 0.01  # a half-scale sine
    snapshot = presenter.snapshot(0.0)
    # Scripts read the old fields; the new ones come beside them.
    for key in ("id", "name", "frames", "fps", "width", "height", "state", "first_frame_ms"):
        assert key in snapshot
    assert snapshot["audio_rms"] == round(presenter.audio_rms, 4)
    assert snapshot["camera"] is False and snapshot["camera_frames"] == 0
    # Nothing paints a headless receiver's presenters: not known, rather than 0.
    assert snapshot["painted_fps"] is None and snapshot["frames_painted"] is None


# -- stopping --------------------------------------------------------------------


def test_stop_button_emits_presenter_id(window: ReceiverWindow, qtbot: QtBot) -> None:
    window.add_presenter(make_presenter(7, "Alice"))
    window.add_presenter(make_presenter(9, "Bob"))
    button = window.tiles[1].stop_button
    assert button.isVisible()
    assert button.text() == "Stop sharing"
    assert "Bob" in button.toolTip() and "Ctrl+2" in button.toolTip()
    with qtbot.waitSignal(window.stop_requested, timeout=1000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == [9]
    # The window only asks; the owner removes the presenter.
    assert window.presenter_ids() == [7, 9]


def test_ctrl_number_stops_tile_in_grid_order(window: ReceiverWindow, qtbot: QtBot) -> None:
    for pid, name in [(11, "A"), (12, "B"), (13, "C")]:
        window.add_presenter(make_presenter(pid, name))
    window.activateWindow()
    qtbot.waitActive(window)
    with qtbot.waitSignal(window.stop_requested, timeout=1000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [12]
    with qtbot.waitSignal(window.stop_requested, timeout=1000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [13]
    # No tile 4: nothing to stop.
    with qtbot.assertNotEmitted(window.stop_requested):
        qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)


def test_add_existing_presenter_updates_it(window: ReceiverWindow) -> None:
    window.add_presenter(make_presenter(1, "Alice"))
    renamed = make_presenter(1, "Alice B")
    window.add_presenter(renamed)
    assert window.presenter_ids() == [1]
    assert window.tiles[0].presenter is renamed


def test_shutdown_is_idempotent(window: ReceiverWindow) -> None:
    window.add_presenter(make_presenter(1, "Alice", GREEN))
    window.shutdown()
    window.shutdown()
    assert not window._timer.isActive()


def test_widgets_do_not_import_networking() -> None:
    code = (
        "import sys\n"
        "import montage_receiver.ui.window, montage_receiver.ui.audio_output,"
        " montage_client.ui.join_window, montage_client.ui.sharing_bar,"
        " montage_client.ui.media_controls\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('aiortc', 'aiohttp'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
