"""The detections: one technique per file, under the Zeek log it reads. Found by declaration (``flowalerts.engine.detection``): nothing else names them."""
