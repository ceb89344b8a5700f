"""Real proxies for the proxy tests: squid (HTTP, Basic auth) and dante (SOCKS5, username).

Both run in a network namespace (tests/netns.py) in front of servers that
listen only on that namespace's loopback, so the test process reaches them
through a proxy or not at all. Squid checks passwords with basic_ncsa_auth
against an htpasswd file written here; dante's `socksmethod: username`
checks the system's password database, so a system user is created for the
session and deleted after.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from tests.netns import Namespace

# Per process: a concurrent run deleting "its" user must not pull ours away mid-test.
USER = f"mtgpx{os.getpid()}"
CLOUD_HOST = "cloud.montage.test"
SQUID_PORT = 3128
DANTE_PORT = 1080
NCSA_AUTH = "/usr/lib/squid/basic_ncsa_auth"


def _wait_port(
    ns: Namespace, host: str, port: int, process: subprocess.Popen[str], log: Path
) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{process.args!r} exited: {said}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(
        f"nothing listens on {host}:{port}: {log.read_text(errors='replace')[-2000:]}"
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def system_user(password: str) -> Iterator[str]:
    subprocess.run(["userdel", USER], capture_output=True, check=False)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(["chpasswd"], input=f"{USER}:{password}\n", text=True, check=True)
        yield USER
    finally:
        subprocess.run(["userdel", USER], capture_output=True, check=False)


NEEDED = {
    "squid": "squid",
    "danted": "dante-server",
    "htpasswd": "apache2-utils",
    "openssl": "openssl",
}


def missing_programs() -> str | None:
    """Which Debian packages to install, if any of the programs are missing."""
    missing = sorted({package for program, package in NEEDED.items() if not shutil.which(program)})
    return f"apt-get install {' '.join(missing)}" if missing else None


@contextlib.contextmanager
def squid(
    ns: Namespace, workdir: Path, password: str, allowed_ports: list[int], port: int = SQUID_PORT
) -> Iterator[Path]:
    """Squid on ns.peer:`port`, Basic auth for USER; CONNECT only to `allowed_ports`.

    Yields its access log. Squid drops root for the `proxy` user, so its files
    live in a directory of their own that user may write.
    """
    htpasswd = workdir / "htpasswd"
    subprocess.run(
        ["htpasswd", "-bcB", str(htpasswd), USER, password], check=True, capture_output=True
    )
    hosts = workdir / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {CLOUD_HOST}\n")
    conf = workdir / "squid.conf"
    conf.write_text(
        f"""
