"""``pixelsense-serve`` (``python scripts/serve.py``): the HTTP API and its page over ONNX models."""

from __future__ import annotations

import errno
import socket

from pixelsense.cli.command import command
from pixelsense.cli.options import Parser, positive_int
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
    parser.add_argument("--models", nargs="+", default=SHIPPED, help="ONNX models (default: the two shipped)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000; 0 picks a free one")
    parser.add_argument("--threads", type=positive_int, default=cores(),
                        help=f"requests worked on at once; more queue (default: {cores()})")  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise PixelsenseError(f"--port must be between 0 and 65535, not {args.port}.")
    if args.threads > cores():
        raise PixelsenseError(f"--threads must be at most {cores()}, the cores of this machine.")
    try:
        import uvicorn

        from pixelsense.serve.app import create_app
        from pixelsense.serve.models import open_models
    except ModuleNotFoundError as err:
        raise PixelsenseError(f"{err.name} is not installed: pip install 'pixelsense[serve]'.") from None
    app = create_app(open_models(args.models), args.threads)  # every model checked before the port is taken
    listening = _listen(args.host, args.port)
    host, port = listening.getsockname()[:2]
    print(f"serve.py: {', '.join(m['name'] for m in app.state.cards)} on http://{host}:{port}/ "
          f"(API under /api/v1/, schema at /openapi.json); Ctrl-C stops", flush=True)  # fmt: skip
    if_stopped("the requests in flight were answered")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=30))
    server.run(sockets=[listening])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a port in use or an address not of this machine is one line."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(128)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise PixelsenseError(
                f"port {port} on {host} is in use; pass another --port (0 picks a free one)."
            ) from None
        raise PixelsenseError(
            f"cannot listen on {host}:{port} ({err.strerror or err}); pass another --host or --port."
        ) from None
    return listening
