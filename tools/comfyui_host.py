"""A real ComfyUI 0.3.64 with this pack installed the ComfyUI-Manager way: build, cache, start, stop.

Used by ``tests/test_real_comfyui.py``; runs by hand too::

    python tools/comfyui_host.py setup            # build (or reuse) the cached ComfyUI environment
    python tools/comfyui_host.py serve [--port N] # + install the pack, run the server until Ctrl-C
    python tools/comfyui_host.py browser          # Debian chromium + playwright-core (npm) for the UI check

The environment is built once from ``../shared/comfyui/ComfyUI-0.3.64.tar.gz`` (or
``$COMFYUI_TARBALL``) into ``~/.cache/face-pipeline/comfyui-0.3.64/<key>/`` (``$FACE_PIPELINE_CACHE``
replaces ``~/.cache/face-pipeline``), where ``key`` hashes the tarball, this recipe and the pack's
``requirements.txt`` / ``install.py``; the three most recently used builds are kept. The recipe:

1. its own virtualenv; ``torch==2.13.0`` (the CPU build) pinned by a constraints file, ComfyUI's
   ``requirements.txt`` and ``requests`` (the server imports it; the file does not list it);
2. the torchvision guard (this environment only): the PyPI torchvision is a CUDA build whose import
   fails with the CPU torch while registering fake ops for ``torchvision::nms``; the guard skips
   those registrations when torchvision's C ops did not load;
3. the pack's requirements the way ComfyUI-Manager installs them: ``pip install -r
   requirements.txt``, then ``python install.py``, with that environment's python, nothing else.

Every server start gets a fresh ``--base-directory`` (custom_nodes, models, input, output, user):
the pack's tracked files are copied into its ``custom_nodes/comfyui-face-pipeline`` and installed
there as in step 3 (package installs are no-ops by then; ``install.py`` also fills the pack's
``models/`` with files it extracts), so runs from several checkouts never see each other's files.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARBALL = pathlib.Path(os.environ.get("COMFYUI_TARBALL", ROOT.parent / "shared/comfyui/ComfyUI-0.3.64.tar.gz"))
CACHE = pathlib.Path(os.environ.get("FACE_PIPELINE_CACHE", pathlib.Path.home() / ".cache/face-pipeline"))
PACK_DIR = "comfyui-face-pipeline"  # the folder name a `git clone` gives
TORCH = "torch==2.13.0"
PLAYWRIGHT = "playwright-core@1.57.0"
CHROMIUM = pathlib.Path("/usr/bin/chromium")
# Bump when the recipe below changes: it is part of the cache key.
RECIPE = "1"
KEEP = 3  # builds kept (most recently used first): branches with other requirements share the cache

# The PyPI torchvision is a CUDA build: with the CPU torch its C ops do not load, and
# torchvision/_meta_registrations.py then fails registering fake ops for them (torchvision::nms).
# In the test environment only, those registrations are skipped when the C ops did not load.
TORCHVISION_ANCHOR = "import torchvision.extension  # noqa: F401\n"
TORCHVISION_GUARD = '''

def _fp_register_fake(name):  # face-pipeline test environment guard
    if not torchvision.extension._has_ops():
        return lambda fn: fn
    return torch.library.register_fake(name)
'''


class HostError(RuntimeError):
    """A prerequisite of the real ComfyUI host is missing or a setup step failed."""


def log(message: str) -> None:
    print(f"[comfyui_host] {message}", file=sys.stderr, flush=True)


def cache_key() -> str:
    """Hash of the tarball, this recipe and the pack's install files."""
    if not TARBALL.is_file():
        raise HostError(f"ComfyUI source not found: {TARBALL} (set COMFYUI_TARBALL)")
    digest = hashlib.sha256(RECIPE.encode())
    for path in (TARBALL, ROOT / "requirements.txt", ROOT / "install.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _run(cmd, logfile, **kwargs) -> None:
    """Run a setup command, appending its output to ``logfile``; HostError with the tail on failure."""
    with open(logfile, "a") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n")
        out.flush()
        done = subprocess.run(list(map(str, cmd)), stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if done.returncode != 0:
        tail = pathlib.Path(logfile).read_text(errors="replace")[-3000:]
        raise HostError(f"setup step failed ({done.returncode}): {' '.join(map(str, cmd))}\n{tail}")


def pack_files() -> list[pathlib.Path]:
    """The checkout's files as a clone has them: tracked plus untracked-not-ignored, existing ones."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError) as ex:
        raise HostError(f"cannot list the pack's files with git in {ROOT}: {ex}") from ex
    return sorted({ROOT / name for name in listed if name and (ROOT / name).is_file()})


def copy_pack(custom_nodes: pathlib.Path) -> pathlib.Path:
    """Copy the pack's files into ``custom_nodes/comfyui-face-pipeline`` (replacing it)."""
    target = custom_nodes / PACK_DIR
    shutil.rmtree(target, ignore_errors=True)
    for path in pack_files():
        dest = target / path.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


def _guard_torchvision(python: pathlib.Path, logfile) -> None:
    """Make torchvision importable with the CPU torch (test environment only)."""
    found = subprocess.run([str(python), "-c", "import importlib.util as u; "
                            "print(u.find_spec('torchvision').submodule_search_locations[0])"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise HostError(f"torchvision is not installed in the ComfyUI environment: {found.stderr}")
    meta = pathlib.Path(found.stdout.strip()) / "_meta_registrations.py"
    text = meta.read_text()
    if "_fp_register_fake" not in text:
        if TORCHVISION_ANCHOR not in text:
            raise HostError(f"unexpected torchvision layout: no {TORCHVISION_ANCHOR!r} in {meta}")
        text = text.replace(TORCHVISION_ANCHOR, TORCHVISION_ANCHOR + TORCHVISION_GUARD, 1)
        meta.write_text(text.replace("@torch.library.register_fake(", "@_fp_register_fake("))
    with open(logfile, "a") as out:
        out.write(f"\nguarded {meta}\n")
    _run([python, "-c", "import torchvision; print('torchvision', torchvision.__version__)"], logfile)


def build() -> pathlib.Path:
    """Build (or reuse) the cached environment; return its folder (``ComfyUI/``, ``venv/`` inside)."""
    key = cache_key()
    base = CACHE / "comfyui-0.3.64"
    home = base / key
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, other checkouts wait for it
        if (home / "complete").is_file():
            (home / "complete").touch()  # last use: the newest KEEP builds stay
            return home
        shutil.rmtree(home, ignore_errors=True)  # an interrupted build
        builds = sorted((d for d in base.iterdir() if (d / "complete").is_file()),
                        key=lambda d: (d / "complete").stat().st_mtime, reverse=True)
        for old in builds[KEEP - 1:] + [d for d in base.iterdir() if d.is_dir() and d not in builds]:
            shutil.rmtree(old, ignore_errors=True)
        home.mkdir()
        logfile = home / "setup.log"
        start = time.monotonic()
        log(f"building the ComfyUI environment in {home} (log: {logfile}); first time takes minutes")
        with tarfile.open(TARBALL) as tar:
            tar.extractall(home, filter="data")
        comfy = home / "ComfyUI"
        if not (comfy / "main.py").is_file():
            raise HostError(f"{TARBALL} does not unpack to ComfyUI/main.py")
        _run([sys.executable, "-m", "venv", home / "venv"], logfile)
        python = home / "venv/bin/python"
        (home / "constraints.txt").write_text(TORCH + "\n")
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
        _run([*pip, "-c", home / "constraints.txt", TORCH], logfile)
        _run([*pip, "-c", home / "constraints.txt", "-r", comfy / "requirements.txt", "requests"], logfile)
        _guard_torchvision(python, logfile)
        # The pack's packages once per key (each server start repeats the steps, then no-ops).
        pack = copy_pack(home / "pack")
        install_pack(home, pack, logfile)
        shutil.rmtree(home / "pack")
        (home / "complete").write_text(f"built in {time.monotonic() - start:.0f} s\n")
        log(f"built in {time.monotonic() - start:.0f} s")
        return home


def install_pack(home: pathlib.Path, pack: pathlib.Path, logfile) -> None:
    """ComfyUI-Manager's install of the pack folder ``pack``: ``pip install -r requirements.txt``,
    then ``python install.py`` (it may put files into the pack folder), with the environment's python."""
    python = home / "venv/bin/python"
    _run([python, "-m", "pip", "install", "--disable-pip-version-check", "-r", "requirements.txt"],
         logfile, cwd=pack)
    _run([python, "install.py"], logfile, cwd=pack)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running ComfyUI: ``url``, ``proc`` (its PID is ``proc.pid``), ``base`` (its base directory),
    ``log_path``. ``stop()`` ends it by its PID."""

    def __init__(self, home: pathlib.Path, base: pathlib.Path, port: int):
        self.home, self.base, self.port = home, base, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = base / "comfyui.log"
        self.proc = None

    def start(self, timeout: float = 300.0) -> "Server":
        cmd = [str(self.home / "venv/bin/python"), "main.py", "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--disable-auto-launch", "--disable-api-nodes",
               "--base-directory", str(self.base),
               "--database-url", f"sqlite:///{self.base / 'user' / 'comfyui.db'}"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.home / "ComfyUI", stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HostError(f"ComfyUI exited ({self.proc.returncode}) while starting:\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(self.url + "/object_info", timeout=5) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise HostError(f"ComfyUI did not answer /object_info within {timeout:.0f} s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def start_server(port: int | None = None, base: pathlib.Path | None = None) -> Server:
    """Build (cached), copy the pack into a fresh base directory and start ComfyUI on 127.0.0.1."""
    home = build()
    base = pathlib.Path(base or tempfile.mkdtemp(prefix="comfyui-run-"))
    for sub in ("custom_nodes", "models", "input", "output", "temp", "user"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    pack = copy_pack(base / "custom_nodes")
    install_pack(home, pack, base / "install.log")
    return Server(home, base, port or free_port()).start()


def ensure_browser() -> pathlib.Path:
    """Debian's chromium and playwright-core (npm, into the cache); return playwright-core's folder.

    Installs what is missing with apt-get / npm (root, registries reachable). HostError says why
    when that is not possible."""
    if not CHROMIUM.is_file() or shutil.which("node") is None or shutil.which("npm") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise HostError("chromium/node/npm missing and apt-get is not usable here (need root on Debian)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        packages = ["chromium"] + ([] if shutil.which("npm") else ["nodejs", "npm"])
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise HostError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    node_dir = CACHE / "node"
    module = node_dir / "node_modules/playwright-core"
    version = PLAYWRIGHT.split("@")[1]
    node_dir.mkdir(parents=True, exist_ok=True)
    with open(node_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (module / "package.json").is_file() and json.loads((module / "package.json").read_text())["version"] == version:
            return module
        (node_dir / "package.json").write_text('{"private": true}\n')
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(node_dir), PLAYWRIGHT],
                              capture_output=True, text=True, env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
        if done.returncode != 0:
            raise HostError(f"npm install {PLAYWRIGHT} failed: {done.stderr[-2000:]}")
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="build (or reuse) the cached ComfyUI environment")
    serve = sub.add_parser("serve", help="install the pack and run ComfyUI until Ctrl-C")
    serve.add_argument("--port", type=int, default=8188)
    sub.add_parser("browser", help="install chromium and playwright-core for the frontend check")
    args = parser.parse_args(argv)
    try:
        if args.command == "setup":
            print(build())
        elif args.command == "browser":
            print(ensure_browser())
        else:
            server = start_server(args.port)
            print(f"ComfyUI with the pack at {server.url} (PID {server.proc.pid}, files in {server.base})")
            try:
                server.proc.wait()
            except KeyboardInterrupt:
                pass
            finally:
                server.stop()
    except HostError as ex:
        print(ex, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