http_port {ns.peer}:{port}
pid_filename {workdir}/squid.pid
access_log stdio:{workdir}/access.log squid
cache_log {workdir}/cache.log
cache_store_log none
cache deny all
cache_mem 4 MB
coredump_dir {workdir}
hosts_file {hosts}
dns_nameservers 127.0.0.1
pinger_enable off
netdb_filename none
shutdown_lifetime 0 seconds
auth_param basic program {NCSA_AUTH} {htpasswd}
auth_param basic realm montage-test
acl CONNECT method CONNECT
acl allowed_ports port {" ".join(map(str, allowed_ports))}
acl authed proxy_auth REQUIRED
http_access deny CONNECT !allowed_ports
http_access allow authed
http_access deny all
"""
    )
    shutil.chown(workdir, "proxy")
    for path in workdir.iterdir():
        shutil.chown(path, "proxy")
    log = workdir / "squid.out"
    with log.open("w") as out:
        process = subprocess.Popen(
            ns.command("squid", "-N", "-f", str(conf), "-n", f"mtg{os.getpid()}p{port}"),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        _wait_port(ns, ns.peer, port, process, workdir / "cache.log")
        yield workdir / "access.log"
    finally:
        _stop(process)


@contextlib.contextmanager
def dante(ns: Namespace, workdir: Path, denied_port: int) -> Iterator[Path]:
    """sockd on ns.peer:1080, username/password of the system's users; `denied_port` blocked."""
    log = workdir / "sockd.log"
    conf = workdir / "sockd.conf"
    conf.write_text(
        f"""
logoutput: {log}
internal: {ns.peer} port = {DANTE_PORT}
external: 127.0.0.1
clientmethod: none
socksmethod: username
user.privileged: root
user.unprivileged: nobody
client pass {{
    from: 0.0.0.0/0 to: 0.0.0.0/0
    log: error
}}
socks block {{
    from: 0.0.0.0/0 to: 0.0.0.0/0 port = {denied_port}
    log: connect error
}}
socks pass {{
    from: 0.0.0.0/0 to: 0.0.0.0/0
    command: connect
    log: connect error
}}
"""
    )
    out_path = workdir / "sockd.out"
    with out_path.open("w") as out:
        process = subprocess.Popen(
            ns.command("danted", "-f", str(conf), "-p", str(workdir / "sockd.pid"), "-N", "1"),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        _wait_port(ns, ns.peer, DANTE_PORT, process, out_path)
        yield log
    finally:
        _stop(process)


@dataclass
class Targets:
    cloud_port: int  # http
    tls_port: int  # https, certificate for CLOUD_HOST from `ca`
    echo_port: int
    ca: Path

    @property
    def cloud_url(self) -> str:
        return f"http://{CLOUD_HOST}:{self.cloud_port}"

    @property
    def tls_url(self) -> str:
        return f"https://{CLOUD_HOST}:{self.tls_port}"

    @property
    def ports(self) -> list[int]:
        return [self.cloud_port, self.tls_port, self.echo_port]


@contextlib.contextmanager
def targets(ns: Namespace, workdir: Path) -> Iterator[Targets]:
    """tests/proxy_targets.py inside the namespace; CLOUD_HOST resolves there to loopback."""
    etc = Path("/etc/netns") / ns.name
    etc.mkdir(parents=True, exist_ok=True)
    # `ip netns exec` mounts this over /etc/hosts for processes in the namespace (dante).
    (etc / "hosts").write_text(f"127.0.0.1 localhost {CLOUD_HOST}\n")
    cert, key = workdir / "cloud.pem", workdir / "cloud.key"
    # Self-signed, so the certificate is its own CA for the client.
    openssl = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
    subprocess.run(
        [
            *openssl.split(),
            *("-subj", f"/CN={CLOUD_HOST}", "-addext", f"subjectAltName=DNS:{CLOUD_HOST}"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    repo = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "tests.proxy_targets", "--db", str(workdir / "cloud.db")]
    process = subprocess.Popen(
        ns.command(*command, "--cert", str(cert), "--key", str(key)),
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ports: dict[str, int] = {}
        while len(ports) < 3:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the target servers did not start")
            event = json.loads(line)
            name = event["url"].split(":")[0] if event["event"] == "ready" else event["event"]
            ports[name] = int(event["port"])
        yield Targets(ports["http"], ports["https"], ports["echo"], cert)
    finally:
        _stop(process)
        shutil.rmtree(etc, ignore_errors=True)


@dataclass
class DevCloud:
    """`montage-cloud dev` inside the namespace: REST (https), Prosody, coturn, one CA."""

    api_url: str
    xmpp: tuple[str, int]
    xmpp_domain: str
    turns: tuple[str, int]
    ca: Path
    admin_token: str
    updates: dict[str, str]  # the update repository: url, repo, keys, root (docs/updates.md)

    @property
    def ports(self) -> list[int]:
        return [int(self.api_url.rsplit(":", 1)[1]), self.xmpp[1], self.turns[1]]


@contextlib.contextmanager
def dev_cloud(ns: Namespace, workdir: Path) -> Iterator[DevCloud]:
    """The project's whole cloud on the namespace's loopback (docs/deploy.md)."""
    out = workdir / "dev.err"
    with out.open("w") as err:
        process = subprocess.Popen(
            ns.command(sys.executable, "-m", "montage_cloud", "dev", "--workdir", str(workdir)),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"montage-cloud dev did not start: {out.read_text()[-2000:]}")
        ready = json.loads(line)
        turns = next(u for u in ready["turn"]["uris"] if u.startswith("turns:"))
        turn_host, _, turn_port = turns.removeprefix("turns:").split("?")[0].rpartition(":")
        yield DevCloud(
            api_url=ready["api"]["url"],
            xmpp=(ready["xmpp"]["host"], int(ready["xmpp"]["port"])),
            xmpp_domain=ready["xmpp"]["domain"],
            turns=(turn_host, int(turn_port)),
            ca=Path(ready["ca_cert"]),
            admin_token=Path(ready["api"]["admin_token_file"]).read_text().strip(),
            updates=ready["updates"],
        )
    finally:
        _stop(process)


@contextlib.asynccontextmanager
async def pac_server(
    host: str, body: str, path: str = "/proxy.pac", port: int = 0
) -> AsyncIterator[str]:
    """An HTTP server on `host` serving `body` at `path`; yields the file's URL."""

    async def pac(_request: web.Request) -> web.Response:
        return web.Response(text=body, content_type="application/x-ns-proxy-autoconfig")

    app = web.Application()
    app.router.add_get(path, pac)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listening = socket.create_server((host, port))
    port = listening.getsockname()[1]
    await web.SockSite(runner, listening).start()
    try:
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def proxy_host(tag: str) -> Iterator[tuple[Namespace, Path, str]]:
    """A fresh namespace for the proxies, a work directory squid may use, and the
    proxies' user (USER) with a random password; all gone after."""
    missing = missing_programs()
    if missing:  # a missing package is a broken test machine, not a reason to skip
        raise AssertionError(f"the proxy tests need real proxies: {missing}")
    password = "pw-" + secrets.token_urlsafe(12)
    with contextlib.ExitStack() as stack:
        ns = stack.enter_context(Namespace(tag))
        workdir = private_dir(f"montage-proxy-{tag}-")
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        stack.enter_context(system_user(password))
        yield ns, workdir, password


def wait_for_line(log: Path, *parts: str, seconds: float = 5.0) -> str:
    """The first log line holding all `parts` (proxies write a line when a connection ends)."""
    deadline = time.monotonic() + seconds
    while True:
        for line in log.read_text(errors="replace").splitlines():
            if all(p in line for p in parts):
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no line with {parts} in {log.name}")
        time.sleep(0.05)


def private_dir(prefix: str) -> Path:
    """A directory outside pytest's root-only tmp tree, which squid's user could not enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
