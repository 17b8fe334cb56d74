"""One router per resource: health, model, predict, explain, drift, feedback, admin, v2."""
