"""A real PostgreSQL server for the test session, started from the Debian server binaries.

The server runs from a temporary directory on a free loopback port with its unix socket in
that directory, and is stopped and removed afterwards. PostgreSQL refuses to run as root, so
under root (CI) it runs as the unprivileged system user `crspg` (created if missing). Where no
server binaries exist the PostgreSQL tests are skipped with the reason shown, unless
CRS_REQUIRE_POSTGRES=1, when they fail instead (CI sets it; scripts/install-postgres.sh
installs the binaries).
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVICE_USER = "crspg"
SUPERUSER = "crs"


def find_bindir() -> Path | None:
    """The directory holding `initdb` and `postgres`, newest version first."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += [Path(p) for p in versions]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_account() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    from tests.support.os_users import system_user

    entry = pwd.getpwnam(system_user(SERVICE_USER) or SERVICE_USER)  # KeyError here: no one could make it
    return entry.pw_uid, entry.pw_gid


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    account: tuple[int, int] | None
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "server.log"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run_kwargs(self) -> dict[str, object]:
        if self.account is None:
            return {}
        uid, gid = self.account
        return {"user": uid, "group": gid, "extra_groups": []}

    def initdb(self) -> None:
        subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            check=True, capture_output=True, cwd=self.root, **self._run_kwargs(),  # type: ignore[arg-type]
        )

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port),
                 "-k", str(self.root), "-c", "max_connections=200", "-c", "shared_buffers=64MB"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root, **self._run_kwargs(),  # type: ignore[arg-type]
            )
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                                     connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not become ready: {self.log_tail()}") from None
                time.sleep(0.1)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database on this server; returns its SQLAlchemy URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # immediate shutdown: the data is thrown away anyway
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Removing a few hundred MB of test databases takes seconds on slow disks: do it in the
        # background, detached, so the session does not wait for it.
        subprocess.Popen(["rm", "-rf", str(self.root)], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_server(bindir: Path) -> PostgresServer:
    account = _service_account()
    for attempt in range(3):
        root = Path(tempfile.mkdtemp(prefix="crs-pg-"))  # not under pytest's 0700 tmp: crspg must reach it
        if account is not None:
            os.chown(root, *account)
        server = PostgresServer(bindir=bindir, root=root, port=_free_port(), account=account)
        try:
            server.initdb()
            server.start()
            return server
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            detail = exc.stderr.decode(errors="replace") if isinstance(exc, subprocess.CalledProcessError) else ""
            server.stop()
            if attempt == 2:
                raise RuntimeError(f"could not start PostgreSQL: {exc} {detail}") from exc
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server for the session (skipped, or failed under CRS_REQUIRE_POSTGRES=1)."""
    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (initdb/postgres); run scripts/install-postgres.sh"
        if os.environ.get("CRS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"CRS_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    server = start_server(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server (dropped with the server)."""
    return postgres_server.create_database()
