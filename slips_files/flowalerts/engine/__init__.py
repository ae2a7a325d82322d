"""The engine: the Detection and Learner bases and their registry, the driver every host drives, the profiler (profiles, windows, watermark)."""
