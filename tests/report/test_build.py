"""``build_report``: the page's structure, escaping, offline-ness and graceful degradation."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

import logitkit
from logitkit import DataError, LogisticModel, ThresholdPolicy
from logitkit.evaluation import confusion_table
from logitkit.report import build_report
from logitkit.report._html import el, fmt_prob, json_for_script
from logitkit.report.performance import threshold_grid

SECTIONS = (
    "overview",
    "policy",
    "data",
    "discrimination",
    "calibration",
    "threshold",
    "confusion",
    "explorer",
    "coefficients",
    "cv",
    "diagnostics",
    "details",
)
HOSTILE = "<img src=x onerror=alert(1)>"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    parser.close()
    return parser


def explorer_json(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="lk-explorer-data">(.*?)</script>', page, re.DOTALL
    )
    assert match is not None
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def page(demo) -> str:
    return demo.page()


def test_every_section_is_present_with_its_plots(page):
    ids = {attrs.get("id") for tag, attrs in parse(page).tags if tag == "section"}
    assert set(SECTIONS) <= ids
    svgs = [
        attrs
        for tag, attrs in parse(page).tags
        if tag == "svg" and "plot" in (attrs.get("class") or "")
    ]
    # ROC, precision-recall, reliability, threshold curve, forest plot, CV curve
    assert len(svgs) == 6
    assert all(a.get("role") == "img" and a.get("aria-labelledby") for a in svgs)
    assert "Missing" not in page


def test_policy_is_stated_in_words(demo, page):
    t = fmt_prob(demo.policy.threshold)
    assert f"Flag as malignant when P(malignant) ≥ {t}; otherwise benign." in page
    assert "Chosen so that out-of-fold recall of malignant ≥ 0.995" in page
    assert repr(demo.policy.threshold) in page  # the exact threshold, for auditors


def test_the_page_is_offline_and_self_contained(page):
    assert "http://" not in page
    assert "https://" not in page
    tags = parse(page).tags
    assert not [t for t, a in tags if t in ("link", "img", "iframe", "object", "embed")]
    assert not [a for t, a in tags if "src" in a or ("href" in a and not a["href"].startswith("#"))]
    assert "@import" not in page
    assert "url(" not in page


def test_csp_allows_only_the_report_script(page):
    parser = parse(page)
    csp = next(a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in csp
    code = [
        s
        for s, (t, a) in zip(
            parser.scripts, [x for x in parser.tags if x[0] == "script"], strict=True
        )
        if "type" not in a
    ]
    assert len(code) == 1
    digest = base64.b64encode(hashlib.sha256(code[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_explorer_data_match_the_confusion_tables(demo, page):
    data = explorer_json(page)
    assert data["rows"] == "held-out rows"
    assert data["grid"][data["start"]] == demo.policy.threshold
    assert data["grid"][data["default"]] == 0.5
    assert len(data["pos"]) + len(data["neg"]) == len(demo.y_test)
    p = demo.model.predict_proba(demo.X_test)[:, 1]
    table = confusion_table(
        demo.y_test, p, positive="malignant", thresholds={"policy": demo.policy.threshold}
    )
    pos, neg = np.array(data["pos"]), np.array(data["neg"])
    t = data["grid"][data["start"]]
    assert (pos >= t).sum() == table["tp"][0]
    assert (neg >= t).sum() == table["fp"][0]
    assert f'<td id="ex-tp" class="good">{table["tp"][0]}</td>' in page


def test_hostile_names_and_labels_are_escaped_everywhere():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        rng.standard_normal((200, 3)), columns=[HOSTILE, "</script><script>x()</script>", "a&b"]
    )
    labels = np.array(["</script><b>bad</b>", "ok"])
    y = labels[(X.iloc[:, 0] + rng.standard_normal(200) > 0).astype(int)]
    model = LogisticModel().fit(X, y)
    p = model.predict_proba(X)[:, list(model.classes_).index(labels[0])]
    policy = ThresholdPolicy.fit(y, p, positive=labels[0], cost_fp=1.0, cost_fn=3.0, n_boot=0)
    page = build_report(model, X=X, y=y, policy=policy, oof=(y, p), title=f"{HOSTILE} report")
    assert HOSTILE not in page
    assert "<b>bad</b>" not in page
    assert "<script>x()" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    parser = parse(page)
    assert not [t for t, _ in parser.tags if t in ("img", "b")]
    assert sum(t == "script" for t, _ in parser.tags) == 2
    assert not [a for _, a in parser.tags if any(k.startswith("on") for k in a)]
    data = explorer_json(page)
    assert data["positive"] == labels[0]  # the JSON escapes keep the value intact
    assert "Expected cost per row" in page


def test_json_for_script_cannot_close_the_element():
    text = json_for_script({"a": "</script><!-- & -->"})
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & -->"}
    assert el("p", "x", title='"><script>') == '<p title="&quot;&gt;&lt;script&gt;">x</p>'


def test_a_bare_model_says_what_is_missing(demo):
    page = build_report(demo.model)
    assert set(SECTIONS) <= {a.get("id") for t, a in parse(page).tags if t == "section"}
    assert "No decision policy was given" in page
    assert "No labelled rows to evaluate" in page
    assert "Diagnostics were not run" in page
    assert "No cross-validation results were given" in page
    assert explorer_json(page) is None


def test_out_of_fold_rows_alone_drive_curves_and_explorer(demo):
    page = demo.page(X=None, y=None)
    assert explorer_json(page)["rows"] == "out-of-fold training rows"
    assert "On the out-of-fold training rows" in page
    assert len([a for t, a in parse(page).tags if t == "svg" and a.get("role") == "img"]) == 6


def test_a_loaded_model_uses_its_stored_policy(demo, tmp_path):
    path = logitkit.save(demo.model, tmp_path / "model.json", policy=demo.policy)
    model = logitkit.load(path)
    page = build_report(model, X=demo.X_test, y=demo.y_test)
    assert "Flag as malignant when P(malignant) ≥" in page
    assert model.artifact_["sha256"] in page
    assert explorer_json(page)["policy"] == demo.policy.threshold


def test_multiclass_gets_the_sections_that_apply():
    X, y = load_iris(return_X_y=True, as_frame=True)
    y = np.array(["setosa", "versicolor", "virginica"])[y]
    page = build_report(LogisticModel().fit(X, y), X=X, y=y)
    assert "Decided virginica" in page
    assert "Actually setosa" in page
    assert "versicolor vs setosa" in page
    assert "virginica vs setosa" in page
    assert "One-vs-rest ROC curves" in page
    assert "The threshold explorer applies to binary models." in page
    assert 'id="ex-slider"' not in page


def test_costs_draw_the_expected_cost_curve(demo):
    policy = ThresholdPolicy.fit(
        demo.y_train, demo.oof, positive="malignant", cost_fp=1.0, cost_fn=10.0
    )
    page = demo.page(policy=policy)
    assert "Expected cost against threshold" in page
    assert "each missed malignant row (false negative) costs 10" in page
    assert explorer_json(page)["costs"]["cost_fn"] == 10.0


def test_bad_inputs_raise_clear_errors(demo):
    with pytest.raises(DataError, match="does not know"):
        build_report(
            demo.model, X=demo.X_test, y=np.where(demo.y_test == "benign", "healthy", "malignant")
        )
    with pytest.raises(ValueError, match="both X and y"):
        build_report(demo.model, X=demo.X_test)
    with pytest.raises(ValueError, match="fitted model"):
        build_report(LogisticModel())


def test_threshold_grid_holds_the_policy_and_one_half():
    grid = threshold_grid(0.00086)
    assert 0.00086 in grid
    assert 0.5 in grid
    assert np.all(np.diff(grid) > 0)
    assert grid[0] < 0.00086


def test_missing_scores_are_left_out_of_the_plots(demo):
    cv = demo.cv.cv_results_.copy()
    cv.loc[cv.index[0], ["mean_score", "std_score"]] = np.nan
    page = demo.page(cv_results=cv)
    assert "Chosen: C =" in page
    assert not re.search(r"\bnan\b|\binf\b", page.split('id="lk-explorer-data"')[0], re.IGNORECASE)


def test_explorer_embeds_a_sample_of_many_rows(demo):
    from logitkit.report._context import gather
    from logitkit.report.explorer import explorer_data

    ctx = gather(
        demo.model,
        X=demo.X_test,
        y=demo.y_test,
        policy=demo.policy,
        oof=None,
        cv_results=None,
        findings=None,
        summary=None,
        title=None,
    )
    data, reason = explorer_data(ctx, max_rows=50)
    assert reason is None
    assert len(data["pos"]) + len(data["neg"]) == 50
    assert data["note"] == "A random sample of 50 of the 143 rows is used."


def test_policy_section_shows_counts_exact_intervals_and_caveats(demo, page):
    policy_html = page[page.index('<section id="policy"') :]
    policy_html = policy_html[: policy_html.index("</section>")]
    # The demo's threshold rests on one malignant row and 159 cannot show 0.995.
    assert demo.policy.n_positive == 159
    assert "The data cannot show the target" in policy_html
    assert "The threshold rests on too few rows" in policy_html
    assert "it would take at least 598 malignant rows".lower() in policy_html.lower()
    assert "rests on 1 row" in policy_html
    # The caveats come before the record, and they are cards a reader cannot miss.
    assert policy_html.index("The data cannot show the target") < policy_html.index(
        "How the rule performed"
    )
    assert policy_html.count('class="finding warning"') == 2
    # Counts and exact intervals, never a degenerate "1 to 1".
    assert "159 of 159" in policy_html
    assert "0.977 to 1" in policy_html
    assert "1 to 1<" not in policy_html
    assert "1.000 to 1.000" not in policy_html
    assert "exact (Clopper-Pearson)" in policy_html
    assert "bootstrap interval" not in policy_html
    # The sentences come from the policy's own describe().
    for sentence in demo.policy.describe()[2:4]:
        assert sentence.replace(">=", "&gt;=") in policy_html


def test_confusion_matrices_give_exact_intervals(page):
    confusion = page[page.index('<section id="confusion"') :]
    assert "Recall 1 (53 of 53; 95% exact interval 0.933 to 1)" in confusion


def test_a_confident_policy_and_an_old_policy_say_how_they_were_chosen(demo):
    confident = ThresholdPolicy.fit(
        demo.y_train, demo.oof, positive="malignant", min_recall=0.95, at_confidence=0.95
    )
    page = demo.page(policy=confident)
    assert "The target must hold for the 95% lower confidence bound" in page
    assert "The data cannot show the target" not in page
    # A version-1 policy (bootstrap intervals) is labelled as such.
    old = demo.policy.to_dict()
    old.update(format_version=1, bootstrap={"n_boot": 1000, "confidence": 0.95, "random_state": 0})
    for key in ("confidence", "interval_method", "evidence", "verification"):
        del old[key]
    page = demo.page(policy=ThresholdPolicy.from_dict(old))
    assert "(bootstrap)" in page
    assert "bootstrap percentile" in page


def _comparable(page: str) -> str:
    """The page without its timestamp and figure numbers (a counter of the process)."""
    page = re.sub(r"Generated [0-9-]+ [0-9:]+ UTC", "Generated", page)
    return re.sub(r"fig\d+", "fig", page)


@pytest.mark.parametrize("positive", ["benign", "malignant"])  # sorting first, then last
def test_a_trained_runs_report_shows_its_own_evaluation_without_sorting_again(
    monkeypatch, positive
):
    from logitkit.data.demo import load_demo
    from logitkit.report import _context

    result = logitkit.train(
        load_demo(), target="diagnosis", positive=positive, min_recall=0.95, fold_scheme="hash"
    )
    assert result.oof_evaluation is not None
    page = build_report(
        result.model,
        policy=result.policy,
        oof=result.oof,
        findings=result.findings,
        summary=result.summary,
        training=result.artifact_training(),
    )

    def sorted_again(*args, **kwargs):
        msg = "the out-of-fold rows were evaluated again"
        raise AssertionError(msg)

    monkeypatch.setattr(_context, "evaluate", sorted_again)
    assert _comparable(result.report()) == _comparable(page)
