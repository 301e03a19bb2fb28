"""The production deployment files: deploy/systemd/, deploy/spawn-fcgi/, deploy/nginx/sites/.

What runs for real here and what cannot:
- systemd is not PID 1 where these tests run (containers, CI VMs), so the units are never
  started. `systemd-analyze verify` checks them offline (ExecStart pointed at the built binary),
  `systemd-analyze security --offline` scores their sandbox, and tokengate runs under an
  emulation of that sandbox read from the unit (SystemCallFilter=, SystemCallErrorNumber=,
  RestrictAddressFamilies=, MemoryDenyWriteExecute=, NoNewPrivileges=, UMask=, an unprivileged
  user), applied with libseccomp and prctl the way systemd 252 applies them.
- Socket activation is emulated the way systemd does it: the test owns the listening socket and
  hands it to `tokengate serve --listen fd:0` as standard input.
- The spawn-fcgi script starts a real tokengate behind a real nginx. As root it also proves the
  permission scheme: socket 0660 with group www-data, nginx workers as www-data, tokengate as
  nobody (a stand-in for the tokengate system user, which the tests do not create).
- The production site runs for real on loopback ports (listen, certificate, upstream socket and
  example upstream rewritten in a copy; every other line as shipped).
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import errno
import grp
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from harness import (
    NGINX_CONFIG_DIR,
    REPO,
    WEB_DIR,
    Stack,
    fastcgi_request,
    free_port,
    https_context,
    make_certificate,
    nginx_binary,
    render_nginx_config,
    short_tempdir,
    skip_or_fail,
    socket_mode,
    stop_process,
    tokengate_binary,
    unix_socket_connections,
    user_cli_available,
    wait_for,
)

SYSTEMD_DIR = REPO / "deploy" / "systemd"
SPAWN_SCRIPT = REPO / "deploy" / "spawn-fcgi" / "tokengate-spawn-fcgi.sh"
SITES_DIR = NGINX_CONFIG_DIR / "sites"
SITE = SITES_DIR / "tokengate.conf"
SITE_HTTP = SITES_DIR / "tokengate-http.conf"
UPSTREAM = NGINX_CONFIG_DIR / "tokengate-upstream.conf"
SANDBOX_KEYS = (
    "NoNewPrivileges", "CapabilityBoundingSet", "AmbientCapabilities", "ProtectSystem", "ProtectHome",
    "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
    "ProtectControlGroups", "ProtectClock", "ProtectHostname", "ProtectProc", "RestrictAddressFamilies",
    "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute",
    "RemoveIPC", "SystemCallArchitectures", "SystemCallFilter", "SystemCallErrorNumber", "UMask",
    "StateDirectory", "StateDirectoryMode", "User", "Group",
)
HSTS = "max-age=63072000; includeSubDomains"
SIGN_IN_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
PASSWORD = "deployment-password-1"
# Fast Argon2 for tests (the harness's Stack uses the same).
FAST_HASHING = {"TOKENGATE_PASSWORDS_MEMORY": "1024", "TOKENGATE_PASSWORDS_ITERATIONS": "1"}


# --- helpers -----------------------------------------------------------------------------------

def require_tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} not found (apt-get install {package})")
    return found


def require_binary() -> Path:
    binary = tokengate_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        skip_or_fail(f"tokengate binary not found at {binary} (run `swift build` or set TOKENGATE_BIN)")
    return binary


def require_nginx() -> Path:
    nginx = nginx_binary()
    if not (nginx.is_file() and os.access(nginx, os.X_OK)):
        skip_or_fail(f"nginx not found at {nginx} (apt-get install nginx or set TOKENGATE_TEST_NGINX)")
    if not Path("/etc/nginx/mime.types").exists():
        skip_or_fail("/etc/nginx/mime.types is missing (install nginx)")
    return nginx


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment of a unit file, in order."""
    entries, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(path: Path, key: str) -> list[str]:
    return [value for _, name, value in unit_entries(path) if name == key]


def unit_value(path: Path, key: str) -> str | None:
    values = unit_values(path, key)
    return values[-1] if values else None


def seconds(duration: str) -> float:
    """`30s`, `10s`, `1min 30s`, `5m`, `250ms`, a bare number (seconds) → seconds."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    total, found = 0.0, False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", duration):
        total += float(number) * units[unit or "s"]
        found = True
    assert found, f"not a duration: {duration!r}"
    return total


def config_defaults() -> dict[str, str]:
    """key → default, from `tokengate config keys` (tab-separated: key, variable, default, text)."""
    result = subprocess.run([str(require_binary()), "config", "keys"], capture_output=True, text=True,
                            timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return {line.split("\t")[0]: line.split("\t")[2] for line in result.stdout.splitlines() if "\t" in line}


def clean_environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENGATE_")}
    env.update(FAST_HASHING)
    env.update(settings)
    return env


def wait_listening(process: subprocess.Popen, socket_path: Path, log: Path, timeout: float = 30) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"exited with {process.returncode} during startup:\n{tail}")
        if not socket_path.is_socket():
            return False
        listening, _ = unix_socket_connections(socket_path, process.pid)
        return bool(listening)

    wait_for(ready, timeout, message=f"pid {process.pid} to listen on {socket_path}")


def wait_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 15) -> None:
    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for(listening, timeout, message=f"nginx to listen on 127.0.0.1:{port}")


def production_like_user() -> tuple[str, str] | None:
    """(user, group) to run tokengate as, like User=tokengate: nobody when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("nobody")
        grp.getgrnam("nogroup")
    except KeyError:
        return None
    return "nobody", "nogroup"


