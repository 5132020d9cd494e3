"""The socket side: one daemon thread with a selectors loop. It accepts
clients, frames lines, checks the hello, answers parse errors and pings at
once and pushes valid commands into the CommandQueue. Replies from the main
thread go through post(), which wakes the loop. No bpy here."""

import ipaddress
import selectors
import socket
import sys
import threading
import time

from . import protocol, sessions

PORT_TRIES = 20
OUTBOX_CAP = 8 * 1024 * 1024
RECV_SIZE = 16 * 1024
LINE_TIMEOUT = 10.0  # seconds a client may stop in the middle of a line


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Connection:
    """One client. The socket thread owns everything but the outbox, which
    post() fills from any thread under the lock."""

    def __init__(self, sock, peer, number):
        self.sock = sock
        self.peer = peer
        self.number = number
        self.framer = protocol.LineFramer()
        self.hello_done = False
        self.closed = False
        self.close_when_flushed = False
        self.writing = False
        self.lock = threading.Lock()
        self.out = bytearray()
        self.partial_since = None  # monotonic time the unfinished line started, or None
        self.session = None  # the hello's session (exactly once), or None

    def __repr__(self):
        return f"client #{self.number} {self.peer}"


class Server:
    """Listens on host:port (or the next free port up to PORT_TRIES later;
    port 0 lets the system choose). Every client must send token in its hello.
    applied (sessions.AppliedIds) remembers what each client session had
    applied; the main thread finishes those ids. start() binds and starts the
    thread, raising OSError/ValueError with the reason; stop() joins it."""

    def __init__(self, queue, host="127.0.0.1", port=9876, token="", max_clients=8,
                 hello_info=None, log=None, applied=None, greeting=None, panel=None):
        if not token:
            raise ValueError("a token is required on every connection; pass one (the add-on makes a "
                             "random one unless the preferences set one)")
        self.queue = queue
        self.applied = applied if applied is not None else sessions.AppliedIds()
        # Takes the bridges' status and mappings lines (status.PanelState: on_status,
        # on_mappings, on_closed; thread-safe); None: they are answered and dropped.
        self.panel = panel
        self.host, self.requested_port, self.port = host, port, None
        self.token = token
        self.max_clients = max_clients
        self.line_timeout = LINE_TIMEOUT
        self.hello_info = dict(hello_info or {})
        # greeting(): events sent right after each hello reply (the record state), any thread.
        self.greeting = greeting or (lambda: [])
        # _hello_lock: a hello's reply + greeting and a broadcast() are one step each, so a
        # client gets the state in its greeting or the change in a broadcast, never neither.
        self._hello_lock = threading.Lock()
        self.log = log or (lambda msg: print(f"knoblink: {msg}", file=sys.stderr, flush=True))
        self.clients = []
        self.last_error = ""
        self.lines = 0
        self._count = 0
        self._stop = threading.Event()
        self._thread = None
        self._listener = None
        self._sel = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # _wake_pending: a wake-up byte is in the socket pair and the loop has not emptied it.
        # post() sets it from any thread (the main thread's replies, this thread's own), the
        # loop clears it: a read-test-write from two threads. _wake_lock makes "test, set and
        # send" and "empty and clear" one step each, so at most one byte is in flight and the
        # flag is never True without a byte on its way (which would leave a reply waiting for
        # the 0.1 s select timeout). Without it this relied on the GIL's scheduling; it would
        # not hold on a free-threaded Python.
        self._wake_lock = threading.Lock()
        self._wake_pending = False

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------ lifecycle
    def start(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        ports = [0] if self.requested_port == 0 else range(
            self.requested_port, min(self.requested_port + PORT_TRIES, 65536))
        err = None
        for port in ports:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, port))
                s.listen(16)
            except OSError as e:
                s.close()
                err = e
                continue
            self._listener = s
            break
        if self._listener is None:
            raise OSError(f"cannot listen on {self.host} ports {ports[0]}..{ports[-1]}: {err}")
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        if self.requested_port and self.port != self.requested_port:
            self.log(f"port {self.requested_port} is in use; listening on {self.port} instead")
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name="knoblink-server", daemon=True)
        self._thread.start()

    def stop(self, timeout=1.0):
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self._wake_r.close()
        self._wake_w.close()

    # ------------------------------------------------------------ any thread
    def post(self, conn, obj):
        """Queue a reply object for conn and wake the loop to send it."""
        if conn.closed:
            return
        data = protocol.encode(obj)
        with conn.lock:
            conn.out += data
        self._wake()

    def broadcast(self, obj):
        """Queue obj for every client past its hello (events that concern them all)."""
        with self._hello_lock:
            for conn in list(self.clients):
                if conn.hello_done:
                    self.post(conn, obj)

    def _wake(self):
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
            try:
                self._wake_w.send(b"\0")  # non-blocking, one byte: never waits under the lock
            except OSError:
                pass

    # ------------------------------------------------------------ the thread
    def _clear_wake(self):
        """Empty the wake socket and clear the flag, as one step under the lock:
        a post() after this sends a new byte and wakes the loop again."""
        with self._wake_lock:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            self._wake_pending = False

    def _run(self):
        try:
            while not self._stop.is_set():
                if self.queue.full():
                    # Back-pressure: leave client bytes in the kernel until the drain catches up.
                    self._flush_all()
                    self._stop.wait(0.002)
                    continue
                self._expire_partial_lines()
                for key, mask in self._sel.select(0.1):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._clear_wake()
                    elif mask & selectors.EVENT_READ:
                        self._read(key.data)
                self._flush_all()
        except Exception as e:  # a bug: say where, never die silently
            self.last_error = f"server thread stopped: {e!r}"
            self.log(self.last_error)
        finally:
            for conn in list(self.clients):
                self._close(conn, None)
            self._sel.close()
            self._listener.close()

    def _accept(self):
        try:
            sock, peer = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._count += 1
        conn = Connection(sock, f"{peer[0]}:{peer[1]}", self._count)
        if len(self.clients) >= self.max_clients:
            try:
                sock.send(protocol.encode(protocol.error_reply(
                    "too_many_clients", f"{self.max_clients} clients already connected")))
            except OSError:
                pass
            sock.close()
            self._note_error(f"refused {conn}: {self.max_clients} clients already connected")
            return
        self.clients.append(conn)
        self._sel.register(sock, selectors.EVENT_READ, conn)
        self.log(f"{conn} connected")

    def _read(self, conn):
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._close(conn, f"read failed: {e}")
            return
        if not data:
            left = conn.framer.pending
            self._close(conn, f"closed by peer with {left} bytes of an unfinished line" if left else None)
            return
        received = time.perf_counter()  # where the add-on's stage starts (docs/performance.md)
        items = conn.framer.feed(data)
        if not conn.framer.pending:
            conn.partial_since = None
        elif conn.partial_since is None:
            conn.partial_since = time.monotonic()
        for item in items:
            if isinstance(item, protocol.ProtocolError):
                self._reply_error(conn, item, None)
            else:
                self._line(conn, item, received)
            if conn.closed or conn.close_when_flushed:
                break

    def _expire_partial_lines(self):
        """A client that stops in the middle of a line gets an error after
        line_timeout seconds and the partial line is dropped; the connection
        stays open and other clients were never held up."""
        now = time.monotonic()
        for conn in self.clients:
            if conn.partial_since is not None and now - conn.partial_since > self.line_timeout:
                n = conn.framer.drop_partial()
                conn.partial_since = None
                self._reply_error(conn, protocol.ProtocolError(
                    "incomplete_line", f"{n} bytes without a newline for {self.line_timeout:g} s; discarded"), None)

    def _line(self, conn, line, received=0.0):
        self.lines += 1
        try:
            obj = protocol.decode_line(line)
        except protocol.ProtocolError as e:
            self._reply_error(conn, e, None)
            if not conn.hello_done:
                conn.close_when_flushed = True
            return
        if not conn.hello_done or ("hello" in obj and "op" not in obj):
            bad = protocol.check_hello(obj, self.token)
            if bad is not None:
                self._reply_error(conn, bad, None)
                conn.close_when_flushed = True
                return
            conn.session = obj.get("session")
            reply = {"hello": protocol.PROTOCOL, "server": f"knoblink-addon/{protocol.VERSION}",
                     **self.hello_info, "features": list(protocol.FEATURES)}
            if conn.session is not None:
                reply["session"] = conn.session  # ids of this session are applied at most once
            with self._hello_lock:
                self.post(conn, reply)
                for ev in self.greeting():
                    self.post(conn, ev)
                conn.hello_done = True
            return
        try:
            cmd = protocol.parse_command(obj)
        except protocol.ProtocolError as e:
            self._reply_error(conn, e, protocol.request_id(obj))
            return
        if cmd.op == "ping":
            self.post(conn, {"id": cmd.id, "ok": True} if cmd.id is not None else {"ok": True})
            return
        if cmd.op in protocol.INFO_OPS:  # for the panel only: never queued, no bpy
            if self.panel is not None:
                if cmd.op == "status":
                    self.panel.on_status(conn.number, conn.peer, cmd.value)
                else:
                    self.panel.on_mappings(conn.number, conn.peer, cmd.value)
            if cmd.id is not None:
                self.post(conn, {"id": cmd.id, "ok": True})
            return
        cmd.t = received
        if conn.session is not None and cmd.id is not None and cmd.op in sessions.OPS:
            state, replies = self.applied.claim(conn.session, cmd.id, conn, time.monotonic())
            if state == sessions.DONE:  # applied before (maybe on another connection): its outcome again
                for obj in replies:
                    self.post(conn, obj)
            if state != sessions.NEW:  # PENDING: finish() answers conn too
                return
        self.queue.push(cmd, conn)

    def _reply_error(self, conn, err, cid):
        self._note_error(f"{conn}: {err.code}: {err.message}")
        self.post(conn, protocol.error_reply(err.code, err.message, cid))

    def _note_error(self, text):
        self.last_error = text

    def _flush_all(self):
        for conn in list(self.clients):
            if conn.out:
                self._flush(conn)
            if conn.close_when_flushed and not conn.out and not conn.closed:
                self._close(conn, None)

    def _flush(self, conn):
        with conn.lock:
            try:
                n = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError as e:
                conn.out.clear()
                n = -1
                err = e
            else:
                del conn.out[:n]
            pending = len(conn.out)
        if n < 0:
            self._close(conn, f"write failed: {err}")
        elif pending > OUTBOX_CAP:
            self._close(conn, f"not reading its replies ({pending} bytes waiting)")
        elif bool(pending) != conn.writing:
            conn.writing = bool(pending)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0)
            self._sel.modify(conn.sock, events, conn)

    def _close(self, conn, why):
        if conn.closed:
            return
        conn.closed = True
        if why:
            self._note_error(f"{conn} dropped: {why}")
        self.log(f"{conn} disconnected" + (f" ({why})" if why else ""))
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        if conn in self.clients:
            self.clients.remove(conn)
        if self.panel is not None:
            self.panel.on_closed(conn.number)
