"""What the Montage client and receiver share: the library both apps sit on.

`protocol/` is the wire protocol and its state machines (no I/O); `rtc/` sets
up WebRTC; `net/` is the way out (direct or through a proxy); `cloud/` is a
device's side of the cloud (enrolment, REST, XMPP signalling);
`xmpp_session` opens an XMPP session; `thirdparty/` holds every reach into
another library's internals. Nothing here imports Qt or `montage_cloud`.
"""

__version__ = "0.1.0"
