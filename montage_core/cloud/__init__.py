"""The client's and receiver's side of cloud meetings (docs/cloud-api.md, docs/protocol.md §15).

`account` keeps an enrolment (secrets in the OS keyring), `api` talks to the
REST API, `xmpp_signal` carries protocol messages over XMPP, `join` is the
client's way into a 6-digit meeting.
"""
