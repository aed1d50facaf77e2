"""The layer rule of DESIGN.md §2, checked over the source text of every module.

Every ``import`` and ``from ... import`` (at any depth: function-level imports and
``TYPE_CHECKING`` blocks count too) is resolved to a module name and compared with the
layer table below. A module may import only from its own layer or a lower one; pure
modules (L1 data, L2 formats and verification) import no network code at all; nothing
outside ``signer/testing/`` imports ``signer.testing``; and the CLI modules keep heavy
imports out of their top level so that ``signer --help`` stays fast.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "signer"

# First component below ``signer`` -> layer.  ``signer`` itself (the package
# ``__init__``) holds only ``__version__`` and counts as L0.
LAYERS: dict[str, int] = {
    "": 0,
    "errors": 0,
    "reference": 1,
    "digest": 1,
    "certificates": 1,
    "keys": 1,
    "localfile": 1,
    "trust": 1,
    "signing_config": 1,
    "formats": 2,
    "verify": 2,
    "gate": 2,
    "http": 3,
    "oidc": 3,
    "git": 3,
    "registry": 3,
    "services": 3,
    "sign": 4,
    "signing": 4,
    "fetch": 4,
    "referrers": 4,
    "attestations": 4,
    "attest": 4,
    "gating": 4,
    "cli": 5,
    "output": 5,
    "gate_report": 5,
    "action": 5,
    "__main__": 5,
}
TESTING = "testing"  # the "aside" layer: may import anything, imported by nothing else
PURE_LAYERS = (1, 2)
NETWORK_MODULES = (
    "requests",
    "urllib3",
    "http.client",
    "socket",
    "signer.http",
    "signer.registry",
    "signer.services",
    "signer.oidc",
)
# Modules a CLI command module may import at its top level (the rest go inside run()).
CLI_TOP_LEVEL_ALLOWED = ("argparse", "signer.errors", "__future__")

# Deliberate, harmless exceptions: (importing module, imported module) -> reason.
# Keep this empty unless there is a reason a reviewer would accept.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class ImportEdge:
    """One import statement: who imports what, where, and whether at module level."""

    importer: str
    imported: str
    path: Path
    line: int
    top_level: bool


def module_name(path: Path) -> str:
    """Return the dotted module name of a source file below the repository root."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve_from(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Return the modules an ``ImportFrom`` names (``from a import b`` may import ``a.b``)."""
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)]
        module = ".".join([*base, *([node.module] if node.module else [])])
    else:
        module = node.module or ""
    # ``from signer.verify import chain`` imports the sub-module; ``from signer.x import f``
    # imports a name.  Both are recorded: the sub-module form is what the rule is about.
    return [module] + [f"{module}.{alias.name}" for alias in node.names]


def import_edges(path: Path, source: str | None = None) -> list[ImportEdge]:
    """Return every import in one source file (all depths); ``source`` overrides the file."""
    importer = "entrypoint" if path == REPO / "entrypoint.py" else module_name(path)
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    top_level_nodes = {id(node) for node in tree.body}
    edges: list[ImportEdge] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = _resolve_from(importer, path.name == "__init__.py", node)
        else:
            continue
        for name in names:
            edges.append(ImportEdge(importer, name, path, node.lineno, id(node) in top_level_nodes))
    return edges


def layer_of(module: str) -> int | str | None:
    """Return the layer of a ``signer`` module, ``"testing"``, or None for non-signer code."""
    parts = module.split(".")
    if parts[0] != "signer":
        return None
    first = parts[1] if len(parts) > 1 else ""
    if first == TESTING:
        return TESTING
    if first in LAYERS:
        return LAYERS[first]
    # ``from signer import __version__`` and the like: a name in the package root.
    if (
        len(parts) == 2
        and not (PACKAGE / first).exists()
        and not (PACKAGE / f"{first}.py").exists()
    ):
        return 0
    raise AssertionError(f"module {module} is in no layer: add it to LAYERS in {__file__}")


def is_network(module: str) -> bool:
    """Return True when ``module`` is (or is inside) a network module."""
    return any(module == net or module.startswith(net + ".") for net in NETWORK_MODULES)


def _source_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _all_edges() -> list[ImportEdge]:
    edges: list[ImportEdge] = []
    for path in _source_files():
        edges.extend(import_edges(path))
    entrypoint = REPO / "entrypoint.py"
    if entrypoint.exists():
        edges.extend(import_edges(entrypoint))
    return edges


def _describe(edge: ImportEdge) -> str:
    return f"{edge.path.relative_to(REPO)}:{edge.line}: {edge.importer} imports {edge.imported}"


def _importer_layer(edge: ImportEdge) -> int | str | None:
    if edge.importer == "entrypoint":
        return 5
    return layer_of(edge.importer)


def test_checker_sees_the_testing_package_in_a_function() -> None:
    edges = _edges_of("signer/sign.py", "def f():\n    from signer.testing import stack\n")
    assert any(layer_of(edge.imported) == TESTING and not edge.top_level for edge in edges)


