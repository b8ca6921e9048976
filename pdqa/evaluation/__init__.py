"""Evaluation metrics for pdqa answers, citations, retrieval and abstention."""
