"""Every command line of pixelsense, each a ``*_main(argv) -> exit code`` run under one handler
(``errors.command``): a problem the user can fix is one line and exit 2, Ctrl-C or SIGTERM one line and exit
130. ``scripts/*.py`` and the ``pixelsense-*`` console scripts call these. Importing this package imports
no torch, so ``pixelsense-predict`` runs on the light install."""

from pixelsense.cli.inference import evaluate_main, export_main, photos_main, predict_main
from pixelsense.cli.training import bench_main, compare_main, explain_main, fit_main, get_data_main

__all__ = ["bench_main", "compare_main", "evaluate_main", "explain_main", "export_main", "fit_main",
           "get_data_main", "photos_main", "predict_main"]  # fmt: skip
