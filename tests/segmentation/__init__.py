"""Tests of dacon_engine.segmentation."""
