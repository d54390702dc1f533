"""Learning and judging: the combined model and its fitting, baselines, metrics, the backtest and explanations.
No file paths, no MLflow."""
