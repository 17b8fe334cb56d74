"""The breast-cancer demo, split and fitted as ``logitkit train`` does, for report tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

import logitkit
from logitkit import LogisticModel, LogisticModelCV, ThresholdPolicy
from logitkit.data.demo import DEMO_POSITIVE, DEMO_TARGET, load_demo
from logitkit.report import build_report


@dataclass
class Demo:
    model: LogisticModel
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    oof: np.ndarray  # out-of-fold P(malignant) of the training rows
    policy: ThresholdPolicy
    cv: LogisticModelCV
    findings: Any

    def page(self, **changes: Any) -> str:
        kwargs: dict[str, Any] = {
            "X": self.X_test,
            "y": self.y_test,
            "policy": self.policy,
            "oof": (self.y_train, self.oof),
            "cv_results": self.cv.cv_results_,
            "findings": self.findings,
            "title": "Breast-cancer screen",
        }
        kwargs.update(changes)
        return build_report(self.model, **kwargs)


@pytest.fixture(scope="session")
def demo() -> Demo:
    frame = load_demo()
    X, y = frame.drop(columns=[DEMO_TARGET]), frame[DEMO_TARGET].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    model = LogisticModel().fit(X_train, y_train)
    column = int(np.flatnonzero(model.classes_ == DEMO_POSITIVE)[0])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    oof = cross_val_predict(model, X_train, y_train, cv=folds, method="predict_proba")[:, column]
    policy = ThresholdPolicy.fit(y_train, oof, positive=DEMO_POSITIVE, min_recall=0.995)
    cv = LogisticModelCV(Cs=6).fit(X_train, y_train)
    findings = logitkit.diagnose(model, X_train, y_train)
    return Demo(model, X_train, y_train, X_test, y_test, oof, policy, cv, findings)
