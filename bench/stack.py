"""Private server instances for the benchmark: Corvus and the reference.

The reference is Postfix (smtpd -> queue -> LMTP client) delivering to
Dovecot (LMTP + IMAP, Maildir).  Every instance here has its own config
folder, queue, state and ports on 127.0.0.1 so that a system Postfix or
Dovecot, if any, is never touched.  Every PID started is appended to
WORK/pids so that run.sh's trap can stop them even if Python dies.

Single-threaded: the orchestrator calls these from one thread.
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

MAIL_USER = "corvusbench"  # owner of the Dovecot Maildirs
DOMAIN = "bench.test"
PASSWORD = "bench-password"


def port_free(port):
    """True when nothing listens on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def port_answers(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def pick_port_base(offsets, start=36000, stop=60000, step=500):
    """First base B in [start, stop) with every B+offset free."""
    for base in range(start, stop, step):
        if all(port_free(base + o) for o in offsets):
            return base
    raise RuntimeError("no free port range for the benchmark")


def wait_port(port, seconds, proc=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_answers(port):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def record_pid(work, pid):
    with open(os.path.join(work, "pids"), "a") as f:
        f.write(f"{pid}\n")


def stop_pid(pid, seconds=15):
    """SIGTERM, wait, then SIGKILL one process we started."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            # Not our child (a daemon): poll for its exit.
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def accounts(n):
    return [f"user{i:03d}@{DOMAIN}" for i in range(n)]


def ensure_mail_user():
    try:
        return pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", MAIL_USER],
                       check=True)
        return pwd.getpwnam(MAIL_USER)


class Corvus:
    """One `corvus serve` with its own data folder."""

    name = "corvus"

    def __init__(self, work, binary, port_base, users, max_sessions):
        self.dir = os.path.join(work, "corvus")
        self.bin = binary
        self.base = port_base
        self.users = users
        self.max_sessions = max_sessions
        self.work = work
        self.proc = None
        self.smtp_port = port_base + 25
        self.lmtp_port = port_base + 24
        self.imap_port = port_base + 143
        self.conf = os.path.join(self.dir, "corvus.toml")

    def cli(self, *args, stdin=None):
        r = subprocess.run([self.bin, "--config", self.conf, *args],
                           input=stdin, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"corvus {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        subprocess.run([self.bin, "init", "--dir", self.dir, "--port-base",
                        str(self.base), "--hostname", "corvus.bench.test"],
                       check=True, capture_output=True, timeout=60)
        with open(self.conf) as f:
            text = f.read()
        # The idle scenario opens up to 10,000 sessions from 127.0.0.1; the
        # default per-address cap (100) would refuse them.  Logs go to a
        # file at the default level, as the reference's do.
        text = text.replace('level = "info"', 'level = "info"\n'
                            f'file = "{self.dir}/corvus.log"')
        text += ("\n[limits]\n"
                 f"max_connections = {self.max_sessions}\n"
                 f"max_connections_per_ip = {self.max_sessions}\n"
                 f"max_sessions_per_account = {self.max_sessions}\n")
        with open(self.conf, "w") as f:
            f.write(text)
        self.cli("domain", "create", DOMAIN)
        for u in self.users:
            self.cli("account", "create", u, "--password-stdin",
                     stdin=PASSWORD + "\n")

    def start(self):
        log = open(os.path.join(self.dir, "serve.out"), "ab")
        self.proc = subprocess.Popen([self.bin, "--config", self.conf,
                                      "serve"], stdout=log, stderr=log,
                                     cwd=self.dir)
        record_pid(self.work, self.proc.pid)
        if not wait_port(self.smtp_port, 30, self.proc):
            raise RuntimeError("corvus serve did not open its SMTP port; "
                               f"see {self.dir}/serve.out")
        wait_port(self.lmtp_port, 5, self.proc)

    def stop(self):
        if self.proc is not None:
            stop_pid(self.proc.pid)
            self.proc = None

    def root_pids(self):
        return [self.proc.pid] if self.proc else []

    def has_imap(self):
        return port_answers(self.imap_port)

    def mailbox_count(self, user):
        try:
            out = self.cli("--json", "mailbox", "list", user)
        except RuntimeError as e:
            # An account's database appears with its first delivery.
            if "no such account database" in str(e):
                return 0
            raise
        return len(json.loads(out))


class Reference:
    """Postfix (private instance) -> LMTP -> Dovecot (private instance)."""

    name = "reference"

    def __init__(self, work, port_base, users, max_sessions):
        self.dir = os.path.join(work, "reference")
        self.work = work
        self.users = users
        self.max_sessions = max_sessions
        self.smtp_port = port_base + 25
        self.lmtp_port = port_base + 24
        self.imap_port = port_base + 143
        self.pf_conf = os.path.join(self.dir, "postfix")
        self.pf_queue = os.path.join(self.dir, "postfix-queue")
        self.pf_data = os.path.join(self.dir, "postfix-data")
        self.dv_conf = os.path.join(self.dir, "dovecot.conf")
        self.dv_base = os.path.join(self.dir, "dovecot-run")
        self.mail = os.path.join(self.dir, "mail")
        self.dovecot = None
        self.postfix_pid = None

    def maildir(self, user):
        local, domain = user.split("@")
        return os.path.join(self.mail, domain, local, "Maildir")

    def setup(self):
        pw = ensure_mail_user()
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in (self.pf_conf, self.pf_queue, self.pf_data, self.dv_base,
                  self.mail):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.dir, 0o755)
        for d in (self.pf_conf, self.pf_queue, self.dv_base):
            os.chmod(d, 0o755)
        pf = pwd.getpwnam("postfix")
        os.chown(self.pf_data, pf.pw_uid, pf.pw_gid)
        os.chown(self.mail, pw.pw_uid, pw.pw_gid)
        self._write_dovecot(pw)
        self._write_postfix()
        # Mailboxes exist before timing: first deliveries racing to create
        # a user's mailbox is a known reference failure mode.
        for u in self.users:
            md = self.maildir(u)
            for sub in ("new", "cur", "tmp"):
                os.makedirs(os.path.join(md, sub), exist_ok=True)
        subprocess.run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}",
                        self.mail], check=True)

    def _write_dovecot(self, pw):
        with open(os.path.join(self.dir, "users"), "w") as f:
            for u in self.users:
                f.write(f"{u}:{{PLAIN}}{PASSWORD}::::::\n")
        conf = f"""# Private Dovecot instance for the Corvus benchmark.
base_dir = {self.dv_base}
state_dir = {self.dir}/dovecot-state
instance_name = corvus-bench-dovecot
listen = 127.0.0.1
protocols = imap lmtp
log_path = {self.dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
# Message files are fsync'd before LMTP answers 250 (the default,
# "optimized", already does this; indexes are a rebuildable cache).
mail_fsync = optimized
first_valid_uid = {pw.pw_uid}
last_valid_uid = {pw.pw_uid}
mail_max_userip_connections = {self.max_sessions + 100}
default_process_limit = 200
default_client_limit = {self.max_sessions + 2000}
default_vsz_limit = 1G
lmtp_save_to_detail_mailbox = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/users
}}
userdb {{
  driver = static
  args = uid={pw.pw_uid} gid={pw.pw_gid} home={self.mail}/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  # One login process per connection (the secure default); it hands the
  # session to an imap process and exits.
  process_limit = 1000
}}
service imap {{
  process_limit = {self.max_sessions + 100}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0
  }}
  process_limit = 100
}}
service anvil {{
  client_limit = {2 * self.max_sessions + 4000}
}}
service auth {{
  client_limit = {self.max_sessions + 4000}
}}
"""
        os.makedirs(f"{self.dir}/dovecot-state", exist_ok=True)
        with open(self.dv_conf, "w") as f:
            f.write(conf)

    def _write_postfix(self):
        vmaps = os.path.join(self.pf_conf, "vmailbox")
        with open(vmaps, "w") as f:
            for u in self.users:
                f.write(f"{u} ok\n")
        main = f"""# Private Postfix instance for the Corvus benchmark.
