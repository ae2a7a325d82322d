"""What Zeek's fields mean, shared by detections and learners: address classes and handshakes (conn), DNS names and answers, TLS names and certificates."""
