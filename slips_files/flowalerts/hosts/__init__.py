"""The hosts that drive the engine: standalone (``flowalerts run``), distributed (producer and workers over Redis), and Slips (in-process module and attach mode)."""
