"""One HTTP/1.1 request over a raw socket, read to the end: nothing between the test and the bytes."""

import socket
from dataclasses import dataclass

from tests.harness.corpus import Exchange
from tests.harness.server import HOST


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(exchange: Exchange, request_id: str | None = None) -> bytes:
    headers = ((("Content-Type", exchange.content_type),) if exchange.content_type else ()) + exchange.headers
    return (f"POST {exchange.path} HTTP/1.1\r\nHost: {HOST}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers)
            + f"Content-Length: {len(exchange.body)}\r\nX-Request-ID: {request_id or exchange.request_id}\r\n"
            "Connection: close\r\n\r\n").encode() + exchange.body


def read_answer(sock: socket.socket) -> HttpAnswer:
    """Read to EOF (every request here says ``Connection: close``) and parse."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise ConnectionResetError("closed without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    if len(body) < length:
        raise ConnectionResetError(f"answer cut short: {len(body)} of {length} bytes")
    return HttpAnswer(int(lines[0].split()[1]), headers, body[:length])


def http_exchange(port: int, data: bytes, timeout: float = 10) -> HttpAnswer:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answer(sock)
