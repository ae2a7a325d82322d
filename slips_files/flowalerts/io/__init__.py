"""Input and output at the edges: Zeek log readers, the evidence sink, alerts, IDMEF, scoring, the run summary."""
