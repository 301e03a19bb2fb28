"""libfcgi and CVE-2025-23016 (issue 6 part 5).

CVE-2025-23016: libfcgi up to 2.4.4 overflows an integer in `ReadParams` (fcgiapp.c) when a
FastCGI record declares a huge name or value length (close to 2^31), then overflows the heap.
Two things keep tokengate out of reach:

1. the libfcgi that the built tokengate actually loads carries the fix: Debian 12's
   `libfcgi0ldbl 2.4.2-2+deb12u1` (its changelog names the CVE), or upstream 2.4.5 and later;
2. only nginx talks to the socket (mode 0660, test_foundation.py::test_unix_socket_mode_is_0660),
   and the shipped nginx configuration bounds every param it sends: one request header line at
   most 16 KiB and all of them at most 4 x 16 KiB (`large_client_header_buffers 4 16k`), bodies
   at most 64 KiB on /auth/ (`client_max_body_size 64k`) — five orders of magnitude below the
   lengths the overflow needs. Larger requests get nginx's own 4xx and never reach libfcgi.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import pytest

from harness import NGINX_CONFIG_DIR, TEMPLATE, skip_or_fail, tokengate_binary

FIXED_DEBIAN = "2.4.2-2+deb12u1"
FIXED_UPSTREAM = "2.4.5"
CVE = "CVE-2025-23016"
SITE = NGINX_CONFIG_DIR / "sites" / "tokengate.conf"
LOCATIONS = NGINX_CONFIG_DIR / "snippets" / "tokengate-locations.conf"


def loaded_libfcgi() -> Path:
    """The libfcgi shared object the dynamic linker picks for the built tokengate."""
    result = subprocess.run(["ldd", str(tokengate_binary())], capture_output=True, text=True)
    if result.returncode != 0:
        skip_or_fail(f"ldd {tokengate_binary()} failed: {result.stderr.strip()}")
    found = re.search(r"libfcgi\.so[^\s]*\s+=>\s+(\S+)", result.stdout)
    assert found, f"tokengate does not link libfcgi?\n{result.stdout}"
    return Path(found.group(1)).resolve()


def owning_package(path: Path) -> tuple[str, str]:
    """(package, version) of the Debian package that installed PATH."""
    for candidate in (path, Path("/usr") / path.relative_to("/") if not str(path).startswith("/usr/") else path):
        result = subprocess.run(["dpkg", "-S", str(candidate)], capture_output=True, text=True)
        if result.returncode == 0:
            package = result.stdout.split(":")[0].strip()
            version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                                     capture_output=True, text=True, check=True).stdout.strip()
            return package, version
    pytest.fail(f"{path} belongs to no Debian package: a libfcgi built by hand cannot be checked for {CVE}")


def version_at_least(version: str, minimum: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", version, "ge", minimum]).returncode == 0


def test_loaded_libfcgi_carries_the_cve_2025_23016_fix():
    if subprocess.run(["which", "dpkg"], capture_output=True).returncode != 0:
        skip_or_fail("dpkg is missing: the libfcgi package cannot be identified")
    package, version = owning_package(loaded_libfcgi())
    upstream = version.split(":")[-1].split("-")[0]
    changelog = Path("/usr/share/doc") / package.split(":")[0] / "changelog.Debian.gz"
    names_the_cve = changelog.exists() and CVE in gzip.open(changelog, "rt", errors="replace").read()
    fixed = version_at_least(upstream, FIXED_UPSTREAM) or (version_at_least(version, FIXED_DEBIAN) and names_the_cve)
    print(f"\n{package} {version}; changelog names {CVE}: {names_the_cve}")
    assert fixed, (f"{package} {version} lacks the fix for {CVE} (need >= {FIXED_DEBIAN} with the CVE in "
                   f"{changelog}, or upstream >= {FIXED_UPSTREAM}): apt-get install --only-upgrade {package}")


def directive(text: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", text, flags=re.MULTILINE)


def size_in_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value.strip()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]


@pytest.mark.parametrize("config", [SITE, TEMPLATE], ids=["production-site", "local-template"])
def test_shipped_nginx_bounds_what_reaches_libfcgi(config):
    text = config.read_text()
    buffers = directive(text, "large_client_header_buffers")
    assert len(buffers) == 1, f"{config}: large_client_header_buffers {buffers}"
    count, size = buffers[0].split()
    assert int(count) * size_in_bytes(size) <= 64 * 1024, f"{config}: request headers may total {buffers[0]}"
    for body_limit in directive(LOCATIONS.read_text(), "client_max_body_size"):
        assert size_in_bytes(body_limit) <= 64 * 1024, f"{LOCATIONS}: client_max_body_size {body_limit}"


def test_nginx_refuses_oversized_headers_before_libfcgi(stack):
    """A header line over 16 KiB, or headers over 4 x 16 KiB, end at nginx (400/494): tokengate logs no request."""
    from session_helpers import client

    mark = stack.mark()
    http = client(stack)
    one_long = http.get(stack.url("/auth/healthz"), headers={"X-Long": "a" * (17 * 1024)}, timeout=30)
    many = {f"X-Part-{index}": "b" * (15 * 1024) for index in range(5)}
    too_many = http.get(stack.url("/auth/healthz"), headers=many, timeout=30)
    assert one_long.status_code in (400, 494), one_long.status_code
    assert too_many.status_code in (400, 494), too_many.status_code
    assert not stack.request_records(mark), "an oversized request reached tokengate"
    assert http.get(stack.url("/auth/healthz"), timeout=30).status_code == 200
