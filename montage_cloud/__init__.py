"""Montage cloud: REST API for enrolment, 6-digit meeting IDs, revocation and TURN credentials.

See docs/cloud-api.md. The HTTP adapter (`api.py`) is thin; the rules live in
`service.py`, and state lives behind the `storage.Storage` interface so that
several API processes can share one PostgreSQL database.
"""

API_VERSION = 1
