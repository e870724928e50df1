"""The fake's HTTP API: checkin, register3, Firebase installations and registrations, the Web Push endpoint
(/fcm/send/<token>) and the /control/ endpoints the tests drive it with."""

import re
import secrets
import traceback
import urllib.parse

from google.protobuf.message import DecodeError

from . import webpush
from .httpd import HttpError, Response
from .model import Message, b64url, new_persistent_id, now_ms

FID = re.compile(r"^[cdef][A-Za-z0-9_-]{21}$")


def google_error(code: int, status: str, message: str) -> Response:
    return Response.json(code, {"error": {"code": code, "message": message, "status": status}})


class Routes:
    """Maps requests to handlers; each handler returns a Response. Logs one line per request."""

    def __init__(self, model, protos):
        self.model = model
        self.protos = protos
        project = r"/v1/projects/(?P<project>[^/]+)"
        self.table = [
            ("POST", re.compile(r"^/checkin$"), self.checkin),
            ("POST", re.compile(r"^/c2dm/register3$"), self.register3),
            ("POST", re.compile(project + r"/installations$"), self.installation),
            ("POST", re.compile(project + r"/installations/(?P<fid>[^/]+)/authTokens:generate$"), self.auth_token),
            ("POST", re.compile(project + r"/registrations$"), self.fcm_register),
            ("DELETE", re.compile(project + r"/registrations/(?P<token>[^/]+)$"), self.fcm_unregister),
            ("POST", re.compile(r"^/fcm/send/(?P<token>[^/]+)$"), self.push),
            ("GET", re.compile(r"^/control/stats$"), self.control_stats),
            ("POST", re.compile(r"^/control/(?P<action>[a-z-]+)$"), self.control),
        ]

    def __call__(self, req) -> Response:
        for method, pattern, handler in self.table:
            match = pattern.match(req.path)
            if match and method == req.method:
                try:
                    return handler(req, **match.groupdict())
                except HttpError:
                    raise
                except Exception:  # a bug in the fake: say so loudly, answer 500
                    self.model.log(f"http.bug path={req.path} {traceback.format_exc()!r}")
                    return Response.text(500, "fake_fcm bug; see its stderr\n")
        self.model.log(f"http.not_found method={req.method} path={req.path}")
        return Response.text(404, f"no route for {req.method} {req.path}\n")

    # Checkin and GCM registration ----------------------------------------------------------------------------

    def checkin(self, req) -> Response:
        request = self.protos.checkin.AndroidCheckinRequest()
        try:
            request.ParseFromString(req.body)
        except DecodeError as e:
            self.model.log(f"checkin.bad_request reason={e}")
            return Response.text(400, f"body is not an AndroidCheckinRequest: {e}\n")
        android_id = request.id if request.HasField("id") else 0
        device = self.model.checkin(android_id, request.security_token)
        if device is None:
            self.model.log(f"checkin.refused android_id={android_id} reason=wrong security token")
            return Response.text(401, "security token does not match the android id\n")
        reply = self.protos.checkin.AndroidCheckinResponse(stats_ok=True, time_msec=now_ms(),
                                                            android_id=device.android_id,
                                                            security_token=device.security_token)
        again = "same" if android_id == device.android_id else "new"
        self.model.log(f"checkin.ok android_id={device.android_id} identity={again}")
        return Response(200, reply.SerializeToString(), "application/x-protobuf")

    def register3(self, req) -> Response:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(req.body.decode("latin-1")).items()}
        scheme, _, cred = req.header("authorization").partition(" ")
        user, _, token = cred.partition(":")
        device = self.model.device_for(user, token) if scheme == "AidLogin" else None
        if device is None:
            self.model.log("register3.refused reason=bad AidLogin authorization")
            return Response.text(401, "Error=AUTHENTICATION_FAILED")
        if form.get("device") != str(device.android_id) or not form.get("app"):
            self.model.log("register3.refused reason=device or app missing or wrong")
            return Response.text(400, "Error=INVALID_PARAMETERS")
        app, subtype = form["app"], form.get("X-subtype", "")
        if form.get("delete") == "true":
            found = self.model.unregister(device, app, subtype)
            self.model.log(f"register3.delete app={app} subtype={subtype} found={found}")
            return Response.text(200, f"deleted={subtype or app}")
        if self.model.knobs.fail_registrations > 0:
            self.model.knobs.fail_registrations -= 1
            self.model.log("register3.failed reason=fail-registrations knob")
            return Response.text(200, "Error=PHONE_REGISTRATION_ERROR")
        if not form.get("sender"):
            return Response.text(400, "Error=INVALID_SENDER")
        reg = self.model.register(device, app, subtype, form["sender"])
        self.model.log(f"register3.ok app={app} subtype={subtype} gcm_token={reg.gcm_token[:16]}...")
        return Response.text(200, f"token={reg.gcm_token}")

    # Firebase -----------------------------------------------------------------------------------------------

    def _firebase_refusal(self, req, project):
        if req.header("x-goog-api-key") != self.model.api_key:
            self.model.log(f"firebase.refused path={req.path} reason=API key")
            return google_error(403, "PERMISSION_DENIED", "The caller does not have permission (API key)")
        if project != self.model.project_id:
            return google_error(404, "NOT_FOUND", f"Project {project} not found")
        return None

    def installation(self, req, project) -> Response:
        refusal = self._firebase_refusal(req, project)
        if refusal:
            return refusal
        body = req.json()
        for field in ("appId", "authVersion", "fid", "sdkVersion"):
            if not isinstance(body.get(field), str) or not body[field]:
                return google_error(400, "INVALID_ARGUMENT", f"{field} is missing or not a string")
        if not FID.match(body["fid"]):
            return google_error(400, "INVALID_ARGUMENT", "fid is not 22 base64url characters starting c-f")
        fid = body["fid"]
        entry = {"refresh": "2_" + b64url(secrets.token_bytes(48)), "auth": self._new_auth_token()}
        self.model.installations[fid] = entry
        self.model.counters["installations"] += 1
        self.model.log(f"installation.ok fid={fid}")
        return Response.json(200, {"name": f"projects/{project}/installations/{fid}", "fid": fid,
                                   "refreshToken": entry["refresh"],
                                   "authToken": {"token": entry["auth"], "expiresIn": "604800s"}})

    def _new_auth_token(self) -> str:
        token = "eyJ" + b64url(secrets.token_bytes(36)) + "." + b64url(secrets.token_bytes(96))
        self.model.auth_tokens.add(token)
        return token

    def auth_token(self, req, project, fid) -> Response:
        refusal = self._firebase_refusal(req, project)
        if refusal:
            return refusal
        entry = self.model.installations.get(fid)
        if entry is None or req.header("authorization") != f"FIS_v2 {entry['refresh']}":
            return google_error(401, "UNAUTHENTICATED", "refresh token does not match the installation")
        entry["auth"] = self._new_auth_token()
        return Response.json(200, {"token": entry["auth"], "expiresIn": "604800s"})

    def fcm_register(self, req, project) -> Response:
        refusal = self._firebase_refusal(req, project)
        if refusal:
            return refusal
        auth = req.header("x-goog-firebase-installations-auth")
        fid = next((f for f, e in self.model.installations.items() if e["auth"] == auth), None)
        if not auth or fid is None:
            return google_error(401, "UNAUTHENTICATED", "x-goog-firebase-installations-auth is not a valid token")
        web = req.json().get("web")
        if not isinstance(web, dict):
            return google_error(400, "INVALID_ARGUMENT", "no web object")
        try:
            reg = self._web_registration(web)
        except webpush.Rejected as e:
            return google_error(400, "INVALID_ARGUMENT", str(e))
        token = self.model.add_fcm_token(reg, fid)
        self.model.log(f"fcm_registration.ok gcm_token={reg.gcm_token[:16]}... fcm_token={token[:16]}... "
                       f"restricted={bool(reg.application_pub_key)}")
        return Response.json(200, {"name": f"projects/{project}/registrations/{token}", "token": token, "web": web})

    def _web_registration(self, web):
        endpoint = web.get("endpoint")
        path = urllib.parse.urlsplit(endpoint).path if isinstance(endpoint, str) else ""
        gcm_token = urllib.parse.unquote(path.rpartition("/fcm/send/")[2]) if "/fcm/send/" in path else ""
        reg = self.model.by_token.get(gcm_token)
        if reg is None or reg.deleted or reg.gcm_token != gcm_token:
            raise webpush.Rejected(400, "web.endpoint does not end in /fcm/send/<a registered GCM token>")
        p256dh = webpush.b64url_decode(str(web.get("p256dh", "")), "web.p256dh")
        webpush.p256_point(p256dh, "web.p256dh")
        if len(webpush.b64url_decode(str(web.get("auth", "")), "web.auth")) != 16:
            raise webpush.Rejected(400, "web.auth is not 16 bytes")
        key = b""
        if web.get("applicationPubKey"):
            key = webpush.b64url_decode(str(web["applicationPubKey"]), "web.applicationPubKey")
            webpush.p256_point(key, "web.applicationPubKey")
        reg.p256dh, reg.auth, reg.application_pub_key = web["p256dh"], web["auth"], key
        return reg

    def fcm_unregister(self, req, project, token) -> Response:
        refusal = self._firebase_refusal(req, project)
        if refusal:
            return refusal
        if req.header("x-goog-firebase-installations-auth") not in self.model.auth_tokens:
            return google_error(401, "UNAUTHENTICATED", "x-goog-firebase-installations-auth is not a valid token")
        reg = self.model.by_token.get(token)
        if reg is None or reg.deleted:
            return google_error(404, "NOT_FOUND", "no such registration")
        reg.deleted = True
        self.model.counters["fcm_unregistrations"] += 1
        self.model.log(f"fcm_registration.deleted fcm_token={token[:16]}...")
        return Response.json(200, {})

    # The Web Push endpoint ----------------------------------------------------------------------------------

    def push(self, req, token) -> Response:
        reg = self.model.by_token.get(token)
        if reg is None:
            self.model.log(f"push.refused status=404 token={token[:16]}...")
            return Response.text(404, "no subscription for this token\n")
        if reg.deleted:
            self.model.log(f"push.refused status=410 token={token[:16]}...")
            return Response.text(410, "subscription was unsubscribed\n")
        try:
            push = self._check_push(req, reg)
        except webpush.Rejected as e:
            self.model.log(f"push.refused status={e.status} reason={e}")
            return Response.text(e.status, f"{e}\n")
        app_data = list(push.app_data)
        if reg.subtype:
            app_data.append(("subtype", reg.subtype))
        message = Message(new_persistent_id(), reg, push.body, app_data, push.ttl, now_ms(), push.topic, push.urgency)
        if push.ttl == 0 and not self.model.mcs.connected(reg.android_id):
            message.expired = True
            self.model.counters["expired"] += 1
        self.model.log(f"push.accepted persistent_id={message.persistent_id} bytes={len(push.body)} "
                       f"encoding={push.encoding or 'none'} ttl={push.ttl} vapid={bool(push.vapid_key)}")
        self.model.enqueue(message)
        location = f"{req.origin}/fcm/message/{urllib.parse.quote(message.persistent_id, safe='')}"
        return Response(201, headers=[("Location", location), ("TTL", str(push.ttl))])

    def _check_push(self, req, reg):
        push = webpush.check_push(req)
        creds = webpush.vapid_credentials(req)
        if creds is not None:
            webpush.verify_vapid(creds[0], creds[1], req.origin)
            push.vapid_key = creds[1]
        if reg.application_pub_key:
            if not push.vapid_key:
                raise webpush.Rejected(403, "the subscription is restricted to a VAPID key; no VAPID authorization")
            if push.vapid_key != reg.application_pub_key:
                raise webpush.Rejected(403, "VAPID key is not the subscription's applicationPubKey")
        return push

    # Control ------------------------------------------------------------------------------------------------

    def control_stats(self, req) -> Response:
        return Response.json(200, self.model.stats())

    def control(self, req, action) -> Response:
        body = req.json() if req.body.strip() else {}
        knobs = self.model.knobs
        mcs = self.model.mcs
        self.model.log(f"control.{action} {body}")
        if action == "heartbeats":
            if not isinstance(body.get("answer"), bool):
                return Response.text(400, 'heartbeats wants {"answer": true|false}\n')
            knobs.answer_heartbeats = body["answer"]
            if knobs.answer_heartbeats:
                mcs.deliver_all()
            return Response.json(200, {"answer": knobs.answer_heartbeats})
        if action in ("close", "drop", "ping"):
            return Response.json(200, {"connections": getattr(mcs, action + "_all")()})
        if action in ("fail-registrations", "fail-logins"):
            count = body.get("count", 1)
            if not isinstance(count, int) or count < 0:
                return Response.text(400, "count must be a non-negative integer\n")
            setattr(knobs, action.replace("-", "_"), count)
            return Response.json(200, {action.replace("-", "_"): count})
        if action == "config":
            return self._config(body)
        if action == "unsubscribe":
            reg = self.model.by_token.get(str(body.get("token", "")))
            if reg is None:
                return Response.text(404, "no such token\n")
            reg.deleted = True
            return Response.json(200, {"deleted": True})
        return Response.text(404, f"no control action {action}\n")

    def _config(self, body) -> Response:
        knobs = self.model.knobs
        checks = {"heartbeat_interval_ms": lambda v: isinstance(v, int) and v >= 0,
                  "server_version": lambda v: isinstance(v, int) and 0 <= v <= 255,
                  "stream_ack_mode": lambda v: v in ("any", "iq"),
                  "ignore_acks": lambda v: isinstance(v, bool)}
        for name, value in body.items():
            if name not in checks or not checks[name](value):
                return Response.text(400, f"config: {name}={value!r} is not a known knob with a valid value\n")
            setattr(knobs, name, value)
        return Response.json(200, vars(knobs))
