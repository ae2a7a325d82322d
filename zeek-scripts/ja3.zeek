# JA3 (client) and JA3S (server) TLS fingerprints in ssl.log as `ja3` and
# `ja3s`: the MD5 of the hello parameters, GREASE values left out.
#   JA3  = md5("version,ciphers,extensions,curves,point_formats")
#   JA3S = md5("version,cipher,extensions")
# Lists are decimal values joined with "-". JA4/JA4S come from FoxIO's
# package (zkg install zeek/foxio/ja4), which adds `ja4` and `ja4s` itself.
@load base/protocols/ssl

module FlowalertsJA3;

export {
	redef record SSL::Info += {
		ja3:  string &log &optional;
		ja3s: string &log &optional;
	};
}

type HelloState: record {
	client_version: count &default=0;
	ciphers: vector of count &default=vector();
	client_ext: vector of count &default=vector();
	curves: vector of count &default=vector();
	point_formats: vector of count &default=vector();
	server_version: count &default=0;
	cipher: count &default=0;
	server_ext: vector of count &default=vector();
	seen_server: bool &default=F;
};

redef record connection += {
	flowalerts_hello: HelloState &optional;
};

# TLS GREASE values (RFC 8701) are random per handshake: never hashed.
const grease: set[count] = {
	2570, 6682, 10794, 14906, 19018, 23130, 27242, 31354,
	35466, 39578, 43690, 47802, 51914, 56026, 60138, 64250,
};

function state(c: connection): HelloState
	{
	if ( ! c?$flowalerts_hello )
		c$flowalerts_hello = HelloState();
	return c$flowalerts_hello;
	}

function joined(values: vector of count): string
	{
	local parts: vector of string = vector();
	for ( i in values )
		if ( values[i] !in grease )
			parts += cat(values[i]);
	return join_string_vec(parts, "-");
	}

event ssl_client_hello(c: connection, version: count, record_version: count, possible_ts: time,
                       client_random: string, session_id: string, ciphers: index_vec, comp_methods: index_vec)
	{
	local s = state(c);
	s$client_version = version;
	s$ciphers = ciphers;
	}

event ssl_server_hello(c: connection, version: count, record_version: count, possible_ts: time,
                       server_random: string, session_id: string, cipher: count, comp_method: count)
	{
	local s = state(c);
	s$server_version = version;
	s$cipher = cipher;
	s$seen_server = T;
	}

event ssl_extension(c: connection, is_client: bool, code: count, val: string)
	{
	local s = state(c);
	if ( is_client )
		s$client_ext += code;
	else
		s$server_ext += code;
	}

event ssl_extension_elliptic_curves(c: connection, is_client: bool, curves: index_vec)
	{
	local s = state(c);
	if ( is_client )
		s$curves = curves;
	}

event ssl_extension_ec_point_formats(c: connection, is_client: bool, point_formats: index_vec)
	{
	local s = state(c);
	if ( is_client )
		s$point_formats = point_formats;
	}

function fill(c: connection)
	{
	if ( ! c?$ssl || ! c?$flowalerts_hello )
		return;
	local s = c$flowalerts_hello;
	if ( s$client_version != 0 && ! c$ssl?$ja3 )
		c$ssl$ja3 = md5_hash(cat(s$client_version) + "," + joined(s$ciphers) + "," + joined(s$client_ext)
		                     + "," + joined(s$curves) + "," + joined(s$point_formats));
	if ( s$seen_server && ! c$ssl?$ja3s )
		c$ssl$ja3s = md5_hash(cat(s$server_version) + "," + cat(s$cipher) + "," + joined(s$server_ext));
	}

# Before the ssl.log line is written (SSL writes it at priority -5).
event ssl_established(c: connection) &priority=5
	{
	fill(c);
	}

event connection_state_remove(c: connection) &priority=5
	{
	fill(c);
	}
