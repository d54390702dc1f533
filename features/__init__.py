"""What we know about a customer at a date: point-in-time features, eligibility and labels.

Pure library: functions take tables and a (customer_id, cutoff) spine and return frames. No file paths,
no MLflow, no printing.
"""
