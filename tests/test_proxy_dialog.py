"""The network page: the proxy dialog on its own, then through the controller.

The controller tests run the real "Test connection" (netcheck through
`ProxyResolver`) against real refusals on loopback: a port where nothing
listens, and a few lines of asyncio acting as an HTTP proxy that answers 407.
The keyring is the in-memory one; the settings file is read back from disk.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
import pytest
import qasync
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from montage_client.ui.proxy_dialog import (
    PASSWORD_GOES_TO_KEYRING,
    PASSWORD_STORED,
    ProxyDialog,
)
from montage_core.cloud.account import ACCOUNT_FILE, CloudAccount
from montage_core.net import PASSWORD_ENV, ProxyMode, ProxySettings
from tests.memory_keyring import MemoryKeyring
from tests.test_client_gui import Person, until

# The offscreen platform cannot resize or raise windows; on a real desktop these
# calls work, so its complaints about them are not bugs in the widgets.
pytestmark = [
    pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)\(\)"),
    pytest.mark.timeout(60),
]

PASSWORD = "Tr0ub4dor&3-typed"  # what a person types; it must end up in the keyring only
MANUAL_FIELDS = ("host_edit", "port_edit", "user_edit", "password_edit")


@pytest.fixture
def dialog(qtbot: QtBot) -> ProxyDialog:
    shown = ProxyDialog()
    qtbot.addWidget(shown)
    shown.show()
    qtbot.waitExposed(shown)
    return shown


def choose(dialog: ProxyDialog, mode: ProxyMode) -> None:
    button = dialog.mode_buttons[mode]
    # On the round mark: the button is as wide as the page, its label is not.
    at = QPoint(button.height() // 2, button.height() // 2)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)


def type_manual(
    dialog: ProxyDialog, mode: ProxyMode, host: str, port: str, user: str = "", password: str = ""
) -> None:
    choose(dialog, mode)
    for edit, text in zip(
        (dialog.host_edit, dialog.port_edit, dialog.user_edit, dialog.password_edit),
        (host, port, user, password),
        strict=True,
    ):
        edit.clear()
        QTest.keyClicks(edit, text)


# -- the dialog alone ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "pac", "manual"),
    [
        (ProxyMode.NONE, False, False),
        (ProxyMode.SYSTEM, False, False),
        (ProxyMode.AUTO, True, False),
        (ProxyMode.HTTP, False, True),
        (ProxyMode.SOCKS5, False, True),
    ],
)
def test_only_the_fields_of_the_chosen_mode_can_be_typed_in(
    dialog: ProxyDialog, mode: ProxyMode, pac: bool, manual: bool
) -> None:
    choose(dialog, mode)
    assert dialog.mode is mode
    assert dialog.pac_edit.isEnabled() is pac
    for name in MANUAL_FIELDS:
        assert getattr(dialog, name).isEnabled() is manual, name
    assert dialog.password_edit.echoMode() == dialog.password_edit.EchoMode.Password


@pytest.mark.parametrize(
    ("mode", "fields", "says"),
    [
        (ProxyMode.HTTP, ("", "3128"), "Enter the proxy's host name"),
        (ProxyMode.HTTP, ("proxy corp", "3128"), "a name or an address only"),
        (ProxyMode.HTTP, ("proxy.corp", ""), "a number from 1 to 65535"),
        (ProxyMode.HTTP, ("proxy.corp", "0"), "a number from 1 to 65535"),
        (ProxyMode.SOCKS5, ("proxy.corp", "65536"), "a number from 1 to 65535"),
        (ProxyMode.SOCKS5, ("proxy.corp", "1080", "", PASSWORD), "needs a user name"),
        (ProxyMode.AUTO, ("proxy.corp/proxy.pac",), "starts with http:// or https://"),
        # ProxySettings.parse's own sentence, shown as it is.
        (ProxyMode.AUTO, ("https:///proxy.pac",), "names no host"),
    ],
)
def test_invalid_input_is_explained_and_nothing_is_sent(
    dialog: ProxyDialog, qtbot: QtBot, mode: ProxyMode, fields: tuple[str, ...], says: str
) -> None:
    if mode is ProxyMode.AUTO:
        choose(dialog, mode)
        QTest.keyClicks(dialog.pac_edit, fields[0])
    else:
        type_manual(dialog, mode, *fields)
    with (
        qtbot.assertNotEmitted(dialog.test_requested),
        qtbot.assertNotEmitted(dialog.save_requested),
    ):
        QTest.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.error_label.isVisible()
    assert says in dialog.error_label.text()
    assert PASSWORD not in dialog.error_label.text()
    assert dialog.test_button.isEnabled()


def test_fixing_the_input_clears_the_sentence_and_sends(dialog: ProxyDialog, qtbot: QtBot) -> None:
    type_manual(dialog, ProxyMode.HTTP, "proxy.corp", "0", "ann", PASSWORD)
    QTest.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert dialog.error_label.isVisible()
    dialog.port_edit.clear()
    QTest.keyClicks(dialog.port_edit, "3128")
    with qtbot.waitSignal(dialog.test_requested, timeout=1000) as blocker:
        QTest.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["http://ann@proxy.corp:3128", PASSWORD]
    assert not dialog.error_label.isVisible()


@pytest.mark.parametrize(
    "spec",
    [
        "none",
        "system",
        "auto",
        "pac+https://proxy.corp/proxy.pac",
        "http://proxy.corp:3128",
        "socks5://ann@proxy.corp:1080",
        "http://CORP%5Cann@10.1.2.3:8080",  # a Windows domain user, quoted in the URL form
        "socks5://[2001:db8::1]:1080",
    ],
)
def test_a_setting_shown_is_the_setting_saved(dialog: ProxyDialog, qtbot: QtBot, spec: str) -> None:
    dialog.show_setting(spec, password_stored=False)
    assert dialog.mode is ProxySettings.parse(spec).mode
    assert dialog.password_edit.text() == ""
    with qtbot.waitSignal(dialog.save_requested, timeout=1000) as blocker:
        QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [spec, ""]


def test_a_password_typed_for_a_manual_proxy_is_not_sent_for_another_mode(
    dialog: ProxyDialog, qtbot: QtBot
) -> None:
    type_manual(dialog, ProxyMode.HTTP, "proxy.corp", "3128", "ann", PASSWORD)
    choose(dialog, ProxyMode.SYSTEM)
    with qtbot.waitSignal(dialog.save_requested, timeout=1000) as blocker:
        QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["system", ""]


def test_the_hint_says_whether_a_password_is_stored_for_the_user_shown(
    dialog: ProxyDialog,
) -> None:
    dialog.show_setting("socks5://ann@proxy.corp:1080", password_stored=True)
    assert dialog.password_hint.text() == PASSWORD_STORED
    assert dialog.password_edit.text() == ""  # never pre-filled
    QTest.keyClicks(dialog.user_edit, "2")  # another user: their password is not stored
    assert dialog.password_hint.text() == PASSWORD_GOES_TO_KEYRING
    dialog.show_setting("socks5://ann@proxy.corp:1080", password_stored=False)
    assert dialog.password_hint.text() == PASSWORD_GOES_TO_KEYRING


def test_findings_are_one_marked_line_per_step(dialog: ProxyDialog) -> None:
    dialog.set_busy(True)
    assert not dialog.test_button.isEnabled()
    assert dialog.status_label.text() == "Testing…"
    dialog.show_findings(
        [(True, "The HTTP proxy p:1 is reachable."), (False, "Nope <b>."), (None, "Not checked.")]
    )
    assert dialog.findings_text() == (
        "✓ The HTTP proxy p:1 is reachable.\n✗ Nope <b>.\n– Not checked."
    )
    assert "&lt;b&gt;" in dialog.findings_label.text()  # text, not markup
    assert dialog.test_button.isEnabled()
    assert dialog.status_label.text() == ""


# -- through the controller ----------------------------------------------------------


Scenario = Callable[[Person, ProxyDialog], Coroutine[Any, Any, None]]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "config"
    monkeypatch.setenv("MONTAGE_CONFIG_DIR", str(where))
    monkeypatch.delenv(PASSWORD_ENV, raising=False)  # the typed password is what is tested
    return where


def drive(qapp: QApplication, config: Path, scenario: Scenario) -> None:
    """The client's windows on a qasync loop; the scenario starts with the page open."""
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        person = Person(0, config)
        try:
            QTest.mouseClick(person.join.network_button, Qt.MouseButton.LeftButton)
            dialog = person.controller.network_dialog
            assert dialog is not None and dialog.isVisible()
            await scenario(person, dialog)
        finally:
            person.controller.close()
            person.join.close()
            person.bar.close()

    with loop:
        loop.run_until_complete(asyncio.wait_for(main(), 45))


