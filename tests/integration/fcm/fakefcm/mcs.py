"""The fake MCS server: version byte, LoginRequest/LoginResponse, DataMessageStanza delivery, acks, heartbeats.

Framing both ways: one tag byte, a varint32 body length (at most 5 bytes), the protobuf body. A body over 4 MiB,
a malformed varint or an unparseable body closes the connection with a log line.

Acknowledgement (a message is redelivered on every new login until acked):
- LoginRequest.received_persistent_id: those ids are acked ("login");
- IqStanza extension 12 (SelectiveAck): the ids it lists are acked ("selective");
- IqStanza extension 13 (StreamAck): every message sent on this connection whose server stream id is at most the
  IqStanza's last_stream_id_received is acked ("stream"); without last_stream_id_received, every message sent on
  this connection so far ("stream");
- stream_ack_mode "any" (the default, as Chromium's client relies on it): a last_stream_id_received in any client
  frame (HeartbeatPing, HeartbeatAck, IqStanza, DataMessageStanza) acks the same way ("stream_id"); mode "iq" only
  honours the StreamAck extension.
Stream ids: each side counts the frames it received on the connection, the login exchange being 1.
"""

import asyncio
import ssl

from google.protobuf.message import DecodeError

from .model import now_ms

MCS_VERSION = 41
MAX_FRAME = 4 * 1024 * 1024
TAG_PING, TAG_ACK, TAG_LOGIN, TAG_LOGIN_RESPONSE, TAG_CLOSE, TAG_IQ, TAG_DATA = 0, 1, 2, 3, 4, 7, 8
SELECTIVE_ACK, STREAM_ACK = 12, 13
TAG_NAMES = {0: "HeartbeatPing", 1: "HeartbeatAck", 2: "LoginRequest", 3: "LoginResponse", 4: "Close",
             5: "MessageStanza", 6: "PresenceStanza", 7: "IqStanza", 8: "DataMessageStanza",
             9: "BatchPresenceStanza", 10: "StreamErrorStanza", 11: "HttpRequest", 12: "HttpResponse",
             13: "BindAccountRequest", 14: "BindAccountResponse", 15: "TalkMetadata"}


class FrameError(Exception):
    pass


class ClosedByPeer(Exception):
    pass


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


async def read_frame(reader):
    """(tag, body) of the next frame; FrameError for a bad length, IncompleteReadError at end of stream."""
    tag = (await reader.readexactly(1))[0]
    length = 0
    for i in range(5):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            break
    else:
        raise FrameError(f"tag {tag}: length varint longer than 5 bytes")
    if length > 0xFFFFFFFF:
        raise FrameError(f"tag {tag}: length varint over 32 bits")
    if length > MAX_FRAME:
        raise FrameError(f"tag {tag}: body of {length} bytes is over the {MAX_FRAME >> 20} MiB limit")
    return tag, await reader.readexactly(length)


