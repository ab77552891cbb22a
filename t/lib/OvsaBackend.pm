package OvsaBackend;

# Test helpers for ovsa-backend: a private redis-server, backend
# processes with their own default.yaml, an ISV key + certificate, real
# signed licenses ($OVSA_BUILD/test/backend-sign over lib/ovsa_license), JSON
# calls to the public and admin APIs, and snapshots of Redis to prove
# that refused requests change nothing.  Everything lives in one temp
# dir and every process started here is stopped at exit.
#
# OVSA_BACKEND_WRAPPER runs the backends under e.g. valgrind.  OVSA_BUILD
# is the build directory (default build/; make SANITIZE=1 uses build-san/).
# Ports: $ENV{OVSA_TEST_PORT_BASE} (default 21800) + the offset a test
# file passes to new().

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256 sha256_hex sha512);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $BIN = $ENV{OVSA_BUILD} || "$ROOT/build";   # make test sets it
our $TOKEN = 'test-admin-token-0123456789abcdef';
our $JSON = JSON::PP->new->canonical->allow_nonref;

my @all;    # every object made, for END

sub new {
    my ($class, %o) = @_;
    my $base = ($ENV{OVSA_TEST_PORT_BASE} || 21800) + ($o{offset} || 0);
    my $dir = tempdir('ovsa-backend-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{OVSA_TEST_KEEP});
    my $self = bless { dir => $dir, base => $base, next_port => $base + 1,
                       redis_port => $base, backends => {},
                       conns => {} }, $class;
    push @all, $self;

    die "build first: make bins\n" unless -x "$BIN/bin/ovsa-backend";

    # identity files: only their presence matters to the backend
    for (qw(chain.pem key.pem root.pem)) {
        spew("$dir/$_", "placeholder\n", 0600);
    }
    spew("$dir/admin.token", "$TOKEN\n", 0600);
    $self->make_isv('isv');
    return $self;
}

sub dir { $_[0]{dir} }

sub port { my $s = shift; return $s->{next_port}++ }

sub spew {
    my ($file, $data, $mode) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print $fh $data;
    close $fh;
    chmod $mode, $file if defined $mode;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

sub wait_port {
    my ($port, $secs) = @_;
    my $end = time + ($secs || 10);
    while (time < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 1);
        return 1 if $s;
        sleep 0.02;
    }
    return 0;
}

sub wait_file {
    my ($file) = @_;
    my $end = time + 10;
    while (time < $end) {
        return 1 if -S $file;
        sleep 0.02;
    }
    return 0;
}

sub spawn {
    my ($log, @cmd) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or die;
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    return $pid;
}

sub stop_pid {
    my ($pid, $sig) = @_;
    return undef unless $pid && kill 0, $pid;
    kill $sig || 'TERM', $pid;
    my $end = time + 20;
    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return $?;
}

# ---- redis

# The Redis the backend requires (redis.require_durable): append-only
# file, fsync every second, no eviction.  %o: durable => 0 (no
# append-only file: the backend refuses state changes), policy (another
# maxmemory-policy), fsync (another appendfsync), debug (enable the DEBUG
# command), port (default the test's Redis port), dir (default the
# test's).  persist => 1 is accepted and changes nothing (every test
# Redis keeps its data over a restart now).
sub redis_args {
    my ($self, %o) = @_;
    my $durable = $o{durable} // 1;
    return ('--port', $o{port} || $self->{redis_port}, '--bind', '127.0.0.1',
        '--save', '', '--appendonly', $durable ? 'yes' : 'no',
        '--appendfsync', $o{fsync} || 'everysec',
        '--maxmemory-policy', $o{policy} || 'noeviction',
        '--dir', $o{dir} || $self->{dir},
        $o{debug} ? ('--enable-debug-command', 'yes') : ());
}

sub start_redis {
    my ($self, %o) = @_;
    my $p = $self->{redis_port};
    $self->{redis_pid} = spawn("$self->{dir}/redis.log", 'redis-server',
                               $self->redis_args(%o));
    wait_port($p) or die "redis-server did not start on $p";
    my $end = time + 10;
    while (time < $end) {
        last if ($self->redis('PING') // '') eq 'PONG';
        sleep 0.05;
    }
    return $self;
}

sub stop_redis {
    my ($self) = @_;
    stop_pid(delete $self->{redis_pid});
    # wait until the port is really closed
    my $end = time + 10;
    while (time < $end && IO::Socket::INET->new(
               PeerAddr => "127.0.0.1:$self->{redis_port}", Timeout => 1)) {
        sleep 0.05;
    }
}

# The Redis key of one license's KIND (lic, act, lz, lh, dz, req), as
# backend/store.c ovsa_store_key writes it: "{ID}" is the Redis Cluster
# hash tag (docs/protocol.md).  %o: prefix (default "ovsa:"), sub.
sub key {
    my ($self, $kind, $id, %o) = @_;
    return ($o{prefix} // 'ovsa:') . "$kind:{$id}"
        . (defined $o{sub} ? ":$o{sub}" : '');
}

# Runs redis-cli; returns the output without the final newline.
sub redis {
    my ($self, @args) = @_;
    open my $fh, '-|', 'redis-cli', '-p', $self->{redis_port}, @args
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    $out = '' unless defined $out;
    $out =~ s/\n\z//;
    return $out;
}

# Every key of the prefix with its type, content and TTL presence: equal
# snapshots mean nothing changed.  The content is canonical (hash fields,
# set members and zset entries sorted), not DUMP: a hash too large for a
# listpack is a hash table, whose DUMP order changes when Redis rehashes
# it incrementally, which a read-only lookup can do.
my $SNAPSHOT_LUA = <<'LUA';
local out = {}
local keys = redis.call('KEYS', ARGV[1] .. '*')
table.sort(keys)
for _, k in ipairs(keys) do
    local t = redis.call('TYPE', k).ok
    local v
    if t == 'string' then
        v = { redis.call('GET', k) }
    elseif t == 'hash' then
        local h = redis.call('HGETALL', k)
        v = {}
        for i = 1, #h, 2 do v[#v + 1] = h[i] .. '=' .. h[i + 1] end
        table.sort(v)
    elseif t == 'set' then
        v = redis.call('SMEMBERS', k)
        table.sort(v)
    elseif t == 'zset' then
        local z = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
        v = {}
        for i = 1, #z, 2 do v[#v + 1] = z[i] .. '@' .. z[i + 1] end
        table.sort(v)
    else
        v = { redis.call('DUMP', k) }
    end
    local ttl = redis.call('PTTL', k) >= 0 and 'ttl' or 'no-ttl'
    out[#out + 1] = k .. '\0' .. t .. '\0' .. ttl .. '\0'
                    .. table.concat(v, '\0')
end
return out
LUA

sub snapshot {
    my ($self, $prefix) = @_;
    $prefix //= 'ovsa:';
    my $out = $self->redis('--no-raw', 'EVAL', $SNAPSHOT_LUA, 0, $prefix);
    my %s;
    for my $line (split /\n/, $out) {
        $line =~ s/^\d+\) //;
        my ($k) = $line =~ /^"((?:[^"\\]|\\.)*?)\\x00/ or next;
        $s{$k} = $line;
    }
    return \%s;
}

