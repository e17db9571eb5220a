"""Tests of dacon_engine.jobs."""
