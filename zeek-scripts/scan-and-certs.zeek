# Policies that raise the notices flowalerts reads from notice.log:
# * Scan::Port_Scan / Scan::Address_Scan (misc/scan). If your Zeek no longer
#   ships misc/scan, remove the line and `zkg install zeek/ncsa/bro-simple-scan`,
#   which raises the same notices.
# * certificate validation: fills ssl.log `validation_status` and raises
#   SSL::Invalid_Server_Cert (self-signed, expired, unknown issuer ...).
@load misc/scan
@load protocols/ssl/validate-certs

# Zeek 5+ writes certificates only to x509.log and names them by SHA256
# (X509::hash_function); the SSL blacklist feed lists SHA1s. Keeping
# certificates in files.log, which carries their SHA1, lets flowalerts'
# MALICIOUS_SSL_CERT work on today's Zeek too. Older Zeek logs them there
# anyway and has no such option.
@ifdef ( X509::log_x509_in_files_log )
redef X509::log_x509_in_files_log = T;
@endif
