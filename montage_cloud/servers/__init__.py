"""The cloud's real servers: Prosody (XMPP) and coturn (TURN).

- `config`: render deploy/'s templates (production and loopback use the same ones).
- `render`: `python -m montage_cloud.servers.render` for production configs.
- `tls`: a throw-away CA and server certificate for loopback runs.
- `prosody`, `coturn`: start/stop a real server in a throw-away directory.
"""
