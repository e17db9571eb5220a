"""Helpers the tests share: drawn line art, small shots, a stand-in engine."""
