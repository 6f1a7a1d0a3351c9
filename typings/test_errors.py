"""Typing tests (checked, never run): exceptions, retrying, constants and the version.

Every dugong exception is a :exc:`DugongError`; retry loops classify errors
with :func:`is_temp_network_error`; the limits are ``Final`` ints.

Checked by ``mypy --strict`` and by basedpyright in strict mode; ``assert_type``
pins what users get, and ``# type: ignore[code]  # pyright: ignore[rule]`` marks
misuse that must stay an error in both.
"""

from __future__ import annotations

import socket
import ssl
import time

from typing_extensions import assert_type

import dugong
import dugong.loop
from dugong import (
    BUFFER_SIZE,
    DNS_TEST_HOSTNAMES,
    MAX_HEADER_FIELDS,
    MAX_HEADER_SIZE,
    MAX_INFORMATIONAL_RESPONSES,
    MAX_LINE_SIZE,
    ConnectionClosed,
    ConnectionRefused,
    ConnectionReset,
    ConnectionTimedOut,
    DNSUnavailable,
    DugongError,
    ExcessBodyData,
    HostnameNotResolvable,
    HostUnreachable,
    HTTPConnection,
    InvalidResponse,
    NetworkError,
    PollNeeded,
    ProxyError,
    StateError,
    TLSCertificateError,
    TLSError,
    UnsupportedResponse,
    is_temp_network_error,
)


def get_with_retries(conn: HTTPConnection, path: str, attempts: int = 3) -> bytes:
    """The retry loop users write around a request."""
    for attempt in range(attempts):
        try:
            conn.send_request("GET", path)
            conn.read_response()
            return conn.readall()
        except (ConnectionClosed, ConnectionTimedOut) as exc:
            assert_type(exc, ConnectionClosed | ConnectionTimedOut)
            conn.reset()
        except OSError as exc:
            if not is_temp_network_error(exc) or attempt == attempts - 1:
                raise
            conn.disconnect()
            time.sleep(2**attempt)
    raise ConnectionClosed(f"gave up on {path} after {attempts} attempts")


def handling(conn: HTTPConnection) -> None:
    try:
        conn.send_request("PUT", "/", body=b"data")
        conn.read_response()
    except HostnameNotResolvable as exc:
        assert_type(exc.name, str)
    except DNSUnavailable as exc:
        assert_type(exc.name, str)
    except ProxyError as exc:
        assert_type(exc.status, int)
        assert_type(exc.reason, str)
    except (InvalidResponse, UnsupportedResponse) as exc:
        assert_type(str(exc), str)
    except (ExcessBodyData, StateError):
        conn.reset()
    except DugongError as exc:
        assert_type(is_temp_network_error(exc), bool)
    assert_type(is_temp_network_error(ConnectionClosed()), bool)
    assert_type(is_temp_network_error(KeyboardInterrupt()), bool)


def one_family(conn: HTTPConnection) -> None:
    """Every failure is a DugongError; the network ones keep their stdlib class."""
    try:
        conn.connect()
    except ConnectionRefused as exc:
        assert_type(exc.errno, int | None)
        assert_type(exc.strerror, str | None)
    except HostUnreachable as exc:
        assert_type(exc.errno, int | None)
    except TLSCertificateError as exc:
        assert_type(exc.verify_message, str)
        assert_type(exc.reason, str)
    except TLSError as exc:
        assert_type(exc.library, str)
    except NetworkError as exc:
        assert_type(exc.errno, int | None)
    except DugongError as exc:
        assert_type(exc, DugongError)


def written_for_dugong_3(conn: HTTPConnection) -> None:
    """The stdlib classes of 3.x programs still catch dugong's twins."""
    try:
        conn.connect()
    except ConnectionRefusedError as exc:
        assert_type(exc, ConnectionRefusedError)
    except ssl.SSLCertVerificationError as exc:
        assert_type(exc.verify_code, int)
    except ssl.SSLError:
        pass
    except socket.gaierror:
        pass
    stdlib: list[OSError] = [
        ConnectionRefused(111, "Connection refused"),
        ConnectionReset(104, "Connection reset by peer"),
        HostUnreachable(113, "No route to host"),
        TLSError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
        TLSCertificateError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
        NetworkError("no errno"),
    ]
    refused: ConnectionRefusedError = ConnectionRefused(111, "Connection refused")
    reset: ConnectionResetError = ConnectionReset(104, "Connection reset by peer")
    tls: ssl.SSLError = TLSError(1, "bad record mac")
    cert: ssl.SSLCertVerificationError = TLSCertificateError(1, "certificate verify failed")
    print(stdlib, refused, reset, tls, cert)


def hierarchy() -> None:
    errors: list[DugongError] = [
        ConnectionClosed(),
        ConnectionClosed("server went away"),
        ConnectionTimedOut(),
        ConnectionTimedOut(2.5),
        ConnectionTimedOut(2.5, PollNeeded(3, 1)),
        ConnectionTimedOut(2.5, message="no answer to GET / from example.org:80 for 2.5 s"),
        InvalidResponse("bad status line"),
        UnsupportedResponse("transfer coding gzip"),
        ExcessBodyData(),
        StateError("body not sent"),
        HostnameNotResolvable("nowhere.invalid"),
        DNSUnavailable("example.org"),
        ProxyError(("proxy", 3128), 407, "Proxy Authentication Required"),
        NetworkError(101, "Network is unreachable"),
        TLSError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION]"),
        dugong.loop.TaskCancelled(),
        dugong.loop.InvalidStateError("not done"),
        dugong.loop.ResourceBusy(3, "reading", object()),
    ]
    also_exceptions: list[Exception] = list(errors)
    print(also_exceptions)


def constants() -> None:
    assert_type(BUFFER_SIZE, int)
    assert_type(MAX_LINE_SIZE, int)
    assert_type(MAX_HEADER_SIZE, int)
    assert_type(MAX_HEADER_FIELDS, int)
    assert_type(MAX_INFORMATIONAL_RESPONSES, int)
    assert_type(BUFFER_SIZE + MAX_LINE_SIZE + MAX_HEADER_SIZE, int)
    assert_type(DNS_TEST_HOSTNAMES, tuple[tuple[str, int], ...])
    for host, port in DNS_TEST_HOSTNAMES:
        assert_type(host, str)
        assert_type(port, int)
    assert_type(dugong.__version__, str)
    assert_type(dugong.POLLIN, int)
    assert_type(dugong.HTTPConnection("example.org"), HTTPConnection)


def misuse() -> None:
    InvalidResponse()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    HostnameNotResolvable(42)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    ProxyError("proxy:3128", 407, "denied")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    ConnectionTimedOut("5 s")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    ConnectionTimedOut(2.5, None, "why")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    assert_type(ConnectionTimedOut(2.5).timeout, float | None)
    is_temp_network_error("timeout")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    is_temp_network_error(OSError)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    # mypy only: pyright does not report assigning another module's Final name.
    dugong.MAX_LINE_SIZE = 1  # type: ignore[misc]
    dugong.NO_SUCH_NAME  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    not_a_dugong_error: DugongError = OSError()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(not_a_dugong_error)
    refused_is_not_a_reset: ConnectionResetError = ConnectionRefused(111, "x")  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    unreachable_is_not_tls: ssl.SSLError = HostUnreachable(113, "x")  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(refused_is_not_a_reset, unreachable_is_not_tls)
