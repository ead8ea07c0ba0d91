"""Raw SMTP conversations with Arkiv's journal receiver, for what swaks cannot send (BDAT,
SMTPUTF8 with raw 8-bit bytes, bare LF and NUL in DATA, a client that stops mid-message) and
for hostile clients. Called by smtp_server.rs:

    python3 smtp_server.py SCENARIO HOST STARTTLS_PORT SMTPS_PORT USER PASSWORD OUTDIR

Writes the bytes each accepted message must be archived with to OUTDIR/<name>.eml and prints
one JSON object with what the server answered."""

import json
import os
import socket
import ssl
import sys
import threading
import time
import base64

scenario, host, port, sport, user, password, outdir = sys.argv[1:8]
port, sport = int(port), int(sport)
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
result = {}


class Client:
    def __init__(self, implicit=False, timeout=30):
        s = socket.create_connection((host, sport if implicit else port), timeout=timeout)
        self.s = CTX.wrap_socket(s) if implicit else s
        self.buf = b""
        self.greeting = self.reply()

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed; got " + repr(self.buf))
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return l.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def code(self):
        return int(self.reply()[-1][:3])

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def cmd(self, c):
        self.send(c + "\r\n")
        return self.reply()

    def starttls(self):
        self.cmd("EHLO client.example")
        r = self.cmd("STARTTLS")
        assert r[-1].startswith("220"), r
        self.s = CTX.wrap_socket(self.s)
        return self.cmd("EHLO client.example")

    def auth(self):
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd("AUTH PLAIN " + token)

    def close(self):
        try:
            self.cmd("QUIT")
        except Exception:
            pass
        self.s.close()


def keep(name, data):
    with open(os.path.join(outdir, name + ".eml"), "wb") as f:
        f.write(data)


def dot_stuff(data):
    out = b"".join((b"." + l if l.startswith(b".") else l) for l in data.split(b"\r\n")[:-1] for l in [l + b"\r\n"])
    rest = data.split(b"\r\n")[-1]
    return out + (b"." + rest if rest.startswith(b".") else rest)


def message(subject, body=b"Hello.\r\n", extra=b""):
    subject, body, extra = (x.encode() if isinstance(x, str) else x for x in (subject, body, extra))
    return (b"From: Sender <sender@example.test>\r\nTo: Alice <alice@example.com>\r\n"
            b"Subject: " + subject + b"\r\nMessage-ID: <" + subject.replace(b" ", b".") +
            b"@example.test>\r\nDate: Thu, 03 Dec 2026 06:00:00 +0000\r\n" + extra + b"\r\n" + body)


