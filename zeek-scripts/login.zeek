# login.log: telnet, rlogin and rsh logins seen by Zeek's Login analyzer, one
# line per outcome. Fields match flowalerts' LoginRecord:
# ts, uid, id.*, proto, success, confused, user, client_user.
module FlowalertsLogin;

export {
	redef enum Log::ID += { LOG };

	type Info: record {
		ts:          time    &log;
		uid:         string  &log;
		id:          conn_id &log;
		proto:       string  &log;
		success:     bool    &log &default=F;
		confused:    bool    &log &default=F;
		user:        string  &log &optional;
		client_user: string  &log &optional;
	};
}

event zeek_init() &priority=5
	{
	Log::create_stream(FlowalertsLogin::LOG, [$columns=Info, $path="login"]);
	}

function proto_of(c: connection): string
	{
	switch ( c$id$resp_p ) {
	case 23/tcp:  return "telnet";
	case 513/tcp: return "rlogin";
	case 514/tcp: return "rsh";
	default:      return "login";
	}
	}

function write_login(c: connection, success: bool, confused: bool, user: string, client_user: string)
	{
	local info = Info($ts=network_time(), $uid=c$uid, $id=c$id, $proto=proto_of(c),
	                  $success=success, $confused=confused);
	if ( user != "" )
		info$user = user;
	if ( client_user != "" )
		info$client_user = client_user;
	Log::write(FlowalertsLogin::LOG, info);
	}

event login_success(c: connection, user: string, client_user: string, password: string, line: string)
	{
	write_login(c, T, F, user, client_user);
	}

event login_failure(c: connection, user: string, client_user: string, password: string, line: string)
	{
	write_login(c, F, F, user, client_user);
	}

event login_confused(c: connection, msg: string, line: string)
	{
	write_login(c, F, T, "", "");
	}

# rsh: the server's reply to a request means the command was accepted.
event rsh_reply(c: connection, client_user: string, server_user: string, line: string)
	{
	write_login(c, T, F, server_user, client_user);
	}