def chown_to(path: Path, account: tuple[str, str] | None) -> None:
    if account is not None:
        shutil.chown(path, account[0], account[1])


def process_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def replace_exactly(text: str, old: str, new: str, count: int, what: str) -> str:
    found = text.count(old)
    assert found == count, f"{what}: expected {count} × {old!r}, found {found} (did the file change shape?)"
    return text.replace(old, new)


# --- systemd -----------------------------------------------------------------------------------

def installed_copies(directory: Path) -> list[Path]:
    """The units as an operator installs them, with ExecStart pointed at the built binary."""
    binary = require_binary()
    copies = []
    for unit in sorted(SYSTEMD_DIR.glob("*.s*")):
        if unit.suffix not in (".service", ".socket"):
            continue
        text = unit.read_text()
        if unit.suffix == ".service":
            text = replace_exactly(text, "/usr/local/bin/tokengate ", f"{binary} ", 1, unit.name)
        copy = directory / unit.name
        copy.write_text(text)
        copies.append(copy)
    return copies


def test_systemd_units_verify(tmp_path):
    """`systemd-analyze verify` (offline; systemd need not be running) says nothing about our units."""
    analyze = require_tool("systemd-analyze", "systemd")
    copies = installed_copies(tmp_path)
    assert {copy.name for copy in copies} == {"tokengate.service", "tokengate.socket", "tokengate-socket.service"}
    result = subprocess.run([analyze, "verify", *map(str, copies)], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, cwd=tmp_path)
    output = (result.stdout + result.stderr).strip()
    ours = [line for line in output.splitlines() if any(copy.name in line for copy in copies)]
    assert result.returncode == 0 and not ours, f"systemd-analyze verify (exit {result.returncode}):\n{output}"


def test_systemd_units_agree_with_each_other_and_with_nginx():
    """Both services run the same command, user and sandbox; every socket path is the same."""
    defaults = config_defaults()
    service, activated, socket_unit = (SYSTEMD_DIR / name for name in
                                       ("tokengate.service", "tokengate-socket.service", "tokengate.socket"))
    serve = "/usr/local/bin/tokengate serve --config /etc/tokengate/tokengate.conf"
    assert unit_value(service, "ExecStart") == serve, "tokengate.service listens on fastcgi.listen (the default)"
    assert unit_value(activated, "ExecStart") == serve + " --listen fd:0"
    for unit in (service, activated):
        assert unit_value(unit, "Type") == "simple", unit.name  # tokengate does not call sd_notify
        assert unit_value(unit, "ExecReload") == "/bin/kill -HUP $MAINPID", unit.name
        assert unit_value(unit, "KillSignal") == "SIGTERM", unit.name
        assert unit_value(unit, "Restart") == "on-failure", unit.name
        drain = seconds(defaults["fastcgi.drainTimeout"])
        assert seconds(unit_value(unit, "TimeoutStopSec")) >= drain + 10, \
            f"{unit.name}: TimeoutStopSec must leave the {drain}s drain time to finish before SIGKILL"
    sandbox = {unit.name: [(key, value) for _, key, value in unit_entries(unit) if key in SANDBOX_KEYS]
               for unit in (service, activated)}
    assert sandbox["tokengate.service"] == sandbox["tokengate-socket.service"]
    assert dict(sandbox["tokengate.service"])["MemoryDenyWriteExecute"] == "yes"

    # tokengate.service owns /run/tokengate; the activated service must not (stopping it would
    # delete the socket unit's socket file), and must not write its log into the socket.
    assert unit_value(service, "RuntimeDirectory") == "tokengate"
    assert unit_value(activated, "RuntimeDirectory") is None
    assert unit_value(activated, "StandardInput") == "socket"
    assert unit_value(activated, "StandardOutput") == "journal"
    assert unit_value(activated, "StandardError") == "journal"

    default_socket = defaults["fastcgi.listen"].removeprefix("unix:")
    upstream = re.search(r"^\s*server\s+unix:(\S+?);", UPSTREAM.read_text(), flags=re.MULTILINE)
    assert upstream, f"no `server unix:…;` in {UPSTREAM}"
    assert unit_value(socket_unit, "ListenStream") == default_socket == upstream.group(1)
    assert os.path.dirname(default_socket) == "/run/" + unit_value(service, "RuntimeDirectory")
    assert unit_value(socket_unit, "SocketMode") == defaults["fastcgi.socketMode"] == "0660"
    assert unit_value(socket_unit, "SocketGroup") == "www-data"
    assert unit_value(socket_unit, "Accept") == "no"
    assert unit_value(socket_unit, "Service") == "tokengate-socket.service"
    assert "tokengate.socket" in unit_value(service, "Conflicts").split()