# ---- ISV keys and licenses

sub make_isv {
    my ($self, $name) = @_;
    my $d = $self->{dir};
    system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
        . " -nodes -keyout $d/$name.key -out $d/$name.pem -days 30"
        . " -subj '/CN=$name ISV' 2>/dev/null") == 0
        or die "openssl req for $name failed";
    chmod 0600, "$d/$name.key";
    return ("$d/$name.key", "$d/$name.pem");
}

our $PIN_A = 'sha256//' . ('A' x 43) . '=';
our $PIN_B = 'sha256//' . ('B' x 42) . 'A=';

# The license secret every payload() license carries (its hash, as
# customer.secret_sha256): what a client sends as "Authorization: License
# $SECRET".  43 base64url characters (32 bytes).
our $SECRET = 'b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMDA';
our $SECRET_SHA256 = sha256_hex($SECRET);

# A payload with sane defaults for its type; %o overrides fields, and
# merges into limits and customer (customer => { secret_sha256 => undef,
# cert_sha256 => $hex } makes a certificate-only license).
sub payload {
    my (%o) = @_;
    my $type = $o{type} || 'perpetual';
    my %limits = (usage => undef, max_activations => undef, seats => undef,
                  lease_seconds => undef, deactivations => undef,
                  deactivation_period => undef);
    %limits = (%limits, usage => 3) if $type eq 'usage-count';
    %limits = (%limits, max_activations => 2, deactivations => 3,
               deactivation_period => 30 * 86400)
        if $type eq 'node-locked';
    %limits = (%limits, seats => 2, lease_seconds => 60)
        if $type eq 'floating';
    my $p = {
        ovsa => 1, license_id => 'L1', version => 1,
        issued_at => int(time) - 100,
        customer => { name => 'ACME', cert_sha256 => undef,
                      secret_sha256 => $SECRET_SHA256,
                      %{ delete $o{customer} || {} } },
        product => 'Widget', type => $type,
        limits => { %limits, %{ delete $o{limits} || {} } },
        require_hardware_key => JSON::PP::false,
        sync_interval => 600,
        expires_at => $type eq 'time-limited' ? int(time) + 3600 : undef,
        servers => [{ url => 'https://lic.example',
                      pins => { current => $PIN_A, future => undef } }],
    };
    $p->{$_} = $o{$_} for keys %o;
    return $p;
}

