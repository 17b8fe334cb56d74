"""R-style formulas through formulaic, with their learned state stored as plain JSON.

A formula such as ``"outcome ~ age + C(region) + age:income + bs(debt, 4)"`` turns the
raw columns into model columns: interactions, categorical contrasts, polynomial and
spline terms. Some terms learn from the training rows (the spline knots and bounds of
``bs``, the levels of ``C(region)``, the centre of ``center``); serving must apply the
same, learned values, never values re-learned from the rows it serves.

formulaic keeps that state on its ``ModelSpec``, which can only be pickled. We store
instead the normalised formula string, formulaic's ``transform_state`` (the stateful
transforms' learned values) and ``encoder_state`` (the levels of each categorical
factor), converted by a small lossless JSON codec (numpy scalars and arrays, tuples and
dicts with non-string keys are tagged), and rebuild a ``ModelSpec`` from them to serve.

formulaic evaluates each term as a Python expression, so a formula read from a file is
checked before anything is evaluated: a term may only call the allowed transforms
(:data:`ALLOWED_FUNCTIONS`, ``np.<f>`` for f in :data:`ALLOWED_NUMPY`, ``contr.<kind>``)
on the raw columns, with literals and arithmetic; names, attributes, subscripts and
anything else are refused. A model file therefore cannot carry code in its formula.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.exceptions import DataError

__all__ = [
    "ALLOWED_FUNCTIONS",
    "ALLOWED_NUMPY",
    "MAX_STATE_STRING",
    "MAX_STATE_VALUES",
    "FormulaTerms",
    "check_state",
    "decode_state",
    "encode_state",
    "split_formula",
]

#: Transforms a formula term may call (formulaic's names).
ALLOWED_FUNCTIONS = frozenset(
    {
        "C",
        "I",
        "Q",
        "bs",
        "cc",
        "cr",
        "cs",
        "center",
        "scale",
        "standardize",
        "poly",
        "log",
        "log2",
        "log10",
        "exp",
        "exp2",
        "Treatment",
        "Sum",
        "Helmert",
        "Diff",
        "Poly",
    }
)
#: numpy functions a formula term may call as ``np.<name>``.
ALLOWED_NUMPY = frozenset(
    {"log", "log1p", "log2", "log10", "exp", "expm1", "sqrt", "abs", "square", "tanh", "sign"}
)
_CONTRASTS = frozenset({"treatment", "sum", "helmert", "diff", "poly"})
_OPERATORS = (
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.BitAnd,
    ast.BitOr,
    ast.Invert,
    ast.Gt,
    ast.GtE,
    ast.Lt,
    ast.LtE,
    ast.Eq,
    ast.NotEq,
)
_NODES = (
    ast.Expression,
    ast.keyword,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.List,
    ast.Tuple,
    ast.Load,
    *_OPERATORS,
)
_BACKTICKED = re.compile(r"`[^`]*`")
_QUOTED_COLUMN = "quoted_column"
_INTERCEPT = "Intercept"


# --------------------------------------------------------------------------- parsing
def split_formula(text: str) -> tuple[str | None, str]:
    """Split ``"target ~ terms"`` into the target column and the right-hand side.

    Parameters
    ----------
    text : str
        A formula with or without a left-hand side.

    Returns
    -------
    (str or None, str)
        The target column (None without ``~``) and the right-hand side.

    Examples
    --------
    >>> split_formula("outcome ~ age + C(region)")
    ('outcome', 'age + C(region)')
    >>> split_formula("age + bs(debt, 4)")
    (None, 'age + bs(debt, 4)')
    """
    if text.count("~") > 1:
        msg = f"The formula {text!r} has more than one '~'; write 'target ~ terms'."
        raise DataError(msg)
    if "~" not in text:
        return None, text.strip()
    lhs, rhs = (part.strip() for part in text.split("~"))
    lhs = lhs.strip("`")
    if not rhs:
        msg = f"The formula {text!r} has no terms after '~'."
        raise DataError(msg)
    return (lhs or None), rhs


def _check_expression(expr: str, columns: set[str]) -> set[str]:
    """Refuse a Python term that does anything but call allowed transforms on columns.

    Returns the columns the term reads.
    """
    used = {m[1:-1] for m in _BACKTICKED.findall(expr)}
    source = _BACKTICKED.sub(_QUOTED_COLUMN, expr)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        msg = f"The formula term {expr!r} is not a valid expression."
        raise DataError(msg) from None
    allowed_names = columns | ALLOWED_FUNCTIONS | {_QUOTED_COLUMN}
    # Module names ("np", "contr") are checked with the attribute they are the base of.
    bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        bad: str | None = None
        if isinstance(node, ast.Name):
            if node.id in columns and id(node) not in bases:
                used.add(node.id)
            if node.id not in allowed_names and id(node) not in bases:
                bad = f"the name {node.id!r} (neither a column nor an allowed transform)"
        elif isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else None
            ok = (base in ("np", "numpy") and node.attr in ALLOWED_NUMPY) or (
                base == "contr" and node.attr in _CONTRASTS
            )
            if not ok:
                bad = f"the attribute {ast.unparse(node)!r}"
        elif isinstance(node, ast.Call):
            func = node.func
            if not (
                (isinstance(func, ast.Name) and func.id in ALLOWED_FUNCTIONS)
                or isinstance(func, ast.Attribute)
            ):
                bad = f"a call of {ast.unparse(func)!r} (not an allowed transform)"
            elif isinstance(func, ast.Name) and func.id == "Q":
                used |= {str(a.value) for a in node.args if isinstance(a, ast.Constant)}
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | bool | type(None)):
                bad = f"the literal {node.value!r}"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (
                isinstance(exponent, ast.Constant)
                and isinstance(exponent.value, int | float)
                and abs(exponent.value) <= 10
            ):
                bad = "a power whose exponent is not a number between -10 and 10"
        elif not isinstance(node, _NODES):
            bad = f"a {type(node).__name__} expression"
        if bad is not None:
            msg = (
                f"The formula term {expr!r} uses {bad}, which logitkit does not evaluate. "
                f"Terms may use the columns, literals, arithmetic and comparisons, and call "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS))}, np.<{'|'.join(sorted(ALLOWED_NUMPY))}> "
                "and contr.<treatment|sum|helmert|diff|poly>."
            )
            raise DataError(msg)
    return used


def _parse(rhs: str, order: Sequence[str]) -> tuple[Any, set[str]]:
    """formulaic's parsed right-hand side, checked term by term before any evaluation,
    and the columns it reads."""
    from formulaic import Formula  # noqa: PLC0415 - formulaic is loaded only for formulas
    from formulaic.errors import FormulaicError  # noqa: PLC0415
    from formulaic.formula import SimpleFormula  # noqa: PLC0415
    from formulaic.parser.types import Factor  # noqa: PLC0415

    columns = set(order)
    try:
        # "." stands for every column; expanded here, so the stored formula names them.
        context = {"__formulaic_variables_available__": list(order)}
        formula = Formula.from_spec(rhs, context=context)
    except (FormulaicError, SyntaxError, ValueError) as exc:
        msg = f"Cannot parse the formula {rhs!r}: {exc}"
        raise DataError(msg) from None
    if not isinstance(formula, SimpleFormula):
        msg = f"The formula {rhs!r} must be one right-hand side ('a + b'), with at most one '~'."
        raise DataError(msg)
    factors = [factor for term in formula for factor in term.factors]
    if not any(f.eval_method is Factor.EvalMethod.LITERAL and f.expr == "1" for f in factors):
        msg = (
            f"The formula {rhs!r} removes the intercept ('- 1' or '+ 0'); logitkit always "
            "fits an intercept itself. Remove '- 1' / '+ 0' from the formula."
        )
        raise DataError(msg)
    used: set[str] = set()
    for factor in factors:
        if factor.eval_method is Factor.EvalMethod.PYTHON:
            used |= _check_expression(factor.expr, columns)
        elif (
            factor.eval_method is Factor.EvalMethod.LOOKUP and factor.expr.strip("`") not in columns
        ):
            msg = (
                f"The formula uses column {factor.expr!r}, which is not in the data; columns "
                f"are: {', '.join(sorted(columns))}."
            )
            raise DataError(msg, column=factor.expr)
        elif factor.eval_method is Factor.EvalMethod.LOOKUP:
            used.add(factor.expr.strip("`"))
    unknown = sorted(used - columns)
    if unknown:
        msg = (
            f"The formula uses column(s) {', '.join(map(repr, unknown))} that are not in the "
            f"data; columns are: {', '.join(sorted(columns))}."
        )
        raise DataError(msg, column=unknown[0])
    return formula, used


def _render(formula: Any) -> str:
    """The parsed formula as a string that parses back to it (names with spaces quoted)."""
    from formulaic.parser.types import Factor  # noqa: PLC0415

    def factor(f: Any) -> str:
        name = str(f.expr)
        if f.eval_method is Factor.EvalMethod.LOOKUP and not name.isidentifier():
            return name if name.startswith("`") else f"`{name}`"
        return name

    return " + ".join(":".join(factor(f) for f in term.factors) for term in formula)


# ------------------------------------------------------------------- the JSON codec
def encode_state(value: Any, where: str = "state") -> Any:
    """Lossless JSON form of formulaic's transform state (numbers, arrays, dicts, tuples).

    Raises
    ------
    DataError
        For a value that is not plain data (the formula then cannot be stored).

    Examples
    --------
    >>> import numpy as np
    >>> encode_state({"alpha": {0: np.float64(0.5)}})
    {'alpha': {'__dict__': [[0, {'__np__': '<f8', 'value': 0.5}]]}}
    >>> decode_state(encode_state((1, np.array([2.0]))))
    (1, array([2.]))
    """
    if value is None or isinstance(value, bool | str) or type(value) in (int, float):
        if isinstance(value, float) and not np.isfinite(value):
            return {"__float__": repr(value)}
        return value
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, float) and not np.isfinite(item):
            item = repr(item)
        return {"__np__": value.dtype.str, "value": item}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        data = [encode_state(v, where) for v in value.ravel().tolist()]
        return {"__ndarray__": value.dtype.str, "shape": list(value.shape), "data": data}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_state(v, where) for v in value]}
    if isinstance(value, list):
        return [encode_state(v, where) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode_state(v, where) for k, v in value.items()}
        return {
            "__dict__": [[encode_state(k, where), encode_state(v, where)] for k, v in value.items()]
        }
    msg = (
        f"The formula's {where} holds a {type(value).__name__}, which cannot be stored as "
        "JSON in the model file; use another transform for that term."
    )
    raise DataError(msg)


#: Most numbers and strings a formula's stored state may hold (knots, centres, levels);
#: the state is decoded for every request, so a larger one is refused when it is read.
MAX_STATE_VALUES = 100_000
#: Longest string in a formula's stored state (a level, a dtype or a key).
MAX_STATE_STRING = 10_000


def check_state(value: Any, where: str) -> None:
    """Refuse stored state that :func:`decode_state` would blow up, before decoding it.

    Arrays and scalars must be booleans or numbers of at most 8 bytes (``encode_state``
    writes no other), an array's shape must fit its data, and the whole state holds at
    most :data:`MAX_STATE_VALUES` values and no string longer than
    :data:`MAX_STATE_STRING` characters.

    Raises
    ------
    ValueError
        Naming ``where`` and what is wrong.

    Examples
    --------
    >>> check_state({"__ndarray__": "<U100000000", "shape": [1], "data": ["x"]}, "state")
    Traceback (most recent call last):
    ...
    ValueError: the formula's state holds an array of dtype '<U100000000'; only numbers of up to 8 bytes are stored
    """
    stack, count = [value], 0
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_STATE_VALUES:
            msg = f"the formula's {where} holds more than {MAX_STATE_VALUES:,} values"
            raise ValueError(msg)
        if isinstance(item, str) and len(item) > MAX_STATE_STRING:
            msg = f"the formula's {where} holds a string of {len(item):,} characters"
            raise ValueError(msg)
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            tag = item.get("__ndarray__", item.get("__np__"))
            if tag is not None:
                kind = "an array" if "__ndarray__" in item else "a number"
                try:
                    dtype = np.dtype(str(tag)[:MAX_STATE_STRING])
                except TypeError:
                    dtype = np.dtype(object)
                if dtype.kind not in "biuf" or dtype.itemsize > 8:
                    msg = (
                        f"the formula's {where} holds {kind} of dtype {str(tag)[:40]!r}; "
                        "only numbers of up to 8 bytes are stored"
                    )
                    raise ValueError(msg)
            if "__ndarray__" in item:
                shape, data = item.get("shape"), item.get("data")
                if (
                    not isinstance(shape, list)
                    or not isinstance(data, list)
                    or not all(isinstance(n, int) and 0 <= n <= len(data) for n in shape)
                    or int(np.prod(shape)) != len(data)
                ):
                    msg = f"the formula's {where} holds an array whose shape does not fit its data"
                    raise ValueError(msg)
            stack.extend(item.keys())
            stack.extend(item.values())


def decode_state(value: Any) -> Any:
    """Inverse of :func:`encode_state`.

    Examples
    --------
    >>> decode_state({"__dict__": [[0, 1.5]]})
    {0: 1.5}
    """
    if isinstance(value, list):
        return [decode_state(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__np__" in value:
        item = value["value"]
        return np.dtype(value["__np__"]).type(float(item) if isinstance(item, str) else item)
    if "__ndarray__" in value:
        data = [decode_state(v) for v in value["data"]]
        return np.array(data, dtype=np.dtype(value["__ndarray__"])).reshape(value["shape"])
    if "__tuple__" in value:
        return tuple(decode_state(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {decode_state(k): decode_state(v) for k, v in value["__dict__"]}
    return {k: decode_state(v) for k, v in value.items()}


def _without_contrasts(state: Any) -> Any:
    """Encoder state minus formulaic's ``contrasts`` objects (kept for introspection only;
    the ``categories`` are its source of truth)."""
    if isinstance(state, dict):
        return {k: _without_contrasts(v) for k, v in state.items() if k != "contrasts"}
    return state


# ------------------------------------------------------------------------ the terms
@dataclass(frozen=True)
class FormulaTerms:
    """A fitted formula: the terms, their learned state, and the model columns they make.

    Build one with :meth:`fit`; :meth:`to_dict` / :meth:`from_dict` store and rebuild it
    (no pickle), and :meth:`transform` applies it to new rows with the learned state.

    Attributes
    ----------
    formula : str
        The normalised right-hand side (``"1 + age + C(region) + bs(debt, 4)"``).
    variables : tuple of str
        The raw columns the terms read, in the order of the training frame.
    columns : tuple of str
        The model columns made (formulaic's names, without its ``Intercept``).
    transform_state, encoder_state : dict
        formulaic's learned state in :func:`encode_state` form.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "g": ["a", "b", "a", "c"]})
    >>> terms = FormulaTerms.fit("x + I(x ** 2) + C(g)", frame)
    >>> terms.columns
    ('x', 'I(x ** 2)', 'C(g)[T.b]', 'C(g)[T.c]')
    >>> terms.transform(frame.iloc[[3]]).tolist()
    [[4.0, 16.0, 0.0, 1.0]]
    """

    formula: str
    variables: tuple[str, ...]
    columns: tuple[str, ...]
    transform_state: dict[str, Any]
    encoder_state: dict[str, Any]

    @classmethod
    def fit(cls, rhs: str, frame: pd.DataFrame) -> FormulaTerms:
        """Learn the terms' state from the training rows (columns already typed, no NaN)."""
        formula, needed = _parse(rhs, [str(c) for c in frame.columns])
        matrix = _materialize(_spec(formula), frame)
        terms = cls._from_matrix(formula, needed, frame, matrix)
        _check_finite(_values(matrix, terms.columns), terms.columns)
        return terms

    @classmethod
    def from_state(
        cls,
        rhs: str,
        frame: pd.DataFrame,
        transform_state: dict[str, Any],
        categories: dict[str, list[Any]],
    ) -> FormulaTerms:
        """Terms whose state was learned elsewhere, e.g. in passes over batches of rows.

        Parameters
        ----------
        rhs : str
            The right-hand side, as for :meth:`fit`.
        frame : DataFrame
            Some rows of the typed columns (their values are not learned from).
        transform_state : dict
            formulaic's state of every stateful transform, keyed as formulaic keys it
            (plain values, not :func:`encode_state` form).
        categories : dict of str to list
            The levels of each categorical factor whose levels the data give.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
        >>> state = {"center(x)": {"ddof": 1, "center": np.float64(2.0), "scale": None}}
        >>> FormulaTerms.from_state("center(x)", frame.iloc[:1], state, {}) == (
        ...     FormulaTerms.fit("center(x)", frame))
        True
        """
        from formulaic.parser.types import Factor  # noqa: PLC0415

        formula, needed = _parse(rhs, [str(c) for c in frame.columns])
        encoder = {
            k: {"kind": Factor.Kind.CATEGORICAL.value, "state": {"categories": list(v)}}
            for k, v in categories.items()
        }
        spec = _spec(formula, encode_state(transform_state, "transform state"), encoder)
        return cls._from_matrix(formula, needed, frame, _materialize(spec, frame))

    @classmethod
    def _from_matrix(
        cls, formula: Any, needed: set[str], frame: pd.DataFrame, matrix: Any
    ) -> FormulaTerms:
        """The terms from formulaic's model matrix of ``frame`` (holding its spec)."""
        variables = tuple(str(c) for c in frame.columns if str(c) in needed)
        spec = matrix.model_spec
        return cls(
            formula=_render(formula),
            variables=variables,
            columns=tuple(str(c) for c in matrix.columns if c != _INTERCEPT),
            transform_state=encode_state(spec.transform_state, "transform state"),
            encoder_state={
                str(k): {
                    "kind": kind.value,
                    "state": encode_state(_without_contrasts(state), "encoder state"),
                }
                for k, (kind, state) in spec.encoder_state.items()
            },
        )

    def transform(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """The model columns of ``frame`` (raw columns typed as at training, no NaN)."""
        matrix = _materialize(_spec(self.formula, self.transform_state, self.encoder_state), frame)
        names = tuple(str(c) for c in matrix.columns if c != _INTERCEPT)
        if names != self.columns:
            msg = (
                "The formula made different columns from these rows than at training "
                f"({len(names)} instead of {len(self.columns)}); check the column types."
            )
            raise DataError(msg)
        values = _values(matrix, self.columns)
        _check_finite(values, self.columns)
        return values

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` rebuilds the same terms.

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
        >>> FormulaTerms.fit("center(x)", frame).to_dict()["columns"]
        ['center(x)']
        """
        return {
            "formula": self.formula,
            "variables": list(self.variables),
            "columns": list(self.columns),
            "transform_state": self.transform_state,
            "encoder_state": self.encoder_state,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FormulaTerms:
        """Rebuild from :meth:`to_dict`, checking every term before anything is evaluated.

        Raises
        ------
        DataError
            If a term uses anything but the allowed transforms on the stored columns.

        Examples
        --------
        >>> import pandas as pd
        >>> terms = FormulaTerms.fit("x + I(x ** 2)", pd.DataFrame({"x": [1.0, 2.0]}))
        >>> FormulaTerms.from_dict(terms.to_dict()) == terms
        True
        """
        variables = tuple(str(v) for v in data["variables"])
        check_state(data["transform_state"], "transform state")
        check_state(data["encoder_state"], "encoder state")
        _, needed = _parse(str(data["formula"]), variables)
        if not needed <= set(variables):
            msg = f"the formula reads columns {sorted(needed - set(variables))} it does not list"
            raise ValueError(msg)
        return cls(
            formula=str(data["formula"]),
            variables=variables,
            columns=tuple(str(c) for c in data["columns"]),
            transform_state=dict(data["transform_state"]),
            encoder_state={str(k): dict(v) for k, v in data["encoder_state"].items()},
        )


def _spec(
    formula: Any,
    transform_state: dict[str, Any] | None = None,
    encoder_state: dict[str, Any] | None = None,
) -> Any:
    """formulaic's ModelSpec for ``formula`` (with learned state, to apply it again)."""
    from formulaic import ModelSpec  # noqa: PLC0415 - formulaic is loaded only for formulas
    from formulaic.parser.types import Factor  # noqa: PLC0415

    return ModelSpec(
        formula=formula,
        materializer="pandas",
        ensure_full_rank=True,
        na_action="ignore",
        output="pandas",
        transform_state=decode_state(transform_state or {}),
        encoder_state={
            k: (Factor.Kind(v["kind"]), decode_state(v["state"]))
            for k, v in (encoder_state or {}).items()
        },
    )


def _context() -> dict[str, Any]:
    """What a term may call beyond formulaic's transforms: ``bs`` clipping by default.

    formulaic's ``bs`` refuses values outside the training range unless told otherwise;
    a served model meets such values, so here, as scikit-learn's SplineTransformer does
    by default, they get the basis of the nearest end (``extrapolation="clip"``). Write
    ``bs(x, 4, extrapolation="raise")`` (or ``"extend"``) to choose otherwise. Passing
    this mapping also keeps formulaic from offering the caller's variables to a term.
    """
    from formulaic.transforms import basis_spline, stateful_transform  # noqa: PLC0415

    def bs(x: Any, *args: Any, extrapolation: str = "clip", _state: Any = None, **kw: Any) -> Any:
        return basis_spline(x, *args, extrapolation=extrapolation, _state=_state, **kw)

    return {"bs": stateful_transform(bs)}


def _materialize(spec: Any, frame: pd.DataFrame) -> Any:
    """formulaic's model matrix, with its errors and warnings turned into DataError."""
    from formulaic.errors import DataMismatchWarning, FormulaicError  # noqa: PLC0415

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("error", DataMismatchWarning)
            return spec.get_model_matrix(frame, context=_context())
    except DataMismatchWarning as exc:
        msg = (
            f"A formula term meets a level it did not see in training: {exc}. Merge rare "
            "levels, or retrain on data that holds them."
        )
        raise DataError(msg) from None
    except (FormulaicError, ValueError, TypeError, KeyError, NameError) as exc:
        msg = f"Cannot evaluate the formula on these rows: {exc}"
        raise DataError(msg) from None


def _values(matrix: Any, columns: tuple[str, ...]) -> NDArray[np.float64]:
    frame = pd.DataFrame(matrix)
    return np.ascontiguousarray(frame.loc[:, list(columns)].to_numpy(dtype=np.float64))


def _check_finite(values: NDArray[np.float64], columns: tuple[str, ...]) -> None:
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    per_column = bad.sum(axis=0)
    parts = [
        f"'{columns[j]}' ({int(per_column[j])} row(s), first row {int(np.flatnonzero(bad[:, j])[0])})"
        for j in np.flatnonzero(per_column)
    ]
    j0 = int(np.flatnonzero(per_column)[0])
    msg = (
        "The formula gives NaN or infinite values in " + ", ".join(parts) + " (e.g. the log "
        "of a value <= 0); check those input values or change the term."
    )
    raise DataError(msg, column=columns[j0], row=int(np.flatnonzero(bad[:, j0])[0]))
