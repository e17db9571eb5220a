"""What a colorized frame becomes on disk (PNG, JSON record, EXR with Cryptomatte) and the tools that read it back (review, trace, recolor, contact sheet)."""
