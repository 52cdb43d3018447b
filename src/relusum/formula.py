"""Safe parsing of formulas in one variable ``x`` into vectorised numpy callables.

This module is the only place where user-supplied text becomes a function. The
text is parsed with :func:`ast.parse` (``mode="eval"``) and the resulting tree
is walked by hand: only the whitelisted node types below are accepted, and they
are translated into a small stack program that is run with numpy ufuncs. No
Python code from the text is ever executed.

Grammar
-------
::

    formula  := expr
    expr     := expr ("+" | "-" | "*" | "/" | "%" | "//" | "**") expr
              | ("-" | "+") expr
              | "(" expr ")"
              | NAME "(" expr ("," expr)* ")"      # whitelisted function, positional args
              | "x" | "pi" | "e"
              | NUMBER                              # int or float literal, e.g. 2, 1.5, 1e-3

Operator precedence and associativity are Python's: ``-x**2 == -(x**2)`` and
``2**3**2 == 2**9``. All arithmetic is float64: number literals are converted to
float64 when the formula is parsed (a literal too large for float64 becomes
``inf``), so ``9**9**9**9`` is simply ``inf``. ``%`` is the floored modulo
(:func:`numpy.mod`, the result has the sign of the divisor, like Python) and
``//`` is :func:`numpy.floor_divide`. Overflow, division by zero and invalid
operations give ``inf``/``nan`` silently instead of warnings.

The functions that may be called are the keys of :data:`FUNCTIONS`; each takes a
fixed number of positional arguments. Whitespace (including tabs and newlines)
is allowed anywhere between tokens.

Everything else -- attribute access, other names, subscripts, strings,
f-strings, lambdas, comprehensions, containers, comparisons, ``and``/``or``/
``not``, conditional expressions, ``:=``, bitwise operators (``^ & | ~ << >>``),
``@``, keyword or starred arguments, calls of anything that is not a
whitelisted function name, complex/``None``/``True`` literals -- is rejected
with a one-line :class:`FormulaError` that quotes the offending part of the text
and its (1-based) column. Text longer than :data:`MAX_FORMULA_LENGTH`
characters, nesting deeper than :data:`MAX_NESTING_DEPTH` and any character
beyond ASCII (such as the fullwidth ``ｓｉｎ(ｘ)``, which Python would quietly read
as ``sin(x)``) are refused too.

Examples
--------
>>> f = parse_formula("relu(x) - 0.5*relu(x - 1)")
>>> f([0.0, 1.0, 3.0]).tolist()
[0.0, 1.0, 2.0]
>>> evaluate_constant("2*pi")
6.283185307179586
"""

from __future__ import annotations

import ast
import difflib
import math
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_FORMULA_LENGTH",
    "MAX_NESTING_DEPTH",
    "Formula",
    "FormulaError",
    "evaluate_constant",
    "parse_formula",
]

#: Longest formula text (in characters) that is accepted.
MAX_FORMULA_LENGTH: int = 2000

#: Deepest nesting of parentheses / operators / calls that is accepted.
#: A flat chain such as ``x + x + ... + x`` counts as depth 1.
MAX_NESTING_DEPTH: int = 100

_VARIABLE = "x"

#: Named constants that may appear in a formula.
CONSTANTS: Mapping[str, float] = MappingProxyType({"pi": math.pi, "e": math.e})

_SEGMENT_MAX = 60


class FormulaError(ValueError):
    """A formula text was rejected.

    The message is a single line that says what is not allowed and, where
    possible, quotes the offending part of the text and its 1-based column.

    Parameters
    ----------
    message : str
        Human-readable, one-line description.
    column : int or None, optional
        1-based character column of the offending part of `text`, if known.
    text : str or None, optional
        The formula text that was rejected.

    Examples
    --------
    >>> try:
    ...     parse_formula("x + y")
    ... except FormulaError as err:
    ...     print(err, "|", err.column)
    unknown name 'y' at column 5 (the variable is x; constants: pi, e) | 5
    """

    def __init__(self, message: str, column: int | None = None, text: str | None = None) -> None:
        message = " ".join(str(message).split())  # guarantee a single line
        super().__init__(message)
        self.column = column
        self.text = text


