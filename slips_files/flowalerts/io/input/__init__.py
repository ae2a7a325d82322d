"""Zeek log readers: folders, files, live folders; TSV and JSON; gzip; typed records validated at the edge."""
