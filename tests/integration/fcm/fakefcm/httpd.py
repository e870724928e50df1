"""A small HTTP/1.1 server on asyncio: Content-Length or chunked request bodies, keep-alive, bounded sizes."""

import asyncio
import json
import re
import urllib.parse

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


class HttpError(Exception):
    """A request that cannot be read; answered with status and the connection closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Request:
    """One request: method, path (decoded, no query), query (dict of first values), headers (lower-case names)."""

    def __init__(self, method, target, headers, body, origin):
        self.method = method
        split = urllib.parse.urlsplit(target)
        self.raw_path = split.path
        self.path = urllib.parse.unquote(split.path)
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query).items()}
        self.headers = headers
        self.body = body
        self.origin = origin  # scheme://host[:port] as the client addressed it (Host), else the listener's

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self):
        """The body as a JSON object; raises HttpError(400) when it is not one."""
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise HttpError(400, f"body is not JSON: {e}") from e
        if not isinstance(value, dict):
            raise HttpError(400, "body is not a JSON object")
        return value


class Response:
    """Status, extra headers (list of pairs) and body bytes."""

    def __init__(self, status: int, body: bytes = b"", content_type: str = "", headers=None):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        if content_type:
            self.headers.append(("Content-Type", content_type))

    @staticmethod
    def json(status: int, value) -> "Response":
        return Response(status, json.dumps(value).encode() + b"\n", "application/json")

    @staticmethod
    def text(status: int, text: str) -> "Response":
        return Response(status, text.encode(), "text/plain; charset=utf-8")


REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 410: "Gone", 413: "Payload Too Large",
           415: "Unsupported Media Type", 431: "Request Header Fields Too Large", 500: "Internal Server Error"}


def _parse_head(head: bytes):
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as e:  # latin-1 decodes every byte; kept for clarity
        raise HttpError(400, "request head is not text") from e
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, f"bad request line {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, f"bad header line {line[:80]!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return parts[0], parts[1], parts[2], headers


async def _read_chunked(reader) -> bytes:
    body = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError as e:
            raise HttpError(400, f"bad chunk size line {line[:40]!r}") from e
        if len(body) + size > MAX_BODY:
            raise HttpError(413, f"chunked body over {MAX_BODY} bytes")
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError(400, "chunk not followed by CRLF")


async def _read_body(reader, headers) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit():
        raise HttpError(400, f"bad Content-Length {length_text[:20]!r}")
    length = int(length_text)
    if length > MAX_BODY:
        raise HttpError(413, f"Content-Length {length} over {MAX_BODY} bytes")
    return await reader.readexactly(length)


def _encode(response: Response, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in response.headers]
    lines.append(f"Content-Length: {len(response.body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


class HttpServer:
    """Serves handler(Request) -> Response on one listener; log(text) gets one line per failed request."""

    def __init__(self, handler, log, scheme: str):
        self.handler = handler
        self.log = log
        self.scheme = scheme
        self.port = 0

    async def serve(self, reader, writer):
        origin = f"{self.scheme}://127.0.0.1:{self.port}"
        try:
            while await self._one(reader, writer, origin):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _one(self, reader, writer, origin) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            writer.write(_encode(Response.text(431, "request head too large\n"), False))
            return False
        except asyncio.IncompleteReadError:
            return False
        try:
            method, target, version, headers = _parse_head(head[:-4])
            body = await _read_body(reader, headers)
        except HttpError as e:
            self.log(f"http.bad_request status={e.status} reason={e}")
            writer.write(_encode(Response.text(e.status, f"{e}\n"), False))
            await writer.drain()
            return False
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        host = headers.get("host", "")
        if re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,100}", host):  # the origin the client addressed (VAPID aud)
            origin = f"{self.scheme}://{host}"
        request = Request(method, target, headers, body, origin)
        try:
            response = self.handler(request)
        except HttpError as e:
            response = Response.text(e.status, f"{e}\n")
        writer.write(_encode(response, keep_alive))
        await writer.drain()
        return keep_alive

    async def start(self, port: int, ssl_context):
        server = await asyncio.start_server(self.serve, "127.0.0.1", port, ssl=ssl_context, limit=MAX_HEAD)
        self.port = server.sockets[0].getsockname()[1]
        return server
