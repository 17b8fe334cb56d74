"""A tiny HTML builder that escapes by default, and number formatting for readers.

Every string becomes text (escaped) unless it is :class:`Html`, which only this module's
builders (and figures built with them) produce. So a feature name such as
``<img src=x onerror=alert(1)>`` is shown as those characters, never parsed as markup, in
element text and in attribute values alike.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from typing import Any

__all__ = [
    "Html",
    "el",
    "esc",
    "figure",
    "fmt_count",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "fmt_prob",
    "join",
    "json_for_script",
    "missing",
    "section",
    "table",
]

#: Elements without content or closing tag.
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col", "wbr"})
#: Elements of SVG without content are written self-closed.
_SVG_EMPTY = frozenset({"line", "circle", "rect", "path", "polyline", "polygon"})


class Html(str):
    """Markup that is already safe: the builders never escape it again.

    Examples
    --------
    >>> el("b", "<x>") == Html("<b>&lt;x&gt;</b>")
    True
    """

    __slots__ = ()


def esc(value: object) -> Html:
    """Escape any value as HTML text (``Html`` passes through unchanged).

    Examples
    --------
    >>> esc('<a href="x">')
    '&lt;a href=&quot;x&quot;&gt;'
    """
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def _children(items: Iterable[Any]) -> str:
    parts: list[str] = []
    for item in items:
        if item is None or item is False:
            continue
        if isinstance(item, str | int | float):
            parts.append(esc(item))
        else:
            parts.append(_children(item))
    return "".join(parts)


def join(*children: Any) -> Html:
    """Concatenate children (strings are escaped, ``None`` is skipped).

    Examples
    --------
    >>> join("a<", el("i", "b"), None)
    'a&lt;<i>b</i>'
    """
    return Html(_children(children))


def el(tag: str, *children: Any, **attrs: Any) -> Html:
    """One element: ``el("a", "text", href="#x", class_="c")``.

    Attribute names drop a trailing underscore and turn other underscores into
    hyphens (``aria_label`` -> ``aria-label``, ``class_`` -> ``class``); ``True``
    writes a bare attribute and ``None`` or ``False`` leaves it out. Values and
    text are escaped.

    Examples
    --------
    >>> el("p", "1 < 2", class_="note", hidden=True)
    '<p class="note" hidden>1 &lt; 2</p>'
    """
    parts = [tag]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(name)
        else:
            parts.append(f'{name}="{esc(value)}"')
    opening = "<" + " ".join(parts)
    if tag in _VOID:
        return Html(opening + ">")
    if tag in _SVG_EMPTY and not children:
        return Html(opening + "/>")
    return Html(f"{opening}>{_children(children)}</{tag}>")


def json_for_script(data: Any) -> Html:
    """JSON safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u`` escapes, so no value can close the
    script element (``</script>``) or open a comment; the parsed data are unchanged.

    Examples
    --------
    >>> json_for_script({"name": "</script>"})
    '{"name":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(data, allow_nan=False, ensure_ascii=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Html(text)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits ("n/a" when missing).

    Examples
    --------
    >>> fmt_num(0.123456), fmt_num(1234567.0), fmt_num(None)
    ('0.123', '1.23e+06', 'n/a')
    """
    x = _finite(value)
    if x is None:
        return "n/a"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def fmt_prob(value: Any) -> str:
    """A probability or threshold: 3 decimals in [0.01, 0.99], 2 significant digits beyond.

    Examples
    --------
    >>> fmt_prob(0.5), fmt_prob(0.000856), fmt_prob(0.99971), fmt_prob(0.3752)
    ('0.500', '0.00086', '0.99971', '0.375')
    """
    x = _finite(value)
    if x is None:
        return "n/a"
    if 0.01 <= x <= 0.99 or x in (0.0, 1.0):
        return f"{x:.3f}"
    if x < 0.01:
        return f"{x:.2g}"
    tail = 1.0 - x  # 0.99971 -> 0.00029 -> 2 significant digits of the tail
    decimals = max(3, -math.floor(math.log10(tail)) + 1)
    return f"{x:.{decimals}f}"


def fmt_p(value: Any) -> str:
    """A p-value: three decimals, or "< 0.001".

    Examples
    --------
    >>> fmt_p(0.0412), fmt_p(0.99871), fmt_p(1e-9)
    ('0.041', '0.999', '< 0.001')
    """
    x = _finite(value)
    if x is None:
        return "n/a"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage.

    Examples
    --------
    >>> fmt_pct(0.3726), fmt_pct(None)
    ('37.3%', 'n/a')
    """
    x = _finite(value)
    return "n/a" if x is None else f"{100.0 * x:.{digits}f}%"


def fmt_count(value: Any) -> str:
    """A count with thousands separators.

    Examples
    --------
    >>> fmt_count(12345)
    '12,345'
    """
    x = _finite(value)
    return "n/a" if x is None else f"{round(x):,}"


def section(anchor: str, heading: str, intro: Any, *body: Any) -> Html:
    """A report section: heading, a plain-language introduction, then the body.

    Examples
    --------
    >>> section("data", "Data", "What the model saw.").startswith('<section id="data"')
    True
    """
    return el(
        "section",
        el("h2", heading, id=f"{anchor}-h"),
        el("p", intro, class_="intro") if intro else None,
        *body,
        id=anchor,
        aria_labelledby=f"{anchor}-h",
    )


def figure(svg: Html, caption: Any) -> Html:
    """A figure with a caption that says how to read it.

    Examples
    --------
    >>> figure(Html("<svg></svg>"), "How to read it.")
    '<figure><svg></svg><figcaption>How to read it.</figcaption></figure>'
    """
    return el("figure", svg, el("figcaption", caption))


def missing(text: Any) -> Html:
    """A note that something is not shown, and why.

    Examples
    --------
    >>> missing("No data.")
    '<p class="missing">No data.</p>'
    """
    return el("p", text, class_="missing")


def table(
    headers: list[Any], rows: list[list[Any]], *, caption: Any = None, numeric_from: int = 1
) -> Html:
    """A table; columns from ``numeric_from`` on are right-aligned numbers.

    Examples
    --------
    >>> table(["term", "coef"], [["age", "0.5"]]).count("<td")
    1
    """
    head = el(
        "tr",
        [
            el("th", h, scope="col", class_="num" if i >= numeric_from else None)
            for i, h in enumerate(headers)
        ],
    )
    body = [
        el(
            "tr",
            [
                el("th", c, scope="row")
                if i == 0
                else el("td", c, class_="num" if i >= numeric_from else None)
                for i, c in enumerate(row)
            ],
        )
        for row in rows
    ]
    return el(
        "div",
        el(
            "table",
            el("caption", caption) if caption else None,
            el("thead", head),
            el("tbody", body),
        ),
        class_="table-wrap",
    )
