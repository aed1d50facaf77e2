"""Nothing in the package prints around the output boundary (issue 13.2).

Every ``sys.stdout.write``/``sys.stderr.write`` and ``print`` in ``signer/`` (the
``testing`` aside excepted) is found in the source; each must write only constant
text, or JSON serialised safely (``terminal_json``, ``json.dumps`` with its default
ASCII escaping), or the action's own workflow commands. Anything else -- a line built
from values -- must go through :func:`signer.output.write_lines` or the action's
console, which neutralise it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "signer"
#: calls whose result is safe to write as it is
SAFE_PRODUCERS = {"terminal_json", "dumps", "annotation_commands"}
#: values that are ours even inside an f-string
SAFE_ATTRIBUTES = {"__name__"}


def _is_stream_write(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "write"
            and isinstance(func.value, ast.Attribute) and func.value.attr in ("stdout", "stderr")
            and isinstance(func.value.value, ast.Name) and func.value.value.id == "sys")


def _safe(node: ast.AST) -> bool:
    """True if ``node`` only joins constants and safely produced JSON or commands."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in SAFE_PRODUCERS:
            return not any(k.arg == "ensure_ascii" and isinstance(k.value, ast.Constant)
                           and k.value.value is False for k in node.keywords)
        if name == "join" and isinstance(func, ast.Attribute) and isinstance(
                func.value, ast.Constant):
            return all(_safe(arg) for arg in node.args)
        return False
    if isinstance(node, ast.BinOp):
        return _safe(node.left) and _safe(node.right)
    if isinstance(node, ast.JoinedStr):
        return all(_safe(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return _safe(node.value)
    if isinstance(node, ast.Attribute):
        return node.attr in SAFE_ATTRIBUTES
    if isinstance(node, ast.GeneratorExp):  # "".join(line + "\n" for line in commands())
        return all(_safe(g.iter) for g in node.generators) and isinstance(node.elt, ast.BinOp)
    return False


def test_nothing_writes_a_built_line_around_the_boundary() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "testing" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            if isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{where} print()")
            elif _is_stream_write(node) and not all(_safe(arg) for arg in node.args):
                offenders.append(f"{where} {ast.unparse(node)[:80]}")
    assert offenders == [], "write through signer.output.write_lines:\n" + "\n".join(offenders)


def test_the_guard_catches_a_raw_line() -> None:
    tree = ast.parse('sys.stderr.write(f"Error: {err.message}\\n")')
    call = tree.body[0].value  # type: ignore[attr-defined]
    assert _is_stream_write(call) and not all(_safe(arg) for arg in call.args)
    safe = ast.parse('sys.stdout.write("\\n" + terminal_json(text) + "\\n")').body[0]
    assert all(_safe(arg) for arg in safe.value.args)  # type: ignore[attr-defined]
