"""`python -m jaxjepa.evaluation`: eval.py's command, for an installed package."""

import sys

from jaxjepa import cli

with cli.starting("eval.py"):  # Ctrl-C during the slow imports: one line, no traceback
    from jaxjepa.evaluation.command import main

sys.exit(main())
