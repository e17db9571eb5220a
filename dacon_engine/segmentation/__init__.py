"""Line art -> segments: line / paper decisions, paint-bucket regions, gap closing, colored references."""
