#!/usr/bin/env python3
"""A UnifiedPush app for the tests: a connector on a D-Bus session bus.

It owns NAME, exports /org/unifiedpush/Connector (org.unifiedpush.Connector1
or Connector2), holds its own Web Push keys (a P-256 key pair and a 16-byte auth
secret, generated, or loaded from --keys FILE and saved there), registers with
org.unifiedpush.Distributor.webpushd and decrypts what it is sent (RFC 8291
aes128gcm) with its own decryptor below.

One JSON object per line on stdout (or on --events FILE), flushed:
  {"event": "ready", "name": N, "api": 1|2, "pid": P}
  {"event": "registered", "token": T, "result": R, "reason": R|null, "detail": D|null}
  {"event": "new_endpoint", "token": T, "endpoint": E, "subscription": {PushSubscription}}
  {"event": "message", "token": T, "id": I, "text": PLAINTEXT}  (or "error": WHY instead of "text")
  {"event": "refused", "how": "fail"|"hang", "token": T, "id": I}
  {"event": "unregistered", "token": T}
  {"event": "error", "detail": WHY}
Commands, one per line on stdin (unless --no-stdin):
  register TOKEN [VAPID]   Register (v2 passes VAPID, a base64url public key)
  register_raw JSON        Register with exactly these arguments (v2: the keys present; v1: service, token,
                           description, "" when missing)
  unregister TOKEN
  fail N                   answer the next N Message calls with a D-Bus error
  hang N                   never answer the next N Message calls
  quit
"""

import argparse
import base64
import json
import os
import sys
import threading

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

DISTRIBUTOR = "org.unifiedpush.Distributor.webpushd"
DISTRIBUTOR_PATH = "/org/unifiedpush/Distributor"
CONNECTOR_PATH = "/org/unifiedpush/Connector"

CONNECTOR_XML = {
    1: """<node><interface name="org.unifiedpush.Connector1">
  <method name="Message"><arg name="token" type="s" direction="in"/><arg name="message" type="ay" direction="in"/>
    <arg name="messageIdentifier" type="s" direction="in"/></method>
  <method name="NewEndpoint"><arg name="token" type="s" direction="in"/><arg name="endpoint" type="s" direction="in"/>
  </method>
  <method name="Unregistered"><arg name="token" type="s" direction="in"/></method>
</interface></node>""",
    2: """<node><interface name="org.unifiedpush.Connector2">
  <method name="Message"><arg name="args" type="a{sv}" direction="in"/><arg name="res" type="a{sv}" direction="out"/>
  </method>
  <method name="NewEndpoint"><arg name="args" type="a{sv}" direction="in"/>
    <arg name="res" type="a{sv}" direction="out"/></method>
  <method name="Unregistered"><arg name="args" type="a{sv}" direction="in"/>
    <arg name="res" type="a{sv}" direction="out"/></method>
</interface></node>""",
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keys:
    """The app's Web Push keys, and an RFC 8291 aes128gcm decryptor for them."""

    def __init__(self, path):
        if path and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            self.private = ec.derive_private_key(int(saved["d"], 16), ec.SECP256R1())
            self.auth = unb64url(saved["auth"])
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.auth = os.urandom(16)
            if path:
                with open(path, "w") as f:
                    json.dump({"d": format(self.private.private_numbers().private_value, "x"),
                               "auth": b64url(self.auth)}, f)
        self.public = self.private.public_key().public_bytes(serialization.Encoding.X962,
                                                              serialization.PublicFormat.UncompressedPoint)

    def subscription(self, endpoint):
        return {"endpoint": endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(self.public), "auth": b64url(self.auth)}}

    def decrypt(self, body):
        """The plaintext of an aes128gcm body; raises ValueError saying what is wrong."""
        if len(body) < 21:
            raise ValueError("body shorter than the aes128gcm header")
        salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        if rs < 18 or idlen != 65 or len(body) < 21 + idlen:
            raise ValueError(f"bad header: rs {rs}, idlen {idlen}")
        sender = body[21:21 + idlen]
        ciphertext = body[21 + idlen:]
        sender_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
        secret = self.private.exchange(ec.ECDH(), sender_key)
        ikm = hkdf(self.auth, secret, b"WebPush: info\x00" + self.public + sender, 32)
        cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = int.from_bytes(hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12), "big")
        records = [ciphertext[i:i + rs] for i in range(0, len(ciphertext), rs)]
        if not records:
            raise ValueError("no records")
        plain = b""
        for seq, record in enumerate(records):
            try:
                padded = AESGCM(cek).decrypt((nonce ^ seq).to_bytes(12, "big"), record, None)
            except Exception:
                raise ValueError(f"record {seq} does not authenticate")
            data = padded.rstrip(b"\x00")
            last = seq == len(records) - 1
            if not data or data[-1] != (2 if last else 1):
                raise ValueError(f"record {seq} has a bad padding delimiter")
            plain += data[:-1]
        return plain