if scenario == "protocol":
    # No TLS: the server says so before any message or password.
    c = Client()
    c.cmd("EHLO client.example")
    result["plain_mail"] = c.cmd("MAIL FROM:<sender@example.test>")[-1]
    result["plain_auth"] = c.cmd("AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode())[-1]
    c.close()
    # TLS without AUTH: this client is not in a trusted network.
    c = Client()
    ehlo = c.starttls()
    result["ehlo_tls"] = ehlo
    result["untrusted_mail"] = c.cmd("MAIL FROM:<sender@example.test>")[-1]
    # A wrong password counts.
    bad = base64.b64encode(f"\0{user}\0wrong-password".encode()).decode()
    result["wrong_password"] = c.cmd("AUTH PLAIN " + bad)[-1]
    result["auth"] = c.auth()[-1]
    # SIZE too large before DATA.
    result["size_refused"] = c.cmd("MAIL FROM:<sender@example.test> SIZE=999999999")[-1]
    # SMTPUTF8 and 8-bit, in BDAT chunks, with a Bcc recipient only the envelope names.
    m = message("BDAT chunks", "Grüße aus Köln – ünïcödé\r\n.leading dot\r\n".encode(),
                "X-Name: Jörg Müller\r\n".encode())
    c.cmd("MAIL FROM:<jörg@exämple.test> SMTPUTF8 BODY=8BITMIME SIZE=%d" % len(m))
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("RCPT TO:<bob@example.com>")
    parts = [m[:10], m[10:57], m[57:]]
    codes = []
    # Pipelined: all chunks at once, then the answers.
    payload = b"".join(b"BDAT %d%s\r\n" % (len(p), b" LAST" if i == len(parts) - 1 else b"") + p
                       for i, p in enumerate(parts))
    c.send(payload)
    for _ in parts:
        codes.append(c.reply()[-1])
    result["bdat"] = codes
    keep("bdat", m)
    # A chunked message abandoned with RSET leaves nothing behind in the next one.
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.send(b"BDAT 9\r\nstale: xx")
    result["stale_chunk"] = c.reply()[-1]
    result["rset"] = c.cmd("RSET")[-1]
    m = message("after rset")
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.send(b"BDAT %d LAST\r\n" % len(m) + m)
    result["after_rset"] = c.reply()[-1]
    keep("after_rset", m)
    # A chunked message over the limit, abandoned with RSET: the next message is not
    # refused for it.
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<alice@example.com>")
    chunk = b"z" * (1100 * 1024)
    c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    result["big_chunk"] = c.reply()[-1]
    c.cmd("RSET")
    m = message("after big chunk")
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(dot_stuff(m) + b".\r\n")
    result["after_big_chunk"] = c.reply()[-1]
    keep("after_big_chunk", m)
    # DATA with a bare LF, a bare CR and a NUL: kept exactly as sent.
    m = message("odd bytes", b"bare\nlf\r\nbare\rcr\r\nnul\0byte\r\n..two dots\r\n")
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(dot_stuff(m) + b".\r\n")
    result["odd_bytes"] = c.reply()[-1]
    keep("odd_bytes", m)
    # Over the limit after DATA (the server was started with a 1 MiB limit): refused, and
    # the connection goes on.
    big = message("too big", (b"y" * 998 + b"\r\n") * 1200)
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(dot_stuff(big) + b".\r\n")
    result["too_big"] = c.reply()[-1]
    result["after_too_big"] = c.cmd("NOOP")[-1]
    # PIPELINING: a whole transaction in one write.
    m = message("pipelined")
    c.send(b"MAIL FROM:<sender@example.test>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
    result["pipelined"] = [c.reply()[-1] for _ in range(3)]
    c.send(dot_stuff(m) + b".\r\n")
    result["pipelined"].append(c.reply()[-1])
    keep("pipelined", m)
    # A client that stops in the middle of a message: nothing is archived.
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(message("never finished", b"half of it\r\n"))
    c.s.close()
    # Implicit TLS.
    c = Client(implicit=True)
    c.cmd("EHLO client.example")
    result["implicit_auth"] = c.auth()[-1]
    m = message("implicit tls")
    c.cmd("MAIL FROM:<sender@example.test>")
    c.cmd("RCPT TO:<carol@elsewhere.test>")
    c.cmd("DATA")
    c.send(dot_stuff(m) + b".\r\n")
    result["implicit"] = c.reply()[-1]
    keep("implicit", m)
    # An Exchange envelope journal report: the original it carries is archived, for the
    # report's recipients (bob only as Bcc), with the report's sender.
    original = message("journal original", b"Numbers attached.\r\n")
    report = (b"From: Microsoft Outlook <MicrosoftExchange@contoso.test>\r\n"
              b"To: journal@arkiv.test\r\nSubject: journal original\r\n"
              b"X-MS-Journal-Report:\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: multipart/mixed; boundary=\"jr-boundary\"\r\n\r\n"
              b"--jr-boundary\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n"
              b"Content-Transfer-Encoding: 7bit\r\n\r\n"
              b"Sender: carol@partner.test\r\nSubject: journal original\r\n"
              b"Message-Id: <journal.original@example.test>\r\n"
              b"To: alice@example.com\r\nBcc: bob@example.com\r\n\r\n"
              b"--jr-boundary\r\nContent-Type: message/rfc822\r\n"
              b"Content-Disposition: attachment\r\n\r\n" + original +
              b"\r\n--jr-boundary--\r\n")
    c.cmd("MAIL FROM:<MicrosoftExchange@contoso.test>")
    c.cmd("RCPT TO:<journal@arkiv.test>")
    c.cmd("DATA")
    c.send(dot_stuff(report) + b".\r\n")
    result["journal_report"] = c.reply()[-1]
    keep("journal_original", original)
    # The same kind of report sent to another address (a forged one arriving through
    # always_bcc, say): archived as the message it is, never unwrapped.
    forged = (report.replace(b"Subject: journal original\r\nX-MS", b"Subject: forged report\r\nX-MS")
              .replace(b"Subject: journal original\r\nMessage-Id", b"Subject: forged original\r\nMessage-Id"))
    c.cmd("MAIL FROM:<MicrosoftExchange@contoso.test>")
    c.cmd("RCPT TO:<archive@arkiv.test>")
    c.cmd("DATA")
    c.send(dot_stuff(forged) + b".\r\n")
    result["forged_report"] = c.reply()[-1]
    keep("forged_report", forged)
    c.close()

elif scenario == "hostile":
    def authed(implicit=False):
        c = Client(implicit=implicit)
        if not implicit:
            c.starttls()
        else:
            c.cmd("EHLO client.example")
        assert c.auth()[-1].startswith("235")
        return c

    def send_one(c, name, rcpts=("alice@example.com",)):
        m = message(name.encode())
        c.cmd("MAIL FROM:<sender@example.test>")
        for r in rcpts:
            c.cmd("RCPT TO:<%s>" % r)
        c.cmd("DATA")
        c.send(dot_stuff(m) + b".\r\n")
        keep(name.replace(" ", "_"), m)
        return c.reply()[-1]

    # An endless line: cut off at the limit, the connection goes on.
    c = authed()
    c.send(b"NOOP " + b"z" * (1 << 20) + b"\r\n")
    result["endless_line"] = c.reply()[-1]
    result["after_endless_line"] = c.cmd("NOOP")[-1]
    # 10,000 RCPT TO, pipelined: the first ones taken, the rest told to come back.
    c.cmd("MAIL FROM:<sender@example.test>")
    c.send(b"".join(b"RCPT TO:<r%d@example.test>\r\n" % i for i in range(10000)))
    codes = {}
    for _ in range(10000):
        k = c.reply()[-1][:3]
        codes[k] = codes.get(k, 0) + 1
    result["rcpt_codes"] = codes
    c.cmd("DATA")
    m = message(b"many recipients")
    c.send(dot_stuff(m) + b".\r\n")
    result["many_recipients"] = c.reply()[-1]
    keep("many_recipients", m)
    c.close()
    # A slow sender holds its connection; another sender is served meanwhile.
    slow = authed()
    slow.cmd("MAIL FROM:<sender@example.test>")
    slow.cmd("RCPT TO:<alice@example.com>")
    slow.cmd("DATA")
    stop = threading.Event()

    def trickle():
        try:
            for b in message(b"slow").split(b"\r\n")[0]:
                if stop.is_set():
                    return
                slow.send(bytes([b]))
                time.sleep(0.05)
        except Exception:
            pass

    t = threading.Thread(target=trickle)
    t.start()
    start = time.time()
    result["beside_slow"] = send_one(authed(), "beside slow")
    result["beside_slow_seconds"] = time.time() - start
    stop.set()
    t.join()
    slow.s.close()
    # TLS handshake garbage on the implicit TLS port, then a real client.
    for junk in [b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.0\r\n\r\n", os.urandom(4096)]:
        s = socket.create_connection((host, sport), timeout=10)
        try:
            s.sendall(junk)
            s.settimeout(10)
            s.recv(100)
        except Exception:
            pass
        s.close()
    result["after_garbage"] = send_one(authed(implicit=True), "after garbage")
    # A connection storm: 300 connections at once from one address.
    socks = []
    for _ in range(300):
        try:
            socks.append(socket.create_connection((host, port), timeout=5))
        except Exception:
            pass
    greeted = 0
    for s in socks:
        try:
            s.settimeout(5)
            if s.recv(100).startswith(b"220"):
                greeted += 1
        except Exception:
            pass
    result["storm_greeted"] = greeted
    for s in socks:
        s.close()
    time.sleep(0.5)
    result["after_storm"] = send_one(authed(), "after storm")

print(json.dumps(result))
