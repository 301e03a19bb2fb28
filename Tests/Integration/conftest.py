"""Fixtures for the integration tests: real nginx + real tokengate (see harness.py).

- `stack`: one running stack per test module (fast; tests must leave it running and healthy).
- `make_stack(env=..., workers=...)`: a fresh stack for one test, for special settings or for
  tests that stop, kill or restart tokengate.

Both stop tokengate with SIGTERM at teardown and fail the test if it did not exit 0 or left
its socket behind.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import (
    Stack,
    integration_required,
    make_certificate,
    missing_prerequisites,
    nginx_binary,
    skip_or_fail,
    short_tempdir,
    tokengate_binary,
)
from postgres_server import missing_postgres, shared_server, stop_shared_server, store_environment, test_store


def pytest_report_header(config):
    lines = [f"tokengate: {tokengate_binary()}", f"nginx: {nginx_binary()}",
             f"store: {test_store()} (TOKENGATE_TEST_STORE)"]
    if integration_required():
        lines.append("TOKENGATE_REQUIRE_INTEGRATION=1: missing prerequisites fail")
    return lines


@pytest.fixture(scope="session")
def prerequisites() -> None:
    problems = missing_prerequisites()
    if problems:
        skip_or_fail("; ".join(problems))


@pytest.fixture(scope="session")
def tls_dir(prerequisites, tmp_path_factory) -> Path:
    try:
        return make_certificate(tmp_path_factory.mktemp("tls"))
    except subprocess.CalledProcessError as error:
        skip_or_fail(f"openssl could not make a certificate: {error.stderr!r}")
        raise


class StackFactory:
    """Makes stacks in their own directories and stops them all at teardown."""

    def __init__(self, tls_dir: Path, tmp_path_factory, name: str):
        self.tls_dir = tls_dir
        self.tmp_path_factory = tmp_path_factory
        self.name = name
        self.stacks: list[tuple[Stack, bool]] = []

    def _directory(self) -> tuple[Path, bool]:
        root = self.tmp_path_factory.mktemp(self.name)
        if len(str(root / "tokengate.sock")) < 100:
            return root, False
        return short_tempdir(), True

    def __call__(self, env: dict[str, str] | None = None, workers: int | None = None, start: bool = True) -> Stack:
        root, remove = self._directory()
        if test_store() == "postgres" and "TOKENGATE_STORAGE_URL" not in (env or {}):
            # The same behaviour suite on PostgreSQL: a database of its own on the session's server.
            problem = missing_postgres()
            if problem:
                skip_or_fail(problem)
            server = shared_server()
            env = {**store_environment(server, server.create_database()), **(env or {})}
        stack = Stack(root, self.tls_dir, env=env, workers=workers)
        self.stacks.append((stack, remove))
        if start:
            try:
                stack.start()
            except Exception:
                stack.close()
                raise
        return stack

    def close(self) -> None:
        problems = []
        for stack, remove in self.stacks:
            found = stack.close()
            if found:
                problems.append(f"stack in {stack.root}:\n" + "\n".join(found))
            elif remove:
                shutil.rmtree(stack.root, ignore_errors=True)
        self.stacks.clear()
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def postgres_teardown():
    """Stops the session's PostgreSQL server (TOKENGATE_TEST_STORE=postgres), by PID, at the end."""
    yield
    stop_shared_server()


@pytest.fixture(scope="module")
def stack(tls_dir, tmp_path_factory):
    """A running stack shared by the tests of one module."""
    factory = StackFactory(tls_dir, tmp_path_factory, "stack")
    yield factory()
    factory.close()


@pytest.fixture
def make_stack(tls_dir, tmp_path_factory):
    """A factory for stacks private to one test: `make_stack(env={...}, workers=4)`."""
    factory = StackFactory(tls_dir, tmp_path_factory, "own-stack")
    yield factory
    factory.close()