# Signs a payload (hash or JSON text) with ISV $isv; returns the JWS text.
sub sign {
    my ($self, $payload, $isv) = @_;
    $isv ||= 'isv';
    my $d = $self->{dir};
    my $text = ref $payload ? $JSON->encode($payload) : $payload;
    spew("$d/payload.json", $text);
    my $out = `$BIN/test/backend-sign $d/$isv.key $d/$isv.pem < $d/payload.json 2>&1`;
    die "backend-sign: $out" if $?;
    chomp $out;
    return $out;
}

sub license { my ($self, %o) = @_; return $self->sign(payload(%o)) }

# ---- backend processes

# Writes a default.yaml; %o: name, listen, admin_listen, isv (list of
# names), hw (bool), threads, max_body, prefix, trusted_peers (YAML flow
# list text), listen_group, redis_port, redis_timeout, require_durable,
# breaker_open_ms, extra (raw YAML lines), redis_extra (more "key:
# value" pairs of the redis: flow mapping, e.g. sentinels).
sub conf {
    my ($self, %o) = @_;
    my $name = $o{name} || 'b1';
    my $d = $self->{dir};
    my $isv = join(', ', map { "$_.pem" } @{ $o{isv} || ['isv'] });
    my $hw = '';
    if ($o{hw}) {
        # the backend only reads "enabled"; the files must merely exist
        spew("$d/pin", "1234\n", 0600);
        spew("$d/pkcs11.so", "placeholder\n");
        $hw = "hardware_key: {enabled: true, module: pkcs11.so,"
            . " key_uri: \"pkcs11:token=t;object=k\", pin_file: pin}\n";
    }
    my $key = $o{hw} ? '' : ", key: key.pem";
    my $yaml = "identity: {chain: chain.pem$key, root: root.pem}\n$hw"
        . "backend:\n"
        . "  listen: \"$o{listen}\"\n"
        . "  admin_listen: \"$o{admin_listen}\"\n"
        . "  admin_token_file: admin.token\n"
        . "  threads: " . ($o{threads} || 4) . "\n"
        . "  max_body: " . ($o{max_body} || 65536) . "\n"
        . (defined $o{trusted_peers}
           ? "  trusted_peers: $o{trusted_peers}\n" : '')
        . (defined $o{listen_group}
           ? "  listen_group: $o{listen_group}\n" : '')
        . "redis: {address: \"127.0.0.1:"
        . ($o{redis_port} || $self->{redis_port}) . "\","
        . " prefix: \"" . ($o{prefix} || 'ovsa:') . "\", timeout_ms: "
        . ($o{redis_timeout} || 500)
        . (defined $o{require_durable}
           ? ", require_durable: " . ($o{require_durable} ? 'true' : 'false')
           : '')
        . ($o{breaker_open_ms} ? ", breaker_open_ms: $o{breaker_open_ms}"
                               : '')
        . (defined $o{redis_extra} ? ", $o{redis_extra}" : '') . "}\n"
        . "licenses: {isv_certs: [$isv]}\n" . ($o{extra} || '');
    spew("$d/$name.yaml", $yaml);
    return "$d/$name.yaml";
}

