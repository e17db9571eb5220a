"""Training the DACoN segment features (losses, data, loop)."""
