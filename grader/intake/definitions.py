"""The definitions of a submission without its top-level behaviour.

Why: a student's file may train for ten minutes at import, call ``plt.show()``, loop forever or call
``sys.exit()``. The contract says its functions and classes are still graded; so we rebuild the module
from what is safe to run at import (imports, ``def``/``class``, constant-ish assignments) and drop
everything else. The source is only parsed, never executed.
"""

from __future__ import annotations

import ast
import builtins
import threading

#: Upper bounds that keep a "constant" from becoming the very hang we are avoiding (``10 ** 10 ** 9``,
#: ``[0] * 10 ** 10``). The sandbox's limits remain the real guard; these just avoid obvious traps.
_MAX_EXPONENT = 1000
_MAX_REPEAT = 100_000
#: Longest source the fallback parses, in characters (many times a full solution). Parsing happens in the
#: grader's own process, holding the GIL, where a huge file of small functions costs seconds and gigabytes
#: (docs/benchmark.md, "Figures behind limits").
MAX_SOURCE_CHARS = 512 * 1024


class TooLarge(SyntaxError):
    """The source is longer than :data:`MAX_SOURCE_CHARS`: no definitions-only fallback for it. A kind of
    SyntaxError (the source is not parsed), so that callers that know only that one (the student kit's
    self-check) give up on the fallback the same way."""

_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_UNARY = (ast.USub, ast.UAdd, ast.Not, ast.Invert)
_BUILTIN_NAMES = frozenset(dir(builtins))

#: CPython 3.11 keeps ast.parse's recursion-depth counter in interpreter-wide state; two grading threads
#: parsing at once can fail with "AST constructor recursion depth mismatch" (python/cpython#106905).
_PARSE_LOCK = threading.Lock()


def _parse(source: str, filename: str = "<unknown>") -> ast.Module:
    with _PARSE_LOCK:
        return ast.parse(source, filename=filename)


def definitions_only(source: str) -> str:
    """The source reduced to imports, definitions and constants, as text that keeps line numbers.

    Raises SyntaxError when ``source`` does not parse, TooLarge when it is too long to. (An import of a
    module the grading machine lacks is skipped by the child, which runs these statements one by one.)

    Every statement kept as it was is copied from the student's text onto its own line numbers, so
    a traceback in definitions-only mode points at the same lines as the student's file; rewritten
    statements (a ``try`` block whose non-definitions were removed) are unparsed in place, and the blank
    lines of dropped code absorb the lines they add.
    """
    if len(source) > MAX_SOURCE_CHARS:
        raise TooLarge(len(source))
    tree = _parse(source)
    lines = source.splitlines()
    originals = {id(node) for node in tree.body}
    kept = _Filter().module(tree)
    output: list[str] = []
    for node in kept.body:
        if id(node) not in originals:  # only a rewritten statement can lack locations
            ast.fix_missing_locations(node)
        first = min([node.lineno, *(decorator.lineno for decorator in getattr(node, "decorator_list", []))])
        if id(node) in originals and node.end_lineno is not None:
            block = lines[first - 1 : node.end_lineno]
        else:
            block = ast.unparse(node).splitlines()
        output.extend([""] * max(0, first - 1 - len(output)))
        output.extend(block)
    return "\n".join(output) + "\n" if output else ""


def definitions_tree(source: str, *, filename: str = "<submission>") -> ast.Module:
    """Like :func:`definitions_only` but returns the filtered tree, whose nodes keep the student's
    line numbers: ``compile(tree, path, "exec")`` gives tracebacks that point into their file."""
    tree = _parse(source, filename)
    filtered = _Filter().module(tree)
    return ast.fix_missing_locations(filtered)