class Connection:
    """One client connection; `device` is set once its login succeeded."""

    def __init__(self, server, reader, writer, number: int):
        self.server = server
        self.model = server.model
        self.pb = server.protos.mcs
        self.reader = reader
        self.writer = writer
        self.number = number
        self.device = None
        self.stream_in = 0
        self.stream_out = 0
        self.sent = {}  # server stream id -> persistent id of a DataMessageStanza sent here
        self.delivered_here = set()
        self.held_login_response = None  # a LoginResponse held back while the server is silent
        self.closed = False

    def log(self, text: str) -> None:
        self.model.log(f"mcs.{text} conn={self.number}")

    # Output ---------------------------------------------------------------------------------------------------

    def send(self, tag: int, message) -> None:
        if self.closed:
            return
        if hasattr(message, "last_stream_id_received") and self.stream_in:
            message.last_stream_id_received = self.stream_in
        body = message.SerializeToString()
        self.stream_out += 1
        self.writer.write(bytes([tag]) + varint(len(body)) + body)

    def _stanza(self, m):
        stanza = self.pb.DataMessageStanza(**{"from": m.registration.sender}, category=m.registration.app,
                                           id=m.persistent_id, persistent_id=m.persistent_id, ttl=m.ttl,
                                           sent=m.received_ms, device_user_id=0)
        for key, value in m.app_data:
            stanza.app_data.add(key=key, value=value)
        if m.raw_data:
            stanza.raw_data = m.raw_data
        return stanza

    def deliver(self) -> None:
        """Sends every unacked message of the device not yet sent on this connection (unless silent)."""
        if self.device is None or self.closed or not self.model.knobs.answer_heartbeats:
            return
        if self.held_login_response is not None:
            self.send(TAG_LOGIN_RESPONSE, self.held_login_response)
            self.held_login_response = None
        for m in self.model.unacked(self.device.android_id):
            if m.persistent_id in self.delivered_here:
                continue
            self.send(TAG_DATA, self._stanza(m))
            self.sent[self.stream_out] = m.persistent_id
            self.delivered_here.add(m.persistent_id)
            m.deliveries += 1
            self.model.counters["delivered"] += 1
            self.log(f"deliver persistent_id={m.persistent_id} stream_id={self.stream_out} delivery={m.deliveries}")

    def close(self, with_frame: bool) -> None:
        """Ends the connection, after a Close frame or abruptly; it stops counting as live at once."""
        self.server.forget(self)
        if self.closed:
            return
        if with_frame:
            self.send(TAG_CLOSE, self.pb.Close())
            self.closed = True
            self.writer.close()
        else:
            self.closed = True
            self.writer.transport.abort()

    # Input ----------------------------------------------------------------------------------------------------

    async def run(self) -> None:
        reason = "end of stream"
        try:
            if await self._login():
                while True:
                    tag, body = await read_frame(self.reader)
                    self.stream_in += 1
                    self._handle(tag, body)
        except FrameError as e:
            reason = f"bad frame: {e}"
        except DecodeError as e:
            reason = f"unparseable body: {e}"
        except ClosedByPeer:
            reason = "client sent Close"
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError) as e:
            reason = "closed by us" if self.closed else f"connection ended ({type(e).__name__})"
        finally:
            self.log(f"disconnected reason={reason!r}")
            self.server.forget(self)
            self.close(with_frame=False)

    async def _login(self) -> bool:
        version = (await self.reader.readexactly(1))[0]
        if version != MCS_VERSION:
            self.log(f"refused reason='client version {version}, expected {MCS_VERSION}'")
            return False
        self.writer.write(bytes([self.model.knobs.server_version]))
        tag, body = await read_frame(self.reader)
        if tag != TAG_LOGIN:
            self.log(f"refused reason='first frame is tag {tag}, not LoginRequest (2)'")
            return False
        self.stream_in = 1
        login = self.pb.LoginRequest.FromString(body)
        device = self.model.device_for(login.user, login.auth_token)
        ids = list(login.received_persistent_id)
        error = "" if device else "user/auth_token do not match a checked-in device"
        if device and self.model.knobs.fail_logins > 0:
            self.model.knobs.fail_logins -= 1
            error = "fail-logins knob"
        self.model.logins.append({"android_id": login.user, "ok": not error, "received_persistent_ids": ids,
                                  "connection": self.number, "id": login.id, "device_id": login.device_id,
                                  "at_ms": now_ms()})
        if error:
            self.log(f"login_refused user={login.user} reason={error!r}")
            self.send(TAG_LOGIN_RESPONSE, self.pb.LoginResponse(id=login.id, error=self.pb.ErrorInfo(
                code=401, message=error)))
            await self.writer.drain()
            return False
        self._accept(login, device, ids)
        return True

    def _accept(self, login, device, ids) -> None:
        self.device = device
        for pid in ids:
            self.model.ack(pid, "login")
        self.server.adopt(self)
        response = self.pb.LoginResponse(id=login.id, server_timestamp=now_ms())
        if self.model.knobs.heartbeat_interval_ms:
            response.heartbeat_config.interval_ms = self.model.knobs.heartbeat_interval_ms
        self.log(f"login_ok android_id={device.android_id} acked_at_login={len(ids)}")
        if self.model.knobs.answer_heartbeats:
            self.send(TAG_LOGIN_RESPONSE, response)
        else:
            self.held_login_response = response
        self.deliver()

    def _handle(self, tag: int, body: bytes) -> None:
        pb = self.pb
        counters = self.model.counters
        if tag == TAG_PING:
            ping = pb.HeartbeatPing.FromString(body)
            counters["heartbeats_received"] += 1
            self._stream_id_ack(ping)
            if self.model.knobs.answer_heartbeats:
                self.send(TAG_ACK, pb.HeartbeatAck())
            else:
                self.log("ping_unanswered")
        elif tag == TAG_ACK:
            counters["heartbeat_acks_received"] += 1
            self._stream_id_ack(pb.HeartbeatAck.FromString(body))
        elif tag == TAG_CLOSE:
            counters["closes_received"] += 1
            raise ClosedByPeer()
        elif tag == TAG_IQ:
            self._handle_iq(pb.IqStanza.FromString(body))
        elif tag == TAG_DATA:
            stanza = pb.DataMessageStanza.FromString(body)
            self.log(f"upstream_data category={stanza.category!r} ignored")
            self._stream_id_ack(stanza)
        else:
            counters["unknown_tags"] += 1
            self.log(f"ignored tag={tag} ({TAG_NAMES.get(tag, 'unknown')}) bytes={len(body)}")

    def _handle_iq(self, iq) -> None:
        ext = iq.extension if iq.HasField("extension") else None
        if ext is not None and ext.id == SELECTIVE_ACK:
            ids = list(self.pb.SelectiveAck.FromString(ext.data).id)
            self.log(f"selective_ack ids={len(ids)}")
            for pid in ids:
                self.model.ack(pid, "selective")
        elif ext is not None and ext.id == STREAM_ACK:
            last = iq.last_stream_id_received if iq.HasField("last_stream_id_received") else None
            self.log(f"stream_ack last_stream_id_received={last}")
            self._ack_up_to(last, "stream")
        else:
            self.log(f"iq_ignored type={iq.type} extension={ext.id if ext is not None else None}")
            self._stream_id_ack(iq)

    def _stream_id_ack(self, message) -> None:
        if self.model.knobs.stream_ack_mode == "any" and message.last_stream_id_received > 0:
            self._ack_up_to(message.last_stream_id_received, "stream_id")

    def _ack_up_to(self, last, via: str) -> None:
        for stream_id in sorted(self.sent):
            if last is None or stream_id <= last:
                self.model.ack(self.sent.pop(stream_id), via)


