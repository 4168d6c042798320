"""Evaluate trained runs, as mean +- std over seeds: results/*.json, figures, RESULTS.md.

`python eval.py --seeds 0-7` trains what is missing and evaluates all;
`python eval.py RUN_DIR [RUN_DIR ...]` evaluates saved runs of one config; `--recipes`, `--anomalies`,
`--worlds`, `--planning`, `--two-rooms` run the suites of their own named configs. The code lives in the
package (jaxjepa/evaluation/command.py), so an installed wheel runs the same command as `jaxjepa-eval`
or `python -m jaxjepa.evaluation`.
"""

import sys

from jaxjepa.evaluation.__main__ import main  # imports the command under cli.starting: Ctrl-C there is one line

if __name__ == "__main__":
    sys.exit(main())
