"""Tests of dacon_engine.evaluation."""
