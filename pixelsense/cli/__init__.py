"""Every command line of pixelsense, and the only place that parses argv or prints for a user: each command is
a ``*_main(argv) -> exit code`` run under one handler (``command.command``): a problem the user can fix is one
line and exit 2, Ctrl-C or SIGTERM one line and exit 130. ``scripts/*.py`` and the ``pixelsense-*`` console
scripts call these.

May import every part of pixelsense. Importing this package imports no torch (each command imports what it
needs when it runs), so ``pixelsense-predict`` runs on the light install and the training commands there say
``pip install 'pixelsense[train]'``."""

from pixelsense import signals

signals.early()  # before the commands' imports: a Ctrl-C from the first moment is one line, not a traceback

from pixelsense.cli.bench import bench_main  # noqa: E402
from pixelsense.cli.inference import evaluate_main, export_main, photos_main, predict_main  # noqa: E402
from pixelsense.cli.serve import serve_main  # noqa: E402
from pixelsense.cli.training import compare_main, explain_main, fit_main, get_data_main  # noqa: E402

__all__ = ["bench_main", "compare_main", "evaluate_main", "explain_main", "export_main", "fit_main",
           "get_data_main", "photos_main", "predict_main", "serve_main"]  # fmt: skip
