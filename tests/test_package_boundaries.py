"""The packages' boundaries: who may import whom, and what each installable pulls in.

montage_core is the library the client and the receiver share; neither app
imports the other or the cloud, and the cloud imports no Qt or media. Each
extra in pyproject.toml declares exactly what its program imports, and the
cloud's closure holds no Qt or media library. Reaching into another
library's private names happens only in montage_core/thirdparty/.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

import pytest

from montage_core.entry import _requirements

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("montage_core", "montage_client", "montage_receiver", "montage_cloud")
QT_AND_MEDIA = ("PySide6", "shiboken6", "qasync", "aiortc", "aioice", "av", "mss")

# What each package must never import (top-level module names).
FORBIDDEN: dict[str, set[str]] = {
    "montage_core": {"montage_client", "montage_receiver", "montage_cloud", "PySide6", "qasync"},
    "montage_client": {"montage_receiver", "montage_cloud"},
    "montage_receiver": {"montage_client", "montage_cloud", "mss"},
    "montage_cloud": {"montage_client", "montage_receiver", *QT_AND_MEDIA},
}
# The only parts of montage_core the cloud may use: they load no Qt and no media.
CLOUD_MAY_USE_FROM_CORE = {
    "montage_core",
    "montage_core.entry",
    "montage_core.version",
    "montage_core.xmpp_session",
    # The guest bridge: the <signal/> payload and the guests' account name.
    "montage_core.signal_stanza",
    "montage_core.guests",
}
EXTRA_OF = {
    "montage_core": "core",
    "montage_client": "client",
    "montage_receiver": "receiver",
    "montage_cloud": "cloud",
}


def modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imported_names(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """Every module an import statement names, anywhere in the file (lazy ones too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from pkg import submodule`
                yield node.lineno, f"{target}.{alias.name}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_across_its_boundary(package: str) -> None:
    crossings = []
    for module, path in modules(package):
        for line, name in imported_names(path, module):
            top = name.partition(".")[0]
            if top in FORBIDDEN[package]:
                crossings.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
            if package == "montage_cloud" and top == "montage_core":
                # `from montage_core import xmpp_session` also names montage_core itself.
                allowed = any(
                    name == part or name.startswith(part + ".")
                    for part in CLOUD_MAY_USE_FROM_CORE - {"montage_core"}
                )
                if not allowed and name != "montage_core":
                    crossings.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert crossings == []


def _loaded_after_importing(package: str) -> set[str]:
    """Top-level modules in sys.modules after importing every module of `package`."""
    names = [name for name, _ in modules(package)]
    if package == "montage_cloud":
        # What the cloud's command loads; everything else too, to be sure.
        names = ["montage_cloud.cli", *names]
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_cloud_loads_no_qt_or_media_library() -> None:
    loaded = _loaded_after_importing("montage_cloud")
    assert "slixmpp" in loaded  # the check sees what the cloud really loads
    assert loaded & {*QT_AND_MEDIA, "montage_client", "montage_receiver"} == set()


def test_the_shared_library_loads_neither_app_nor_qt() -> None:
    loaded = _loaded_after_importing("montage_core")
    assert "aiortc" in loaded
    assert loaded & {"PySide6", "qasync", "mss", "montage_client", "montage_receiver"} == set()
    assert "montage_cloud" not in loaded


def test_the_receiver_loads_no_client_and_no_screen_capture() -> None:
    loaded = _loaded_after_importing("montage_receiver")
    assert "PySide6" in loaded
    assert loaded & {"montage_client", "montage_cloud", "mss"} == set()


@functools.cache
def _import_names() -> Mapping[str, list[str]]:
    # Scanning every installed distribution takes a second or so: once per run.
    return metadata.packages_distributions()


def _distribution_of(top_level: str) -> str | None:
    """The installed distribution that provides import name `top_level`, or None for stdlib."""
    if top_level in sys.stdlib_module_names or top_level.startswith("montage"):
        return None
    owners = _import_names().get(top_level)
    assert owners, f"{top_level} is imported but no installed distribution provides it"
    return owners[0]


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution `requirements` pull in, transitively, in this environment."""
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement, _, condition = line.partition(";")
            if "extra" in condition:
                continue  # optional parts of that library, not asked for
            todo.append(requirement.split("[")[0].split("<")[0].split(">")[0].split("=")[0])
    return seen


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_library_a_package_imports_is_in_its_extra(package: str) -> None:
    declared = {_canonical(n) for n in _requirements(EXTRA_OF[package], set())}
    assert declared, "montage is not installed (scripts/setup.sh installs it, editable)"
    undeclared = set()
    for module, path in modules(package):
        for _, name in imported_names(path, module):
            top = name.partition(".")[0]
            if top in ("__future__", ""):
                continue
            distribution = _distribution_of(top)
            if distribution is not None and _canonical(distribution) not in declared:
                undeclared.add(f"{top} ({distribution}) in {path.relative_to(ROOT)}")
    assert sorted(undeclared) == []


def test_the_cloud_extra_pulls_in_no_qt_or_media_library() -> None:
    cloud = _closure(_requirements("cloud", set()))
    assert "slixmpp" in cloud
    media_and_qt = {"pyside6-essentials", "pyside6-addons", "aiortc", "aioice", "av", "mss"}
    assert cloud & media_and_qt == set()
    client = _closure(_requirements("client", set()))
    assert {"pyside6-essentials", "aiortc", "mss"} <= client
    receiver = _closure(_requirements("receiver", set()))
    assert "mss" not in receiver


# Private names of ours: an attribute `_x` outside thirdparty/ is fine when we define it.
def _our_private_names() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for _, path in modules(package):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
                elif isinstance(node, ast.keyword) and node.arg:
                    names.add(node.arg)
    return {name for name in names if name.startswith("_")}


# argparse has no public name for a sub-command table's type; os._exit is documented
# (the updater ends the old version with it on Windows, where there is no exec).
STDLIB_PRIVATE = {"_SubParsersAction", "_exit"}


def test_private_names_of_other_libraries_are_used_only_in_thirdparty() -> None:
    ours = _our_private_names() | STDLIB_PRIVATE
    foreign = []
    for package in PACKAGES:
        for module, path in modules(package):
            if module.startswith("montage_core.thirdparty"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                name = None
                if isinstance(node, ast.Attribute):
                    name = node.attr
                elif (
                    isinstance(node, ast.ImportFrom)
                    and node.level == 0
                    and (node.module or "").partition(".")[0] in ("aiortc", "aioice", "slixmpp")
                ):
                    name = next((a.name for a in node.names if a.name.startswith("_")), None)
                if name and name.startswith("_") and not name.startswith("__") and name not in ours:
                    foreign.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {name}")
                # Name-mangled private attributes reached with getattr("_Class__name").
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and node.value.startswith(("_RTC", "_Vp8", "_H264", "_XMLStream"))
                ):
                    foreign.append(f"{path.relative_to(ROOT)}:{node.lineno} names {node.value}")
    assert foreign == []


@pytest.mark.slow
def test_a_fresh_cloud_install_has_no_qt_or_media(tmp_path: Path) -> None:
    """pip install '.[cloud]' into an empty venv: the cloud runs, Qt and media are absent."""
    env_dir = tmp_path / "cloud-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-input", f"{ROOT}[cloud]"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    code = (
        "import importlib.util, json\n"
        f"names = {QT_AND_MEDIA!r}\n"
        "print(json.dumps({n: importlib.util.find_spec(n) is not None for n in names}))"
    )
    probe = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert json.loads(probe.stdout) == dict.fromkeys(QT_AND_MEDIA, False)
    cloud = subprocess.run(
        [str(env_dir / "bin" / "montage-cloud"), "--help"], capture_output=True, text=True
    )
    assert cloud.returncode == 0 and "serve" in cloud.stdout
    # The wheel carries the browser client's page, built: the cloud needs no Node.js.
    page = subprocess.run(
        [
            str(python),
            "-c",
            "from montage_cloud.web.page import PageFiles; f = PageFiles.load();"
            " print(len(f.html), *(len(v) for v in f.assets.values()))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert page.returncode == 0, page.stderr
    assert all(int(size) > 1000 for size in page.stdout.split()), page.stdout
    # The client's command exists there too, and says what to install instead of a traceback.
    client = subprocess.run(
        [str(env_dir / "bin" / "montage-client"), "join", "1234567890"],
        capture_output=True,
        text=True,
    )
    assert client.returncode == 1
    assert "pip install 'montage[client]'" in client.stderr
    assert "Traceback" not in client.stderr