# The directory of the tests' unix sockets: reachable by the nginx
# workers (nobody) and by a test child of another uid; the sockets in it
# are 0660 like every backend socket.
sub sock_dir {
    my ($self) = @_;
    my $d = "$self->{dir}/run";
    mkdir $d unless -d $d;
    chmod 0711, $self->{dir};
    chmod 0755, $d;
    return $d;
}

# Starts a backend; returns a handle { name, pid, port, admin_port, log,
# sock }.  %o: conf()'s options, port, admin_port, and unix (listen on
# the unix socket sock_dir()/NAME.sock; requests go there).
sub start_backend {
    my ($self, %o) = @_;
    my $name = $o{name} ||= 'b1';
    my $port = $o{port} || $self->port;
    my $aport = $o{admin_port} || $self->port;
    $o{listen} ||= "unix:" . $self->sock_dir . "/$name.sock" if $o{unix};
    $o{listen} ||= "127.0.0.1:$port";
    $o{admin_listen} ||= "127.0.0.1:$aport";
    my $conf = $self->conf(%o);
    my $log = "$self->{dir}/$name.log";
    # OVSA_BACKEND_WRAPPER, e.g. "valgrind -q --leak-check=full", runs
    # the backend under a checker
    my @wrap = split ' ', ($ENV{OVSA_BACKEND_WRAPPER} || '');
    my $pid = spawn($log, @wrap, "$BIN/bin/ovsa-backend", '-c', $conf);
    my $b = { name => $name, pid => $pid, port => $port,
              admin_port => $aport, log => $log, conf => $conf };
    ($b->{sock}) = $o{listen} =~ /^unix:(.*)/;
    $self->{backends}{$name} = $b;
    for my $l ($o{listen}, $o{admin_listen}) {
        my $up = $l =~ /^unix:(.*)/ ? wait_file($1) : wait_port($l =~ /:(\d+)$/);
        die "backend $name did not start on $l:\n" . slurp($log) unless $up;
    }
    return $b;
}

# Stops a backend with SIGTERM; returns the wait status.
sub stop_backend {
    my ($self, $b) = @_;
    delete $self->{backends}{$b->{name}};
    return stop_pid($b->{pid});
}

# ---- HTTP

# One HTTP/1.1 exchange on a kept-alive connection to 127.0.0.1:$port,
# or to the unix socket $port when it is a path (the request goes out in
# one write, like nginx's upstream requests).  Returns { status, headers
# (lower-case names), content }.
sub request {
    my ($self, $port, $method, $path, $body, $headers) = @_;
    $body //= '';
    my $host = $port =~ m{^/} ? 'localhost' : "127.0.0.1:$port";
    my $req = "$method $path HTTP/1.1\r\nHost: $host\r\n";
    $req .= "$_: $headers->{$_}\r\n" for sort keys %{ $headers || {} };
    $req .= "Content-Length: " . length($body) . "\r\n"
        if $method ne 'GET' || length $body;
    $req .= "\r\n$body";

    for my $try (1, 2) {
        my $s = $self->{conns}{$port} ||= ($port =~ m{^/}
            ? IO::Socket::UNIX->new(Peer => $port, Timeout => 20)
            : IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                    Timeout => 20))
            or return { status => 599, content => "connect: $!",
                        headers => {} };
        setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1) if $port !~ m{^/};
        my $ok = defined syswrite($s, $req);
        my $r = $ok ? read_response($s) : undef;
        if (!$r) {
            delete $self->{conns}{$port};
            close $s;
            next;
        }
        if (($r->{headers}{connection} // '') =~ /close/i) {
            delete $self->{conns}{$port};
            close $s;
        }
        return $r;
    }
    return { status => 599, content => 'connection lost', headers => {} };
}

