"""The longest functions of the given Python files, and any import inside a function.

Usage: python .ci/longest_functions.py eval.py jaxjepa/evaluation/*.py
A function's length counts its lines from `def` to its last line (decorators excluded).
"""

import ast
import sys


def main(paths: list[str], shown: int = 8) -> None:
    rows = []
    for path in paths:
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                rows.append((node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}"))
                imports = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                rows += [(0, f"{path}:{n.lineno} import inside {node.name}") for n in imports]
    for length, where in sorted(rows, reverse=True)[:shown]:
        print(length, where)
    for _, where in (row for row in rows if row[0] == 0):
        print(where)


if __name__ == "__main__":
    main(sys.argv[1:])
