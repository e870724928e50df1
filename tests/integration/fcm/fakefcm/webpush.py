"""What an application server's POST to the Web Push endpoint must look like (RFC 8030, 8188, 8291, 8292).

check_push() returns the parsed request or raises Rejected with the status and a one-line reason.
"""

import base64
import binascii
import json
import re
import struct
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

MAX_BODY = 4096  # Chromium's Web Push sender limit (kMaximumBodySize), also autopush's
MAX_TTL = 2419200  # 4 weeks
URGENCIES = ("very-low", "low", "normal", "high")
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Rejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def b64url_decode(text: str, what: str) -> bytes:
    """Decodes base64url (or base64), with or without padding; raises Rejected(400) naming what."""
    plain = text.strip().rstrip("=").replace("+", "-").replace("/", "_")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", plain):
        raise Rejected(400, f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(plain + "=" * (-len(plain) % 4))
    except (binascii.Error, ValueError) as e:
        raise Rejected(400, f"{what} is not base64url: {e}") from e


def p256_point(data: bytes, what: str):
    if len(data) != 65 or data[0] != 4:
        raise Rejected(400, f"{what} is {len(data)} bytes, not an uncompressed P-256 point (65 bytes, 0x04 first)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError as e:
        raise Rejected(400, f"{what} is not on the P-256 curve") from e


def header_params(value: str) -> dict:
    """'a=1;b=2, c=3' -> {'a': '1', 'b': '2', 'c': '3'} (the forms of Crypto-Key and Encryption)."""
    out = {}
    for part in re.split(r"[;,]", value):
        name, sep, val = part.strip().partition("=")
        if sep:
            out[name.strip().lower()] = val.strip().strip('"')
    return out


class Push:
    """A validated push: encoding ("" for none), body, ttl, urgency, topic, app_data pairs, vapid key (or b"")."""

    def __init__(self):
        self.encoding = ""
        self.body = b""
        self.ttl = 0
        self.urgency = ""
        self.topic = ""
        self.app_data = []
        self.vapid_key = b""


def _check_aes128gcm(body: bytes) -> None:
    if len(body) < 21:
        raise Rejected(400, f"aes128gcm: body of {len(body)} bytes is shorter than its 21-byte header")
    rs = struct.unpack(">I", body[16:20])[0]
    idlen = body[20]
    if rs < 18:
        raise Rejected(400, f"aes128gcm: record size {rs} is below 18")
    if idlen != 65:
        raise Rejected(400, f"aes128gcm: key id of {idlen} bytes, expected the sender's 65-byte public key")
    if len(body) < 21 + idlen + 17:
        raise Rejected(400, f"aes128gcm: body of {len(body)} bytes holds no complete record")
    p256_point(body[21:21 + idlen], "aes128gcm key id")


def _check_aesgcm(push: Push, req) -> None:
    encryption = req.header("encryption")
    crypto_key = req.header("crypto-key")
    salt = header_params(encryption).get("salt")
    dh = header_params(crypto_key).get("dh")
    if not salt:
        raise Rejected(400, "aesgcm: no Encryption header with salt=")
    if not dh:
        raise Rejected(400, "aesgcm: no Crypto-Key header with dh=")
    if len(b64url_decode(salt, "Encryption salt")) != 16:
        raise Rejected(400, "aesgcm: Encryption salt is not 16 bytes")
    p256_point(b64url_decode(dh, "Crypto-Key dh"), "Crypto-Key dh")
    if len(push.body) < 18:
        raise Rejected(400, f"aesgcm: body of {len(push.body)} bytes is shorter than one record")
    push.app_data += [("crypto-key", crypto_key), ("encryption", encryption)]


def _check_headers(push: Push, req) -> None:
    ttl = req.header("ttl")
    if not ttl.isdigit():
        raise Rejected(400, f"TTL header missing or not a number: {ttl[:20]!r}")
    push.ttl = min(int(ttl), MAX_TTL)
    push.urgency = req.header("urgency")
    if push.urgency and push.urgency not in URGENCIES:
        raise Rejected(400, f"Urgency {push.urgency[:20]!r} is not one of {', '.join(URGENCIES)}")
    push.topic = req.header("topic")
    if push.topic and not TOPIC.match(push.topic):
        raise Rejected(400, "Topic is not 1-32 base64url characters")


def check_push(req) -> Push:
    """Validates headers and body of a push request; the content-encoding app_data entry first."""
    push = Push()
    push.body = req.body
    _check_headers(push, req)
    if len(push.body) > MAX_BODY:
        raise Rejected(413, f"body of {len(push.body)} bytes is over {MAX_BODY}")
    push.encoding = req.header("content-encoding").lower()
    if not push.body:
        if push.encoding:
            raise Rejected(400, f"Content-Encoding {push.encoding} with an empty body")
        return push
    if push.encoding == "aes128gcm":
        _check_aes128gcm(push.body)
        push.app_data.append(("content-encoding", "aes128gcm"))
    elif push.encoding == "aesgcm":
        push.app_data.append(("content-encoding", "aesgcm"))
        _check_aesgcm(push, req)
    elif not push.encoding:
        raise Rejected(400, "a body without Content-Encoding")
    else:
        raise Rejected(415, f"Content-Encoding {push.encoding[:20]!r} is not aes128gcm or aesgcm")
    return push


# VAPID ------------------------------------------------------------------------------------------------------

def vapid_credentials(req):
    """(jwt, public key bytes) from 'vapid t=, k=' or 'WebPush <jwt>' + Crypto-Key p256ecdsa=; None without."""
    auth = req.header("authorization")
    if not auth:
        return None
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() == "vapid":
        params = {}
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            params[name.strip().lower()] = value.strip()
        if not params.get("t") or not params.get("k"):
            raise Rejected(401, "vapid Authorization without t= and k=")
        return params["t"], b64url_decode(params["k"], "vapid k")
    if scheme.lower() in ("webpush", "bearer"):
        key = header_params(req.header("crypto-key")).get("p256ecdsa")
        if not key:
            raise Rejected(401, "WebPush Authorization without Crypto-Key p256ecdsa=")
        return rest.strip(), b64url_decode(key, "Crypto-Key p256ecdsa")
    raise Rejected(401, f"Authorization scheme {scheme[:20]!r} is not vapid or WebPush")


def _jwt_part(text: str, what: str) -> dict:
    try:
        value = json.loads(b64url_decode(text, f"JWT {what}"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise Rejected(401, f"JWT {what} is not JSON") from e
    if not isinstance(value, dict):
        raise Rejected(401, f"JWT {what} is not a JSON object")
    return value


def verify_vapid(jwt: str, key_bytes: bytes, audience: str) -> dict:
    """Checks an ES256 JWT signed by key_bytes for audience; returns its claims. Raises Rejected(401)."""
    parts = jwt.split(".")
    if len(parts) != 3:
        raise Rejected(401, "VAPID JWT does not have three parts")
    header = _jwt_part(parts[0], "header")
    if header.get("alg") != "ES256":
        raise Rejected(401, f"VAPID JWT alg {str(header.get('alg'))[:10]!r} is not ES256")
    claims = _jwt_part(parts[1], "claims")
    signature = b64url_decode(parts[2], "JWT signature")
    if len(signature) != 64:
        raise Rejected(401, f"VAPID JWT signature is {len(signature)} bytes, not 64")
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key = p256_point(key_bytes, "VAPID public key")
    except Rejected as e:
        raise Rejected(401, str(e)) from e
    try:
        key.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise Rejected(401, "VAPID JWT signature does not verify with its key") from e
    if claims.get("aud") != audience:
        raise Rejected(401, f"VAPID aud {str(claims.get('aud'))[:60]!r} is not {audience}")
    exp = claims.get("exp")
    now = time.time()
    if not isinstance(exp, int) or exp < now or exp > now + 86400 + 60:
        raise Rejected(401, "VAPID exp is missing, past, or more than 24 hours ahead")
    return claims
