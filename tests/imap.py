"""A real IMAP server for tests: a private Dovecot (Debian's ``dovecot-imapd``) started with a config of
its own in a temp folder, listening on 127.0.0.1 (a free port for plain IMAP, another for IMAPS with a
self-signed certificate made here), one mail user in a passwd-file, maildirs in the temp folder, logs in
``dovecot.log`` there.  Stopped at the end of the session.

Use it from any test module::

    from tests.imap import imap_server, mailbox  # noqa: F401  (fixtures)

    def test_something(mailbox):                 # an empty INBOX for the test
        mailbox.append(b"From: ...")
        ...
        assert mailbox.uids(unseen=True) == []

Without Dovecot the tests that use it are skipped with a visible reason, except under ``CI=true``,
where they fail (as the PostgreSQL half does in tests/conftest.py).
"""
from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.smtp import free_port

HOST = "127.0.0.1"
DOVECOT = "/usr/sbin/dovecot"
USER = "city311"
PASSWORD = "imap-test-password"

CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap
listen = {host}
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
# A refused login answers at once (the default waits 2 s, against guessing; the tests refuse logins on purpose).
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


def _unavailable(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (under CI the e-mail channel's tests must not be skipped: `make test-services`)")
    pytest.skip(message)


def _accounts() -> dict[str, object]:
    """Who Dovecot runs as: the current user; as root, the package's own users and the mail user
    (Dovecot's login processes refuse root, and a mail user must not be uid 0)."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(me.pw_gid).gr_name
        return {"internal_user": me.pw_name, "internal_group": group, "login_user": me.pw_name, "uid": me.pw_uid, "gid": me.pw_gid}

    def user(name: str, fallback: str = "nobody") -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            return pwd.getpwnam(fallback)
    internal, login, mail = user("dovecot"), user("dovenull"), user("mail")
    return {"internal_user": internal.pw_name, "internal_group": grp.getgrgid(internal.pw_gid).gr_name, "login_user": login.pw_name,
            "uid": mail.pw_uid, "gid": mail.pw_gid}


def _certificate(directory: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost (the fixture's CA file is the certificate itself)."""
    if not shutil.which("openssl"):
        _unavailable("openssl is not installed: cannot make the test IMAP server's certificate")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


class ImapServer:
    """A running private Dovecot: ``port`` (plain IMAP), ``ssl_port`` (IMAPS), ``ca_file``, ``user``, ``password``."""

    def __init__(self) -> None:
        self.host, self.user, self.password = HOST, USER, PASSWORD
        self.port = self.ssl_port = 0
        self.directory = Path(tempfile.mkdtemp(prefix="civic-dovecot-"))
        self.directory.chmod(0o755)  # the mail user (not root) reaches its maildir through it
        self.ca_file = str(self.directory / "cert.pem")
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        path = self.directory / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> ImapServer:
        accounts = _accounts()
        _certificate(self.directory)
        for sub in ("run", "state", "home"):
            (self.directory / sub).mkdir()
        os.chmod(self.directory / "key.pem", 0o600)
        if os.geteuid() == 0:
            os.chown(self.directory / "home", accounts["uid"], accounts["gid"])
        (self.directory / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        for _ in range(3):  # another process may take a free port between the look and the bind
            self.port, self.ssl_port = free_port(), free_port()
            config = CONFIG.format(dir=self.directory, host=HOST, port=self.port, ssl_port=self.ssl_port, **accounts)
            (self.directory / "dovecot.conf").write_text(config)
            self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.directory / "dovecot.conf")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):  # wait for both listeners (at most ~10 s), or for the process to give up
                if self.process.poll() is not None or (_listening(self.port) and _listening(self.ssl_port)):
                    break
                time.sleep(0.1)
            if self.process.poll() is None and _listening(self.port) and _listening(self.ssl_port):
                return self
            self.stop(remove=False)
        raise RuntimeError(f"the test Dovecot did not start; its log:\n{self.log}")

    def stop(self, remove: bool = True) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

    # ------------------------------------------------------------ the test user's mailbox

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=30)
        conn.login(self.user, self.password)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX", flags: str = "") -> None:
        """Deliver a message (IMAP APPEND), unseen unless ``flags`` says otherwise."""
        conn = self.connect()
        try:
            typ, data = conn.append(f'"{folder}"', flags or None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def uids(self, folder: str = "INBOX", *, unseen: bool = False) -> list[int]:
        """The messages of a folder ([] when it does not exist), or only the unseen ones."""
        conn = self.connect()
        try:
            typ, _ = conn.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("SEARCH", None, "UNSEEN" if unseen else "ALL")
            return [int(u) for u in (data[0] or b"").split()]
        finally:
            conn.logout()

    def clear(self, *folders: str) -> None:
        """Remove every message of the folders (INBOX when none are named)."""
        conn = self.connect()
        try:
            for folder in folders or ("INBOX",):
                typ, data = conn.select(f'"{folder}"')
                if typ != "OK":
                    continue
                if int(data[0] or 0):
                    conn.store("1:*", "+FLAGS", "(\\Deleted)")
                conn.expunge()
                conn.close()
        finally:
            conn.logout()


@pytest.fixture(scope="session")
def imap_server():
    """The private Dovecot of the test session."""
    if not os.access(DOVECOT, os.X_OK):
        _unavailable(f"Dovecot is not installed ({DOVECOT}; `apt-get install dovecot-imapd`, or `make test-services`)")
    server = ImapServer()
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture
def mailbox(imap_server):
    """The test user's mailbox, emptied (INBOX and Processed) before the test."""
    imap_server.clear("INBOX", "Processed")
    return imap_server
