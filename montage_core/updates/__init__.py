"""Signed updates for the client and the receiver, verified by python-tuf (docs/updates.md).

No Qt here: the apps' windows show what these modules find. `client.py`
asks the repository (through `fetcher.py`, the proxy-aware transport, or
`bundle.py`, a file from a USB drive) what is newest and downloads it
verified; `installation.py` keeps versions side by side and switches
between them atomically; `updater.py` puts both together for a program;
`schedule.py` checks on start and daily; `removable.py` watches for drives;
`command.py` is the `update` sub-command both programs have.
"""
