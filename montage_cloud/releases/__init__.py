"""Signed releases: the TUF repository the client and receiver update from (docs/updates.md).

`keys.py` keeps one Ed25519 key per TUF role in PEM files outside the
database; `repository.py` adds and signs releases with python-tuf's metadata
API; `bundle.py` packs metadata and one release into a file for a USB drive;
`command.py` is `montage-cloud admin release …`.
"""
