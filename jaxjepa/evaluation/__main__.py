"""`python -m jaxjepa.evaluation`: eval.py's command, for an installed package."""

import sys

from jaxjepa.evaluation.command import main

sys.exit(main())