def enrol_offline(config: Path) -> None:
    """An enrolment as `enrol_device` leaves it, for a cloud only a proxy could reach."""
    CloudAccount(
        url="https://cloud.montage.test",
        device_id="dev-proxy-test",
        kind="client",
        jid="dev-proxy-test@cloud.montage.test",
        xmpp_host="cloud.montage.test",
        xmpp_port=443,
    ).save(config / ACCOUNT_FILE, secret="device-secret", xmpp_password="xmpp-password")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def files_under(where: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in where.rglob("*") if p.is_file())


def click(button: Any) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.mark.usefixtures("memory_keyring")
def test_save_keeps_the_setting_in_the_file_and_the_password_in_the_keyring(
    qapp: QApplication, config: Path, memory_keyring: MemoryKeyring
) -> None:
    async def scenario(person: Person, dialog: ProxyDialog) -> None:
        assert dialog.mode_buttons[ProxyMode.SYSTEM].isChecked()  # the default
        type_manual(dialog, ProxyMode.SOCKS5, "proxy.corp", "1080", "ann", PASSWORD)
        click(dialog.save_button)
        await until(lambda: dialog.status_label.text() == "Saved.", "the save")
        saved = json.loads((config / "client.json").read_text())
        assert saved["proxy"] == "socks5://ann@proxy.corp:1080"
        assert PASSWORD not in files_under(config)
        assert memory_keyring.entries == {("montage-proxy", "ann@proxy.corp:1080"): PASSWORD}
        assert dialog.password_edit.text() == ""
        assert dialog.password_hint.text() == PASSWORD_STORED
        # What the shares and enrolments use from now on.
        assert person.controller.settings.proxy_settings() == ProxySettings(
            ProxyMode.SOCKS5, "proxy.corp", 1080, "ann"
        )
        # Opened again: the saved choice, and the keyring says a password is there.
        click(dialog.close_button)
        assert not dialog.isVisible()
        click(person.join.network_button)
        assert dialog.isVisible() and dialog.mode is ProxyMode.SOCKS5
        assert dialog.user_edit.text() == "ann" and dialog.password_edit.text() == ""
        await until(lambda: dialog.password_hint.text() == PASSWORD_STORED, "the stored hint")

    drive(qapp, config, scenario)


class RefusingKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("the keyring is locked")


@pytest.fixture
def refusing_keyring() -> Iterator[RefusingKeyring]:
    previous = keyring.get_keyring()
    ring = RefusingKeyring()
    keyring.set_keyring(ring)
    try:
        yield ring
    finally:
        keyring.set_keyring(previous)


def test_a_keyring_that_refuses_is_explained_and_the_setting_is_still_saved(
    qapp: QApplication, config: Path, refusing_keyring: RefusingKeyring
) -> None:
    async def scenario(person: Person, dialog: ProxyDialog) -> None:
        type_manual(dialog, ProxyMode.HTTP, "proxy.corp", "3128", "ann", PASSWORD)
        click(dialog.save_button)
        await until(lambda: dialog.error_label.isVisible(), "the keyring's refusal")
        assert "saved, but its password could not be stored" in dialog.error_label.text()
        assert PASSWORD_ENV in dialog.error_label.text()
        saved = json.loads((config / "client.json").read_text())
        assert saved["proxy"] == "http://ann@proxy.corp:3128"
        assert PASSWORD not in files_under(config)

    drive(qapp, config, scenario)


@pytest.mark.usefixtures("memory_keyring")
def test_test_connection_says_the_proxy_cannot_be_reached(qapp: QApplication, config: Path) -> None:
    enrol_offline(config)
    port = closed_port()

    async def scenario(person: Person, dialog: ProxyDialog) -> None:
        type_manual(dialog, ProxyMode.HTTP, "127.0.0.1", str(port))
        click(dialog.test_button)
        assert not dialog.test_button.isEnabled()
        assert dialog.status_label.text() == "Testing…"
        await until(lambda: dialog.findings_text(), "the findings")
        findings = dialog.findings_text().splitlines()
        assert f"✗ The HTTP proxy 127.0.0.1:{port} could not be reached" in "\n".join(findings)
        assert any(line.startswith("– Cloud REST: not checked") for line in findings)
        assert not any(line.startswith("✓") for line in findings)
        # Usable again, and nothing was saved by testing.
        assert dialog.test_button.isEnabled() and dialog.status_label.text() == ""
        assert not (config / "client.json").exists()

    drive(qapp, config, scenario)


