"""What the fake FCM knows: devices, registrations (subscriptions), queued messages, knobs and counters.

Everything here runs on the one asyncio loop; nothing is shared with another thread.
"""

import base64
import dataclasses
import secrets
import time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclasses.dataclass
class Device:
    """A checked-in identity. android_id fits in int64 (the request's id field is signed); the token uses 64 bits."""
    android_id: int
    security_token: int


@dataclasses.dataclass
class Registration:
    """One register3 result, later completed by a Firebase registration: one Web Push subscription."""
    android_id: int
    app: str
    subtype: str
    sender: str
    gcm_token: str
    fcm_token: str = ""
    p256dh: str = ""
    auth: str = ""
    application_pub_key: bytes = b""
    deleted: bool = False  # no more pushes: its FCM registration or its GCM registration was deleted
    gcm_deleted: bool = False  # register3 delete=true was called for it


@dataclasses.dataclass
class Message:
    """A Web Push message queued for a device until acknowledged."""
    persistent_id: str
    registration: Registration
    raw_data: bytes
    app_data: list
    ttl: int
    received_ms: int
    topic: str = ""
    urgency: str = ""
    deliveries: int = 0
    acked: bool = False
    expired: bool = False

    def past_ttl(self, at_ms: int) -> bool:
        return self.deliveries == 0 and at_ms > self.received_ms + self.ttl * 1000


def new_persistent_id() -> str:
    # The shape of Google's ids: "0:<microseconds>%<16 hex digits>".
    return f"0:{time.time_ns() // 1000}%{secrets.token_hex(8)}"


def new_gcm_token() -> str:
    return f"{b64url(secrets.token_bytes(8))[:11]}:APA91b{b64url(secrets.token_bytes(100))[:134]}"


class Knobs:
    """What the tests can change while the fake runs."""

    def __init__(self, heartbeat_interval_ms: int):
        self.answer_heartbeats = True  # False: no HeartbeatAck, nothing sent on MCS connections
        self.fail_registrations = 0  # the next n register3 calls answer Error=PHONE_REGISTRATION_ERROR
        self.fail_logins = 0  # the next n MCS logins get a LoginResponse with an error
        self.heartbeat_interval_ms = heartbeat_interval_ms  # 0: no heartbeat_config in the LoginResponse
        self.server_version = 41  # the version byte the MCS server sends
        self.stream_ack_mode = "any"  # "any": any client frame's last_stream_id_received acks; "iq": StreamAck only
        self.ignore_acks = False  # True: acks of every kind (login, selective, stream) are logged and dropped