# ---------------------------------------------------------------------------
# Whitelisted functions. Each takes and returns float64 arrays (0-d included).
# ---------------------------------------------------------------------------


def _sc() -> Any:
    """``scipy.special``, imported on first use so ``import relusum`` stays cheap."""
    import scipy.special

    return scipy.special


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function (scipy.special.erf)."""
    return _sc().erf(x)


def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function (scipy.special.erfc)."""
    return _sc().erfc(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid ``1/(1+exp(-x))``, computed stably."""
    return _sc().expit(x)


def _softplus(x: np.ndarray) -> np.ndarray:
    """Softplus ``log(1+exp(x))``, computed stably as ``log1p(exp(-|x|)) + max(x, 0)``."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def _relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(x, 0)`` (nan propagates)."""
    return np.maximum(x, 0.0)


def _leaky_relu(x: np.ndarray) -> np.ndarray:
    """Leaky ReLU with negative slope 0.01 (PyTorch's default)."""
    return np.where(x >= 0.0, x, 0.01 * x)


def _elu(x: np.ndarray) -> np.ndarray:
    """Exponential linear unit with alpha = 1: ``x`` for x > 0, ``exp(x) - 1`` otherwise."""
    return np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0)))


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU ``x*Phi(x) = 0.5*x*(1 + erf(x/sqrt(2)))`` (not the tanh approximation)."""
    return x * _sc().ndtr(x)


def _silu(x: np.ndarray) -> np.ndarray:
    """SiLU / swish ``x*sigmoid(x)``; equals 0 at ``x = -inf``."""
    out = np.asarray(x * _sc().expit(x))
    return np.where(np.isneginf(x), 0.0, out)


def _step(x: np.ndarray) -> np.ndarray:
    """Heaviside step: 0 for x < 0 and 1 for x >= 0 (nan for nan)."""
    return np.heaviside(x, 1.0)


def _gauss(x: np.ndarray) -> np.ndarray:
    """Unnormalised Gaussian bump ``exp(-x**2)``."""
    return np.exp(-np.square(x))


FUNCTIONS: Mapping[str, tuple[Callable[..., Any], int]] = MappingProxyType(
    {
        # trigonometric
        "sin": (np.sin, 1),
        "cos": (np.cos, 1),
        "tan": (np.tan, 1),
        "arcsin": (np.arcsin, 1),
        "arccos": (np.arccos, 1),
        "arctan": (np.arctan, 1),
        "asin": (np.arcsin, 1),
        "acos": (np.arccos, 1),
        "atan": (np.arctan, 1),
        "arctan2": (np.arctan2, 2),
        "atan2": (np.arctan2, 2),
        "hypot": (np.hypot, 2),
        "sinc": (np.sinc, 1),  # normalised: sin(pi*x)/(pi*x)
        # hyperbolic
        "sinh": (np.sinh, 1),
        "cosh": (np.cosh, 1),
        "tanh": (np.tanh, 1),
        "arcsinh": (np.arcsinh, 1),
        "arccosh": (np.arccosh, 1),
        "arctanh": (np.arctanh, 1),
        "asinh": (np.arcsinh, 1),
        "acosh": (np.arccosh, 1),
        "atanh": (np.arctanh, 1),
        # exponential and logarithms
        "exp": (np.exp, 1),
        "exp2": (np.exp2, 1),
        "expm1": (np.expm1, 1),
        "log": (np.log, 1),
        "log2": (np.log2, 1),
        "log10": (np.log10, 1),
        "log1p": (np.log1p, 1),
        "sqrt": (np.sqrt, 1),
        "cbrt": (np.cbrt, 1),
        # piecewise and rounding
        "abs": (np.abs, 1),
        "sign": (np.sign, 1),
        "floor": (np.floor, 1),
        "ceil": (np.ceil, 1),
        "trunc": (np.trunc, 1),
        "step": (_step, 1),
        "heaviside": (_step, 1),
        "min": (np.minimum, 2),
        "max": (np.maximum, 2),
        "mod": (np.mod, 2),
        # special functions
        "erf": (_erf, 1),
        "erfc": (_erfc, 1),
        "gauss": (_gauss, 1),
        # activation functions
        "sigmoid": (_sigmoid, 1),
        "softplus": (_softplus, 1),
        "relu": (_relu, 1),
        "leaky_relu": (_leaky_relu, 1),
        "elu": (_elu, 1),
        "gelu": (_gelu, 1),
        "silu": (_silu, 1),
        "swish": (_silu, 1),
    }
)

_BINARY_OPS: dict[type[ast.operator], tuple[Callable[..., Any], str]] = {
    ast.Add: (np.add, "+"),
    ast.Sub: (np.subtract, "-"),
    ast.Mult: (np.multiply, "*"),
    ast.Div: (np.true_divide, "/"),
    ast.Pow: (np.power, "**"),
    ast.Mod: (np.mod, "%"),
    ast.FloorDiv: (np.floor_divide, "//"),
}

_REJECTED_BINARY_OPS: dict[type[ast.operator], tuple[str, str]] = {
    ast.BitXor: ("^", "'^' is bitwise xor: use ** for powers"),
    ast.BitAnd: ("&", "'&' (bitwise and) is not allowed"),
    ast.BitOr: ("|", "'|' (bitwise or) is not allowed"),
    ast.LShift: ("<<", "'<<' (bit shift) is not allowed"),
    ast.RShift: (">>", "'>>' (bit shift) is not allowed"),
    ast.MatMult: ("@", "'@' (matrix multiplication) is not allowed: use * to multiply"),
}

_REJECTED_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts/indexing are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "list comprehensions are not allowed",
    ast.SetComp: "set comprehensions are not allowed",
    ast.DictComp: "dict comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Compare: "comparisons are not allowed (use step(x) or min/max instead)",
    ast.BoolOp: "boolean operators (and/or) are not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed (use step/min/max)",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Starred: "unpacking (*args) is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}

# Stack-program instructions.
_PUSH_CONST = 0  # (op, value)
_PUSH_X = 1  # (op,)
_APPLY = 2  # (op, func, nargs)

_Instruction = tuple[Any, ...]


class _Source:
    """The formula text prepared for parsing, plus helpers for error positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Whitespace of any kind becomes a plain space (1:1, so columns are kept); then
        # leading blanks are cut off because ast.parse rejects an indented expression.
        flat = "".join(" " if ch in "\t\n\r\f\v" else ch for ch in text)
        self.lead = len(flat) - len(flat.lstrip(" "))
        self.parsed = flat[self.lead :]
        self._encoded = self.parsed.encode("utf-8")

    def column(self, col_offset: int) -> int:
        """1-based column in the original text of a UTF-8 byte offset in the parsed text."""
        prefix = self._encoded[:col_offset].decode("utf-8", errors="replace")
        return self.lead + len(prefix) + 1

    def segment(self, node: ast.AST) -> str:
        """Source text of `node`, shortened if long."""
        seg = ast.get_source_segment(self.parsed, node) or ""
        return _shorten(seg)

    def where(self, node: ast.expr | ast.keyword) -> tuple[str, int]:
        """Quoted segment and column of `node`."""
        col = self.column(node.col_offset)
        return repr(self.segment(node)), col

    def fail(self, what: str, node: ast.expr | ast.keyword, suffix: str = "") -> FormulaError:
        """Build the error "<what>: '<segment>' at column N<suffix>"."""
        seg, col = self.where(node)
        return FormulaError(f"{what}: {seg} at column {col}{suffix}", col, self.text)


