"""Answers: the JSON printed from columns equals the JSON of one dict per instance."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from logitkit.serve.answers import Answers

_PROBABILITIES = st.floats(0.0, 1.0, allow_nan=False) | st.sampled_from(
    [0.0, 1.0, 5e-324, 1e-300, 0.1, 1 / 3, 1 - 2**-53]
)


@st.composite
def answers(draw):
    n_classes = draw(st.integers(2, 4))
    n = draw(st.integers(0, 30))
    proba = np.array(
        draw(
            st.lists(
                st.lists(_PROBABILITIES, min_size=n_classes, max_size=n_classes),
                min_size=n,
                max_size=n,
            )
        ),
        dtype=np.float64,
    ).reshape(n, n_classes)
    classes = draw(
        st.sampled_from(
            [
                ("benign", "malignant", "other", "x"),
                (0, 1, 2, 3),
                ('quo"te', "üñí", "back\\slash", "tab\t"),
                ("50%", "%s", "%%", "a%d"),
            ]
        )
    )[:n_classes]
    index = proba.argmax(axis=1) if n else np.zeros(0, dtype=np.intp)
    labels = [classes[i] for i in index.tolist()]
    decisions = draw(
        st.lists(st.sampled_from([*classes, "review", "high risk"]), min_size=n, max_size=n)
    )
    threshold = draw(st.none() | st.floats(0.0, 1.0))
    column = draw(st.integers(0, n_classes - 1))
    return Answers(
        tuple(str(c) for c in classes), labels, proba[:, column], proba, decisions, threshold
    )


@settings(max_examples=200, deadline=None)
@given(answers())
def test_printed_columns_equal_the_dicts_byte_for_byte(a):
    assert a.predictions_json() == orjson.dumps(a.predictions())
    assert orjson.loads(a.predictions_json()) == a.predictions()


def test_a_logged_row_gives_the_same_answers(demo_model):
    from logitkit.serve.log import COLUMNS
    from logitkit.serve.logged import _log_row
    from logitkit.serve.predictor import load_predictor

    model = load_predictor(demo_model, name="m", max_batch=100)
    X = np.random.default_rng(0).normal(size=(7, len(model.columns))) * 50
    out = model.predict(X)
    row = _log_row(model, "r", "[]", out, "2026-01-01")
    stored = dict(zip(COLUMNS, row, strict=True))
    fresh, logged = Answers.of(model, out), Answers.logged(model, stored)
    assert logged.predictions_json() == fresh.predictions_json()
    assert logged.predictions() == fresh.predictions()
