"""A guest shares from Chromium at `<cloud>/join`, checked the way a person would check it.

Real parts throughout: `montage-cloud dev` (REST API, Prosody, coturn, the
guest bridge), a receiver enrolled to it as its own program with its window
on an Xvfb display, the screen workload on another display, and Debian's
Chromium on that one, driven by Playwright. Chromium trusts the dev CA
through its NSS database; its picker is answered by
`--auto-select-desktop-capture-source`; its camera and microphone are its
own fake devices. A share passes only when a screenshot of the room's
display shows the workload's strip with a recent stamp.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from bench.browser import chromium, trust_ca
from bench.xvfb import Xvfb, workload_on
from tests.browser.harness import (
    RoomReceiver,
    allow_guests,
    open_join_page,
    room_receiver,
    share_as,
    status_seq,
    wait_for_news,
    wait_for_state,
)
from tests.dev_cloud import dev_cloud
from tests.screens import recent_stamps, until
from tests.test_cloud_share import Cloud, cloud_from

pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.timeout(300)]
PIN = "4826"


@pytest.fixture(scope="module")
def cloud_ready(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cloud, str]]:
    with dev_cloud(tmp_path_factory.mktemp("cloud")) as (_process, ready):
        yield cloud_from(ready), ready["join"]


@pytest.fixture(scope="module")
def room_display() -> Iterator[Xvfb]:
    with Xvfb(1280, 720) as display:
        yield display


@pytest.fixture(scope="module")
def room(
    cloud_ready: tuple[Cloud, str], room_display: Xvfb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RoomReceiver]:
    """The meeting room: the receiver's window full screen on its own display."""
    cloud, _ = cloud_ready
    data = tmp_path_factory.mktemp("room")
    with room_receiver(cloud, data, pin=PIN, display=room_display) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def browser(
    cloud_ready: tuple[Cloud, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """A guest's laptop: the workload on its screen, Chromium trusting the cloud's CA."""
    cloud, _ = cloud_ready
    home = tmp_path_factory.mktemp("home")
    trust_ca(home, Path(cloud.ca))
    with (
        Xvfb(1280, 720) as screen,
        workload_on(screen, "slides"),
        chromium(screen, home, fake_devices=True) as browser,
    ):
        yield browser


@pytest.fixture
def page(browser: Browser, cloud_ready: tuple[Cloud, str]) -> Iterator[Page]:
    context = browser.new_context(no_viewport=True)
    context.grant_permissions(["camera", "microphone"])
    page = context.new_page()
    open_join_page(page, cloud_ready[1])
    try:
        yield page
    finally:
        context.close()


def test_a_guest_shares_with_the_pin_and_the_room_shows_it(
    page: Page, room: RoomReceiver, room_display: Xvfb
) -> None:
    assert recent_stamps(room_display) == []  # the room shows its idle page
    share_as(page, room.meeting_id, "Grace Guest", PIN)
    _, _, sentence = wait_for_state(page, "sharing")
    assert sentence == "Sharing your screen to Guest Room."
    assert page.get_attribute("#status", "data-path") == "direct"
    assert page.is_visible("#stop") and not page.is_visible("#share")

    grace = until(
        lambda: (p := room.presenter("Grace Guest")) is not None and p["frames"] > 10 and p,
        20,
        "frames from the browser at the receiver",
    )
    assert grace["guest"] is True
    assert (grace["width"], grace["height"]) == (1280, 720)
    # What a person in the room sees: the guest's screen, live.
    stamps = until(lambda: recent_stamps(room_display), 20, "the strip on the room's display")
    assert len(stamps) == 1

    page.click("#stop")
    assert wait_for_state(page, "stopped")[2] == "You stopped sharing."
    left = until(lambda: room.left("Grace Guest"), 10, "the receiver to drop the guest")
    assert left["reason"] == "presenter left (stopped)"
    until(lambda: recent_stamps(room_display) == [], 10, "the room's idle page again")


def test_camera_and_microphone_reach_the_room(page: Page, room: RoomReceiver) -> None:
    page.click("#camera")  # before sharing: turned on once the share starts
    share_as(page, room.meeting_id, "Cam Guest", PIN)
    wait_for_state(page, "sharing")
    page.click("#microphone")
    page.wait_for_selector("#camera[aria-pressed=true]", timeout=10_000)
    page.wait_for_selector("#microphone[aria-pressed=true]", timeout=10_000)
    live = until(
        lambda: (
            (p := room.presenter("Cam Guest")) is not None
            and p["camera_frames"] > 10
            and p["audio_frames"] > 25
            and p["audio_rms"] > 0.001
            and p
        ),
        20,
        "camera frames and sound at the receiver",
    )
    assert live["camera"] and live["microphone"]
    assert live["camera_width"] > 0 and live["frames"] > 0
    page.click("#camera")
    page.click("#microphone")
    quiet = until(
        lambda: (
            (p := room.presenter("Cam Guest")) is not None
            and not p["camera"]
            and not p["microphone"]
            and p
        ),
        10,
        "the receiver told the camera and microphone are off",
    )
    assert quiet["audio_rms"] == 0
    page.click("#stop")
    until(lambda: room.left("Cam Guest"), 10, "the guest gone")


def test_closing_the_tab_frees_the_tile_within_5_s(
    page: Page, room: RoomReceiver, room_display: Xvfb
) -> None:
    share_as(page, room.meeting_id, "Tab Closer", PIN)
    wait_for_state(page, "sharing")
    until(lambda: recent_stamps(room_display), 20, "the strip on the room's display")
    closed = time.monotonic()
    page.close()
    until(lambda: room.left("Tab Closer"), 5, "the tile freed after the tab closed")
    freed = time.monotonic() - closed
    until(lambda: recent_stamps(room_display) == [], 5 - freed, "the room's idle page")


def test_guests_are_refused_when_the_organisation_disallows_them(
    page: Page, room: RoomReceiver, cloud_ready: tuple[Cloud, str]
) -> None:
    cloud, _ = cloud_ready
    allow_guests(cloud, False)
    try:
        share_as(page, room.meeting_id, "Uninvited", pin=None)
        _, error, sentence = wait_for_state(page, "failed")
        assert error == "guests_not_allowed"
        assert sentence.startswith("This organisation does not let guests share to its rooms.")
        assert not page.is_visible("#pin")
        assert room.presenter("Uninvited") is None
    finally:
        allow_guests(cloud, True)


def test_sentences_for_what_a_person_can_get_wrong(page: Page, room: RoomReceiver) -> None:
    share_as(page, "999999", "Typo", pin=None)
    _, error, sentence = wait_for_state(page, "failed")
    assert (error, sentence) == (
        "no_meeting",
        "There is no meeting 999999. Check the ID shown on the meeting-room display.",
    )
    page.fill("#meeting-id", "033 839 8987")
    page.click("#share")
    _, error, sentence = wait_for_state(page, "failed")
    assert error == "local_id" and "10-digit local meeting ID" in sentence
    page.fill("#meeting-id", room.meeting_id)
    page.fill("#name", "")
    page.click("#share")
    assert wait_for_state(page, "failed")[2] == (
        "Type your name: the room shows it beside your screen."
    )


def test_the_picker_cancelled_and_an_unsupported_browser(
    browser: Browser, cloud_ready: tuple[Cloud, str], room: RoomReceiver
) -> None:
    context = browser.new_context(no_viewport=True)
    try:
        # The person closes Chromium's picker: the page hears what the browser says then.
        cancelling = context.new_page()
        cancelling.add_init_script(
            "MediaDevices.prototype.getDisplayMedia = () =>"
            " Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
        )
        open_join_page(cancelling, cloud_ready[1])
        share_as(cancelling, room.meeting_id, "Undecided", PIN)
        _, error, sentence = wait_for_state(cancelling, "failed")
        assert error == "picker_cancelled"
        assert sentence.startswith("You closed the picker without choosing")
        # A browser without screen sharing (as on most phones) is told so at once.
        old = context.new_page()
        old.add_init_script("delete MediaDevices.prototype.getDisplayMedia;")
        old.goto(cloud_ready[1])
        _, _, sentence = wait_for_state(old, "unsupported")
        assert sentence.startswith("This browser cannot share a screen from a web page.")
        assert old.is_disabled("#share")
    finally:
        context.close()


def test_a_wrong_pin_says_so_and_the_lockout_holds(
    page: Page, cloud_ready: tuple[Cloud, str], tmp_path: Path
) -> None:
    cloud, _ = cloud_ready
    # A room of its own: locking guests out of the shared one would spoil the others.
    with room_receiver(cloud, tmp_path / "lockout-room", pin="1357", name="Locked Room") as room:
        seq = status_seq(page)
        share_as(page, room.meeting_id, "Guesser", "0000")
        for tries in (4, 3, 2, 1):
            _, error, sentence = wait_for_news(page, seq)
            assert error == "wrong_pin"
            tries_text = f"{tries} {'try' if tries == 1 else 'tries'}"
            assert sentence == (
                f"Wrong PIN. {tries_text} left before guests are locked out of this room"
                " for a while."
            )
            assert page.input_value("#pin") == ""  # cleared for the next try
            seq = status_seq(page)
            page.fill("#pin", f"000{5 - tries}")
            page.click("#share")
        _, error, sentence = wait_for_news(page, seq)
        assert error == "locked_out"
        assert sentence.startswith("Too many wrong PINs were typed by guests of this room.")
        rejected = [e for e in room.events if e["event"] == "pin_rejected"]
        assert [e["source"] for e in rejected] == ["guests"] * 5
        # The right PIN, from a fresh start, is still refused while the lock holds.
        seq = status_seq(page)
        page.fill("#pin", "1357")
        page.click("#share")
        _, error, later = wait_for_news(page, seq)
        assert error == "locked_out" and "Try again in" in later
        assert room.presenter("Guesser") is None
