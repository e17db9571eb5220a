"""Matching target segments to one bank from all references: the bank, graph refinement, mirroring, the geometric baseline, palette snapping."""
