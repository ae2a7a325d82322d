# Add orig_l2_addr / resp_l2_addr (MAC addresses) to conn.log; the readers
# map them to smac / dmac (device-changing-IP, MAC-to-IP facts).
@load policy/protocols/conn/mac-logging
