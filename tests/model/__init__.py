"""Tests of dacon_engine.model."""
