"""Who may use a server the kit starts: only the user who started it, unless told otherwise.

On a shared machine (The Littlest JupyterHub puts every learner on one host) ``127.0.0.1``
belongs to everyone, so a kit server checks each connection before its app sees a request:

* **On Linux**, the kernel knows which user opened the connecting TCP socket. :func:`socket_owner`
  asks it with one ``sock_diag`` netlink query for that exact connection (the TCP version of
  ``SO_PEERCRED``), once per connection: the answer is kept for the connection's life. A
  connection of the owner (``os.geteuid()``) gets in, with nothing to pass; plain ``requests``
  and ``curl`` keep working. (``/proc/net/tcp`` holds the same facts, but reading it walks the
  kernel's whole connection table; it is only the fallback when netlink is unavailable.)
* **Elsewhere** (another system, a connection from another machine, or ``STREAMKIT_ACCESS=token``
  in the environment) a per-server secret: the ``X-Streamkit-Token`` header, a ``?token=`` in
  the URL (which also sets a cookie, so a browser needs it once), or that cookie.

Anyone else gets ``403`` with one line of plain text saying why, and their request never reaches
the app. The secret never reaches the app either: the header, the cookie and the ``token``
query parameter that carried it are removed from the request first.

A proxy the kit starts in front (nginx) runs as the owner and names the original client in the
``X-Streamkit-Client`` header (its address and port, and nginx's); the backend trusts that
header only on a connection the owner opened, and checks the original client's socket the
same way.

Layer: serving. Used by every backend: :class:`GateWSGI` wraps a WSGI app and reads the
connection's socket from the environ; :class:`GateASGI` is made per connection by the uvicorn
backend, which knows the connection.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import pwd
import secrets
import socket
import struct
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = [
    "ACCESS_ENV",
    "CLIENT_HEADER",
    "GATE_ENV",
    "SOCKET_KEY",
    "TOKEN_HEADER",
    "Gate",
    "GateASGI",
    "GateWSGI",
    "proc_owner",
    "socket_owner",
]

TOKEN_HEADER = "X-Streamkit-Token"
CLIENT_HEADER = "X-Streamkit-Client"  # set by the kit's own nginx: "addr port nginx-addr nginx-port"
TOKEN_PARAM = "token"
ACCESS_ENV = "STREAMKIT_ACCESS"  # "token": ask for the secret even where the uid could be read
GATE_ENV = "STREAMKIT_GATE"  # how a gate reaches gunicorn's workers (see backends.gunicorn_hooks)
SOCKET_KEY = "streamkit.socket"  # environ key for a backend that does not name its socket itself

# Where WSGI servers put the connection's socket in the environ.
_SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket", SOCKET_KEY)

# -- whose socket is it? ----------------------------------------------------------------------

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF
# errnos that say this system (or sandbox) offers no sock_diag netlink at all
_NO_NETLINK = {errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.EPERM, errno.EACCES}
_TCP_STATES = {1, 4, 5, 8}  # ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT: a live client socket


class _Netlink:
    """One ``NETLINK_SOCK_DIAG`` socket per process, asked one question at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._sock: socket.socket | None = None
        self._seq = 0
        self.broken = False  # set when this system has no sock_diag netlink (see _NO_NETLINK)

    def _socket(self) -> socket.socket:
        if self._sock is None or self._pid != os.getpid():  # a forked worker needs its own
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
            self._pid = os.getpid()
        return self._sock

    def owner(self, family: int, src: bytes, sport: int, dst: bytes, dport: int) -> int | None:
        """uid of the TCP socket ``src:sport -> dst:dport``; None when there is no live one."""
        sockid = (
            struct.pack("!HH", sport, dport)
            + src.ljust(16, b"\0")
            + dst.ljust(16, b"\0")
            + struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
        )
        request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
        with self._lock:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            message = struct.pack(
                "=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, self._seq, 0
            )
            sock = self._socket()
            sock.sendto(message + request, (0, 0))
            while True:
                # The kernel answers within sendto(): never wait (no timeout, whose poll() would
                # cost more than the question).
                reply = sock.recv(8192, socket.MSG_DONTWAIT)
                if struct.unpack_from("=I", reply, 8)[0] == self._seq:
                    break
        kind = struct.unpack_from("=H", reply, 4)[0]
        if kind == _NLMSG_ERROR:
            code = -struct.unpack_from("=i", reply, 16)[0]
            if code in (errno.ENOENT, 0):
                return None
            raise OSError(code, os.strerror(code))
        # struct inet_diag_msg: family, state, timer, retrans, sockid (48), expires, rqueue,
        # wqueue, uid, inode
        state = reply[17]
        uid, inode = struct.unpack_from("=II", reply, 16 + 4 + 48 + 12)
        # A closed or time-wait socket (inode 0) has no user any more (time-wait reports uid 0).
        if state not in _TCP_STATES or inode == 0:
            return None
        return int(uid)


