# Marks DNS-over-HTTPS connections in ssl.log with `is_DoH` (T/F): the
# responder is a known public DoH resolver IP or the SNI is a known DoH host
# name. Flowalerts raises DNS_OVER_HTTPS and exempts those servers from
# connection-without-DNS. DoH connections stay open a long time, so their
# inactivity timeout is raised to an hour to keep them in one conn.log line.
@load base/protocols/ssl

module FlowalertsDoH;

export {
	redef record SSL::Info += {
		is_DoH: bool &log &default=F;
	};

	const doh_ips: set[addr] = {
		8.8.8.8, 8.8.4.4, 1.1.1.1, 1.0.0.1, 9.9.9.9, 149.112.112.112,
		208.67.222.222, 208.67.220.220, 94.140.14.14, 94.140.15.15,
		[2001:4860:4860::8888], [2001:4860:4860::8844],
		[2606:4700:4700::1111], [2606:4700:4700::1001], [2620:fe::fe],
	} &redef;

	const doh_names: set[string] = {
		"dns.google", "dns.google.com", "cloudflare-dns.com", "mozilla.cloudflare-dns.com",
		"one.one.one.one", "dns.quad9.net", "doh.opendns.com", "dns.nextdns.io",
		"dns.adguard.com", "doh.cleanbrowsing.org",
	} &redef;
}

function is_doh(c: connection): bool
	{
	if ( c$id$resp_h in doh_ips )
		return T;
	return c?$ssl && c$ssl?$server_name && to_lower(c$ssl$server_name) in doh_names;
	}

event ssl_established(c: connection) &priority=5
	{
	if ( c?$ssl && is_doh(c) )
		c$ssl$is_DoH = T;
	}

event connection_established(c: connection)
	{
	if ( c$id$resp_p == 443/tcp && c$id$resp_h in doh_ips )
		set_inactivity_timeout(c$id, 1hr);
	}