class McsServer:
    """Accepts MCS connections; the model calls deliver() when a message arrives for a device."""

    def __init__(self, model, protos):
        self.model = model
        self.protos = protos
        self.connections = set()
        self.port = 0

    async def start(self, port: int, ssl_context):
        server = await asyncio.start_server(self._accept, "127.0.0.1", port, ssl=ssl_context,
                                            ssl_handshake_timeout=10)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _accept(self, reader, writer) -> None:
        self.model.counters["connections"] += 1
        conn = Connection(self, reader, writer, self.model.counters["connections"])
        self.connections.add(conn)
        conn.log("connected")
        await conn.run()

    def forget(self, conn) -> None:
        self.connections.discard(conn)

    def adopt(self, conn) -> None:
        """One connection per device: a new login closes the device's older connections."""
        for other in list(self.connections):
            if other is not conn and other.device is not None and other.device.android_id == conn.device.android_id:
                other.log("replaced by a newer login")
                other.close(with_frame=False)

    def _logged_in(self, android_id=None):
        return [c for c in self.connections
                if c.device is not None and not c.closed and android_id in (None, c.device.android_id)]

    def connected(self, android_id: int) -> bool:
        return bool(self._logged_in(android_id))

    def live_count(self) -> int:
        return len(self.connections)

    def describe(self) -> list:
        """The live connections with their frame counts both ways (the login exchange counts 1)."""
        return [{"connection": c.number, "android_id": str(c.device.android_id) if c.device else None,
                 "stream_in": c.stream_in, "stream_out": c.stream_out, "unacked_sent": len(c.sent)}
                for c in sorted(self.connections, key=lambda c: c.number)]

    def deliver(self, android_id: int) -> None:
        for conn in self._logged_in(android_id):
            conn.deliver()

    def deliver_all(self) -> None:
        for conn in self._logged_in():
            conn.deliver()

    def close_all(self) -> int:
        conns = list(self.connections)
        for conn in conns:
            conn.close(with_frame=True)
        return len(conns)

    def drop_all(self) -> int:
        conns = list(self.connections)
        for conn in conns:
            conn.close(with_frame=False)
        return len(conns)

    def ping_all(self) -> int:
        if not self.model.knobs.answer_heartbeats:
            return 0
        conns = self._logged_in()
        for conn in conns:
            conn.send(TAG_PING, self.protos.mcs.HeartbeatPing())
            self.model.counters["server_pings_sent"] += 1
        return len(conns)