compatibility_level = 3.6
queue_directory = {self.pf_queue}
data_directory = {self.pf_data}
mail_owner = postfix
setgid_group = postdrop
myhostname = reference.bench.test
mydomain = bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
relay_domains =
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{vmaps}
virtual_transport = lmtp:inet:127.0.0.1:{self.lmtp_port}
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
# The default 1 s in_flow_delay shows up as a 1 s stall under load.
in_flow_delay = 0
message_size_limit = 52428800
default_process_limit = 200
lmtp_destination_concurrency_limit = 20
lmtp_destination_recipient_limit = 50
maillog_file = {self.dir}/postfix.log
smtputf8_enable = no
biff = no
alias_maps =
alias_database =
local_recipient_maps =
smtpd_banner = reference.bench.test ESMTP
shlib_directory = /usr/lib/postfix
"""
        master = f"""# Private Postfix instance for the Corvus benchmark.
127.0.0.1:{self.smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        with open(os.path.join(self.pf_conf, "main.cf"), "w") as f:
            f.write(main)
        with open(os.path.join(self.pf_conf, "master.cf"), "w") as f:
            f.write(master)
        for sub in ("dynamicmaps.cf", "postfix-files"):
            src = os.path.join("/etc/postfix", sub)
            if os.path.exists(src):
                shutil.copy(src, self.pf_conf)
        for sub in ("dynamicmaps.cf.d", "postfix-files.d"):
            os.makedirs(os.path.join(self.pf_conf, sub), exist_ok=True)

    def start(self):
        log = open(os.path.join(self.dir, "dovecot.out"), "ab")
        self.dovecot = subprocess.Popen(["dovecot", "-F", "-c", self.dv_conf],
                                        stdout=log, stderr=log)
        record_pid(self.work, self.dovecot.pid)
        if not wait_port(self.lmtp_port, 30, self.dovecot):
            raise RuntimeError("dovecot did not open its LMTP port; see "
                               f"{self.dir}/dovecot.log")
        wait_port(self.imap_port, 10, self.dovecot)
        r = subprocess.run(["postfix", "-c", self.pf_conf, "start"],
                           capture_output=True, text=True, timeout=120)
        pidfile = os.path.join(self.pf_queue, "pid", "master.pid")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not os.path.exists(pidfile):
            time.sleep(0.1)
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                self.postfix_pid = int(f.read().strip())
            record_pid(self.work, self.postfix_pid)
        if r.returncode != 0 or not wait_port(self.smtp_port, 30):
            raise RuntimeError("postfix did not start: "
                               f"{r.stdout}{r.stderr}")

    def stop(self):
        if self.postfix_pid:
            stop_pid(self.postfix_pid)
            self.postfix_pid = None
        if self.dovecot is not None:
            stop_pid(self.dovecot.pid)
            self.dovecot = None

    def root_pids(self):
        pids = []
        if self.postfix_pid:
            pids.append(self.postfix_pid)
        if self.dovecot is not None:
            pids.append(self.dovecot.pid)
        return pids

    def has_imap(self):
        return port_answers(self.imap_port)

    def mailbox_count(self, user):
        md = self.maildir(user)
        n = 0
        for sub in ("new", "cur"):
            try:
                n += sum(1 for e in os.scandir(os.path.join(md, sub))
                         if not e.name.startswith("."))
            except FileNotFoundError:
                pass
        return n
