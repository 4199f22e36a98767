"""The HTTP session webhooks are sent with: it connects only to an address that passed the
SSRF rule (app/webhooks/address.py), checked when the connection is made, and to nothing else.

The check happens inside the connection, right before the socket connects, on the addresses
that will be used: a DNS answer that changes between an earlier check and the send (rebinding)
cannot slip through. TLS still verifies the certificate against the URL's host name.
"""
from __future__ import annotations

import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

from app.webhooks.address import checked_addresses


class _PinnedConnection:
    """Mixed into urllib3's connections: resolve, check, connect to the checked address."""

    allow: tuple = ()

    def _new_conn(self) -> socket.socket:
        addresses = checked_addresses(self.host, self.port, self.allow)  # AddressRefused
        error: OSError | None = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (str(address), self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except socket.timeout as exc:
                raise ConnectTimeoutError(self, f"connection to {self.host} ({address}) timed "
                                                f"out (timeout={self.timeout})") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"failed to connect to {self.host}: {error}") from error


def _pool_classes(allow: tuple) -> dict[str, type]:
    http = type("PinnedHTTPConnection", (_PinnedConnection, HTTPConnection), {"allow": allow})
    https = type("PinnedHTTPSConnection", (_PinnedConnection, HTTPSConnection), {"allow": allow})
    return {"http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https})}


class GuardedAdapter(HTTPAdapter):
    def __init__(self, allow=(), **kwargs):
        self.allow = tuple(allow)  # set first: the base __init__ builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allow)


def guarded_session(allow=()) -> requests.Session:
    """A requests session for webhooks: SSRF-checked connections, no proxy from the environment
    (a proxy would see the payloads and hide the real destination)."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(allow)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