class Model:
    """Devices, registrations, messages and counters; the HTTP routes and the MCS server share one Model."""

    def __init__(self, api_key: str, project_id: str, heartbeat_interval_ms: int, log):
        self.api_key = api_key
        self.project_id = project_id
        self.log = log
        self.knobs = Knobs(heartbeat_interval_ms)
        self.devices = {}  # android_id -> Device
        self.by_token = {}  # gcm or fcm token -> Registration
        self.by_key = {}  # (android_id, app, subtype) -> Registration
        self.installations = {}  # fid -> {"refresh": str, "auth": str}
        self.auth_tokens = set()
        self.messages = []  # every Message, in arrival order
        self.acks = []  # {"persistent_id", "via"} in ack order
        self.logins = []
        self.counters = {"checkins": 0, "registrations": 0, "unregistrations": 0, "installations": 0,
                         "fcm_registrations": 0, "fcm_unregistrations": 0, "pushes": 0, "delivered": 0, "heartbeats_received": 0,
                         "heartbeat_acks_received": 0, "server_pings_sent": 0, "connections": 0,
                         "closes_received": 0, "unknown_tags": 0, "expired": 0}
        self.mcs = None  # the McsServer, set when it starts

    # Identity ------------------------------------------------------------------------------------------------

    def checkin(self, android_id: int, security_token: int):
        """The identity for a checkin, or None when a known id comes with the wrong token."""
        self.counters["checkins"] += 1
        device = self.devices.get(android_id) if android_id else None
        if device is not None:
            return device if device.security_token == security_token else None
        device = Device(secrets.randbits(62) | (1 << 62), secrets.randbits(63) | (1 << 63))
        self.devices[device.android_id] = device
        return device

    def device_for(self, user: str, token: str):
        """The device whose decimal android id and security token these are, or None."""
        if not user.isdigit() or not token.isdigit():
            return None
        device = self.devices.get(int(user))
        return device if device is not None and device.security_token == int(token) else None

    # Registrations -------------------------------------------------------------------------------------------

    def register(self, device: Device, app: str, subtype: str, sender: str) -> Registration:
        key = (device.android_id, app, subtype)
        old = self.by_key.get(key)
        if old is not None and not old.deleted and old.sender == sender:
            return old
        if old is not None:
            old.deleted = True
        reg = Registration(device.android_id, app, subtype, sender, new_gcm_token())
        self.by_key[key] = reg
        self.by_token[reg.gcm_token] = reg
        self.counters["registrations"] += 1
        return reg

    def unregister(self, device: Device, app: str, subtype: str) -> bool:
        reg = self.by_key.get((device.android_id, app, subtype))
        if reg is None or reg.gcm_deleted:
            return False
        reg.deleted = reg.gcm_deleted = True
        self.counters["unregistrations"] += 1
        return True

    def add_fcm_token(self, reg: Registration, fid: str) -> str:
        reg.fcm_token = f"{fid}:APA91b{b64url(secrets.token_bytes(100))[:134]}"
        self.by_token[reg.fcm_token] = reg
        self.counters["fcm_registrations"] += 1
        return reg.fcm_token

    # Messages ------------------------------------------------------------------------------------------------

    def enqueue(self, message: Message) -> None:
        if message.topic:
            for old in self.messages:
                if (old.registration is message.registration and old.topic == message.topic and not old.acked
                        and old.deliveries == 0 and not old.expired):
                    old.expired = True
                    self.log(f"push.replaced persistent_id={old.persistent_id} topic={message.topic}")
        self.messages.append(message)
        self.counters["pushes"] += 1
        if self.mcs is not None:
            self.mcs.deliver(message.registration.android_id)

    def unacked(self, android_id: int) -> list:
        """The device's messages to (re)deliver, oldest first; drops those whose TTL ran out undelivered."""
        at = now_ms()
        out = []
        for m in self.messages:
            if m.registration.android_id != android_id or m.acked or m.expired:
                continue
            if m.past_ttl(at):
                m.expired = True
                self.counters["expired"] += 1
                self.log(f"push.expired persistent_id={m.persistent_id} ttl={m.ttl}")
                continue
            out.append(m)
        return out

    def ack(self, persistent_id: str, via: str) -> bool:
        if self.knobs.ignore_acks:
            self.log(f"mcs.ack_ignored persistent_id={persistent_id} via={via}")
            return False
        for m in self.messages:
            if m.persistent_id == persistent_id and not m.acked:
                m.acked = True
                self.acks.append({"persistent_id": persistent_id, "via": via})
                self.log(f"mcs.ack persistent_id={persistent_id} via={via}")
                return True
        return False

    def stats(self) -> dict:
        pending = [m for m in self.messages if not m.acked and not m.expired]
        out = dict(self.counters)
        out.update({
            "logins": self.logins,
            "acked": [a["persistent_id"] for a in self.acks],
            "acks": self.acks,
            "pending": len(pending),
            "undelivered": sum(1 for m in pending if m.deliveries == 0),
            "live_connections": self.mcs.live_count() if self.mcs else 0,
            "mcs_connections": self.mcs.describe() if self.mcs else [],
            "devices": [str(d) for d in self.devices],
            "messages": [{"persistent_id": m.persistent_id, "android_id": str(m.registration.android_id),
                          "gcm_token": m.registration.gcm_token, "deliveries": m.deliveries, "acked": m.acked,
                          "expired": m.expired, "ttl": m.ttl, "topic": m.topic, "urgency": m.urgency,
                          "bytes": len(m.raw_data)} for m in self.messages],
            "knobs": vars(self.knobs),
        })
        return out
