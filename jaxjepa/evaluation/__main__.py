"""`python -m jaxjepa.evaluation` and the installed `jaxjepa-eval` (whose entry point is `main` here): eval.py's
command, for an installed package."""

import sys

from jaxjepa import cli

with cli.starting("eval.py"):  # Ctrl-C during the slow imports: one line, no traceback
    from jaxjepa.evaluation.command import main

if __name__ == "__main__":
    sys.exit(main())
