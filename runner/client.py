"""Queue API-format workflows on a running ComfyUI and collect their outputs (standard library only).

ComfyUI's HTTP API: ``POST /upload/image`` (multipart: ``image``, ``subfolder``, ``overwrite``),
``GET /object_info``, ``POST /prompt`` (``{"prompt": ..., "client_id": ...}``; 400 with
``node_errors`` when the prompt is invalid), ``GET /history/<prompt_id>``, ``GET /view`` (a file by
``filename``, ``subfolder``, ``type``), ``POST /interrupt``; the websocket ``/ws?clientId=`` sends
JSON messages ``{"type", "data"}``: ``executing``, ``progress`` (``value``/``max`` of the running
node), ``executed``, ``execution_success``, ``execution_error``, ``execution_interrupted``, …, and
binary preview frames (ignored here).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import urllib.error
import urllib.parse
import urllib.request
import uuid

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TERMINAL = ("execution_success", "execution_error", "execution_interrupted")


class ServerError(RuntimeError):
    """The server could not be reached or answered something unexpected."""


class PromptRejected(ValueError):
    """``/prompt`` refused the prompt (HTTP 400): ``errors`` has one line per problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("Prompt failed validation:\n" + "\n".join(f"  - {e}" for e in self.errors))


class WebSocket:
    """A minimal RFC 6455 client: text/binary messages in, ping answered, close sent on ``close()``."""

    def __init__(self, url: str, timeout: float = 600.0):
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port or 80
        if parts.scheme not in ("ws", "http"):
            raise ServerError(f"only plain ws:// / http:// servers are supported, not {url!r}")
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        key = base64.b64encode(os.urandom(16)).decode()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        status = self.file.readline().decode("latin-1")
        headers = {}
        while (line := self.file.readline().decode("latin-1").strip()):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        if " 101 " not in status or headers.get("sec-websocket-accept") != accept:
            self.sock.close()
            raise ServerError(f"websocket handshake with {url} failed: {status.strip()!r}")

    def _read(self, count: int) -> bytes:
        data = self.file.read(count)
        if data is None or len(data) < count:
            raise ServerError("websocket closed by the server")
        return data

    def _send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        size = len(payload)
        head = bytes([0x80 | opcode])
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", size)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", size)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        """The next message: ``str`` (text) or ``bytes`` (binary). Raises ServerError when closed."""
        message, kind = b"", None
        while True:
            first, second = self._read(2)
            opcode, size = first & 0x0F, second & 0x7F
            if size == 126:
                size = struct.unpack(">H", self._read(2))[0]
            elif size == 127:
                size = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping
                self._send(0xA, payload)
            elif opcode == 0x8:
                raise ServerError("websocket closed by the server")
            elif opcode in (0x0, 0x1, 0x2):
                kind = kind or opcode
                message += payload
                if first & 0x80:
                    return message.decode() if kind == 0x1 else message

    def close(self) -> None:
        try:
            self._send(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()


class ComfyClient:
    """One client id talking to the ComfyUI at ``url`` (``http://host:port``)."""

    def __init__(self, url: str, timeout: float = 600.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex
        self._ws = None

    # --- HTTP ---
    def _request(self, path: str, data=None, headers=None):
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return reply.read()
        except urllib.error.HTTPError as ex:
            body = ex.read()
            if ex.code == 400 and path == "/prompt":
                raise PromptRejected(_prompt_errors(body)) from ex
            raise ServerError(f"{self.url}{path}: HTTP {ex.code} {body[:500]!r}") from ex
        except OSError as ex:
            raise ServerError(f"cannot reach ComfyUI at {self.url}: {ex}") from ex

    def get_json(self, path: str):
        return json.loads(self._request(path))

    def post_json(self, path: str, payload) -> bytes:
        return self._request(path, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def object_info(self) -> dict:
        return self.get_json("/object_info")

    def upload(self, path: str, subfolder: str = "") -> str:
        """Upload a file to the input folder (overwriting); return the name a workflow uses for it."""
        boundary = uuid.uuid4().hex
        with open(path, "rb") as f:
            content = f.read()
        name = os.path.basename(path)
        fields = [("subfolder", subfolder), ("overwrite", "true"), ("type", "input")]
        body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
                        for k, v in fields)
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        reply = json.loads(self._request("/upload/image", body,
                                         {"Content-Type": f"multipart/form-data; boundary={boundary}"}))
        return "/".join(p for p in (reply.get("subfolder", ""), reply["name"]) if p)

    def queue(self, prompt: dict) -> str:
        """Queue ``prompt``; return its prompt id. Raises PromptRejected when the server refuses it."""
        reply = json.loads(self.post_json("/prompt", {"prompt": prompt, "client_id": self.client_id}))
        return reply["prompt_id"]

    def history(self, prompt_id: str) -> dict:
        return self.get_json(f"/history/{prompt_id}").get(prompt_id, {})

    def interrupt(self) -> None:
        self.post_json("/interrupt", {})

    def download(self, item: dict, output_dir: str) -> str:
        """Save one output file ``{"filename", "subfolder", "type"}`` under ``output_dir``; return its path."""
        query = urllib.parse.urlencode({k: item.get(k, "") for k in ("filename", "subfolder", "type")})
        subfolder = os.path.normpath(item.get("subfolder", "") or ".")
        if item.get("type") != "output":
            subfolder = os.path.join(item.get("type", "other"), subfolder)
        path = os.path.normpath(os.path.join(output_dir, subfolder, os.path.basename(item["filename"])))
        if not path.startswith(os.path.normpath(output_dir) + os.sep):
            raise ServerError(f"refusing to write {item!r} outside {output_dir}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(self._request(f"/view?{query}"))
        return path

    # --- websocket ---
    def connect(self) -> "ComfyClient":
        """Open the websocket (do this before queueing, so that no message is missed)."""
        if self._ws is None:
            ws_url = self.url.replace("http://", "ws://", 1) + f"/ws?clientId={self.client_id}"
            self._ws = WebSocket(ws_url, self.timeout)
        return self

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    def messages(self):
        """JSON messages from the websocket, forever (``{"type", "data"}``); binary frames skipped."""
        self.connect()
        while True:
            message = self._ws.recv()
            if isinstance(message, str):
                yield json.loads(message)

    def wait(self, prompt_ids, on_message=None) -> dict:
        """Follow the websocket until every prompt in ``prompt_ids`` has ended and is in /history.

        ``on_message(message)`` sees every JSON message. Returns {prompt_id: terminal message}
        (``execution_success`` / ``execution_error`` / ``execution_interrupted``). The terminal
        message comes before the server stores the prompt's history; the ``executing`` message
        with node None that follows it comes after, so that one ends the wait."""
        pending, ended = set(prompt_ids), {}
        for message in self.messages():
            if on_message is not None:
                on_message(message)
            data = message.get("data") or {}
            prompt_id = data.get("prompt_id")
            if prompt_id not in pending:
                continue
            if message["type"] in TERMINAL:
                ended[prompt_id] = message
            elif message["type"] == "executing" and data.get("node") is None:
                ended.setdefault(prompt_id, {"type": "execution_error", "data": {
                    "prompt_id": prompt_id, "exception_message": "ended without a result message"}})
                pending.discard(prompt_id)
                if not pending:
                    return ended
        return ended

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()


def _prompt_errors(body: bytes) -> list:
    """Lines from /prompt's 400 answer: the error, then each node's input problems."""
    try:
        reply = json.loads(body)
    except ValueError:
        return [body.decode(errors="replace")[:500]]
    error = reply.get("error") or {}
    lines = [f"{error.get('message', 'invalid prompt')}: {error.get('details', '')}".rstrip(": ")]
    for node_id, node in (reply.get("node_errors") or {}).items():
        for problem in node.get("errors", []):
            extra = problem.get("extra_info") or {}
            where = f" input '{extra['input_name']}'" if "input_name" in extra else ""
            lines.append(f"Node {node_id} ({node.get('class_type')}){where}: {problem.get('message')}: "
                         f"{problem.get('details')}")
    return lines


def error_text(message: dict) -> str:
    """One readable line for an ``execution_error`` / ``execution_interrupted`` message."""
    data = message.get("data") or {}
    if message["type"] == "execution_interrupted":
        return f"interrupted at node {data.get('node_id')} ({data.get('node_type')})"
    return (f"Node {data.get('node_id')} ({data.get('node_type')}): {data.get('exception_type')}: "
            f"{data.get('exception_message', '').strip()}")
