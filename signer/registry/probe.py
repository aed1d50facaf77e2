"""Does a registry port speak TLS at all? One cheap handshake to find out (layer L3).

Loopback registries, and registries the user names insecure, are tried over HTTPS
first and over plain HTTP after. The real HTTPS attempt goes through the HTTP
session, whose first TLS connection loads the whole CA bundle (tens of milliseconds
per process) -- wasted on the usual local registry that only speaks plain HTTP.

:func:`answers_tls` settles that first with a bare handshake that loads no trust
anchors and sends nothing but a ClientHello. It decides only whether the real HTTPS
attempt is worth making: a port that completes the handshake still gets that attempt,
verified exactly as before, so the scheme chosen and every check on it are unchanged.
"""

from __future__ import annotations

import socket
import ssl

from signer.reference import split_host_port

HTTPS_PORT = 443


def answers_tls(api_host: str, timeout: tuple[float, float]) -> bool:
    """True unless ``api_host`` (``host[:port]``) plainly does not complete a TLS handshake.

    False when the connection is refused, reset, times out (``timeout`` is
    (connect, read) seconds), or the peer answers the ClientHello with something
    other than TLS -- the cases in which a real HTTPS request fails too. When in
    doubt (a host we cannot even hand to the handshake), True: let the real request
    decide.
    """
    try:
        host, port = split_host_port(api_host)
    except ValueError:
        return True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only "is this TLS?"; nothing is trusted or sent
    try:
        with socket.create_connection((host, port or HTTPS_PORT), timeout=timeout[0]) as raw:
            raw.settimeout(timeout[1])
            with context.wrap_socket(raw, server_hostname=host):
                return True
    except OSError:  # ssl.SSLError, refused, reset, timed out
        return False
    except ValueError:
        return True
