"""``pixelsense-serve`` (``python scripts/serve.py``): the HTTP API and its page over ONNX models."""

from __future__ import annotations

import errno
import socket

from pixelsense.cli.command import command
from pixelsense.cli.options import Parser, address, number, path
from pixelsense.errors import PixelsenseError
from pixelsense.signals import if_stopped

SHIPPED = ["checkpoints/ann.onnx", "checkpoints/cnn.onnx"]
DESCRIPTION = ("Serve pixelsense ONNX models over HTTP: a JSON API under /api/v1/ and a page at /. It has no "
               "authentication: keep --host 127.0.0.1 (this machine only), or put it behind a proxy that has "
               "some before you pass --host 0.0.0.0.")  # fmt: skip


@command("serve.py")
def serve_main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM, which let the requests in flight finish: exit 130 with one line."""
    from pixelsense.infer.decoding import cores

    parser = Parser(prog="serve.py", description=DESCRIPTION)
    parser.add_argument(
        "--models", type=path, nargs="+", default=SHIPPED, help="ONNX models (default: the two shipped)"
    )
    parser.add_argument(
        "--host", type=address, default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=number("port"), default=8000, help="default: 8000; 0 picks a free one")
    parser.add_argument("--workers", type=number("workers"), default=cores(),
                        help=f"server processes, a core's Python each (default: {cores()})")  # fmt: skip
    parser.add_argument("--threads", type=number("threads"), default=1,
                        help="requests a process works on at once; more queue (default: 1)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        from pixelsense.serve.models import open_models
        from pixelsense.serve.run import serve, start_workers, stop_workers, watch
    except ModuleNotFoundError as err:
        raise PixelsenseError(f"{err.name} is not installed: pip install 'pixelsense[serve]'.") from None
    models = open_models(args.models)  # every model checked before the port is taken
    sock = _listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    workers = []
    if args.workers > 1:  # the port is known and free: the workers share it, and this process watches them
        sock.close()
        workers = start_workers(args.models, host, port, args.workers, args.threads)
    names = ", ".join(model.name for model in models)
    print(f"serve.py: {names} on http://{host}:{port}/ (API under /api/v1/, schema at /openapi.json), "
          f"{args.workers} process(es); Ctrl-C stops", flush=True)  # fmt: skip
    if_stopped("the requests in flight were answered")
    if not workers:
        serve(models, sock, args.threads)
        return 0
    try:
        watch(workers)
    finally:
        stop_workers(workers)
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a port in use or an address not of this machine is one line."""
    from pixelsense.serve.run import listening

    try:
        return listening(host, port)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise PixelsenseError(
                f"port {port} on {host} is in use; pass another --port (0 picks a free one)."
            ) from None
        raise PixelsenseError(
            f"cannot listen on {host}:{port} ({err.strerror or err}); pass another --host or --port."
        ) from None