_netlink = _Netlink()


def proc_owner(family: int, src: bytes, sport: int, dst: bytes, dport: int) -> int | None:
    """The same question answered from ``/proc/net/tcp`` (slow: the kernel lists every socket)."""

    def hexaddr(raw: bytes, port: int) -> str:
        words = struct.unpack(f"={len(raw) // 4}I", raw)  # the kernel prints each word native-endian
        return "".join(f"{word:08X}" for word in words) + f":{port:04X}"

    wanted = f" {hexaddr(src, sport)} {hexaddr(dst, dport)} ".encode()
    name = "/proc/net/tcp" if family == socket.AF_INET else "/proc/net/tcp6"
    with open(name, "rb") as table:
        text = table.read()
    at = text.find(wanted)
    if at < 0:
        return None
    line = text[text.rfind(b"\n", 0, at) + 1 : text.find(b"\n", at)].split()
    state, uid, inode = int(line[3], 16), int(line[7]), int(line[9])
    if state not in _TCP_STATES or inode == 0:
        return None
    return uid


def _packed(host: str) -> tuple[int, bytes]:
    host = host.split("%", 1)[0]  # a scope id ("fe80::1%eth0") is not part of the address
    if ":" in host:
        return socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host)
    return socket.AF_INET, socket.inet_aton(host)