def test_every_module_has_a_layer() -> None:
    for path in _source_files():
        assert layer_of(module_name(path)) is not None, path


def test_no_import_from_a_higher_layer() -> None:
    violations = []
    for edge in _all_edges():
        own = _importer_layer(edge)
        target = layer_of(edge.imported)
        if own == TESTING or not isinstance(target, int) or not isinstance(own, int):
            continue
        if target > own and (edge.importer, edge.imported) not in EXCEPTIONS:
            violations.append(f"{_describe(edge)} (L{own} -> L{target})")
    assert violations == []


def test_pure_layers_import_no_network_code() -> None:
    violations = []
    for edge in _all_edges():
        own = _importer_layer(edge)
        allowed = (edge.importer, edge.imported) in EXCEPTIONS
        if own in PURE_LAYERS and is_network(edge.imported) and not allowed:
            violations.append(_describe(edge))
    assert violations == []


def test_product_code_never_imports_the_testing_package() -> None:
    violations = [
        _describe(edge)
        for edge in _all_edges()
        if _importer_layer(edge) != TESTING and layer_of(edge.imported) == TESTING
    ]
    assert violations == []


def test_action_and_cli_are_two_entries_over_the_same_flows() -> None:
    """The action (``signer.action``, run by ``entrypoint.py``) and the CLI
    (``signer.cli``) never import each other: what they share lives in the flows (L4)
    or below, not in one of them."""
    violations = []
    for edge in _all_edges():
        for one, other in (("signer.action", "signer.cli"), ("signer.cli", "signer.action")):
            if edge.importer.startswith(one) and (
                    edge.imported == other or edge.imported.startswith(other + ".")):
                violations.append(_describe(edge))
    assert violations == []
    entry = [edge.imported for edge in import_edges(REPO / "entrypoint.py")]
    assert entry and all(name.startswith("signer.action") for name in entry), entry


def test_cli_modules_import_only_light_modules_at_top_level() -> None:
    stdlib = sys.stdlib_module_names
    violations = []
    for edge in _all_edges():
        if not edge.importer.startswith("signer.cli.") or not edge.top_level:
            continue
        root = edge.imported.split(".")[0]
        if root in stdlib and root != "signer":
            continue
        if any(
            edge.imported == ok or edge.imported.startswith(ok + ".")
            for ok in CLI_TOP_LEVEL_ALLOWED
        ):
            continue
        if edge.importer == "signer.cli.main" and edge.imported.startswith("signer.cli"):
            continue  # main dispatches to the command modules, which are light themselves
        if edge.imported in ("signer", "signer.__version__"):
            continue
        violations.append(_describe(edge))
    assert violations == []


# ---- the checker itself must be able to fail -------------------------------------------


def _edges_of(relative: str, source: str) -> list[ImportEdge]:
    return import_edges(REPO / relative, source)


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        (
            "signer/verify/checks.py",
            "def f():\n    from signer.http import new_session\n",
            "signer.http",
        ),
        ("signer/verify/checks.py", "from ..registry import client\n", "signer.registry.client"),
        ("signer/keys.py", "import requests\n", "requests"),
        ("signer/formats/legacy.py", "from http.client import HTTPConnection\n", "http.client"),
    ],
)
def test_checker_sees_network_imports_in_pure_modules(
    relative: str, source: str, expected: str
) -> None:
    edges = _edges_of(relative, source)
    assert any(is_network(edge.imported) and edge.imported.startswith(expected) for edge in edges)


def test_checker_sees_an_upward_import_and_relative_forms() -> None:
    edges = _edges_of("signer/registry/client.py", "from ..sign import sign_images\n")
    assert {layer_of(edge.imported) for edge in edges} == {4}
    edges = _edges_of("signer/verify/__init__.py", "from .chain import x\n")
    assert "signer.verify.chain" in {edge.imported for edge in edges}


def _prints_or_exits(path: Path) -> list[int]:
    """Lines of ``print(...)``, ``sys.exit(...)``, ``raise SystemExit`` and writes to
    ``sys.stdout``/``sys.stderr`` in one source file."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            if text in ("print", "sys.exit", "exit", "quit") or text.startswith(
                ("sys.stdout.", "sys.stderr.")
            ):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Raise)
            and node.exc is not None
            and "SystemExit" in ast.unparse(node.exc)
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_only_entry_points_print_or_exit() -> None:
    """DESIGN.md §2: L5 (cli, __main__, entrypoint.py) are the only places that print or
    exit; everything below returns values or raises signer.errors.Error."""
    violations = []
    for path in _source_files():
        layer = layer_of(module_name(path))
        if layer in (5, TESTING):
            continue
        violations += [f"{path.relative_to(REPO)}:{line}" for line in _prints_or_exits(path)]
    assert violations == []


def test_print_checker_sees_prints(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import sys\nprint(1)\nsys.stderr.write('x')\nraise SystemExit(2)\n")
    assert _prints_or_exits(source) == [2, 3, 4]
