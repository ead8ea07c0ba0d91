"""Drives Arkiv's IMAP service with Python's imaplib (a real client) and raw TLS sockets.

Arguments: imap_port imaps_port user password. Prints one line per check: "ok <name>";
any failure raises (non-zero exit with the traceback).
"""
import imaplib
import socket
import time
import ssl
import sys

imap_port, imaps_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    print("ok", name, flush=True)


# Plain text: STARTTLS offered, no sign-in before it.
m = imaplib.IMAP4("127.0.0.1", imap_port)
caps = m.capabilities
check("plain port offers STARTTLS and refuses logins", "STARTTLS" in caps and "LOGINDISABLED" in caps, caps)
typ, data = m._simple_command("LOGIN", user, password)
check("LOGIN before TLS is refused", typ == "NO" and b"PRIVACYREQUIRED" in data[0], (typ, data))
m.starttls(ssl_context=ctx)
typ, data = m.capability()
caps = data[0].decode()
check("after STARTTLS: AUTH=PLAIN", "AUTH=PLAIN" in caps and "LOGINDISABLED" not in caps, caps)
try:
    m.login(user, "not-the-password")
    raise AssertionError("a wrong password was accepted")
except imaplib.IMAP4.error as e:
    check("a wrong password is refused", "AUTHENTICATIONFAILED" in str(e), str(e))
typ, data = m.login(user, password)
check("LOGIN after STARTTLS", typ == "OK", data)
typ, data = m._simple_command("CREATE", "Anything")
check("CREATE is refused: the archive is read-only", typ == "NO" and b"read-only" in data[0], (typ, data))
m.logout()

# Implicit TLS: AUTHENTICATE PLAIN (the client sends it after a continuation).
s = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx)
check("implicit TLS offers AUTH=PLAIN", "AUTH=PLAIN" in s.capabilities, s.capabilities)
typ, data = s.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
check("AUTHENTICATE PLAIN", typ == "OK", data)
typ, data = s._simple_command("NOOP")
check("NOOP", typ == "OK", data)
s.logout()

# Raw: a 1 GB literal announcement is refused at once, and the connection goes on.
raw = ctx.wrap_socket(socket.create_connection(("127.0.0.1", imaps_port)), server_hostname="x")
f = raw.makefile("rwb")
greeting = f.readline()
check("greeting", greeting.startswith(b"* OK"), greeting)
f.write(b"a1 LOGIN {1073741824}\r\n")
f.flush()
line = f.readline()
check("huge literal refused at its announcement", line.startswith(b"a1 BAD") and b"literal" in line, line)
f.write(b"a2 NOOP\r\n")
f.flush()
line = f.readline()
check("the connection goes on", line.startswith(b"a2 OK"), line)
# 10,000 nested parentheses: refused before any parser sees them.
f.write(b"a3 SEARCH " + b"(" * 10000 + b"ALL" + b")" * 10000 + b"\r\n")
f.flush()
line = f.readline()
check("deep nesting refused", line.startswith(b"a3 BAD"), line)
f.write(b"a4 LOGOUT\r\n")
f.flush()
rest = f.read()
check("LOGOUT says BYE", b"* BYE" in rest and b"a4 OK" in rest, rest)

# A literal that never ends: the client announces 100 bytes, sends 10 and stalls. Other
# clients are served meanwhile; the staller is cut off at the idle limit (the test sets 3 s).
stall = ctx.wrap_socket(socket.create_connection(("127.0.0.1", imaps_port)), server_hostname="x")
sf = stall.makefile("rwb")
sf.readline()
sf.write(b"b1 LOGIN {100}\r\n")
sf.flush()
check("a literal is invited", sf.readline().startswith(b"+"))
sf.write(b"x" * 10)
sf.flush()
started = time.time()
other = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx)
other.login(user, password)
other.logout()
check("others are served while a literal stalls", time.time() - started < 3)
stall.settimeout(30)
rest = b""
while True:
    chunk = stall.recv(4096)
    if not chunk:
        break
    rest += chunk
waited = time.time() - started
check("a literal that never ends is cut off", 2 <= waited < 15 and b"BYE" in rest, (waited, rest))

# A client that never reads its answers: it sends commands until its own sends block. Its
# connection holds one answer at a time and is cut off at the request limit (the test sets
# 3 s); other clients are served meanwhile.
deaf = ctx.wrap_socket(socket.create_connection(("127.0.0.1", imaps_port)), server_hostname="x")
deaf.recv(4096)
deaf.settimeout(5)
sent = 0
try:
    while sent < 2_000_000:
        deaf.sendall(b"c CAPABILITY\r\n" * 1000)
        sent += 1000
except (socket.timeout, ssl.SSLError, OSError):
    pass
started = time.time()
other = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx)
other.login(user, password)
other.logout()
check("others are served while a client does not read", time.time() - started < 3, sent)
deaf.settimeout(60)
closed = False
try:
    while True:
        if not deaf.recv(1 << 20):
            closed = True
            break
        if time.time() - started > 40:
            break
except (ConnectionResetError, ssl.SSLError, OSError):
    closed = True
check("a client that never reads is cut off", closed, sent)
