"""SEARCH, ESEARCH, SORT and IDLE against Arkiv's IMAP service (imap_server.rs).

Usage: imap_search.py IMAPS_PORT USER PASSWORD QUERIES_JSON

QUERIES_JSON is a list of IMAP search criteria. For each, prints one JSON line
{"criteria": ..., "sizes": [RFC822.SIZE of each UID SEARCH hit, sorted]} so that the test
compares them with Arkiv's own search. Then checks ESEARCH, SORT, refusals and IDLE, printing
"ok <check>" for each that holds; exits 1 on the first that does not.
"""

import json
import re
import socket
import ssl
import sys
import time


class Client:
    def __init__(self, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60))
        self.f = self.s.makefile("rb")
        self.n = 0
        self.f.readline()

    def cmd(self, line):
        """Sends a command; returns (untagged lines, tagged status line)."""
        self.n += 1
        tag = "s%d" % self.n
        self.s.sendall(("%s %s\r\n" % (tag, line)).encode())
        out = []
        while True:
            resp = self.f.readline().decode("latin-1")
            m = re.search(r"\{(\d+)\}\r\n$", resp)
            if m:
                resp += self.f.read(int(m.group(1))).decode("latin-1") + self.f.readline().decode("latin-1")
            if resp.startswith(tag + " "):
                return out, resp.strip()
            out.append(resp.strip())


def check(cond, what, detail=""):
    if not cond:
        print("FAIL %s %s" % (what, detail))
        sys.exit(1)
    print("ok %s" % what)


def numbers(lines, word):
    for line in lines:
        if line.startswith("* %s" % word):
            return [int(x) for x in line.split()[2:]]
    return []


def main():
    port, user, pw, queries = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    c = Client(port)
    _, st = c.cmd('LOGIN "%s" "%s"' % (user, pw))
    check(" OK " in st, "login")
    _, st = c.cmd("SEARCH ALL")
    check(" BAD " in st, "SEARCH before SELECT is refused")
    lines, st = c.cmd("EXAMINE INBOX")
    exists = int(next(l.split()[1] for l in lines if l.endswith("EXISTS")))
    for q in queries:
        lines, st = c.cmd("UID SEARCH CHARSET UTF-8 %s" % q)
        check(" OK " in st, "UID SEARCH %s" % q, st)
        uids = numbers(lines, "SEARCH")
        sizes = []
        if uids:
            lines, _ = c.cmd("UID FETCH %s RFC822.SIZE" % ",".join(map(str, uids)))
            sizes = sorted(int(re.search(r"RFC822.SIZE (\d+)", l).group(1)) for l in lines if "FETCH" in l)
        print(json.dumps({"criteria": q, "sizes": sizes}))
    # Sequence numbers and UIDs agree with ALL; NOT inverts.
    lines, _ = c.cmd("SEARCH ALL")
    check(numbers(lines, "SEARCH") == list(range(1, exists + 1)), "SEARCH ALL is every message")
    lines, _ = c.cmd("SEARCH 2:4")
    check(numbers(lines, "SEARCH") == [2, 3, 4], "sequence sets")
    lines, _ = c.cmd("SEARCH NOT 2:4")
    check(len(numbers(lines, "SEARCH")) == exists - 3, "NOT of a sequence set")
    lines, _ = c.cmd("SEARCH SINCE 1-Jan-2100")
    check(numbers(lines, "SEARCH") == [], "SINCE a future day is nothing")
    lines, _ = c.cmd("SEARCH SINCE 1-Jan-1971")
    check(len(numbers(lines, "SEARCH")) == exists, "SINCE 1971 is everything (undated mail counts by its archiving day)")
    lines, _ = c.cmd("SEARCH UNSEEN")
    check(numbers(lines, "SEARCH") == [], "UNSEEN is nothing (all mail is seen)")
    # ESEARCH (RFC 4731).
    lines, st = c.cmd("UID SEARCH RETURN (MIN MAX COUNT) ALL")
    es = [l for l in lines if l.startswith("* ESEARCH")]
    check(len(es) == 1 and re.search(r'\(TAG "s\d+"\) UID MIN \d+ MAX \d+ COUNT %d$' % exists, es[0]), "ESEARCH MIN MAX COUNT", es)
    lines, st = c.cmd("SEARCH RETURN () 1:3")
    check(any(l.endswith("ALL 1:3") for l in lines), "ESEARCH ALL as a set", lines)
    # SORT (RFC 5256): every message, once, by size.
    lines, st = c.cmd("SORT (SIZE) UTF-8 ALL")
    order = numbers(lines, "SORT")
    check(sorted(order) == list(range(1, exists + 1)), "SORT answers every message once", st)
    lines, _ = c.cmd("FETCH 1:* RFC822.SIZE")
    size = {int(l.split()[1]): int(re.search(r"RFC822.SIZE (\d+)", l).group(1)) for l in lines if "FETCH" in l}
    check([size[n] for n in order] == sorted(size.values()), "SORT (SIZE) is by size")
    lines, _ = c.cmd("SORT (REVERSE SIZE) UTF-8 ALL")
    check([size[n] for n in numbers(lines, "SORT")] == sorted(size.values(), reverse=True), "SORT (REVERSE SIZE)")
    # Refusals.
    _, st = c.cmd("SEARCH CHARSET KOI8-R TEXT x")
    check("[BADCHARSET" in st, "another charset is refused", st)
    _, st = c.cmd("SEARCH HEADER X-Mailer foo")
    check(" NO " in st and "Subject" in st, "HEADER of a field the index does not keep is refused", st)
    # IDLE: the test deletes a message meanwhile; the deletion is reported.
    c.s.sendall(b"i1 IDLE\r\n")
    check(c.f.readline().startswith(b"+"), "IDLE continues")
    print("idling", flush=True)
    c.s.settimeout(30)
    got = b""
    deadline = time.time() + 30
    while b"EXPUNGE" not in got and time.time() < deadline:
        got += c.f.readline()
    check(re.search(rb"\* \d+ EXPUNGE", got), "IDLE reports a removed message", got)
    c.s.sendall(b"DONE\r\n")
    check(c.f.readline().startswith(b"i1 OK"), "DONE ends IDLE")
    lines, _ = c.cmd("SEARCH ALL")
    check(len(numbers(lines, "SEARCH")) == exists - 1, "the mailbox follows the removal")
    c.cmd("LOGOUT")


if __name__ == "__main__":
    main()