sub read_response {
    my ($s) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($s, $buf, 65536, length $buf);
        return undef unless $n;
    }
    my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($status) = $status_line =~ m{^HTTP/1\.\d (\d{3})} or return undef;
    my %h;
    for (@lines) {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    my $len = $h{'content-length'} // 0;
    while (length($rest) < $len) {
        my $n = sysread($s, $rest, $len - length($rest), length $rest);
        return undef unless $n;
    }
    return { status => $status, headers => \%h, content => $rest };
}

# The RFC 9530 Content-Digest field value of $body (sha-256, or sha-512).
sub content_digest {
    my ($body, $alg) = @_;
    $alg ||= 'sha-256';
    my $md = $alg eq 'sha-512' ? sha512($body // '') : sha256($body // '');
    return "$alg=:" . encode_base64($md, '') . ':';
}

# Machine keys of the tests: an Ed25519 key file per name, made once.
sub machine_key {
    my ($self, $name) = @_;
    my $f = "$self->{dir}/machine-$name.pem";
    return $f if -f $f;
    my $tmp = "$f.$$.tmp";
    system("openssl genpkey -algorithm ED25519 -out $tmp 2>/dev/null") == 0
        or die "openssl genpkey failed";
    chmod 0600, $tmp;
    # link: the first of several forked clients making it wins
    link $tmp, $f or -f $f or die "$f: $!";
    unlink $tmp;
    return $f;
}

# The machine_key member of a key file (the SDK's encoding, by
# $BIN/test/backend-req over lib/ovsa_reqsig).
sub machine_pub {
    my ($self, $name) = @_;
    return $self->{pubs}{$name} //= do {
        my $f = $self->machine_key($name);
        my $p = `$BIN/test/backend-req -pub $f`;
        die "backend-req -pub $f failed" if $?;
        chomp $p;
        $p;
    };
}

# The operations that act on an activation or a lease, which api() signs
# with a machine key unless told otherwise.
sub machine_op {
    my ($path, $body) = @_;
    return 1 if $path =~ m{^/v1/(activate|deactivate|lease/)};
    return ref $body eq 'HASH'
        && (defined $body->{hwid} || defined $body->{lease_id});
}

my $api_seq = 0;
my $rid_seq = 0;

# A request id unique across the forked clients of a test.
sub request_id { return "r$$-" . int(time * 1000) . '-' . ++$rid_seq }

# What a license holder sends with a public request: returns the body
# text and the headers as a hash.  $body: a hash (or text, sent as it
# is).  %h (see api()): secret, machine, digest, nonce.
sub holder_request {
    my ($self, $path, $body, %h) = @_;
    # spending operations need a request id, which the SDK always sends:
    # one is added unless the body has request_id (undef: sent without)
    if (ref $body eq 'HASH' && $path =~ m{^/v1/(check|lease/checkout)$}) {
        $body = { %$body };
        if (!exists $body->{request_id}) {
            $body->{request_id} = request_id();
        } elsif (!defined $body->{request_id}) {
            delete $body->{request_id};
        }
    }
    my $m = exists $h{machine} ? $h{machine}
          : machine_op($path, $body) ? 'default' : '';
    $m = '' unless ref $body eq 'HASH';
    $body = { machine_key => $self->machine_pub($m), %$body } if length $m;
    my $text = ref $body ? $JSON->encode($body) : $body;
    my %x;
    my $secret = exists $h{secret} ? $h{secret} : $SECRET;
    $x{Authorization} = "License $secret" if defined $secret && length $secret;
    if (!exists $h{digest}) {
        $x{'Content-Digest'} = content_digest($text)
            if defined $text && length $text;
    } elsif (defined $h{digest} && length $h{digest}) {
        $x{'Content-Digest'} = $h{digest};
    }
    $x{'OVSA-Nonce'} = $h{nonce} if $h{nonce};
    if (length $m) {
        my $nonce = $x{'OVSA-Nonce'} ||= 'api' . ++$api_seq . 'p' . $$;
        my $f = "$self->{dir}/api-body.$$";
        spew($f, $text);
        my $key = $self->machine_key($m);
        my @out = `$BIN/test/backend-req $key POST $path $nonce ${\ int(time)} < $f`;
        die "backend-req failed" if $?;
        chomp @out;
        @x{'Signature-Input', 'Signature'} = ($out[1], $out[2]);
    }
    return ($text, \%x);
}