def test_systemd_sandbox_exposure(tmp_path):
    """`systemd-analyze security --offline` rates both services' sandbox "OK" or better (≤ 2.0)."""
    analyze = require_tool("systemd-analyze", "systemd")
    for copy in installed_copies(tmp_path):
        if copy.suffix != ".service":
            continue
        result = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(copy)],
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path)
        if "--offline" in result.stderr and result.returncode != 0:
            pytest.skip(f"this systemd-analyze has no --offline: {result.stderr.strip()}")
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
        assert match, f"security {copy.name} (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        assert float(match.group(1)) <= 2.0, f"{copy.name}:\n{result.stdout}"


# --- the unit's sandbox, emulated -------------------------------------------------------------

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_LT, SCMP_CMP_EQ, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ = 2, 4, 6, 7
PR_SET_NO_NEW_PRIVS = 38
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000


def scmp_act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class ScmpArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def syscall_groups(analyze: str) -> dict[str, list[str]]:
    """`systemd-analyze syscall-filter`: group → members (system calls and nested @groups)."""
    output = subprocess.run([analyze, "syscall-filter", "--no-pager"], capture_output=True, text=True, check=True,
                            timeout=60, stdin=subprocess.DEVNULL).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            groups[current].append(line.strip())
    return groups


def expand(groups: dict[str, list[str]], names: list[str]) -> set[str]:
    result: set[str] = set()
    for name in names:
        result |= expand(groups, groups[name]) if name.startswith("@") else {name}
    return result


def allowed_syscalls(unit: Path, analyze: str) -> set[str]:
    """The allow-list systemd builds from the unit's SystemCallFilter= lines (plus @default)."""
    groups = syscall_groups(analyze)
    allowed = expand(groups, ["@default"])
    for line in unit_values(unit, "SystemCallFilter"):
        names = line.lstrip("~").split()
        if line.startswith("~"):
            allowed -= expand(groups, names)
        else:
            allowed |= expand(groups, names)
    return allowed


