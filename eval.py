"""Evaluate trained runs, as mean +- std over seeds: results/*.json, figures, RESULTS.md.

`python eval.py --seeds 0-7` trains what is missing and evaluates all;
`python eval.py RUN_DIR [RUN_DIR ...]` evaluates saved runs of one config; `--recipes`, `--anomalies`,
`--worlds`, `--planning`, `--two-rooms` run the suites of their own named configs. The code lives in the
package (jaxjepa/evaluation/command.py), so an installed wheel runs the same command as `jaxjepa-eval`
or `python -m jaxjepa.evaluation`.
"""

import sys

from jaxjepa import cli

with cli.starting("eval.py"):  # Ctrl-C during the slow imports: one line, no traceback
    from jaxjepa.evaluation.command import main

if __name__ == "__main__":
    sys.exit(main())
