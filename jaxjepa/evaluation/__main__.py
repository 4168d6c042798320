"""eval.py's command, imported under cli.starting: for `python -m jaxjepa.evaluation`, the installed `jaxjepa-eval`
(whose entry point is `main` here) and eval.py, which imports `main` from here."""

import sys

from jaxjepa import cli

with cli.starting("eval.py"):  # Ctrl-C during the slow imports: one line, no traceback
    from jaxjepa.evaluation.command import main

if __name__ == "__main__":
    sys.exit(main())
