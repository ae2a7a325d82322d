# Flowalerts Zeek scripts: load this directory to make Zeek write every field
# the flowalerts readers use.
#   zeek -C -r capture.pcap /path/to/zeek-scripts
@load ./json-logs
@load ./mac-logging
@load ./ja3
@load ./login
@load ./detect_doh
@load ./scan-and-certs
