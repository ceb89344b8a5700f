"""The cloud account page: enrol this computer with an organisation's cloud.

Only collects what the person types and shows the outcome; the controller
does the enrolment (REST call, keyring) and reports back.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .join_window import ERROR_COLOUR

logger = logging.getLogger(__name__)


class CloudAccountDialog(QDialog):
    # url, token, CA file, xmpp host:port (an override), secret store (auto|keyring|file)
    enrol_requested = Signal(str, str, str, str, str)

    # Where the two cloud secrets go; "auto" refuses a silent file on a desktop.
    STORES = (
        ("auto", "The keyring where there is one (automatic)"),
        ("keyring", "This computer's keyring only"),
        ("file", "A file only your user can read"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Montage — Cloud account")
        intro = QLabel(
            "To join 6-digit meetings, enrol this computer once with the address and "
            "enrolment token your administrator gave you."
        )
        intro.setWordWrap(True)
        self.account_label = QLabel("This computer is not enrolled.")
        self.account_label.setWordWrap(True)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://montage.example.com")
        self.token_edit = QLineEdit()
        # The token is a one-time secret: not shown while typed.
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText("only for a private cloud")
        self.ca_button = QPushButton("Browse…")
        self.xmpp_edit = QLineEdit()
        self.xmpp_edit.setPlaceholderText("the cloud says; only if your administrator says so")
        self.store_combo = QComboBox()
        for value, label in self.STORES:
            self.store_combo.addItem(label, value)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_button)

        form = QFormLayout()
        form.addRow("Cloud address", self.url_edit)
        form.addRow("Enrolment token", self.token_edit)
        form.addRow("CA certificate", ca_row)
        form.addRow("XMPP server", self.xmpp_edit)
        form.addRow("Keep credentials in", self.store_combo)

        self.status_label = QLabel()
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        palette = self.error_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, ERROR_COLOUR)
        self.error_label.setPalette(palette)
        self.error_label.hide()
        self.enrol_button = QPushButton("Enrol")
        self.enrol_button.setDefault(True)
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.enrol_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.account_label)
        layout.addLayout(form)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

        self.enrol_button.clicked.connect(self._submit)
        self.close_button.clicked.connect(self.hide)
        self.ca_button.clicked.connect(self._browse)

    def show_account(self, url: str | None, device_id: str | None) -> None:
        if url is None:
            self.account_label.setText("This computer is not enrolled.")
        else:
            self.account_label.setText(f"This computer is enrolled with {url} as {device_id}.")

    def set_busy(self, busy: bool) -> None:
        self.enrol_button.setEnabled(not busy)
        self.status_label.setText("Enrolling…" if busy else "")

    def show_enrolled(self, url: str, device_id: str) -> None:
        self.set_busy(False)
        self.token_edit.clear()
        self.error_label.hide()
        self.show_account(url, device_id)
        self.status_label.setText("Enrolled. You can join 6-digit meetings now.")

    def show_error(self, text: str) -> None:
        self.set_busy(False)
        self.error_label.setText(text)
        self.error_label.show()

    def _submit(self) -> None:
        self.error_label.hide()
        self.enrol_requested.emit(
            self.url_edit.text().strip(),
            self.token_edit.text().strip(),
            self.ca_edit.text().strip(),
            self.xmpp_edit.text().strip(),
            str(self.store_combo.currentData()),
        )

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CA certificate", "", "PEM (*.pem *.crt)")
        if path:
            self.ca_edit.setText(path)