def _shorten(seg: str) -> str:
    return seg if len(seg) <= _SEGMENT_MAX else seg[: _SEGMENT_MAX - 3] + "..."


def _literal_to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # int literal beyond float64 range
        return math.inf


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _non_ascii_message(ch: str, column: int) -> str:
    # Python's parser would silently NFKC-normalise fullwidth or mathematical letters
    # ("ｓｉｎ(ｘ)" -> "sin(x)"); refusing them keeps what is evaluated what was typed.
    name = unicodedata.name(ch, "unnamed character")
    plain = unicodedata.normalize("NFKC", ch)
    hint = f" (did you mean {plain!r}?)" if plain.isascii() and plain.strip() else ""
    return (
        f"character {ch!r} (U+{ord(ch):04X} {name}) at column {column} is not allowed: "
        f"formulas are written in ASCII{hint}"
    )


def _check_text(text: object) -> _Source:
    """Cheap checks on the raw text before it is handed to the parser."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, not {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(
            f"formula is too long: {len(text)} characters (at most {MAX_FORMULA_LENGTH})",
            None,
            text,
        )
    if not text.strip():
        raise FormulaError("empty formula: write an expression in x, e.g. sin(x)", None, text)
    depth = 0
    for i, ch in enumerate(text):
        if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ord(ch) == 127:
            raise FormulaError(
                f"control character U+{ord(ch):04X} is not allowed (column {i + 1})", i + 1, text
            )
        if ord(ch) > 127:
            raise FormulaError(_non_ascii_message(ch, i + 1), i + 1, text)
        if ch in "([{":
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise FormulaError(
                    f"formula is nested too deeply: more than {MAX_NESTING_DEPTH} levels of "
                    f"brackets (column {i + 1})",
                    i + 1,
                    text,
                )
        elif ch in ")]}":
            depth -= 1
    return _Source(text)


def _parse_tree(src: _Source) -> ast.expr:
    too_deep = FormulaError(
        f"formula is nested too deeply (at most {MAX_NESTING_DEPTH} levels)", None, src.text
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for "1if x else 2"
            tree = ast.parse(src.parsed, mode="eval")
    except SyntaxError as exc:
        msg = exc.msg or "invalid syntax"
        if "null bytes" in msg:
            raise FormulaError("null bytes are not allowed", None, src.text) from None
        if "too many nested parentheses" in msg:
            raise too_deep from None
        hint = ""
        if "decimal literal" in msg:
            hint = " (use * for multiplication, e.g. 2*x)"
        offset = exc.offset
        if exc.lineno not in (None, 1) or not offset or offset > len(src.parsed):
            where = f"at end of formula (column {len(src.text) + 1})"
            col = len(src.text) + 1
        else:
            col = src.lead + offset
            near = _shorten(src.parsed[offset - 1 : offset + 19])
            where = f"at column {col} (near {near!r})"
        raise FormulaError(f"syntax error: {msg} {where}{hint}", col, src.text) from None
    except (RecursionError, MemoryError):
        raise too_deep from None
    except ValueError as exc:  # e.g. integer string conversion limit
        raise FormulaError(f"cannot parse formula: {exc}", None, src.text) from None
    return tree.body


def _compile(src: _Source) -> tuple[tuple[_Instruction, ...], int | None]:
    """Validate the tree and translate it into a postfix stack program.

    Returns the program and the column of the first use of ``x`` (None if absent).
    Traversal is iterative so that long flat chains such as ``x+x+...+x`` cannot
    exhaust the Python stack.
    """
    body = _parse_tree(src)
    program: list[_Instruction] = []
    x_column: int | None = None
    # Work items: (node, depth, pending instruction or None). A node is expanded on
    # first visit; its instruction is emitted after its operands.
    stack: list[tuple[ast.AST | None, int, _Instruction | None]] = [(body, 1, None)]
    while stack:
        node, depth, emit = stack.pop()
        if node is None:
            assert emit is not None
            program.append(emit)
            continue
        if depth > MAX_NESTING_DEPTH:
            raise src.fail(
                f"formula is nested too deeply (more than {MAX_NESTING_DEPTH} levels)", node
            )
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None or value is Ellipsis:
                raise src.fail(f"constant {value!r} is not allowed", node)
            if isinstance(value, (str, bytes)):
                kind = "strings" if isinstance(value, str) else "bytes"
                raise src.fail(f"{kind} are not allowed", node)
            if isinstance(value, complex):
                raise src.fail("complex numbers are not allowed", node)
            if not isinstance(value, (int, float)):  # pragma: no cover - defensive
                raise src.fail("this literal is not allowed", node)
            program.append((_PUSH_CONST, np.float64(_literal_to_float(value))))
        elif isinstance(node, ast.Name):
            name = node.id
            if name == _VARIABLE:
                if x_column is None:
                    x_column = src.column(node.col_offset)
                program.append((_PUSH_X,))
            elif name in CONSTANTS:
                program.append((_PUSH_CONST, np.float64(CONSTANTS[name])))
            elif name in FUNCTIONS:
                raise src.fail(f"'{name}' is a function and must be called, e.g. {name}(x)", node)
            else:
                col = src.column(node.col_offset)
                hint = _suggest(name, [_VARIABLE, *CONSTANTS, *FUNCTIONS])
                raise FormulaError(
                    f"unknown name {_shorten(name)!r} at column {col} "
                    f"(the variable is x; constants: pi, e){hint}",
                    col,
                    src.text,
                )
        elif isinstance(node, ast.BinOp):
            op_type = type(node.op)
            if op_type in _REJECTED_BINARY_OPS:
                symbol, message = _REJECTED_BINARY_OPS[op_type]
                col = _operator_column(src, node, symbol)
                raise FormulaError(f"{message} (column {col})", col, src.text)
            if op_type not in _BINARY_OPS:  # pragma: no cover - defensive
                raise src.fail("this operator is not allowed", node)
            func = _BINARY_OPS[op_type][0]
            stack.append((None, depth, (_APPLY, func, 2)))
            stack.append((node.right, depth + 1, None))
            # The left operand stays at the same depth: "a + b + c" is flat.
            stack.append((node.left, depth, None))
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                stack.append((None, depth, (_APPLY, np.negative, 1)))
            elif isinstance(node.op, ast.UAdd):
                stack.append((None, depth, (_APPLY, np.positive, 1)))
            elif isinstance(node.op, ast.Invert):
                raise src.fail("'~' (bitwise not) is not allowed", node)
            else:
                raise src.fail("'not' is not allowed", node)
            stack.append((node.operand, depth + 1, None))
        elif isinstance(node, ast.Call):
            func_node = node.func
            if not isinstance(func_node, ast.Name):
                callee = repr(src.segment(func_node))
                raise src.fail(
                    f"calling {callee} is not allowed (only whitelisted functions may be called, "
                    "by bare name)",
                    node,
                )
            name = func_node.id
            if name == _VARIABLE or name in CONSTANTS:
                raise src.fail(f"'{name}' is not a function (write * for multiplication)", node)
            if name not in FUNCTIONS:
                col = src.column(func_node.col_offset)
                hint = _suggest(name, list(FUNCTIONS))
                raise FormulaError(
                    f"unknown function {_shorten(name)!r} at column {col}{hint}", col, src.text
                )
            for kw in node.keywords:
                if kw.arg is None:
                    raise src.fail("unpacking (**kwargs) is not allowed", kw)
                raise src.fail("keyword arguments are not allowed", kw)
            for arg in node.args:
                # Report a forbidden argument (e.g. a generator) before a wrong arity.
                if type(arg) in _REJECTED_NODES:
                    raise src.fail(_REJECTED_NODES[type(arg)], arg)
            func, arity = FUNCTIONS[name]
            if len(node.args) != arity:
                plural = "argument" if arity == 1 else "arguments"
                given = len(node.args)
                verb = "was" if given == 1 else "were"
                raise src.fail(f"{name}() takes {arity} {plural} but {given} {verb} given", node)
            stack.append((None, depth, (_APPLY, func, arity)))
            for arg in reversed(node.args):
                stack.append((arg, depth + 1, None))
        else:
            what = _REJECTED_NODES.get(type(node))
            if what is None:
                what = f"{type(node).__name__} expressions are not allowed"
            raise src.fail(what, node)
    return tuple(program), x_column


def _operator_column(src: _Source, node: ast.BinOp, symbol: str) -> int:
    """1-based column of the operator token of a binary operation."""
    start = node.left.end_col_offset
    stop = node.right.col_offset
    if start is None:  # pragma: no cover - always set by ast.parse
        return src.column(node.col_offset)
    between = src._encoded[start:stop]
    index = between.find(symbol.encode())
    return src.column(start + max(index, 0))


def _run(program: tuple[_Instruction, ...], x: np.ndarray | None) -> np.ndarray:
    """Execute a stack program; `x` may be None for constant programs."""
    stack: list[Any] = []
    with np.errstate(all="ignore"):
        for instruction in program:
            code = instruction[0]
            if code == _PUSH_CONST:
                stack.append(instruction[1])
            elif code == _PUSH_X:
                stack.append(x)
            else:
                func, nargs = instruction[1], instruction[2]
                args = stack[-nargs:]
                del stack[-nargs:]
                stack.append(func(*args))
    (result,) = stack
    return np.asarray(result, dtype=np.float64)


class Formula:
    """A validated formula in ``x``, callable on scalars and numpy arrays.

    Instances are immutable. ``Formula(text)`` is the same as
    ``parse_formula(text)``.

    Parameters
    ----------
    text : str
        The formula, e.g. ``"sin(x) + 0.5*relu(x - 1)"``.

    Attributes
    ----------
    text : str
        The formula text, exactly as given.
    is_constant : bool
        True if the formula does not mention ``x``.

    Raises
    ------
    FormulaError
        If the text is not a valid formula (see the module docstring).

    Examples
    --------
    >>> f = Formula("x**2 - 1")
    >>> f(3.0)
    8.0
    >>> f([[0.0, 1.0], [2.0, 3.0]]).shape
    (2, 2)
    >>> Formula("2*pi").is_constant
    True
    """

    __slots__ = ("text", "is_constant", "_program", "_constant", "_x_column")

    text: str
    is_constant: bool

    def __init__(self, text: str) -> None:
        src = _check_text(text)
        program, x_column = _compile(src)
        constant = None if x_column is not None else float(_run(program, None))
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "is_constant", x_column is None)
        object.__setattr__(self, "_program", program)
        object.__setattr__(self, "_constant", constant)
        object.__setattr__(self, "_x_column", x_column)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Formula objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Formula objects are immutable")

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Formula, (self.text,))

    def __call__(self, x: ArrayLike) -> np.ndarray | float:
        """Evaluate the formula elementwise.

        Parameters
        ----------
        x : array_like
            Points at which to evaluate; converted to float64.

        Returns
        -------
        numpy.ndarray or float
            float64 array of the same shape as `x`, or a Python float if `x`
            is a scalar (or 0-d array). Overflow gives ``inf`` and invalid
            operations give ``nan``; no warnings are emitted.

        Examples
        --------
        >>> Formula("gelu(x)")(0.0)
        0.0
        >>> Formula("3")([1.0, 2.0]).tolist()
        [3.0, 3.0]
        """
        xa = np.asarray(x, dtype=np.float64)
        if self._constant is not None:
            result = np.full(xa.shape, self._constant, dtype=np.float64)
        else:
            result = _run(self._program, xa)
            if result.shape != xa.shape:
                result = np.broadcast_to(result, xa.shape).copy()
        if xa.ndim == 0:
            return float(result)
        return result

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Formula):
            return NotImplemented
        return self.text == other.text

    def __hash__(self) -> int:
        return hash((Formula, self.text))


def parse_formula(text: str) -> Formula:
    """Parse and fully validate a formula in ``x``.

    All checks (syntax, allowed constructs, known names, function arity,
    length and nesting limits) happen here, before anything is evaluated.

    Parameters
    ----------
    text : str
        Formula text such as ``"sin(x)"``, ``"relu(x-1) - relu(x+1)"`` or ``"2*pi"``.

    Returns
    -------
    Formula
        An immutable, vectorised callable.

    Raises
    ------
    FormulaError
        With a one-line message naming the offending part of the text.

    Examples
    --------
    >>> f = parse_formula("-x**2")
    >>> f(3.0)
    -9.0
    >>> try:
    ...     parse_formula("x^2")
    ... except FormulaError as err:
    ...     print(err)
    '^' is bitwise xor: use ** for powers (column 2)
    """
    return Formula(text)


def evaluate_constant(text: str) -> float:
    """Evaluate a formula that must not mention ``x``, e.g. a domain end.

    Parameters
    ----------
    text : str
        Constant expression such as ``"2*pi"``, ``"-pi"`` or ``"1e-3"``.

    Returns
    -------
    float
        The finite value.

    Raises
    ------
    FormulaError
        If the text is not a valid formula, mentions ``x``, or its value is not
        finite.

    Examples
    --------
    >>> evaluate_constant("-pi/2")
    -1.5707963267948966
    >>> evaluate_constant("1e-3")
    0.001
    """
    formula = parse_formula(text)
    if formula._constant is None:
        col = formula._x_column
        raise FormulaError(
            f"a constant is expected here, but the variable 'x' appears at column {col}",
            col,
            text,
        )
    value = formula._constant
    if not math.isfinite(value):
        raise FormulaError(f"constant {_shorten(text)!r} is not finite (it is {value})", None, text)
    return value
