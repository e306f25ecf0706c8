"""`serve` claims its address before any slow work, so a port in use stops it at once.

`serve --bootstrap` may seed and train for minutes; binding only afterwards (as `uvicorn.run`
does) let a port in use fail after all of that. The socket bound here is listening from the
start, so a second `serve` on the same address fails on its first line, and it is handed to
uvicorn (or to the request processes) once the process is ready; connections made meanwhile
wait in its backlog (with `--workers` and SO_REUSEPORT each process binds a socket of its own,
so those are refused instead).
"""

import socket

import typer


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A bound socket on host:port, inheritable by spawned request processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def claim_address(host: str, port: int) -> socket.socket:
    """The listening socket for host:port, or exit 2 with one line saying it is taken."""
    try:
        sock = listening_socket(host, port, reuse_port=False)
        sock.listen()  # a second server binding the address while this one bootstraps fails
    except OSError as exc:
        typer.echo(
            f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. Stop what uses it,"
            " or choose another with --port (or CONTEXTIQ_PORT).",
            err=True,
        )
        raise typer.Exit(2) from None
    return sock
