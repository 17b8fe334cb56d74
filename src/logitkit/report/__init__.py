"""The HTML report: one self-contained page that explains a model and its decisions.

:func:`build_report` renders it; ``logitkit report MODEL [DATA]`` and
``logitkit train --report report.html`` write it. Modules: :mod:`.build` (assembly and
the page template), :mod:`._context` (the inputs, checked and evaluated once),
:mod:`.sections` (decision rule, data, details), :mod:`.performance` (ROC,
precision-recall, calibration), :mod:`.decisions` (threshold curve, confusion
matrices), :mod:`.explorer` (the interactive threshold explorer), :mod:`.coefficients`
(forest plot and table), :mod:`.fitting` (cross-validation, diagnostics),
:mod:`.figures` (inline SVG plots) and :mod:`._html` (escaping builder, number formats).
The template, style and script are package data: ``template.html``, ``report.css`` and
``report.js``.
"""

from __future__ import annotations

from logitkit.report.build import build_report

__all__ = ["build_report"]
