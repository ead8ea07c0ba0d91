"""Dovecot as the oracle for Arkiv's FETCH answers (imap_server.rs).

Usage: imap_oracle.py ARKIV_IMAPS_PORT DOVECOT_IMAPS_PORT USER PASSWORD DOVECOT_USER DOVECOT_PASSWORD [LENIENT]

LENIENT: a directory of messages (as served) whose differences are
reported as "known" and not counted (deliberately malformed MIME where Arkiv and Dovecot
split parts differently; the bytes of every message are the same either way).

Both servers hold the same messages in INBOX. For every message (matched by its bytes) this
compares ENVELOPE, BODYSTRUCTURE, BODY and RFC822.SIZE, parsed (so quoting styles do not
matter), and the bytes of every section: each part number the structure has, its MIME
header, HEADER/TEXT of nested messages, HEADER.FIELDS and HEADER.FIELDS.NOT. Prints one line
per difference and a summary; exits 1 on any difference.
"""

import hashlib
import os
import re
import socket
import ssl
import sys


class Client:
    def __init__(self, port, user, password):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60))
        self.f = self.s.makefile("rb")
        self.n = 0
        self.f.readline()
        self.cmd(b"LOGIN " + quote(user) + b" " + quote(password))
        self.cmd(b"SELECT INBOX")

    def cmd(self, line):
        """Sends a command; returns the untagged responses (literals inline) and the status."""
        self.n += 1
        tag = b"o%d" % self.n
        self.s.sendall(tag + b" " + line + b"\r\n")
        responses = []
        while True:
            resp = self.read_response()
            if resp.startswith(tag + b" "):
                if not resp[len(tag) + 1 :].startswith(b"OK"):
                    raise RuntimeError("%r: %r" % (line, resp))
                return responses
            responses.append(resp)

    def read_response(self):
        out = b""
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("connection closed")
            out += line
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                return out
            out += self.f.read(int(m.group(1)))


def quote(s):
    return b'"' + s.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def parse(buf, i=0):
    """Parses a parenthesized IMAP value at buf[i]; returns (value, next index)."""
    while buf[i : i + 1] == b" ":
        i += 1
    c = buf[i : i + 1]
    if c == b"(":
        i += 1
        out = []
        while True:
            while buf[i : i + 1] == b" ":
                i += 1
            if buf[i : i + 1] == b")":
                return out, i + 1
            v, i = parse(buf, i)
            out.append(v)
    if c == b'"':
        i += 1
        s = b""
        while buf[i : i + 1] != b'"':
            if buf[i : i + 1] == b"\\":
                i += 1
            s += buf[i : i + 1]
            i += 1
        return s, i + 1
    if c == b"{":
        j = buf.index(b"}", i)
        n = int(buf[i + 1 : j])
        start = j + 3
        return buf[start : start + n], start + n
    # An atom; a section name keeps its brackets (which may hold spaces and parens).
    j = i
    while j < len(buf) and buf[j : j + 1] not in (b" ", b"(", b")", b"\r"):
        if buf[j : j + 1] == b"[":
            j = buf.index(b"]", j)
        j += 1
    atom = buf[i:j]
    return (None if atom.upper() == b"NIL" else atom), j


def fetch_items(resp):
    """`* n FETCH (K V K V ...)` as {K: V} (keys upper-case)."""
    m = re.match(rb"\* (\d+) FETCH ", resp)
    if not m:
        return None
    lst, _ = parse(resp, m.end())
    return {lst[k].upper(): lst[k + 1] for k in range(0, len(lst), 2)}


def paths(bs):
    """The part numbers a BODYSTRUCTURE has, each with whether it is a nested message."""
    if isinstance(bs[0], list):
        return paths_children(bs, "")
    return [("1", is_message(bs))] + sub(bs, "1")


def is_message(part):
    return (
        not isinstance(part[0], list)
        and (part[0] or b"").lower() == b"message"
        and (part[1] or b"").lower() == b"rfc822"
    )


def sub(part, p):
    if isinstance(part[0], list):
        return paths_children(part, p)
    if is_message(part):
        inner = part[8]
        if isinstance(inner[0], list):
            return paths_children(inner, p)
        return [("%s.1" % p, is_message(inner))] + sub(inner, "%s.1" % p)
    return []