def hkdf(salt, ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


class App:
    def __init__(self, args):
        self.name = args.name
        self.api = args.api
        self.keys = Keys(args.keys)
        self.out = open(args.events, "a") if args.events else sys.stdout
        self.fail = 0
        self.hang = 0
        self.hung = []  # invocations never answered, kept alive
        self.bus = connect()
        node = Gio.DBusNodeInfo.new_for_xml(CONNECTOR_XML[self.api])
        self.bus.register_object(CONNECTOR_PATH, node.interfaces[0], self.on_call, None, None)
        owned = self.bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                   "RequestName", GLib.Variant("(su)", (self.name, 4)),  # DO_NOT_QUEUE
                                   GLib.VariantType("(u)"), Gio.DBusCallFlags.NONE, -1, None)
        if owned.unpack()[0] != 1:
            raise SystemExit(f"fake_connector: cannot own {self.name}")
        self.emit("ready", name=self.name, api=self.api, pid=os.getpid())

    def emit(self, event, **fields):
        self.out.write(json.dumps({"event": event, **fields}) + "\n")
        self.out.flush()

    # --- the connector interface ---------------------------------------------------------------------

    def on_call(self, _conn, _sender, _path, _iface, method, params, invocation):
        if self.api == 1:
            args = {"token": params.get_child_value(0).get_string()}
            if method == "Message":
                args["message"] = params.get_child_value(1).get_data_as_bytes().get_data()
                args["id"] = params.get_child_value(2).get_string()
            elif method == "NewEndpoint":
                args["endpoint"] = params.get_child_value(1).get_string()
        else:
            args = read_dict(params.get_child_value(0), {"token": "s", "message": "ay", "id": "s", "endpoint": "s"})
        if not isinstance(args.get("token"), str):
            self.emit("error", detail=f"{method} without a string token")
            return invocation.return_dbus_error("org.unifiedpush.Error.BadArguments", "no token")
        getattr(self, "on_" + method.lower())(args, invocation)

    def reply(self, invocation, res):
        invocation.return_value(GLib.Variant("(a{sv})", (res,)) if self.api == 2 else None)

    def on_message(self, args, invocation):
        token, msg_id, body = args["token"], args.get("id"), args.get("message")
        if self.hang > 0:
            self.hang -= 1
            self.hung.append(invocation)
            return self.emit("refused", how="hang", token=token, id=msg_id)
        if self.fail > 0:
            self.fail -= 1
            self.emit("refused", how="fail", token=token, id=msg_id)
            return invocation.return_dbus_error("org.unifiedpush.Error.Test", "refused by the test")
        try:
            if not isinstance(body, bytes):
                raise ValueError("no message bytes")
            self.emit("message", token=token, id=msg_id, text=self.keys.decrypt(body).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            self.emit("message", token=token, id=msg_id, error=str(e))
        self.reply(invocation, {"id": GLib.Variant("s", msg_id or "")})

    def on_newendpoint(self, args, invocation):
        endpoint = args.get("endpoint")
        self.emit("new_endpoint", token=args["token"], endpoint=endpoint,
                  subscription=self.keys.subscription(endpoint) if isinstance(endpoint, str) else None)
        self.reply(invocation, {})

    def on_unregistered(self, args, invocation):
        self.emit("unregistered", token=args["token"])
        self.reply(invocation, {})

    # --- calls to the distributor --------------------------------------------------------------------

    def register(self, args):
        token = args.get("token", "")
        if self.api == 1:
            params = GLib.Variant("(sss)", (args.get("service", ""), token, args.get("description", "")))
        else:
            params = GLib.Variant("(a{sv})", ({k: GLib.Variant("s", v) for k, v in args.items()},))

        def done(conn, result):
            try:
                res = conn.call_finish(result)
            except GLib.Error as e:
                return self.emit("registered", token=token, result="DBUS_ERROR", reason=None, detail=e.message)
            if self.api == 1:
                result_text, reason = res.unpack()
                return self.emit("registered", token=token, result=result_text, reason=None, detail=reason)
            res = read_dict(res.get_child_value(0), {"success": "s", "reason": "s", "detail": "s"})
            self.emit("registered", token=token, result=res.get("success"), reason=res.get("reason"),
                      detail=res.get("detail"))

        self.bus.call(DISTRIBUTOR, DISTRIBUTOR_PATH, f"org.unifiedpush.Distributor{self.api}", "Register", params,
                      None, Gio.DBusCallFlags.NONE, 30000, None, done)

    def unregister(self, token):
        iface = f"org.unifiedpush.Distributor{self.api}"
        msg = Gio.DBusMessage.new_method_call(DISTRIBUTOR, DISTRIBUTOR_PATH, iface, "Unregister")
        if self.api == 1:  # NoReply by the specification
            msg.set_body(GLib.Variant("(s)", (token,)))
            msg.set_flags(Gio.DBusMessageFlags.NO_REPLY_EXPECTED)
        else:
            msg.set_body(GLib.Variant("(a{sv})", ({"token": GLib.Variant("s", token)},)))
        self.bus.send_message(msg, Gio.DBusSendMessageFlags.NONE)

    def command(self, line):
        words = line.split(" ", 1)
        cmd, rest = words[0], (words[1] if len(words) > 1 else "")
        if cmd == "register":
            parts = rest.split()
            args = {"service": self.name, "token": parts[0], "description": "fake app " + self.name}
            if len(parts) > 1:
                args["vapid"] = parts[1]
            self.register(args)
        elif cmd == "register_raw":
            self.register(json.loads(rest))
        elif cmd == "unregister":
            self.unregister(rest)
        elif cmd in ("fail", "hang"):
            setattr(self, cmd, int(rest))
        elif cmd == "quit":
            self.bus.flush_sync(None)
            os._exit(0)
        else:
            self.emit("error", detail="unknown command: " + line)
        return False


def connect():
    """The bus that started this process (D-Bus activation), else the session bus; the process exits when it
    goes away."""
    address = os.environ.get("DBUS_STARTER_ADDRESS")
    if not address:
        return Gio.bus_get_sync(Gio.BusType.SESSION, None)
    flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
    bus = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
    bus.set_exit_on_close(True)
    return bus


def read_dict(variant, types):
    """The entries of an a{sv} whose value has the expected type (others are dropped)."""
    out = {}
    for key, want in types.items():
        value = variant.lookup_value(key, GLib.VariantType(want))
        if value is not None:
            out[key] = value.get_data_as_bytes().get_data() if want == "ay" else value.unpack()
    return out


def read_commands(app):
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line:
            GLib.idle_add(app.command, line)
    GLib.idle_add(app.command, "quit")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the bus name to own")
    parser.add_argument("--api", type=int, choices=(1, 2), default=2, help="Connector1/Distributor1 or 2")
    parser.add_argument("--keys", help="load the Web Push keys from this file, or save new ones there")
    parser.add_argument("--events", help="append the events to this file instead of stdout")
    parser.add_argument("--no-stdin", action="store_true", help="read no commands (when started by D-Bus)")
    args = parser.parse_args()
    app = App(args)
    if not args.no_stdin:
        threading.Thread(target=read_commands, args=(app,), daemon=True).start()
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
