"""Loopback receivers for what gitjit sends out: apprise's json:// notifications, an HTTPS
server for Teams Workflows webhooks, and an intercepting HTTPS proxy for services apprise
only posts to at the vendor's own host (Slack)."""

from __future__ import annotations

import ipaddress
import json
import socketserver
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class HttpReceiver:
    """A loopback HTTP server keeping every JSON document POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                received.append({"path": self.path,
                                 **json.loads(self.rfile.read(length))})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet test output

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/gitjit-hook"

    def titles(self) -> list[str]:
        return [str(m["title"]) for m in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


# -- HTTPS: a test certificate authority, a TLS receiver, and a TLS-terminating proxy -------


class ThrowawayAuthority:
    """A throwaway certificate authority: requests trusts it through REQUESTS_CA_BUNDLE, so
    apprise verifies TLS as it does in production, against our loopback servers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitjit test CA")])
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1))
                     .not_valid_after(now + timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = folder / "ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def context(self, *names: str) -> ssl.SSLContext:
        """A server context with a certificate for ``names`` (host names or IP addresses)."""
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .sign(self.key, hashes.SHA256()))
        stem = self.folder / names[0].replace(":", "_")
        pem = stem.with_suffix(".pem")
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                        + key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem)
        return context


def _read_request(stream: Any) -> dict[str, Any]:
    """One HTTP/1.1 request from a file-like stream: method, path, headers, JSON body."""
    line = stream.readline().decode("latin-1").rstrip("\r\n")
    method, target, _ = line.split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        header = stream.readline().decode("latin-1").rstrip("\r\n")
        if not header:
            break
        key, _, value = header.partition(":")
        headers[key.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return {"method": method, "target": target, "headers": headers,
            "json": json.loads(body) if body else None}


class TlsReceiver:
    """An HTTPS server on loopback (a certificate of the test authority for 127.0.0.1) that
    keeps every request: what a Teams Workflows webhook receives."""

    def __init__(self, authority: ThrowawayAuthority) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                received.append({"method": "POST", "target": self.path,
                                 "headers": {k.lower(): v for k, v in self.headers.items()},
                                 "json": json.loads(self.rfile.read(length))})
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = authority.context("127.0.0.1")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class InterceptingProxy:
    """An HTTPS proxy on loopback that answers CONNECT itself: it terminates TLS with a
    certificate of the test authority for the host asked for, keeps the request, and answers
    200. With HTTPS_PROXY pointing here, apprise's request to a vendor's fixed host (Slack's
    hooks.slack.com) is captured exactly as it would be sent, and never leaves the machine."""

    def __init__(self, authority: ThrowawayAuthority, answer: bytes = b"ok") -> None:
        received: list[dict[str, Any]] = []
        contexts: dict[str, ssl.SSLContext] = {}

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline().decode("latin-1").split()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                if len(line) < 2 or line[0] != "CONNECT":
                    self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                    return
                host = line[1].rsplit(":", 1)[0]
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                if host not in contexts:
                    contexts[host] = authority.context(host)
                with contexts[host].wrap_socket(self.connection, server_side=True) as tls:
                    stream = tls.makefile("rwb")
                    request = _read_request(stream)
                    request["host"] = host
                    received.append(request)
                    stream.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: " + str(len(answer)).encode() +
                                 b"\r\nConnection: close\r\n\r\n" + answer)
                    stream.flush()

        self.received = received
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