def paths_children(multi, p):
    out = []
    k = 0
    for child in multi:
        if not isinstance(child, list):
            break
        k += 1
        q = "%s.%d" % (p, k) if p else str(k)
        out.append((q, is_message(child)))
        out += sub(child, q)
    return out


def all_fetch(c, items):
    out = {}
    for r in c.cmd(b"UID FETCH 1:* (" + items + b")"):
        it = fetch_items(r)
        if it is not None:
            out[it[b"UID"]] = it
    return out


def section(c, uid, name):
    for r in c.cmd(b"UID FETCH " + uid + b" (BODY.PEEK[" + name + b"])"):
        it = fetch_items(r)
        if it is None:
            continue
        for k, v in it.items():
            if k.startswith(b"BODY["):
                return v or b""
    raise RuntimeError("no answer for BODY[%r]" % name)


def main():
    a_port, d_port, user, pw, d_user, d_pw = sys.argv[1:7]
    lenient = set()
    if len(sys.argv) > 7:
        d = sys.argv[7]
        lenient = {hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest() for f in os.listdir(d)}
    arkiv = Client(int(a_port), user, pw)
    dove = Client(int(d_port), d_user, d_pw)
    items = b"BODY.PEEK[] ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE"
    a = {m[b"BODY[]"]: (uid, m) for uid, m in all_fetch(arkiv, items).items()}
    d = {m[b"BODY[]"]: (uid, m) for uid, m in all_fetch(dove, items).items()}
    missing = set(d) - set(a)
    differences = 0
    if missing or not a:
        print("FAIL messages differ: %d in Dovecot not in Arkiv, %d in Arkiv" % (len(missing), len(a)))
        for m in missing:
            extra = [x for x in a if x not in d]
            print("  dovecot has %d bytes: %r" % (len(m), m[:200]))
            for x in extra:
                print("  arkiv has %d bytes: %r" % (len(x), x[:200]))
        differences += 1
    compared = sections = known_diffs = 0
    for raw, (duid, dm) in sorted(d.items()):
        if raw not in a:
            continue
        auid, am = a[raw]
        compared += 1
        known = hashlib.sha256(raw).hexdigest() in lenient
        before = differences
        subject = re.search(rb"(?im)^subject:(.*)$", raw)
        who = (subject.group(1).strip()[:50] if subject else b"(no subject)").decode("latin-1")
        who += " [%d bytes: %r]" % (len(raw), raw[:60])
        for key in (b"ENVELOPE", b"BODYSTRUCTURE", b"BODY", b"RFC822.SIZE"):
            if am.get(key) != dm.get(key):
                differences += 1
                print("DIFF %s %s\n  arkiv:   %r\n  dovecot: %r" % (who, key.decode(), am.get(key), dm.get(key)))
        names = [b"HEADER", b"TEXT", b"HEADER.FIELDS (From Subject Date)", b"HEADER.FIELDS.NOT (Received Subject)"]
        try:
            for p, msg in paths(dm[b"BODYSTRUCTURE"]):
                pb = p.encode()
                names += [pb, pb + b".MIME"]
                if msg:
                    names += [pb + b".HEADER", pb + b".TEXT", pb + b".HEADER.FIELDS (From)"]
        except (IndexError, TypeError) as e:
            print("note %s: structure not walked (%s)" % (who, e))
        for name in names:
            if name.endswith(b".MIME") and name.count(b".") == 1 and not isinstance(dm[b"BODYSTRUCTURE"][0], list):
                # 1.MIME of a single-part message: servers differ (RFC 3501 leaves it open).
                continue
            sections += 1
            x, y = section(arkiv, auid, name), section(dove, duid, name)
            if x != y:
                differences += 1
                k = 0
                while k < min(len(x), len(y)) and x[k] == y[k]:
                    k += 1
                print(
                    "DIFF %s BODY[%s] (%d and %d bytes, first difference at %d)\n  arkiv:   %r\n  dovecot: %r"
                    % (who, name.decode(), len(x), len(y), k, x[max(0, k - 40) : k + 200], y[max(0, k - 40) : k + 200])
                )
        if known and differences > before:
            known_diffs += differences - before
            differences = before
            print("(known: the differences above are in a deliberately malformed message)")
    print(
        "compared %d messages, %d sections, %d differences (and %d known in malformed messages)"
        % (compared, sections, differences, known_diffs)
    )
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
