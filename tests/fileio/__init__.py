"""Tests of dacon_engine.fileio."""
