"""The network page: which proxy (if any) the client goes out through, and a test of it.

Like the other windows it only collects input and shows what the controller
reports back: no networking, no keyring here. The person's choice leaves as
the command-line form of `ProxySettings` ("socks5://ann@proxy.corp:1080"),
checked with `ProxySettings.parse` before anything is emitted, and the
password travels beside it, never inside it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from urllib.parse import quote

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QColor, QPalette, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from montage_core.net import InvalidProxySetting, ProxyMode, ProxySettings

from .join_window import ERROR_COLOUR

logger = logging.getLogger(__name__)

OK_COLOUR = QColor(30, 130, 60)
NOT_CHECKED_COLOUR = QColor(120, 120, 120)
# A mark as well as a colour: the outcome must not depend on telling red from green.
MARKS: dict[bool | None, tuple[str, QColor]] = {
    True: ("✓", OK_COLOUR),
    False: ("✗", ERROR_COLOUR),
    None: ("–", NOT_CHECKED_COLOUR),
}
DEFAULT_PORTS = {ProxyMode.HTTP: 3128, ProxyMode.SOCKS5: 1080}
MANUAL = (ProxyMode.HTTP, ProxyMode.SOCKS5)

PORT_RANGE = "The proxy's port is a number from 1 to 65535."
HOST_MISSING = "Enter the proxy's host name or address, e.g. proxy.example.org."
HOST_MALFORMED = "The proxy's host is a name or an address only, e.g. proxy.example.org."
PAC_MALFORMED = (
    "The PAC address starts with http:// or https://, e.g. https://proxy.example.org/proxy.pac."
)
PASSWORD_WITHOUT_USER = "A proxy password needs a user name: enter the user too."
PASSWORD_STORED = (
    "A password for this user is stored in the keyring; leave the field empty to keep it."
)
PASSWORD_GOES_TO_KEYRING = "The password is kept in this computer's keyring, not in a file."


class ProxyDialog(QDialog):
    # (command-line form, typed password or ""): the password is never part of the form.
    test_requested = Signal(str, str)
    save_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Montage — Network")
        intro = QLabel(
            "How this computer reaches the Montage cloud. Ask your IT department which "
            "proxy to use; most networks need none, or the system's setting."
        )
        intro.setWordWrap(True)

        self.mode_buttons: dict[ProxyMode, QRadioButton] = {
            ProxyMode.NONE: QRadioButton("No proxy"),
            ProxyMode.SYSTEM: QRadioButton("System settings"),
            ProxyMode.AUTO: QRadioButton("Automatic (proxy auto-configuration)"),
            ProxyMode.HTTP: QRadioButton("Manual: HTTP proxy"),
            ProxyMode.SOCKS5: QRadioButton("Manual: SOCKS5 proxy"),
        }
        self.mode_group = QButtonGroup(self)
        for button in self.mode_buttons.values():
            self.mode_group.addButton(button)

        self.pac_edit = QLineEdit()
        self.pac_edit.setPlaceholderText("https://proxy.example.org/proxy.pac — empty: find it")
        self.pac_edit.setToolTip(
            "The address of the PAC file; left empty, Montage looks for one on this network (WPAD)."
        )
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("proxy.example.org")
        self.port_edit = QLineEdit()
        self.port_edit.setMaxLength(5)
        # Digits only while typing; the range (1–65535) is checked on Test/Save,
        # where a sentence can say what is wrong.
        self.port_edit.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"\d{0,5}"), self.port_edit)
        )
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("only if the proxy asks for one")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_hint = QLabel()
        self.password_hint.setWordWrap(True)

        pac_form = QFormLayout()
        pac_form.addRow("PAC address", self.pac_edit)
        manual_form = QFormLayout()
        manual_form.addRow("Host", self.host_edit)
        manual_form.addRow("Port", self.port_edit)
        manual_form.addRow("User name", self.user_edit)
        manual_form.addRow("Password", self.password_edit)
        manual_form.addRow("", self.password_hint)

        self.status_label = QLabel()
        self.findings_label = QLabel()
        self.findings_label.setWordWrap(True)
        self.findings_label.hide()
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        palette = self.error_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, ERROR_COLOUR)
        self.error_label.setPalette(palette)
        self.error_label.hide()

        self.test_button = QPushButton("Test connection")
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        for mode in (ProxyMode.NONE, ProxyMode.SYSTEM, ProxyMode.AUTO):
            layout.addWidget(self.mode_buttons[mode])
        layout.addLayout(pac_form)
        for mode in MANUAL:
            layout.addWidget(self.mode_buttons[mode])
        layout.addLayout(manual_form)
        layout.addWidget(self.status_label)
        layout.addWidget(self.findings_label)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

        # The (user, host, port) whose password the keyring holds, as the controller said.
        self._stored_for: tuple[str, str, int] | None = None
        self._saved = ProxySettings(ProxyMode.SYSTEM)
        self._findings: list[str] = []

        self.mode_group.buttonToggled.connect(lambda *_: self._apply_mode())
        for edit in (self.host_edit, self.port_edit, self.user_edit):
            edit.textChanged.connect(self._update_password_hint)
        self.test_button.clicked.connect(self._test)
        self.save_button.clicked.connect(self._save)
        # reject() rather than hide(): `finished` tells the controller to stop a running test.
        self.close_button.clicked.connect(self.reject)
        self.setMinimumWidth(460)
        self.show_setting("system", password_stored=False)

    # -- what the controller calls ------------------------------------------------
    def show_setting(self, spec: str, password_stored: bool) -> None:
        """Show the saved choice (command-line form); the password field starts empty."""
        try:
            settings = ProxySettings.parse(spec)
        except InvalidProxySetting:
            settings = ProxySettings(ProxyMode.SYSTEM)  # what ClientSettings falls back to
        self._saved = settings
        self.mode_buttons[settings.mode].setChecked(True)
        self.pac_edit.setText(settings.pac_url or "")
        self.host_edit.setText(settings.host)
        self.port_edit.setText(str(settings.port) if settings.port else "")
        self.user_edit.setText(settings.user or "")
        self.password_edit.clear()
        self._clear_findings()
        self.status_label.clear()
        self._show_inline_error("")
        self.set_password_stored(password_stored)
        self._apply_mode()

    def set_password_stored(self, stored: bool) -> None:
        """Whether the keyring holds a password for the saved user, host and port."""
        saved = self._saved
        self._stored_for = (
            (saved.user, saved.host, saved.port) if stored and saved.user is not None else None
        )
        self._update_password_hint()

    def set_busy(self, busy: bool) -> None:
        self.test_button.setEnabled(not busy)
        self.status_label.setText("Testing…" if busy else "")
        if busy:
            self._show_inline_error("")
            self._clear_findings()

    def show_findings(self, findings: Iterable[tuple[bool | None, str]]) -> None:
        """One line per step of the test, each with its mark."""
        self.set_busy(False)
        self._findings = []
        rows = []
        for ok, text in findings:
            mark, colour = MARKS[ok]
            self._findings.append(f"{mark} {text}")
            rows.append(
                f'<span style="color:{colour.name()}"><b>{mark}</b></span> '
                f"{html.escape(text, quote=False)}"
            )
        self.findings_label.setText("<br>".join(rows))
        self.findings_label.setVisible(bool(rows))

    def findings_text(self) -> str:
        """The findings shown, as the person reads them: one line per step, marks first."""
        return "\n".join(self._findings)

    def show_saved(self, password_stored: bool | None = None) -> None:
        """The choice on screen is now the saved one; `password_stored` None: unchanged."""
        spec = self._spec_or_none()
        if spec is not None:
            self._saved = ProxySettings.parse(spec)
        self.password_edit.clear()
        self._show_inline_error("")
        if password_stored is not None:
            self.set_password_stored(password_stored)
        self.status_label.setText("Saved.")

    def show_error(self, text: str) -> None:
        self.set_busy(False)
        self._show_inline_error(text)

    @property
    def mode(self) -> ProxyMode:
        return next(mode for mode, button in self.mode_buttons.items() if button.isChecked())

    # -- internals ------------------------------------------------------------------
    def _test(self) -> None:
        spec = self._spec_or_none()
        if spec is not None:
            self.test_requested.emit(spec, self._password())

    def _save(self) -> None:
        spec = self._spec_or_none()
        if spec is not None:
            self.save_requested.emit(spec, self._password())

    def _password(self) -> str:
        # Only a manual proxy has a user; a password left behind in a disabled field
        # after switching modes is not sent anywhere.
        return self.password_edit.text() if self.mode in MANUAL else ""

    def _spec_or_none(self) -> str | None:
        """The command-line form of the fields, or None after saying what is wrong."""
        try:
            spec = self._spec()
            ProxySettings.parse(spec)  # the same rules as --proxy, and the same sentences
        except InvalidProxySetting as exc:
            self._show_inline_error(str(exc))
            return None
        self._show_inline_error("")
        return spec

    def _spec(self) -> str:
        mode = self.mode
        if mode is ProxyMode.AUTO:
            pac_url = self.pac_edit.text().strip()
            if not pac_url:
                return "auto"
            if not pac_url.lower().startswith(("http://", "https://")):
                raise InvalidProxySetting(PAC_MALFORMED)
            return f"pac+{pac_url}"
        if mode not in MANUAL:
            return mode.value
        host = self.host_edit.text().strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host:
            raise InvalidProxySetting(HOST_MISSING)
        if any(c.isspace() or c in "/@?#[]" for c in host):
            raise InvalidProxySetting(HOST_MALFORMED)
        port = self.port_edit.text().strip()
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidProxySetting(PORT_RANGE)
        user = self.user_edit.text().strip()
        if self.password_edit.text() and not user:
            raise InvalidProxySetting(PASSWORD_WITHOUT_USER)
        # Quoted so that a user such as "CORP\ann" or "ann@corp" survives the URL form.
        userinfo = f"{quote(user, safe='')}@" if user else ""
        shown_host = f"[{host}]" if ":" in host else host
        return f"{mode.value}://{userinfo}{shown_host}:{int(port)}"

    def _apply_mode(self) -> None:
        mode = self.mode
        manual = mode in MANUAL
        self.pac_edit.setEnabled(mode is ProxyMode.AUTO)
        for edit in (self.host_edit, self.port_edit, self.user_edit, self.password_edit):
            edit.setEnabled(manual)
        if manual:
            self.port_edit.setPlaceholderText(str(DEFAULT_PORTS[mode]))
        self._update_password_hint()

    def _update_password_hint(self) -> None:
        text = ""
        if self.mode in MANUAL and self.user_edit.text().strip():
            port = self.port_edit.text().strip()
            here = (
                self.user_edit.text().strip(),
                self.host_edit.text().strip().strip("[]"),
                int(port) if port.isdigit() else 0,
            )
            text = PASSWORD_STORED if here == self._stored_for else PASSWORD_GOES_TO_KEYRING
        self.password_hint.setText(text)
        self.password_hint.setVisible(bool(text))

    def _clear_findings(self) -> None:
        self._findings = []
        self.findings_label.clear()
        self.findings_label.hide()

    def _show_inline_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))


__all__ = ["ProxyDialog"]
