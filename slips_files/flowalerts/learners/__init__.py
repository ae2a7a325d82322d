"""Learners: turn records into facts (resolutions, servers, local network ...) that detections read."""
