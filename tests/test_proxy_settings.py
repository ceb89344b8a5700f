"""Proxy settings: the command-line forms, the password's sources, routes without a network."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import keyring
import pytest

from montage_core.net import (
    DIRECT,
    InvalidProxySetting,
    ProxyEndpoint,
    ProxyMode,
    ProxyResolver,
    ProxySettings,
    store_proxy_password,
)
from montage_core.net.settings import PASSWORD_ENV, proxy_password
from tests.memory_keyring import MemoryKeyring


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("none", ProxySettings()),
        (" System ", ProxySettings(ProxyMode.SYSTEM)),
        ("http://proxy.test:3128", ProxySettings(ProxyMode.HTTP, "proxy.test", 3128)),
        (
            "http://ann%40corp@proxy.test:8080/",
            ProxySettings(ProxyMode.HTTP, "proxy.test", 8080, "ann@corp"),
        ),
        (
            "socks5://bob@198.18.0.9:1080",
            ProxySettings(ProxyMode.SOCKS5, "198.18.0.9", 1080, "bob"),
        ),
        (
            "pac+https://wpad.test/proxy.pac",
            ProxySettings(ProxyMode.AUTO, pac_url="https://wpad.test/proxy.pac"),
        ),
    ],
)
def test_command_line_forms_are_read(spec: str, expected: ProxySettings) -> None:
    assert ProxySettings.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "sentence"),
    [
        ("direct", "not a proxy setting Montage understands"),
        ("socks4://proxy.test:1080", "not a proxy setting Montage understands"),
        ("https://proxy.test:443", "not a proxy setting Montage understands"),
        ("http://proxy.test", "needs the proxy's host and port"),
        ("socks5://:1080", "needs the proxy's host and port"),
        ("http://proxy.test:99999", "needs the proxy's host and port"),
        ("http://proxy.test:3128/path", "has a path"),
        ("pac+https:///proxy.pac", "names no host"),
    ],
)
def test_anything_else_is_refused_with_a_sentence(spec: str, sentence: str) -> None:
    with pytest.raises(InvalidProxySetting, match=sentence) as caught:
        ProxySettings.parse(spec)
    assert caught.value.exit_code == 2


def test_a_password_in_the_setting_is_refused_and_not_repeated() -> None:
    for spec in ("http://ann:hunter22@proxy.test:3128", "ftp://ann:hunter22@proxy.test"):
        with pytest.raises(InvalidProxySetting) as caught:
            ProxySettings.parse(spec)
        assert "hunter22" not in str(caught.value)


def test_the_command_line_form_round_trips_without_a_password() -> None:
    for spec in ("none", "system", "http://ann@proxy.test:3128", "socks5://proxy.test:1080"):
        assert str(ProxySettings.parse(spec)) == spec


def test_password_comes_from_the_environment_before_the_keyring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
        proxy = ProxyEndpoint("http", "proxy.test", 3128, "ann")
        assert proxy.secret() is None
        store_proxy_password("ann", "proxy.test", 3128, "from-keyring")
        assert proxy.secret() == "from-keyring"
        assert ProxyEndpoint("http", "other.test", 3128, "ann").secret() is None
        monkeypatch.setenv(PASSWORD_ENV, "from-env")
        assert proxy.secret() == "from-env"
        assert "from-" not in repr(proxy)
    finally:
        keyring.set_keyring(previous)


def routes(settings: ProxySettings, url: str, **environ: str) -> tuple[object, ...]:
    resolver = ProxyResolver(settings, environ=environ, platform="linux")
    return asyncio.run(resolver.routes(url))


def test_system_settings_on_linux_are_the_environment_variables() -> None:
    system = ProxySettings(ProxyMode.SYSTEM)
    env = {"HTTPS_PROXY": "http://ann:pw@proxy.test:3128", "NO_PROXY": "intranet.test,.corp.test"}
    (chosen,) = routes(system, "https://cloud.test/", **env)
    assert chosen == ProxyEndpoint("http", "proxy.test", 3128, "ann")
    assert isinstance(chosen, ProxyEndpoint) and chosen.secret({}) == "pw"
    assert routes(system, "https://intranet.test/", **env) == (DIRECT,)
    assert routes(system, "https://a.corp.test/", **env) == (DIRECT,)
    assert routes(system, "https://cloud.test/") == (DIRECT,)
    socks = routes(system, "https://cloud.test/", all_proxy="socks5h://198.18.0.7:1081")
    assert socks == (ProxyEndpoint("socks5", "198.18.0.7", 1081),)
    with pytest.raises(InvalidProxySetting, match="only HTTP and SOCKS5"):
        routes(system, "https://cloud.test/", ALL_PROXY="socks4://198.18.0.7:1080")


def test_manual_and_no_proxy_need_no_lookup() -> None:
    manual = ProxySettings.parse("socks5://bob@proxy.test:1080")
    assert routes(manual, "https://cloud.test/") == (
        ProxyEndpoint("socks5", "proxy.test", 1080, "bob"),
    )
    assert routes(ProxySettings(), "https://cloud.test/") == (DIRECT,)
    assert str(ProxyEndpoint("socks5", "proxy.test", 1080)) == "SOCKS5 proxy proxy.test:1080"


def test_proxy_password_command_stores_what_stdin_gives_and_never_prints_it(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from montage_client import cli

    monkeypatch.setenv("MONTAGE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pw\n"))
    spec = "--proxy=socks5://ann@proxy.corp:1080"
    assert cli.main(["proxy-password", spec]) == 0
    assert proxy_password("ann", "proxy.corp", 1080, environ={}) == "s3cret-pw"
    said = capsys.readouterr()
    assert said.err.strip() == "Stored the password for ann at the SOCKS5 proxy proxy.corp:1080."
    assert "s3cret-pw" not in said.out + said.err

    # Nothing typed, or a proxy without a user: exit code 2, a sentence, nothing stored.
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert cli.main(["proxy-password", "--proxy=http://bob@proxy.corp:3128"]) == 2
    assert "No password was given" in capsys.readouterr().err
    assert cli.main(["proxy-password", "--proxy=http://proxy.corp:3128"]) == 2
    assert "give --proxy http://user@host:port" in capsys.readouterr().err
    assert proxy_password("bob", "proxy.corp", 3128, environ={}) is None
