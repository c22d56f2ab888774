"""The `corvus` command: provisioning and every error path.

Each error must print exactly one line "corvus: error: ..." on stderr,
exit non-zero and leave the directory as it was.
"""

import json
import os
import unittest

from corvus_testlib import PASSWORD, CorvusTestCase


class CliTest(CorvusTestCase):

    def fails(self, *args, want, stdin=None, code=1):
        """Runs corvus, expecting exit `code` and `want` in the error."""
        out = self.corvus(*args, stdin=stdin)
        self.assertEqual(out.returncode, code,
                         f"corvus {' '.join(args)}: got exit "
                         f"{out.returncode}, want {code}; stdout={out.stdout}")
        if code == 1:
            lines = out.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, f"got stderr {out.stderr!r}")
            self.assertTrue(lines[0].startswith("corvus: error: "), lines)
        self.assertIn(want, out.stderr)
        return out

    def json_of(self, *args):
        return json.loads(self.ok("--json", *args).stdout)

    def test_init_writes_a_loadable_config_and_refuses_to_clobber(self):
        with open(self.config) as f:
            text = f.read()
        self.assertIn(f'smtp = "127.0.0.1:{self.port_base + 25}"', text)
        self.assertIn(f'imap = "127.0.0.1:{self.port_base + 143}"', text)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "tls",
                                                    "key.pem")))
        mode = os.stat(os.path.join(self.dir, "tls", "key.pem")).st_mode
        self.assertEqual(mode & 0o077, 0, "private key readable by others")
        out = self.corvus("init", "--dir", self.dir, config=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("already initialised", out.stderr)
        out = self.corvus("init", "--dir", self.dir, "--force",
                          "--port-base", str(self.port_base), config=False)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_init_rejects_a_port_base_that_overflows(self):
        out = self.corvus("init", "--dir", self.dir + "/x", "--port-base",
                          "65000", config=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("--port-base", out.stderr)

    def test_no_config_is_a_clear_error_and_env_var_stands_in(self):
        env = {k: v for k, v in os.environ.items() if k != "CORVUS_CONFIG"}
        out = self.corvus("domain", "list", config=False, env=env)
        self.assertEqual(out.returncode, 1)
        self.assertIn("pass --config FILE or set CORVUS_CONFIG", out.stderr)
        env["CORVUS_CONFIG"] = self.config
        out = self.corvus("domain", "create", "env.test", config=False,
                          env=env)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_bad_config_names_file_and_key(self):
        with open(self.config, "a") as f:
            f.write("\n[smtp]\nmax_mesage_size = 10\n")
        out = self.corvus("serve")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("unknown key 'smtp.max_mesage_size'", out.stderr)
        self.assertIn(self.config, out.stderr)

    def test_usage_errors_exit_2(self):
        self.fails("account", "create", want="ADDRESS", code=2)
        self.fails("nosuchcommand", want="corvus --help", code=2)

    def test_domains(self):
        self.ok("domain", "create", "Example.COM")
        self.assertEqual([d["domain"] for d in self.json_of("domain", "list")],
                         ["example.com"])
        self.fails("domain", "create", "example.com", want="already")
        self.fails("domain", "create", "bad..domain", want="domain")
        self.fails("domain", "create", "bad-.com", want="domain")
        self.fails("domain", "delete", "nowhere.com", want="not in the directory")
        self.ok("account", "create", "a@example.com")
        self.fails("domain", "delete", "example.com", want="in use")
        self.ok("account", "delete", "a@example.com")
        self.ok("domain", "delete", "example.com")
        self.assertEqual(self.json_of("domain", "list"), [])

    def test_accounts(self):
        self.ok("domain", "create", "example.com")
        acct = json.loads(self.ok(
            "--json", "account", "create", "Alice@Example.com",
            "--name", "Alice Liddell", "--quota", "10M",
            "--password-stdin", stdin=PASSWORD + "\n").stdout)
        self.assertEqual(acct["address"], "alice@example.com")
        self.assertEqual(acct["quota_bytes"], 10 * 1024 * 1024)
        self.assertRegex(acct["id"], r"^[0-9a-f]{32}$")
        self.assertNotIn("password", json.dumps(acct))

        shown = self.json_of("account", "show", "ALICE@example.COM")
        self.assertEqual(shown["id"], acct["id"])
        self.assertEqual(self.json_of("account", "show", acct["id"])["address"],
                         "alice@example.com")

        self.fails("account", "create", "alice@example.com", want="already")
        self.fails("account", "create", "bob@nowhere.org", want="nowhere.org")
        self.fails("account", "create", "no-at-sign", want="address")
        self.fails("account", "create", "b@example.com", "--quota", "lots",
                   want="bad quota")
        self.fails("account", "create", "b@example.com", "--password-stdin",
                   stdin="\n", want="empty password")
        self.fails("account", "create", "b@example.com", "--password-stdin",
                   stdin="", want="no password")
        # None of the failures above left an account behind.
        self.assertEqual([a["address"] for a in
                          self.json_of("account", "list")],
                         ["alice@example.com"])

        self.ok("account", "passwd", "alice@example.com", stdin="new pw\n")
        self.fails("account", "passwd", "alice@example.com", stdin="",
                   want="no password")
        self.fails("account", "passwd", "nobody@example.com", stdin="x\n",
                   want="no such")
        self.assertEqual(self.json_of("account", "lock",
                                      "alice@example.com")["status"],
                         "locked")
        self.assertEqual(self.json_of("account", "unlock",
                                      "alice@example.com")["status"],
                         "active")
        self.fails("account", "lock", "nobody@example.com", want="no such")
        self.fails("account", "show", "nobody@example.com", want="no such")
        self.ok("account", "delete", "alice@example.com")
        self.fails("account", "delete", "alice@example.com", want="no such")
        self.fails("account", "show", "alice@example.com", want="no such")

    def test_aliases(self):
        self.ok("domain", "create", "example.com")
        self.ok("account", "create", "alice@example.com")
        self.ok("alias", "create", "Postmaster@example.com",
                "alice@example.com", "ops@elsewhere.org")
        got = self.json_of("alias", "list")
        self.assertEqual(got, [{"alias": "postmaster@example.com",
                                "targets": ["alice@example.com",
                                            "ops@elsewhere.org"]}])
        self.fails("alias", "create", "alice@example.com", "x@example.com",
                   want="already")
        self.fails("alias", "create", "a@nowhere.org", "alice@example.com",
                   want="nowhere.org")
        self.fails("alias", "create", "b@example.com", "alice@example.com",
                   "not an address", want="address")
        self.fails("alias", "create", "self@example.com", "self@example.com",
                   want="itself")
        self.ok("alias", "create", "x@example.com", "y@example.com")
        self.fails("alias", "create", "y@example.com", "x@example.com",
                   want="loop")
        self.fails("alias", "delete", "nobody@example.com", want="no such")
        self.ok("alias", "delete", "postmaster@example.com")
        self.assertEqual([a["alias"] for a in self.json_of("alias", "list")],
                         ["x@example.com"])

    def test_lists(self):
        self.ok("domain", "create", "example.com")
        self.ok("account", "create", "alice@example.com")
        self.ok("account", "create", "bob@example.com")
        self.ok("list", "create", "team@example.com", "--member",
                "alice@example.com", "--member", "ext@elsewhere.org")
        self.ok("list", "create", "all@example.com", "--member",
                "team@example.com")
        self.ok("list", "add-member", "all@example.com", "bob@example.com")
        got = self.json_of("list", "show", "all@example.com")
        self.assertEqual(got["members"],
                         ["team@example.com", "bob@example.com"])
        self.fails("list", "add-member", "all@example.com", "bob@example.com",
                   want="already")
        self.fails("list", "add-member", "team@example.com", "all@example.com",
                   want="itself")
        self.fails("list", "add-member", "team@example.com", "bad address",
                   want="address")
        self.fails("list", "remove-member", "team@example.com",
                   "carol@example.com", want="not a member")
        self.fails("list", "create", "alice@example.com", want="already")
        self.fails("list", "show", "none@example.com", want="no such")
        self.ok("list", "remove-member", "all@example.com", "bob@example.com")
        self.assertEqual(self.json_of("list", "show",
                                      "all@example.com")["members"],
                         ["team@example.com"])
        self.ok("list", "delete", "all@example.com")
        self.fails("list", "delete", "all@example.com", want="no such")


if __name__ == "__main__":
    unittest.main()
