"""Tests of dacon_engine.matching."""
