"""The wire protocol and session logic shared by client and receiver.

Nothing in this package does I/O or imports Qt: state machines take messages
and a clock and return messages and events (see docs/protocol.md).
"""
