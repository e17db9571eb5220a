"""The engine's tests, laid out like the dacon_engine packages."""