class EmulatedSandbox:
    """The seccomp filter and process settings of a service unit, to apply in a child process.

    The filter is built here, in the parent; the child (preexec_fn, after Popen switched the
    user) only sets no_new_privs and loads it.
    """

    def __init__(self, unit: Path, analyze: str):
        path = ctypes.util.find_library("seccomp")
        if path is None:
            skip_or_fail("libseccomp is not installed (apt-get install libseccomp2; it comes with systemd)")
        self.lib = ctypes.CDLL(path, use_errno=True)
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                                    ctypes.POINTER(ScmpArgCmp)]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]

        assert unit_value(unit, "NoNewPrivileges") == "yes"
        assert unit_value(unit, "MemoryDenyWriteExecute") == "yes"
        self.umask = int(unit_value(unit, "UMask"), 8)
        errno_name = unit_value(unit, "SystemCallErrorNumber")
        # Without SystemCallErrorNumber=, systemd kills the process on a filtered call.
        self.default = scmp_act_errno(getattr(errno, errno_name)) if errno_name else 0x80000000
        families = {getattr(socket, name) for name in unit_value(unit, "RestrictAddressFamilies").split()}
        self.context = self.lib.seccomp_init(self.default)
        assert self.context, "seccomp_init failed"

        conditional = {"socket", "mmap", "mprotect", "pkey_mprotect", "shmat"}
        allowed = allowed_syscalls(unit, analyze)
        for name in sorted(allowed - conditional):
            self.rule(SCMP_ACT_ALLOW, name)
        # RestrictAddressFamilies=: socket() of another family fails with EAFNOSUPPORT.
        if "socket" in allowed:
            refused = scmp_act_errno(97)
            for family in sorted(families):
                self.rule(SCMP_ACT_ALLOW, "socket", (0, SCMP_CMP_EQ, family, 0))
            self.rule(refused, "socket", (0, SCMP_CMP_LT, min(families), 0))
            self.rule(refused, "socket", (0, SCMP_CMP_GT, max(families), 0))
            for family in range(min(families) + 1, max(families)):
                if family not in families:
                    self.rule(refused, "socket", (0, SCMP_CMP_EQ, family, 0))
        # MemoryDenyWriteExecute= (systemd 252: seccomp): no W+X mapping, no PROT_EXEC via mprotect.
        denied = scmp_act_errno(1)
        writable_executable = PROT_WRITE | PROT_EXEC
        for name in ("mmap", "mmap2"):
            if name in allowed or name == "mmap":
                for prot in (0, PROT_WRITE, PROT_EXEC):
                    self.rule(SCMP_ACT_ALLOW, name, (2, SCMP_CMP_MASKED_EQ, writable_executable, prot))
                self.rule(denied, name, (2, SCMP_CMP_MASKED_EQ, writable_executable, writable_executable))
        for name in ("mprotect", "pkey_mprotect"):
            if name in allowed:
                self.rule(SCMP_ACT_ALLOW, name, (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))
                self.rule(denied, name, (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        if "shmat" in allowed:
            self.rule(SCMP_ACT_ALLOW, "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, 0))
            self.rule(denied, "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))

    def rule(self, action: int, name: str, *comparisons: tuple[int, int, int, int]) -> None:
        if action == self.default:
            return  # libseccomp refuses rules that repeat the default action
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            return  # not a system call on this architecture
        array = (ScmpArgCmp * len(comparisons))(*[ScmpArgCmp(*c) for c in comparisons]) if comparisons else None
        result = self.lib.seccomp_rule_add_array(self.context, action, number, len(comparisons), array)
        assert result == 0, f"seccomp_rule_add {name}: {os.strerror(-result)}"

    def enter(self) -> None:
        """In the child, just before exec (preexec_fn): NoNewPrivileges=yes, then the filter."""
        if self.libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        result = self.lib.seccomp_load(self.context)
        if result != 0:
            raise OSError(-result, "seccomp_load")


def test_emulated_sandbox_refuses_what_the_unit_refuses():
    """The emulation is real: W+X memory, a netlink socket and a @privileged call all fail in it."""
    analyze = require_tool("systemd-analyze", "systemd")
    sandbox = EmulatedSandbox(SYSTEMD_DIR / "tokengate.service", analyze)
    probe = (
        "import mmap, socket, os\n"
        "def refused(action):\n"
        "    try:\n"
        "        action()\n"
        "    except OSError as error:\n"
        "        return error.errno\n"
        "    return 0\n"
        "print(refused(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)),\n"
        "      refused(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)),\n"
        "      refused(lambda: os.chroot('/')),\n"
        "      refused(lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()),\n"
        "      refused(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE).close()))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            preexec_fn=sandbox.enter, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(errno.EPERM), str(errno.EAFNOSUPPORT), str(errno.EPERM), "0", "0"], \
        result.stdout


def test_tokengate_runs_in_the_service_sandbox():
    """tokengate serves, reloads and drains under tokengate.service's sandbox (emulated, see above)."""
    analyze = require_tool("systemd-analyze", "systemd")
    binary = require_binary()
    unit = SYSTEMD_DIR / "tokengate.service"
    sandbox = EmulatedSandbox(unit, analyze)
    account = production_like_user()
    root = short_tempdir("tg-sandbox-")
    try:
        root.chmod(0o755)
        data, run = root / "data", root / "run"
        data.mkdir(mode=0o700)
        run.mkdir(mode=0o750)
        chown_to(data, account)
        chown_to(run, account)
        (root / "tokengate.conf").write_text(f"storage.directory = {data}\n")
        socket_path = run / "tokengate.sock"
        env = clean_environment(TOKENGATE_CONFIG=str(root / "tokengate.conf"),
                                TOKENGATE_FASTCGI_LISTEN=f"unix:{socket_path}", TOKENGATE_FASTCGI_WORKERS="4")
        user_args = {"user": account[0], "group": account[1], "extra_groups": []} if account else {}
        if user_cli_available():
            added = subprocess.run([str(binary), "user", "add", "operator", "--role", "admin", "--password-stdin"],
                                   input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60,
                                   umask=sandbox.umask, **user_args)
            assert added.returncode == 0, added.stderr
        log = root / "tokengate.log"
        with open(log, "ab") as output:
            process = subprocess.Popen([str(binary), "serve"], env=env, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=output, cwd=root, umask=sandbox.umask, preexec_fn=sandbox.enter,
                                       **user_args)
        try:
            wait_listening(process, socket_path, log)
            status_lines = Path(f"/proc/{process.pid}/status").read_text()
            assert re.search(r"^NoNewPrivs:\s+1$", status_lines, re.MULTILINE), status_lines
            assert re.search(r"^Seccomp:\s+2$", status_lines, re.MULTILINE), status_lines  # a filter is loaded
            if account:
                assert process_uid(process.pid) == pwd.getpwnam(account[0]).pw_uid
            # UMask=0077 must not narrow the socket: tokengate sets fastcgi.socketMode itself.
            assert socket_mode(socket_path) == 0o660
            status, _, body = fastcgi_request(socket_path, "/auth/healthz")
            assert status == 200, body
            assert fastcgi_request(socket_path, "/auth/.well-known/jwks.json")[0] == 200
            assert fastcgi_request(socket_path, "/auth/metrics")[0] == 200
            if user_cli_available():
                status, _, body = fastcgi_request(
                    socket_path, "/auth/login", method="POST",
                    body=json.dumps({"username": "operator", "password": PASSWORD}).encode())
                assert status == 200, body  # Argon2id, SQLite writes, key use: all inside the filter
                token = json.loads(body)["accessToken"]
                status, headers, body = fastcgi_request(socket_path, "/auth/verify", headers={
                    "HTTP_AUTHORIZATION": f"Bearer {token}", "AUTH_REQUIRE_ROLES": "admin"})
                assert status == 204 and headers.get("x-auth-username") == "operator", (status, headers, body)
            process.send_signal(signal.SIGHUP)  # systemctl reload
            wait_for(lambda: '"configuration reloaded"' in log.read_text(), 15, message="tokengate to log `configuration reloaded`")
            assert process.poll() is None, log.read_text()
            assert fastcgi_request(socket_path, "/auth/healthz")[0] == 200
            assert stop_process(process) == 0, log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                stop_process(process, signal.SIGKILL)
        text = log.read_text(errors="replace")
        assert "level=critical" not in text and "level=error" not in text, text[-3000:]
        # UMask=0077: nothing tokengate wrote is readable by anyone else.
        for path in [data, *data.rglob("*")]:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is {oct(path.stat().st_mode)}"
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- socket activation and spawn-fcgi: the listening socket on standard input ------------------

def test_socket_activation_survives_a_service_restart(tmp_path):
    """systemd keeps tokengate.socket's listening socket and passes the same one to every start."""
    binary = require_binary()
    socket_path = Path(short_tempdir("tg-act-")) / "tokengate.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(128)
    env = clean_environment(TOKENGATE_CONFIG=str(tmp_path / "tokengate.conf"),
                            TOKENGATE_STORAGE_DIRECTORY=str(tmp_path / "data"), TOKENGATE_FASTCGI_WORKERS="2")
    (tmp_path / "tokengate.conf").write_text("")
    log = tmp_path / "tokengate.log"
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        with open(log, "ab") as output:
            process = subprocess.Popen([str(binary), "serve", "--listen", "fd:0"], env=env, stdin=listener.fileno(),
                                       stdout=output, stderr=output)
        processes.append(process)
        wait_for(lambda: log.read_text().count("msg=listening") == len(processes), 30,
                 message="tokengate to log `listening`")
        return process

    try:
        first = start()
        assert fastcgi_request(socket_path, "/auth/healthz")[0] == 200
        assert stop_process(first) == 0  # systemctl restart tokengate-socket.service: stop …
        second = start()  # … and start, with the socket systemd kept
        assert fastcgi_request(socket_path, "/auth/healthz")[0] == 200
        assert stop_process(second) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                stop_process(process)
        listener.close()
        shutil.rmtree(socket_path.parent, ignore_errors=True)


def test_spawn_fcgi_script_behind_nginx(tls_dir):
    """deploy/spawn-fcgi/tokengate-spawn-fcgi.sh → nginx → /auth/healthz 200; SIGTERM → exit 0.

    As root: the socket is 0660 nobody:www-data, tokengate runs as nobody and nginx's worker
    as www-data (the production arrangement); otherwise everything runs as the invoking user.
    Once tokengate is stopped, nginx answers 502 for /auth/* and 500 for a gated location.
    """
    require_tool("spawn-fcgi", "spawn-fcgi")
    binary = require_binary()
    nginx = require_nginx()
    account = production_like_user()
    root = short_tempdir("tg-spawn-")
    processes: list[subprocess.Popen] = []
    try:
        root.chmod(0o755)  # nginx's workers (www-data) reach the socket and temp files below it
        data = root / "data"
        data.mkdir(mode=0o700)
        chown_to(data, account)
        (root / "tokengate.conf").write_text("# settings come from TOKENGATE_* below\n")
        socket_path = root / "run" / "tokengate.sock"
        if account is None:
            socket_path.parent.mkdir()  # as root, the script makes it (root:www-data 0750)
        env = clean_environment(
            TOKENGATE_BIN=str(binary), TOKENGATE_CONFIG=str(root / "tokengate.conf"),
            TOKENGATE_STORAGE_DIRECTORY=str(data), TOKENGATE_FASTCGI_WORKERS="4", FCGI_SOCKET=str(socket_path))
        if account:
            env.update(FCGI_USER=account[0], FCGI_GROUP=account[1], FCGI_SOCKET_GROUP="www-data")
        log = root / "tokengate.log"
        with open(log, "ab") as output:
            tokengate = subprocess.Popen([str(SPAWN_SCRIPT)], env=env, stdin=subprocess.DEVNULL, stdout=output,
                                         stderr=output, cwd=root)
        processes.append(tokengate)
        wait_listening(tokengate, socket_path, log)
        # -n: spawn-fcgi exec'd tokengate in the script's own process.
        assert os.readlink(f"/proc/{tokengate.pid}/exe") == str(binary.resolve())
        assert socket_mode(socket_path) == 0o660
        if account:
            assert process_uid(tokengate.pid) == pwd.getpwnam(account[0]).pw_uid
            assert socket_path.stat().st_gid == grp.getgrnam("www-data").gr_gid
            assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o750
            assert socket_path.parent.stat().st_gid == grp.getgrnam("www-data").gr_gid

        port = free_port()
        config = render_nginx_config(root, port, socket_path, app_port=free_port())
        if account:
            text = replace_exactly(config.read_text(), "master_process off;",
                                   "master_process on;\nuser www-data www-data;", 1, "nginx.conf.template")
            config.write_text(text)
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / name).mkdir(exist_ok=True)
        (root / "tls").symlink_to(tls_dir)
        nginx_log = root / "nginx.stderr"
        with open(nginx_log, "ab") as output:
            nginx_process = subprocess.Popen(
                [str(nginx), "-p", f"{root}/", "-c", str(config), "-e", str(root / "nginx-error.log")],
                stdin=subprocess.DEVNULL, stdout=output, stderr=output, cwd=root)
        processes.append(nginx_process)
        wait_port(port, nginx_process, nginx_log)

        session = requests.Session()
        session.trust_env = False
        session.verify = False
        url = f"https://127.0.0.1:{port}"
        response = session.get(url + "/auth/healthz", timeout=30)
        assert response.status_code == 200, (response.status_code, response.text,
                                             (root / "nginx-error.log").read_text(errors="replace")[-2000:])
        assert response.json() == {"status": "ok"}
        if account:
            workers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                       if pid != nginx_process.pid and _parent(pid) == nginx_process.pid]
            assert workers and all(process_uid(pid) == pwd.getpwnam("www-data").pw_uid for pid in workers)

        assert stop_process(tokengate) == 0, log.read_text(errors="replace")[-3000:]
        # What operators see while tokengate is down (docs/operations.md).
        assert session.get(url + "/auth/healthz", timeout=30).status_code == 502
        assert session.get(url + "/app/", headers={"Accept": "application/json"}, timeout=30).status_code == 500
        session.close()
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                stop_process(process)
        shutil.rmtree(root, ignore_errors=True)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


# --- the production nginx site -----------------------------------------------------------------

def test_site_passes_nginx_t_in_a_debian_layout(tmp_path):
    """Debian's own nginx.conf + conf.d/tokengate.conf + sites-enabled/tokengate: `nginx -t`, no warnings."""
    nginx = require_nginx()
    prefix = tmp_path
    cert = _certificate(tmp_path / "tls")
    (prefix / "tokengate").symlink_to(NGINX_CONFIG_DIR)
    (prefix / "conf.d").mkdir()
    shutil.copy(SITE_HTTP, prefix / "conf.d" / "tokengate.conf")
    (prefix / "sites-enabled").mkdir()
    site = SITE.read_text()
    for name, target in (("fullchain.pem", "cert.pem"), ("privkey.pem", "key.pem")):
        site = replace_exactly(site, f"/etc/letsencrypt/live/auth.example.com/{name}", str(cert / target), 1, "site")
    (prefix / "sites-enabled" / "tokengate").write_text(site)
    (prefix / "logs").mkdir()
    stock = Path("/etc/nginx/nginx.conf")
    if stock.exists():
        # The operator's layout: the stock file with its paths moved into the prefix.
        text = stock.read_text().replace("/run/nginx.pid", f"{prefix}/nginx.pid")
        text = text.replace("/var/log/nginx/", f"{prefix}/logs/").replace("/etc/nginx/", f"{prefix}/")
        (prefix / "mime.types").symlink_to("/etc/nginx/mime.types")
        modules = Path("/etc/nginx/modules-enabled")
        if modules.exists():
            (prefix / "modules-enabled").symlink_to(modules)
        if Path("/usr/share/nginx/modules").exists():  # `load_module modules/…` is relative to the prefix
            (prefix / "modules").symlink_to("/usr/share/nginx/modules")
        default_site = Path("/etc/nginx/sites-enabled/default")
        if default_site.exists():  # the site must coexist with Debian's default one
            shutil.copy(default_site, prefix / "sites-enabled" / "default")
    else:
        text = (f"pid {prefix}/nginx.pid;\nevents {{}}\nhttp {{\n    include /etc/nginx/mime.types;\n"
                f"    include conf.d/*.conf;\n    include sites-enabled/*;\n}}\n")
    (prefix / "nginx.conf").write_text(text)
    result = subprocess.run([str(nginx), "-t", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"),
                             "-e", str(prefix / "logs" / "error.log")],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    problems = [line for line in output.splitlines() if re.search(r"\[(warn|error|crit|alert|emerg)\]", line)]
    assert not problems, output


def _certificate(directory: Path) -> Path:
    if shutil.which("openssl") is None:
        skip_or_fail("openssl not found (apt-get install openssl)")
    return make_certificate(directory)


class SiteStack(Stack):
    """tokengate + the echo upstream + nginx running deploy/nginx/sites/ as shipped, except for
    what only this machine can decide: listen addresses, certificate, socket path, upstream port.
    """

    def __init__(self, root: Path, tls_dir: Path):
        super().__init__(root, tls_dir, workers=8)
        self.http_port = 0

    def start_nginx(self, attempts: int = 3) -> None:
        self.make_directories()
        for attempt in range(attempts):
            self.port, self.http_port = free_port(), free_port()
            self.render()
            with open(self.root / "nginx.stderr", "ab") as errors:
                self.nginx_process = subprocess.Popen(
                    [str(self.nginx), "-p", f"{self.root}/", "-c", str(self.root / "nginx.conf"),
                     "-e", str(self.nginx_error_log)],
                    stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, cwd=self.root)
            try:
                wait_port(self.port, self.nginx_process, self.root / "nginx.stderr")
                wait_port(self.http_port, self.nginx_process, self.root / "nginx.stderr")
                return
            except RuntimeError:
                if "Address already in use" in (self.root / "nginx.stderr").read_text() and attempt + 1 < attempts:
                    continue
                raise

    def render(self) -> None:
        root = self.root
        # /etc/nginx/tokengate as an operator would have it, but with this stack's socket.
        tree = root / "tokengate"
        if tree.exists():
            shutil.rmtree(tree)
        tree.mkdir()
        for name in ("tokengate-maps.conf", "snippets", "sites"):
            (tree / name).symlink_to(NGINX_CONFIG_DIR / name)
        (tree / UPSTREAM.name).write_text(replace_exactly(
            UPSTREAM.read_text(), "unix:/run/tokengate/tokengate.sock", f"unix:{self.socket_path}", 1, UPSTREAM.name))
        (root / "conf.d").mkdir(exist_ok=True)
        shutil.copy(SITE_HTTP, root / "conf.d" / "tokengate.conf")

        site = SITE.read_text()
        for old, new, count in (
            ("listen 80;", f"listen 127.0.0.1:{self.http_port};", 1),
            ("listen [::]:80;", "", 1),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.port} ssl http2;", 1),
            ("listen [::]:443 ssl http2;", "", 1),
            ("/etc/letsencrypt/live/auth.example.com/fullchain.pem", str(root / "tls" / "cert.pem"), 1),
            ("/etc/letsencrypt/live/auth.example.com/privkey.pem", str(root / "tls" / "key.pem"), 1),
            ("root /var/www/tokengate;", f"root {WEB_DIR};", 1),
            ("proxy_pass http://127.0.0.1:9000;", f"proxy_pass http://127.0.0.1:{self.app_port};", 2),
        ):
            site = replace_exactly(site, old, new, count, SITE.name)
        (root / "sites-enabled").mkdir(exist_ok=True)
        (root / "sites-enabled" / "tokengate").write_text(site)
        (root / "nginx.conf").write_text(f"""\
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {self.nginx_error_log} warn;
events {{
    worker_connections 1024;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {root}/nginx-access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include conf.d/*.conf;
    include sites-enabled/*;
}}
""")


@pytest.fixture(scope="module")
def site(tls_dir, tmp_path_factory):
    require_binary()
    require_nginx()
    root = tmp_path_factory.mktemp("site")
    remove = False
    if len(str(root / "tokengate.sock")) >= 100:
        root, remove = short_tempdir(), True
    stack = SiteStack(root, tls_dir)
    try:
        stack.start()
        if user_cli_available():
            stack.add_user("reader", PASSWORD, roles=("user",))
            stack.add_user("operator", PASSWORD, roles=("admin",))
        yield stack
    finally:
        problems = stack.close()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)
        if remove:
            shutil.rmtree(root, ignore_errors=True)


def assert_site_headers(response: requests.Response) -> None:
    assert response.headers.get("Strict-Transport-Security") == HSTS, (response.url, dict(response.headers))
    assert response.headers.get("X-Content-Type-Options") == "nosniff", (response.url, dict(response.headers))
    assert response.headers.get("Referrer-Policy") == "same-origin", (response.url, dict(response.headers))


def test_site_redirects_http_to_https(site):
    response = requests.get(f"http://127.0.0.1:{site.http_port}/app/page?x=1", allow_redirects=False, timeout=30)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/app/page?x=1"


def test_site_tls_and_http2(site):
    def handshake(maximum: ssl.TLSVersion, alpn: list[str]) -> ssl.SSLSocket:
        context = https_context()
        context.maximum_version = maximum
        context.set_alpn_protocols(alpn)
        raw = socket.create_connection(("127.0.0.1", site.port), timeout=10)
        return context.wrap_socket(raw, server_hostname="localhost")

    with handshake(ssl.TLSVersion.TLSv1_3, ["h2", "http/1.1"]) as tls:
        assert tls.version() == "TLSv1.3"
        assert tls.selected_alpn_protocol() == "h2"
    with handshake(ssl.TLSVersion.TLSv1_2, ["http/1.1"]) as tls:
        assert tls.version() == "TLSv1.2"
        name = tls.cipher()[0]
        assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name


def test_site_security_headers(site):
    """HSTS, nosniff and Referrer-Policy on tokengate's responses; the CSP on the sign-in page."""
    for path in ("/auth/healthz", "/auth/.well-known/jwks.json"):
        response = site.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert_site_headers(response)
    page = site.get("/")
    assert page.status_code == 200 and "<form" in page.text
    assert_site_headers(page)
    assert page.headers.get("Content-Security-Policy") == SIGN_IN_CSP
    assert page.headers.get("X-Frame-Options") == "DENY"
    asset = site.get("/style.css")
    assert asset.status_code == 200 and asset.headers.get("Content-Security-Policy") == SIGN_IN_CSP
    # An unknown /auth/ path is tokengate's JSON 404, with the headers.
    missing = site.get("/auth/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert_site_headers(missing)


def _from(address: str, port: int, path: str) -> int:
    """GET PATH with the connection's source address set to ADDRESS (another loopback address)."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=https_context(), timeout=30,
                                             source_address=(address, 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_site_monitoring_endpoints_are_local_only(site):
    """/auth/healthz and /auth/metrics: 200 from 127.0.0.1, 403 from any other address."""
    assert _from("127.0.0.1", site.port, "/auth/metrics") == 200
    assert _from("127.0.0.1", site.port, "/auth/healthz") == 200
    try:
        status = _from("127.0.0.2", site.port, "/auth/metrics")
    except OSError as error:
        skip_or_fail(f"cannot connect from 127.0.0.2 on this machine: {error}")
    assert status == 403
    assert _from("127.0.0.2", site.port, "/auth/healthz") == 403
    assert _from("127.0.0.2", site.port, "/auth/.well-known/jwks.json") == 200  # public, for comparison


@pytest.mark.skipif(not user_cli_available(), reason="`tokengate user add` does not exist yet")
def test_site_gate_and_roles(site):
    """The example locations: /app/ for any signed-in user, /admin/ for the admin role."""
    anonymous = site.new_session()
    api = anonymous.get(site.url("/app/"), headers={"Accept": "application/json"}, timeout=30)
    assert api.status_code == 401 and api.json()["error"] == "invalid_token"
    page = anonymous.get(site.url("/app/"), headers={"Sec-Fetch-Mode": "navigate", "Accept": "text/html"},
                         allow_redirects=False, timeout=30)
    assert page.status_code == 303 and page.headers["Location"] == "/auth/refresh?rd=/app/"

    reader = site.new_session()
    assert site.login("reader", PASSWORD, session=reader).status_code == 200
    response = reader.get(site.url("/app/"), headers={"X-Auth-Username": "forged", "Accept": "application/json"},
                          timeout=30)
    assert response.status_code == 200, response.text
    assert_site_headers(response)
    received = {k.lower(): v for k, v in response.json()["headers"].items()}
    assert received["x-auth-username"] == "reader"
    assert "__Host-access" not in received.get("cookie", "")
    forbidden = reader.get(site.url("/admin/"), headers={"Accept": "application/json"}, timeout=30)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "insufficient_scope"

    operator = site.new_session()
    login = site.login("operator", PASSWORD, session=operator)
    assert login.status_code == 200
    assert_site_headers(login)
    admin = operator.get(site.url("/admin/"), headers={"Accept": "application/json"}, timeout=30)
    assert admin.status_code == 200, admin.text
    assert {k.lower(): v for k, v in admin.json()["headers"].items()}["x-auth-roles"] == "admin"


def test_site_large_token_reaches_tokengate(site):
    """A 12 KiB bearer token gets tokengate's 401 (large_client_header_buffers 4 16k), not nginx's 400."""
    mark = site.mark()
    response = site.get("/app/", headers={"Authorization": "Bearer " + "a" * 12_000, "Accept": "application/json"})
    assert response.status_code == 401, (response.status_code, response.text[:300])
    assert response.json()["error"] == "invalid_token"
    wait_for(lambda: any(r.get("request.route") == "/verify" for r in site.request_records(mark)), 10,
             message="tokengate to log the /verify request")


@pytest.mark.skipif(not user_cli_available(), reason="`tokengate user add` does not exist yet")
def test_site_headers_on_gate_refusals(site):
    anonymous = site.new_session()
    api = anonymous.get(site.url("/app/"), headers={"Accept": "application/json"}, timeout=30)
    page = anonymous.get(site.url("/app/"), headers={"Sec-Fetch-Mode": "navigate"}, allow_redirects=False, timeout=30)
    reader = site.new_session()
    assert site.login("reader", PASSWORD, session=reader).status_code == 200
    forbidden = reader.get(site.url("/admin/"), headers={"Accept": "application/json"}, timeout=30)
    assert (api.status_code, page.status_code, forbidden.status_code) == (401, 303, 403)
    for response in (api, page, forbidden):
        assert_site_headers(response)


# --- the runbooks of docs/operations.md ---------------------------------------------------------

def _kid(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def _me(stack: Stack, token: str) -> int:
    return stack.new_session().get(stack.url("/auth/me"), headers={"Authorization": f"Bearer {token}"},
                                   timeout=30).status_code


@pytest.mark.skipif(not user_cli_available(), reason="`tokengate user add` does not exist yet")
def test_key_rotation_runbook(make_stack):
    """key generate → reload → (tokens of the old key keep working) → key retire → reload."""
    stack = make_stack(workers=4)
    stack.add_user("rotor", PASSWORD)
    old_token = stack.login("rotor", PASSWORD).json()["accessToken"]
    old_kid = _kid(old_token)

    generated = stack.cli("key", "generate")
    assert generated.returncode == 0, generated.stderr
    new_kid = generated.stdout.split()[-1]
    os.kill(stack.tokengate_pid, signal.SIGHUP)  # systemctl reload tokengate
    wait_for(lambda: _kid(stack.login("rotor", PASSWORD).json()["accessToken"]) == new_kid, 15,
             interval=0.5, message="new logins to be signed with the new key")
    assert _me(stack, old_token) == 200, "the reload logged someone out"
    kids = {key["kid"] for key in stack.get("/auth/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= kids

    retired = stack.cli("key", "retire", old_kid)
    assert retired.returncode == 0, retired.stderr
    os.kill(stack.tokengate_pid, signal.SIGHUP)
    wait_for(lambda: _me(stack, old_token) == 401, 15, interval=0.5, message="the retired key to stop verifying")
    new_token = stack.login("rotor", PASSWORD).json()["accessToken"]
    assert _kid(new_token) == new_kid and _me(stack, new_token) == 200


@pytest.mark.skipif(not user_cli_available(), reason="`tokengate user add` does not exist yet")
def test_backup_and_restore_runbook(make_stack):
    """`tokengate backup FILE` while serving; restore = stop, copy over the database, start."""
    stack = make_stack(workers=4)
    stack.add_user("kept", PASSWORD)
    backup = stack.root / "backup" / "tokengate.sqlite"
    backup.parent.mkdir(mode=0o700)
    result = stack.cli("backup", str(backup))
    assert result.returncode == 0, result.stderr
    stack.add_user("later", PASSWORD)  # not in the backup

    assert stack.stop_tokengate() == 0  # systemctl stop tokengate
    database = stack.data_dir / "tokengate.sqlite"
    assert database.exists(), sorted(p.name for p in stack.data_dir.iterdir())
    shutil.copy(backup, database)
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    stack.start_tokengate()  # systemctl start tokengate

    assert stack.login("kept", PASSWORD).status_code == 200
    assert stack.login("later", PASSWORD).status_code == 401
