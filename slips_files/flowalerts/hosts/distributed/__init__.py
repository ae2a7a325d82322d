"""A run spread over processes through Redis: the producer reads and partitions, workers run the detections."""