# POST a JSON body (hash or raw text) to the public API of backend $b
# (over its unix socket when it listens on one, unless %h has tcp_port),
# as a license holder would send it (holder_request):
# - Authorization: License <secret>, the test licenses' secret ($SECRET);
#   %h secret: another one, '' for none;
# - for operations on an activation or lease (machine_op) with a hash
#   body: machine_key and an RFC 9421 request signature made with the
#   machine key named %h machine (default "default"; '' for none);
# - the Content-Digest of a non-empty body (as nginx passes on the
#   client's); %h digest: undef the right one, '' none, anything else is
#   sent as it is.
# %h also: method, headers (more request headers, last word).
# Returns (status, answer hash or undef, raw response).
sub api {
    my ($self, $b, $path, $body, %h) = @_;
    my ($text, $x) = $self->holder_request($path, $body, %h);
    my $to = $h{tcp_port} || $b->{sock} || $b->{port};
    my $r = $self->request($to, $h{method} || 'POST', $path, $text,
        { 'Content-Type' => 'application/json', %$x,
          %{ $h{headers} || {} } });
    my $ans = eval { $JSON->decode($r->{content}) };
    return ($r->{status}, $ans, $r);
}

# Admin call: method, path, body (hash, text or undef), token (default
# the right one; '' for none).
sub admin {
    my ($self, $b, $method, $path, $body, $token) = @_;
    $token //= $TOKEN;
    my $text = ref $body ? $JSON->encode($body) : $body;
    my %h = ('Content-Type' => 'application/json');
    $h{Authorization} = "Bearer $token" if length $token;
    my $r = $self->request($b->{admin_port}, $method, $path, $text, \%h);
    my $ans = eval { $JSON->decode($r->{content}) };
    return ($r->{status}, $ans, $r);
}

# Imports a JWS; dies unless it is accepted.
sub import_ok {
    my ($self, $b, $jws) = @_;
    my ($st, $ans) = $self->admin($b, 'POST', '/admin/v1/licenses', $jws);
    die "import failed: $st " . $JSON->encode($ans) unless $st == 200;
    return $ans;
}

# The server block of an nginx that signs audit heads (docs/audit.md
# "Checkpoints") for the backend B: its chain, and the backend's head
# route with ovsa_sign on; `ovsactl audit checkpoint -sign-url` uses it.
sub audit_sign_server {
    my ($self, $b) = @_;
    return <<"NGX";
        location = /.well-known/ovsa/chain {
            ovsa_chain;
        }
        location ~ ^/admin/v1/licenses/[^/]+/audit/head\$ {
            ovsa_sign on;
            proxy_pass http://127.0.0.1:$b->{admin_port};
        }
        location / {
            return 404;
        }
NGX
}

sub DESTROY {}

sub cleanup {
    my ($self) = @_;
    $self->stop_backend($_) for values %{ $self->{backends} };
    $self->stop_redis if $self->{redis_pid};
}

END {
    my $rc = $?;
    $_->cleanup for @all;
    $? = $rc;
}

1;