def socket_owner(local: tuple[Any, ...], remote: tuple[Any, ...]) -> int | None:
    """The uid of the user who opened the TCP socket at ``local`` connected to ``remote``.

    For a server's connection, ``local`` is the peer's address (``getpeername()``) and
    ``remote`` the server's own (``getsockname()``): the client's socket on this machine. None
    when no live socket matches (a client on another machine, one already closed), or when this
    system cannot say (not Linux). An IPv4 client reaching an IPv6 socket shows up as
    ``::ffff:a.b.c.d`` and is looked up as the IPv4 socket it is.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        family, src = _packed(str(local[0]))
        _, dst = _packed(str(remote[0]))
    except (OSError, ValueError):
        return None
    questions = [(family, src, int(local[1]), dst, int(remote[1]))]
    mapped = b"\0" * 10 + b"\xff\xff"
    if family == socket.AF_INET6 and src.startswith(mapped) and dst.startswith(mapped):
        questions.insert(0, (socket.AF_INET, src[12:], int(local[1]), dst[12:], int(remote[1])))
    for question in questions:
        try:
            uid = None if _netlink.broken else _netlink.owner(*question)
            if _netlink.broken:
                uid = proc_owner(*question)
        except OSError as error:
            if error.errno in _NO_NETLINK:
                _netlink.broken = True  # no sock_diag here (a sandbox): read the table from now on
            try:
                uid = proc_owner(*question)  # the same answer, slowly
            except (OSError, ValueError, IndexError):
                return None
        if uid is not None:
            return uid
    return None


def _user_name(uid: int) -> str:
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


# -- the gate ----------------------------------------------------------------------------------


class Gate:
    """The access rule of one server: its owner, its secret, and whether uids can be checked.

    ``Gate()`` is the usual one: owned by this process's user, a fresh token, uid checks where
    the system allows them (Linux, unless ``STREAMKIT_ACCESS=token`` is set).
    """

    def __init__(
        self, *, owner: int | None = None, token: str | None = None, check_uid: bool | None = None
    ) -> None:
        self.owner = os.geteuid() if owner is None else owner
        self.token = token or secrets.token_urlsafe(24)
        if check_uid is None:
            check_uid = sys.platform.startswith("linux") and os.environ.get(ACCESS_ENV, "").lower() != "token"
        self.check_uid = check_uid
        # Cookies belong to a host, not a port: each server's cookie has a name of its own.
        self.cookie_name = "streamkit-token-" + hashlib.sha256(self.token.encode()).hexdigest()[:10]
        self._uids: weakref.WeakKeyDictionary[socket.socket, int | None] = weakref.WeakKeyDictionary()
        self._uids_lock = threading.Lock()
        self.lookups = 0  # how many connections were looked up (once each, however many requests)

    def to_environment(self) -> str:
        """The gate as text for an environment variable (how gunicorn's workers get it)."""
        return json.dumps({"owner": self.owner, "token": self.token, "check_uid": self.check_uid})

    @classmethod
    def from_environment(cls, text: str) -> Gate:
        fields = json.loads(text)
        return cls(
            owner=int(fields["owner"]), token=str(fields["token"]), check_uid=bool(fields["check_uid"])
        )

    @property
    def headers(self) -> dict[str, str]:
        """The header that carries the token: ``requests.get(url, headers=gate.headers)``."""
        return {TOKEN_HEADER: self.token}

    def peer_uid(self, peer: tuple[Any, ...], local: tuple[Any, ...]) -> int | None:
        """The uid behind a connection from ``peer`` to ``local`` (None when it cannot be told,
        or when this gate does not check uids). A backend asks once per connection."""
        if not self.check_uid:
            return None
        with self._uids_lock:
            self.lookups += 1
        return socket_owner(peer, local)

    def connection_uid(self, sock: socket.socket) -> int | None:
        """:meth:`peer_uid` for a connection's socket, kept for the connection's life."""
        with self._uids_lock:
            if sock in self._uids:
                return self._uids[sock]
        try:
            uid = self.peer_uid(sock.getpeername(), sock.getsockname())
        except OSError:
            uid = None
        with self._uids_lock:
            self._uids[sock] = uid
        return uid

    def refusal(
        self, connection_uid: Callable[[], int | None], client: str | None, token: str | None
    ) -> str | None:
        """Why a request is refused (one line), or None to let it in.

        ``connection_uid`` gives the uid of the connection's peer, ``client`` the value of the
        :data:`CLIENT_HEADER` (or None), ``token`` the secret the request carried (or None).
        """
        if token is not None and hmac.compare_digest(token.encode(), self.token.encode()):
            return None
        wrong = " (the token it sent does not match)" if token is not None else ""
        needs_token = (
            f"this streamkit server needs its access token{wrong}: server.get() sends it; other "
            f"clients send headers=server.access_headers (the {TOKEN_HEADER} header), and a "
            "browser opens the ?token= URL the kit prints"
        )
        if not self.check_uid:
            return needs_token
        uid = connection_uid()
        if uid is None:
            return f"this streamkit server cannot tell which user opened this connection, so {needs_token}"
        if uid == self.owner and client is not None:
            uid = _client_owner(client)  # the kit's nginx, running as the owner, names the client
            if uid is None:
                return f"this streamkit server cannot tell which user opened the connection to its proxy, so {needs_token}"
        if uid != self.owner:
            return (
                f"this streamkit server answers only the user who started it ({_user_name(self.owner)}); "
                f"this connection comes from {_user_name(uid)}"
            )
        return None


def _client_owner(client: str) -> int | None:
    """uid behind ``"addr port proxy-addr proxy-port"`` (the :data:`CLIENT_HEADER`)."""
    parts = client.split()
    if len(parts) != 4 or not parts[1].isdigit() or not parts[3].isdigit():
        return None
    return socket_owner((parts[0], int(parts[1])), (parts[2], int(parts[3])))


def _forbidden(reason: str) -> bytes:
    return ("403 Forbidden: " + reason.replace("\n", " ") + "\n").encode("utf-8")


def _without_token(query: str, token: str) -> tuple[str, bool]:
    """``query`` without ``token=<the secret>`` parameters; True when one was there.

    A ``token`` parameter with any other value is the app's own and stays.
    """
    if TOKEN_PARAM not in query:
        return query, False
    kept = [part for part in query.split("&") if part != f"{TOKEN_PARAM}={token}"]
    return "&".join(kept), len(kept) != len(query.split("&"))


def _without_cookie(cookies: str, name: str) -> tuple[str, str | None]:
    """The Cookie header without ``name``, and that cookie's value (None when absent)."""
    if name not in cookies:
        return cookies, None
    value = None
    kept = []
    for part in cookies.split(";"):
        key, _, val = part.strip().partition("=")
        if key == name:
            value = val.strip().strip('"')
        elif part.strip():
            kept.append(part.strip())
    return "; ".join(kept), value


def _set_cookie(gate: Gate) -> str:
    return f"{gate.cookie_name}={gate.token}; Path=/; HttpOnly; SameSite=Lax"


class GateWSGI:
    """Let a request reach ``app`` only when ``gate`` lets it in; answer 403 otherwise.

    The connection's socket is read from the environ (``werkzeug.socket``, ``gunicorn.socket``,
    or :data:`SOCKET_KEY`), so the uid lookup happens once per connection.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], gate: Gate) -> None:
        self.app = app
        self.gate = gate

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        gate = self.gate
        token = environ.pop("HTTP_X_STREAMKIT_TOKEN", None)
        client = environ.pop("HTTP_X_STREAMKIT_CLIENT", None)
        cookies = environ.get("HTTP_COOKIE")
        if cookies:
            environ["HTTP_COOKIE"], from_cookie = _without_cookie(cookies, gate.cookie_name)
            if not environ["HTTP_COOKIE"]:
                del environ["HTTP_COOKIE"]
            token = token if token is not None else from_cookie
        query = environ.get("QUERY_STRING", "")
        from_query = False
        if query:
            environ["QUERY_STRING"], from_query = _without_token(query, gate.token)
            if from_query:
                token = gate.token
                for key in ("REQUEST_URI", "RAW_URI"):
                    if key in environ:
                        path, _, raw_query = environ[key].partition("?")
                        rest = _without_token(raw_query, gate.token)[0]
                        environ[key] = f"{path}?{rest}" if rest else path

        def peer_uid() -> int | None:
            sock = next((environ[key] for key in _SOCKET_KEYS if key in environ), None)
            return gate.connection_uid(sock) if isinstance(sock, socket.socket) else None

        reason = gate.refusal(peer_uid, client, token)
        if reason is not None:
            body = _forbidden(reason)
            start_response(
                "403 Forbidden",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Cache-Control", "no-store"),
                ],
            )
            return [body]
        if not from_query:
            return self.app(environ, start_response)

        def with_cookie(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Set-Cookie", _set_cookie(gate))], exc_info)

        return self.app(environ, with_cookie)


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class GateASGI:
    """:class:`GateWSGI` for an ASGI app, made for one connection whose peer uid is known.

    ``GateASGI(app, gate, peer_uid)``; the uvicorn backend makes one when a connection opens.
    """

    def __init__(self, app: Any, gate: Gate, peer_uid: int | None) -> None:
        self.app = app
        self.gate = gate
        self.peer_uid = peer_uid

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        gate = self.gate
        token: str | None = None
        client: str | None = None
        headers: list[tuple[bytes, bytes]] = []
        for name, value in scope.get("headers", ()):
            lower = name.lower()
            if lower == b"x-streamkit-token":
                token = value.decode("latin-1")
            elif lower == b"x-streamkit-client":
                client = value.decode("latin-1")
            elif lower == b"cookie":
                rest, from_cookie = _without_cookie(value.decode("latin-1"), gate.cookie_name)
                if from_cookie is not None and token is None:
                    token = from_cookie
                if rest:
                    headers.append((name, rest.encode("latin-1")))
            else:
                headers.append((name, value))
        query, from_query = _without_token(scope.get("query_string", b"").decode("latin-1"), gate.token)
        if from_query:
            token = gate.token
        reason = gate.refusal(lambda: self.peer_uid, client, token)
        if reason is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
                return
            body = _forbidden(reason)
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope = dict(scope, headers=headers, query_string=query.encode("latin-1"))
        if not from_query:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Any) -> None:
            if message.get("type") == "http.response.start":
                cookie = (b"set-cookie", _set_cookie(gate).encode("latin-1"))
                message = dict(message, headers=[*message.get("headers", []), cookie])
            await send(message)

        await self.app(scope, receive, send_with_cookie)
