"""Tests of dacon_engine.outputs."""