@pytest.mark.usefixtures("memory_keyring")
def test_test_connection_without_enrolment_says_the_cloud_was_not_checked(
    qapp: QApplication, config: Path
) -> None:
    async def scenario(person: Person, dialog: ProxyDialog) -> None:
        choose(dialog, ProxyMode.NONE)
        click(dialog.test_button)
        await until(lambda: dialog.findings_text(), "the findings")
        assert "– Cloud: not checked" in dialog.findings_text()
        assert dialog.test_button.isEnabled()

    drive(qapp, config, scenario)


async def refusing_proxy(heard: list[bytes]) -> asyncio.Server:
    """An HTTP proxy that wants credentials and accepts none: 407 to every request."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heard.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="corp"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.usefixtures("memory_keyring")
def test_test_connection_says_the_proxy_refused_the_typed_password(
    qapp: QApplication, config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    enrol_offline(config)
    heard: list[bytes] = []
    basic = base64.b64encode(f"ann:{PASSWORD}".encode()).decode()

    async def scenario(person: Person, dialog: ProxyDialog) -> None:
        server = await refusing_proxy(heard)
        port = server.sockets[0].getsockname()[1]
        try:
            type_manual(dialog, ProxyMode.HTTP, "127.0.0.1", str(port), "ann", PASSWORD)
            click(dialog.test_button)
            await until(lambda: dialog.findings_text(), "the findings")
        finally:
            server.close()
        text = dialog.findings_text()
        assert f"✓ The HTTP proxy 127.0.0.1:{port} is reachable." in text
        assert "✗ Proxy authentication refused" in text
        assert "refused the user name 'ann' or its password" in text
        assert dialog.test_button.isEnabled()
        # The typed (unsaved) password was offered to the proxy, and shown nowhere.
        assert any(
            f"proxy-authorization: basic {basic}".lower() in request.decode().lower()
            for request in heard
        )
        assert PASSWORD not in text and basic not in text

    drive(qapp, config, scenario)
    assert caplog.records  # the log was captured (DEBUG), and holds no password
    assert PASSWORD not in caplog.text and basic not in caplog.text
    assert PASSWORD not in files_under(config)


@pytest.mark.usefixtures("memory_keyring")
def test_a_new_test_or_closing_the_page_stops_a_running_test(
    qapp: QApplication, config: Path
) -> None:
    enrol_offline(config)
    waiting: list[bytes] = []  # CONNECT requests left unanswered
    ended: list[bytes] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Reads the CONNECT and never answers: the test would wait for its step timeout.
        request = b""
        try:
            while chunk := await reader.read(4096):
                request += chunk
                if request.endswith(b"\r\n\r\n"):
                    waiting.append(request)
        except ConnectionError:
            pass
        if request:
            ended.append(request)
        writer.close()

    async def scenario(person: Person, dialog: ProxyDialog) -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            type_manual(dialog, ProxyMode.HTTP, "127.0.0.1", str(port))
            click(dialog.test_button)
            await until(lambda: waiting, "the test to wait for the proxy's answer")
            assert not dialog.test_button.isEnabled()
            # A second request replaces the first (the page disables its button meanwhile,
            # so this is the signal as the controller gets it).
            dialog.test_requested.emit(f"http://127.0.0.1:{port}", "")
            await until(lambda: len(waiting) == 2 and len(ended) == 1, "the second test only", 2)
            assert not dialog.test_button.isEnabled()
            click(dialog.close_button)
            assert dialog.test_button.isEnabled() and dialog.status_label.text() == ""
            # Well before the 5 s step timeout: the connection was closed, not abandoned.
            await until(lambda: len(ended) == len(waiting), "the proxy connection to end", 2)
            assert dialog.findings_text() == ""
        finally:
            server.close()

    drive(qapp, config, scenario)
