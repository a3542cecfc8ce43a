"""Small real servers for the operations tests: an SMTP relay that wants STARTTLS and a
login (aiosmtpd, a certificate made here), and a DNS server answering TXT questions
from a dict (dnspython's wire format over a UDP socket)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.smtp_sink import Handler, free_port


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key; trust it with SSL_CERT_FILE=<cert>."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "relay.crt", directory / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsRelay:
    """An SMTP server that offers STARTTLS and accepts one login only after it."""

    def __init__(self, directory: Path, username: str, password: str) -> None:
        self.cert, key = self_signed_certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.port = free_port()
        self.credentials = (username.encode(), password.encode())
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=self._authenticate,
            auth_require_tls=True,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and (
            (auth_data.login, auth_data.password) == self.credentials
        )
        return AuthResult(success=ok, handled=False)  # a refusal answers 535

    def __enter__(self) -> TlsRelay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class TinyDns:
    """Answers TXT questions for the names in `zone` (name -> list of TXT values),
    NXDOMAIN for the rest; `zone` may be changed while it runs."""

    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = zone
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.settimeout(0.1)
        self.questions: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.questions.append(name)
        values = self.zone.get(name)
        if values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and values:
            rdatas = []
            for value in values:  # strings of at most 255 bytes, as in a zone file
                pieces = [value[i : i + 255] for i in range(0, len(value), 255)]
                text = " ".join(f'"{piece}"' for piece in pieces)
                rdatas.append(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text))
            response.answer.append(dns.rrset.from_rdata_list(question.name, 300, rdatas))
        return response.to_wire()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.sock.sendto(self._answer(wire), client)

    def __enter__(self) -> TinyDns:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()
