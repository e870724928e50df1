"""The user agent's and the application server's Web Push crypto, written for fake_fcm_selftest.py on its own
(independent of the fake and of webpushd): RFC 8291 aes128gcm and draft aesgcm encryption and decryption, and
RFC 8292 VAPID JWT signing, with python3-cryptography.
"""

import base64
import json
import os
import struct
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    text = text.strip().rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def public_bytes(key) -> bytes:
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _point(data: bytes):
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)


class UserAgentKeys:
    """A subscription's key pair and auth secret."""

    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public = public_bytes(self.private)
        self.auth = os.urandom(16)


# aes128gcm (RFC 8188 + RFC 8291) --------------------------------------------------------------------------------

def _aes128gcm_keys(ecdh: bytes, auth: bytes, ua_public: bytes, as_public: bytes, salt: bytes):
    ikm = _hkdf(ecdh, auth, b"WebPush: info\x00" + ua_public + as_public, 32)
    return (_hkdf(ikm, salt, b"Content-Encoding: aes128gcm\x00", 16),
            _hkdf(ikm, salt, b"Content-Encoding: nonce\x00", 12))


def _nonce(base: bytes, seq: int) -> bytes:
    return (int.from_bytes(base, "big") ^ seq).to_bytes(12, "big")


def encrypt_aes128gcm(ua_public: bytes, auth: bytes, plaintext: bytes) -> bytes:
    """One record holding the whole plaintext."""
    sender = ec.generate_private_key(ec.SECP256R1())
    as_public = public_bytes(sender)
    salt = os.urandom(16)
    cek, nonce = _aes128gcm_keys(sender.exchange(ec.ECDH(), _point(ua_public)), auth, ua_public, as_public, salt)
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    return salt + struct.pack(">I", len(record)) + bytes([len(as_public)]) + as_public + record


def decrypt_aes128gcm(keys: UserAgentKeys, body: bytes) -> bytes:
    salt, rs, idlen = body[:16], struct.unpack(">I", body[16:20])[0], body[20]
    as_public = body[21:21 + idlen]
    cek, nonce = _aes128gcm_keys(keys.private.exchange(ec.ECDH(), _point(as_public)), keys.auth, keys.public,
                                 as_public, salt)
    data = body[21 + idlen:]
    out = b""
    records = [data[i:i + rs] for i in range(0, len(data), rs)]
    for seq, record in enumerate(records):
        plain = AESGCM(cek).decrypt(_nonce(nonce, seq), record, None).rstrip(b"\x00")
        if plain[-1:] not in (b"\x01", b"\x02"):
            raise ValueError(f"aes128gcm record {seq} has no padding delimiter")
        out += plain[:-1]
    return out


# aesgcm (draft-ietf-webpush-encryption-04) ----------------------------------------------------------------------

def _aesgcm_keys(ecdh: bytes, auth: bytes, ua_public: bytes, dh: bytes, salt: bytes):
    ikm = _hkdf(ecdh, auth, b"Content-Encoding: auth\x00", 32)
    context = b"P-256\x00" + struct.pack(">H", len(ua_public)) + ua_public + struct.pack(">H", len(dh)) + dh
    return (_hkdf(ikm, salt, b"Content-Encoding: aesgcm\x00" + context, 16),
            _hkdf(ikm, salt, b"Content-Encoding: nonce\x00" + context, 12))


def encrypt_aesgcm(ua_public: bytes, auth: bytes, plaintext: bytes):
    """(body, Encryption header, Crypto-Key header) for one record."""
    sender = ec.generate_private_key(ec.SECP256R1())
    dh = public_bytes(sender)
    salt = os.urandom(16)
    cek, nonce = _aesgcm_keys(sender.exchange(ec.ECDH(), _point(ua_public)), auth, ua_public, dh, salt)
    body = AESGCM(cek).encrypt(nonce, b"\x00\x00" + plaintext, None)
    return body, f"salt={b64e(salt)}", f"dh={b64e(dh)}"


def _param(header: str, name: str) -> str:
    for part in header.replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    raise ValueError(f"no {name}= in {header!r}")


def decrypt_aesgcm(keys: UserAgentKeys, body: bytes, encryption: str, crypto_key: str) -> bytes:
    salt, dh = b64d(_param(encryption, "salt")), b64d(_param(crypto_key, "dh"))
    cek, nonce = _aesgcm_keys(keys.private.exchange(ec.ECDH(), _point(dh)), keys.auth, keys.public, dh, salt)
    out = b""
    for seq, i in enumerate(range(0, len(body), 4096 + 16)):
        plain = AESGCM(cek).decrypt(_nonce(nonce, seq), body[i:i + 4096 + 16], None)
        pad = struct.unpack(">H", plain[:2])[0]
        out += plain[2 + pad:]
    return out


# VAPID ----------------------------------------------------------------------------------------------------------

def vapid_header(key, audience: str, subject: str = "mailto:selftest@localhost") -> str:
    """'vapid t=<ES256 JWT>, k=<public key>' for the origin `audience`."""
    header = b64e(json.dumps({"typ": "JWT", "alg": "ES256"}).encode())
    claims = b64e(json.dumps({"aud": audience, "exp": int(time.time()) + 12 * 3600, "sub": subject}).encode())
    der = key.sign(f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"vapid t={header}.{claims}.{b64e(signature)}, k={b64e(public_bytes(key))}"


def write_pem(key, path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
