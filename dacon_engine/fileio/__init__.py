"""Files on disk: images as RGBA arrays, 24-bit segment label maps, atomic writes and input checks."""
