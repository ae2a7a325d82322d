# Policies that raise the notices flowalerts reads from notice.log:
# * Scan::Port_Scan / Scan::Address_Scan (misc/scan). If your Zeek no longer
#   ships misc/scan, remove the line and `zkg install zeek/ncsa/bro-simple-scan`,
#   which raises the same notices.
# * certificate validation: fills ssl.log `validation_status` and raises
#   SSL::Invalid_Server_Cert (self-signed, expired, unknown issuer ...).
@load misc/scan
@load protocols/ssl/validate-certs
