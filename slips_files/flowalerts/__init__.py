"""Flowalerts: Slips-style behavioural detections on Zeek logs."""

__version__ = "0.1.0"
