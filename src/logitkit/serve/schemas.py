"""Request and response bodies of the HTTP interface (separate from the log's tables).

The request body of ``/v1/predict`` and ``/v1/explain`` is built per model from its
features (:class:`logitkit.serve.predictor.Predictor`), so the OpenAPI schema names the
real features and their types; the models here are the parts that do not depend on it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
)

__all__ = [
    "REQUEST_ID_PATTERN",
    "DriftReport",
    "DriftTest",
    "ErrorBody",
    "ExplainResponse",
    "Explanation",
    "FeatureDrift",
    "FeedbackItem",
    "FeedbackRequest",
    "FeedbackResponse",
    "FieldError",
    "Health",
    "Label",
    "Labelled",
    "ModelFeature",
    "ModelInfo",
    "Performance",
    "PredictResponse",
    "Prediction",
    "RateShift",
    "ReloadResponse",
    "whole_number",
]

#: A request id: what ``X-Request-ID`` and feedback accept (and what the log stores).
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"

Label = str | int | float | bool


def _whole(value: float) -> int:
    if isinstance(value, float) and not value.is_integer():
        msg = "must be a whole number"
        raise ValueError(msg)
    return int(value)


def whole_number(low: float, high: float) -> Any:
    """An integer in ``[low, high]`` as JSON Schema means it: 3 and 3.0, not 3.5 nor "3".

    Examples
    --------
    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(whole_number(0, 10)).validate_json("3.0")
    3
    """
    schema = {"type": "integer", "minimum": low, "maximum": high}
    return Annotated[
        StrictInt | StrictFloat,
        Field(ge=low, le=high),
        AfterValidator(_whole),
        WithJsonSchema(schema),
    ]


class FieldError(BaseModel):
    """One problem with the request, and where it is."""

    field: str = Field(description="Where: 'instances[3].mean radius', 'X-Request-ID', ...")
    loc: list[str | int] = Field(description="The same place as a path of keys and indices.")
    type: str = Field(description="A stable code: missing, extra_forbidden, finite_number, ...")
    message: str = Field(description="What is wrong and what to send instead.")


class ErrorBody(BaseModel):
    """Every error answer (also the Open Inference Protocol's error object)."""

    error: str = Field(description="What went wrong and what to do, naming the field.")
    code: str = Field(description="A stable code for programs: validation_error, ...")
    errors: list[FieldError] = Field(default_factory=list)
    request_id: str | None = None


class Prediction(BaseModel):
    """The answer for one instance."""

    label: Label = Field(description="The most probable class (binary: the 0.5 rule).")
    probability: float = Field(
        description="Binary: the probability of the positive class; multiclass: of label."
    )
    probability_interval: list[float | None] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Only when the request sent 'interval': [low, high], the confidence "
        "interval of probability at that level (delta method on the log-odds; null bounds "
        "where the instance needs a coefficient without a standard error).",
    )
    probabilities: dict[str, float] = Field(description="Every class's probability.")
    decision: Label = Field(description="The decision under the threshold policy.")
    threshold: float | None = Field(description="The policy's threshold (null if none).")


class PredictResponse(BaseModel):
    """``POST /v1/predict``: one prediction per instance, in order."""

    model_version: str
    request_id: str
    predictions: list[Prediction]


class Contribution(BaseModel):
    """One feature's share of the log-odds."""

    feature: str = Field(description="The model column (a feature, or a level of one).")
    value: float = Field(description="The model column's value (0/1 for a category level).")
    coef: float = Field(description="The coefficient per unit, toward the target class.")
    contribution: float = Field(description="coef * (value - training mean).")


class Explanation(BaseModel):
    """Why one instance got its probability: log_odds = baseline + sum(contributions)."""

    label: Label
    probability: float
    decision: Label
    threshold: float | None
    target: Label = Field(description="The class whose log-odds (score) is explained.")
    log_odds: float
    baseline: float = Field(description="The log-odds at the training mean of every feature.")
    contributions: list[Contribution] = Field(description="Largest magnitude first.")


