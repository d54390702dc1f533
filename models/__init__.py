"""Learning and judging: estimator, baselines, metrics and explanations. No file paths, no MLflow."""
