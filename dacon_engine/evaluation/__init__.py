"""Evaluation: the BasicPBC / DACoN metrics and the held-out quality suites."""
