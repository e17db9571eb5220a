"""Tests of dacon_engine.synth."""