class ExplainResponse(BaseModel):
    """``POST /v1/explain``: one explanation per instance, in order."""

    model_version: str
    request_id: str
    explanations: list[Explanation]


class ModelFeature(BaseModel):
    """One feature the model takes."""

    name: str
    type: str = Field(description="float, int, bool or category.")
    nullable: bool = Field(description="Whether null is accepted (the training value is imputed).")
    levels: list[str] | None = None
    max_abs: float | None = Field(default=None, description="Largest accepted magnitude.")
    training: dict[str, float] | None = Field(
        default=None, description="min, max, mean and std over the training rows."
    )


class ModelInfo(BaseModel):
    """``GET /v1/model``: what is being served."""

    name: str
    version: str = Field(description="The artifact's SHA-256.")
    created: str | None
    logitkit_version: str | None
    loaded_at: str
    classes: list[Label]
    positive: Label | None
    features: list[ModelFeature]
    columns: list[str] = Field(description="The model's columns after encoding, coef order.")
    threshold: float | None
    policy: dict[str, Any] | None
    policy_source: str
    training: dict[str, Any]


class Health(BaseModel):
    """A health answer with the check behind it."""

    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class ReloadResponse(BaseModel):
    """``POST /admin/reload``: what is served now."""

    previous_version: str
    version: str
    changed: bool


class FeedbackItem(BaseModel):
    """The true label of a logged prediction."""

    model_config = ConfigDict(extra="forbid", strict=True)

    request_id: str = Field(pattern=REQUEST_ID_PATTERN, description="From the prediction.")
    instance: whole_number(0, 1_000_000) = Field(  # type: ignore[valid-type]
        default=0, description="Position in the batch."
    )
    label: Label = Field(description="The true class.")


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    feedback: list[FeedbackItem] = Field(min_length=1, max_length=10_000)


class FeedbackResponse(BaseModel):
    """How many labels were stored (all of them, or none)."""

    accepted: int


class DriftTest(BaseModel):
    """A drift test: its statistic, p-value, the threshold it is flagged above, the flag."""

    statistic: float
    p_value: float
    threshold: float = Field(description="Flag when the statistic exceeds this.")
    flagged: bool


class FeatureDrift(BaseModel):
    """How the window's values of one feature (or the score) compare with training."""

    feature: str
    n: int
    mean: float
    reference_mean: float
    psi: DriftTest
    ks: DriftTest
    flagged: bool


class RateShift(BaseModel):
    """Predicted-positive rate in the window against the rate expected from training.

    A window with fewer than ``rows_needed`` rows (5 expected rows of each decision) is
    not tested: its interval and p-value are null.
    """

    n: int
    observed: float
    expected: float
    reference_n: int
    difference: float
    rows_needed: int
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    flagged: bool


class Performance(BaseModel):
    """A confusion matrix (expected ones are sums of probabilities) and its rates."""

    n: int
    tp: float
    fp: float
    fn: float
    tn: float
    precision: float | None
    recall: float | None
    precision_ci: list[float] | None = Field(default=None, description="95% interval.")
    recall_ci: list[float] | None = Field(default=None, description="95% interval.")


class Labelled(BaseModel):
    """On the predictions with feedback: realised performance beside the expected."""

    n: int
    realised: Performance
    expected: Performance


class DriftReport(BaseModel):
    """``GET /v1/drift``: a window of logged inputs against the training distributions."""

    model_version: str
    n: int = Field(description="Rows in the window.")
    window: int = Field(description="Rows asked for.")
    first: str | None
    last: str | None
    alpha: float
    method: str
    features: list[FeatureDrift]
    score: FeatureDrift | None
    positive_rate: RateShift | None
    expected: Performance | None = Field(
        description="Expected confusion matrix on the unlabelled window (calibrated probabilities)."
    )
    labelled: Labelled | None
    flagged: list[str] = Field(description="What drifted: feature names, 'score', 'positive_rate'.")
    notes: list[str]
