"""Tests of dacon_engine.training."""
