"""What two detections share: an evidence kind emitted by both, the join of an ssl record to its certificate."""