class _Filter:
    def __init__(self) -> None:
        self.known: set[str] = set()  # names bound by statements kept so far
        self.star_import = False

    def module(self, tree: ast.Module) -> ast.Module:
        body: list[ast.stmt] = []
        for index, node in enumerate(tree.body):
            if index == 0 and _is_docstring(node):
                body.append(node)
                continue
            kept = self.statement(node)
            if kept is not None:
                body.append(kept)
        return ast.Module(body=body, type_ignores=tree.type_ignores)

    def statement(self, node: ast.stmt) -> ast.stmt | None:
        """The statement to keep in place of ``node``, or None to drop it."""
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._bind_import(node)
            return node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.known.add(node.name)
            return node
        if isinstance(node, ast.Pass):
            return node
        if isinstance(node, ast.Assign):
            if all(_simple_target(target) for target in node.targets) and self._constant(node.value):
                for target in node.targets:
                    self.known.update(_target_names(target))
                return node
            return None
        if isinstance(node, ast.AnnAssign):
            if isinstance(node.target, ast.Name) and (node.value is None or self._constant(node.value)):
                if node.value is not None:
                    self.known.add(node.target.id)
                return node
            return None
        if isinstance(node, ast.AugAssign):
            if (
                isinstance(node.target, ast.Name)
                and node.target.id in self.known
                and isinstance(node.op, _ARITHMETIC)
                and self._constant(node.value)
                and self._safe_binop(node.op, node.target, node.value)
            ):
                return node
            return None
        if isinstance(node, ast.Try | ast.TryStar):
            return self._try(node)
        return None

    def _try(self, node: ast.Try | ast.TryStar) -> ast.stmt | None:
        """Keep ``try: import x / except ImportError: ...`` and the like, minus any behaviour inside."""
        body = self._block(node.body)
        if body is None:
            return None
        handlers = []
        for handler in node.handlers:
            handlers.append(
                ast.ExceptHandler(
                    type=handler.type,
                    name=handler.name,
                    body=self._block(handler.body) or [_pass(handler)],
                    lineno=handler.lineno,
                    col_offset=handler.col_offset,
                    end_lineno=handler.end_lineno,
                    end_col_offset=handler.end_col_offset,
                )
            )
        orelse = self._block(node.orelse) or []
        finalbody = self._block(node.finalbody) or []
        if not handlers and not finalbody:
            finalbody = [_pass(node)]
        cls = type(node)
        kept = cls(body=body, handlers=handlers, orelse=orelse, finalbody=finalbody)
        return ast.copy_location(kept, node)

    def _block(self, statements: list[ast.stmt]) -> list[ast.stmt] | None:
        kept = [stmt for stmt in (self.statement(s) for s in statements) if stmt is not None]
        if not kept or all(isinstance(stmt, ast.Pass) for stmt in kept):
            return None
        return kept

    def _bind_import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star_import = True
            elif alias.asname:
                self.known.add(alias.asname)
            else:
                self.known.add(alias.name.split(".")[0])

    # -- constant-ish expressions -------------------------------------------------------------------

    def _constant(self, expr: ast.expr) -> bool:
        """Literals and containers of them, known names, ``np.pi``-style attributes, simple arithmetic."""
        if isinstance(expr, ast.Constant):
            return True
        if isinstance(expr, ast.Tuple | ast.List | ast.Set):
            return all(self._constant(element) for element in expr.elts)
        if isinstance(expr, ast.Starred):
            return self._constant(expr.value)
        if isinstance(expr, ast.Dict):
            return all(key is None or self._constant(key) for key in expr.keys) and all(
                self._constant(value) for value in expr.values
            )
        if isinstance(expr, ast.UnaryOp):
            return isinstance(expr.op, _UNARY) and self._constant(expr.operand)
        if isinstance(expr, ast.BinOp):
            return (
                isinstance(expr.op, _ARITHMETIC)
                and self._constant(expr.left)
                and self._constant(expr.right)
                and self._safe_binop(expr.op, expr.left, expr.right)
            )
        if isinstance(expr, ast.Name):
            return expr.id in self.known or expr.id in _BUILTIN_NAMES or self.star_import
        if isinstance(expr, ast.Attribute):
            root: ast.expr = expr
            while isinstance(root, ast.Attribute):
                root = root.value
            return isinstance(root, ast.Name) and self._constant(root)
        return False

    @staticmethod
    def _safe_binop(op: ast.operator, left: ast.expr, right: ast.expr) -> bool:
        if isinstance(op, ast.Pow):
            return _number(right) is not None and abs(_number(right)) <= _MAX_EXPONENT  # type: ignore[arg-type]
        if isinstance(op, ast.Mult) and (_is_sequence(left) or _is_sequence(right)):
            other = right if _is_sequence(left) else left
            count = _number(other)
            return isinstance(count, int) and count <= _MAX_REPEAT
        return True


def _number(expr: ast.expr) -> int | float | None:
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub | ast.UAdd):
        inner = _number(expr.operand)
        return None if inner is None else (-inner if isinstance(expr.op, ast.USub) else inner)
    if isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
        return expr.value
    return None


def _is_sequence(expr: ast.expr) -> bool:
    if isinstance(expr, ast.List | ast.Tuple):
        return True
    return isinstance(expr, ast.Constant) and isinstance(expr.value, str | bytes)


def _simple_target(target: ast.expr) -> bool:
    """Plain names (or tuples of them): a subscript or attribute target mutates something else."""
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, ast.Tuple | ast.List):
        return all(_simple_target(element) for element in target.elts)
    if isinstance(target, ast.Starred):
        return _simple_target(target.value)
    return False


def _target_names(target: ast.expr) -> list[str]:
    return [node.id for node in ast.walk(target) if isinstance(node, ast.Name)]


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _pass(anchor: ast.AST) -> ast.Pass:
    return ast.copy_location(ast.Pass(), anchor)


__all__ = ["definitions_only", "definitions_tree"]
