# 046-sdk-replica-retry.t: the SDK's retry after 503 REPLICA_ACK_TIMEOUT,
# end to end: ovsa-check (license mode) through a real nginx (TLS, signed
# answers) and the real backend on a Redis master with no replica while
# redis.min_replicas_ack is 1.  The backend spends the use on the master,
# WAITs for a replica that is not there and answers REPLICA_ACK_TIMEOUT;
# the SDK (sdk/ovsa_client_license.c) retries once with the same body,
# hence the same request id: the retry is a replay that spends nothing,
# and waits again.  Once a replica is connected, a retry with the same
# request id is answered as a replay, and a new request id spends one use.
# (The import is a state change that WAITs too: U1 is imported while a
# replica is connected, which is then killed; I1 without one is made
# and answered REPLICA_ACK_TIMEOUT.)
#
# Ports: $PORT nginx; from the OvsaBackend offset 470: Redis master (+0),
# the name of the public API's unix socket (+1), the backend's admin port
# (+2), the replica (+3).
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 65;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir);
use Test::More;
use File::Copy qw(copy);
use JSON::PP;
use Time::HiRes qw(sleep time);

my $ACK_MS = 200;
my $t = OvsaBackend->new(offset => 470);
$t->start_redis;
my $tmp = fresh_dir();
my $URL = "https://127.0.0.1:$PORT";

sub run_ok {
    my ($name, $r, $rc) = @_;
    is($r->{rc}, $rc // 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

# ---- the server: the backend waits for one replica, 200 ms at most
my $conf = "$tmp/conf";
run_ok('gencert', inst('-d', $conf, 'gencert'));
my ($api, $admin) = ($t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c46:');
{
    my $y = slurp("$conf/default.yaml");
    $y =~ s/^(  prefix: "c46:"\n)/$1  min_replicas_ack: 1\n  replicas_ack_timeout_ms: $ACK_MS\n/m
        or die "default.yaml: no redis prefix line";
    OvsaBackend::spew("$conf/default.yaml", $y);
}
my $ks = "$tmp/isv";
run_ok('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
my $b = start_backend_on($t, 'b46', $conf, $api, $admin);
start_nginx(nginx_front($conf, $api));
my $cert = "$conf/current/server-chain.pem";

# a replica of the master, on its own port and directory
my $rport = $t->port;
my $rpid;
sub start_replica {
    my $rdir = "$tmp/replica";
    mkdir $rdir unless -d $rdir;
    $rpid = OvsaBackend::spawn("$rdir/redis.log", 'redis-server',
        $t->redis_args(port => $rport, dir => $rdir),
        '--replicaof', '127.0.0.1', $t->{redis_port});
}
sub stop_replica {
    kill 'KILL', $rpid;
    waitpid($rpid, 0);
    undef $rpid;
}
# polls (bounded) until the master counts N connected replicas, all
# online; returns whether it did
sub wait_replicas {
    my ($n) = @_;
    my $end = time + 10;
    while (time < $end) {
        my $info = $t->redis('INFO', 'replication');
        return 1 if $info =~ /^connected_slaves:$n\r?$/m
                    && ($n == 0 || $info =~ /state=online/);
        sleep 0.05;
    }
    diag($t->redis('INFO', 'replication'));
    return 0;
}

# the import is a state change too, which WAITs: made with a replica
run_ok('create U1', ovsatool('create', '-k', $ks, '-id', 'U1', '-product',
    'Widget', '-customer', 'ACME', '-type', 'usage-count', '-usage', 5,
    '-server', $URL, '-server-cert', $cert, '-out', "$tmp/U1.lic"));
start_replica();
ok(wait_replicas(1), 'a replica is connected for the import');
run_ok('import U1', ovsactl('-c', "$conf/default.yaml", 'import',
                            "$tmp/U1.lic"));
stop_replica();
ok(wait_replicas(0), 'the replica is gone: the master has none');

sub record {
    my ($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses/U1');
    die "admin GET U1: $st" unless $st == 200;
    return $a->{record};
}
is(record()->{used}, 0, 'U1 imported, nothing used');

# an import without a replica: the record IS made (REPLICA_ACK_TIMEOUT
# says so), the index step before it does not wait (it would answer
# "made" for an import not made yet)
run_ok('create I1', ovsatool('create', '-k', $ks, '-id', 'I1', '-product',
    'Widget', '-customer', 'ACME', '-type', 'usage-count', '-usage', 5,
    '-server', $URL, '-server-cert', $cert, '-out', "$tmp/I1.lic"));
my $imp = ovsactl('-c', "$conf/default.yaml", 'import', "$tmp/I1.lic");
isnt($imp->{rc}, 0, 'import of I1 without a replica: not acknowledged');
like($imp->{out} . $imp->{err}, qr/REPLICA_ACK_TIMEOUT/, '... REPLICA_ACK_TIMEOUT');
my ($ist) = $t->admin($b, 'GET', '/admin/v1/licenses/I1');
is($ist, 200, '... and the record was made, as the answer says');

sub lic { check('-license', "$tmp/U1.lic", '-isv', "$ks/isv.crt", @_) }

# the WAIT failures the backend logged after byte $from of its log
my $WAIT_RE = qr/redis: WAIT: acknowledged by 0 of 1 replicas within $ACK_MS ms/;
sub wait_failures {
    my ($from) = @_;
    my $log = slurp($b->{log}) // '';
    my $n = () = substr($log, $from) =~ /$WAIT_RE/g;
    return $n;
}

# ---- no replica: REPLICA_ACK_TIMEOUT, retried once, spent once
my $from = -s $b->{log};
my $t0 = time;
my $r = lic('-json');
my $took = time - $t0;
isnt($r->{rc}, 0, 'no replica: ovsa-check fails')
    or diag("out: $r->{out}\nerr: $r->{err}");
my $j = eval { decode_json($r->{out}) } || {};
is($j->{status}, 503, 'the verified answer is a 503');
is($j->{answer}{code}, 'REPLICA_ACK_TIMEOUT', '... REPLICA_ACK_TIMEOUT');
isnt($j->{answer}{verdict}, 'valid', '... not "valid"');
ok(!$j->{sdk}{allowed}, 'the SDK does not allow the use');
like($j->{answer}{message} // '',
     qr/acknowledged by 0 of 1 replicas within $ACK_MS ms: retry with the same request_id/,
     '... the message names the acks and the way out');
my $rid = $j->{request_id} // '';
like($rid, qr/^[0-9a-f]{32}$/, 'the SDK sent a request id');
is(record()->{used}, 1, 'the use was spent exactly once (the retry was '
   . 'a replay)');
is(wait_failures($from), 2, 'the backend logged two WAIT failures: the SDK '
   . 'retried once')
    or diag(substr(slurp($b->{log}), $from));
ok($took >= 2 * $ACK_MS / 1000, sprintf('both attempts waited (%.2f s)',
                                        $took));

# ---- a replica connects: the same request id is a replay, a new one spends
start_replica();
ok(wait_replicas(1), 'the master sees its replica (connected_slaves:1, '
   . 'online)');

$from = -s $b->{log};
$r = run_ok('the same request id again: valid', lic('-json', '-request-id',
                                                    $rid));
$j = eval { decode_json($r->{out}) } || {};
is("$j->{status} $j->{answer}{code}", '200 OK', '... 200 OK');
ok($j->{replayed}, '... answered as a replay of the first spend');
is(record()->{used}, 1, '... nothing spent again');

my $fresh = 'fresh' . int(rand(1e9));
$r = run_ok('a fresh request id: valid', lic('-json', '-request-id',
                                             $fresh));
$j = eval { decode_json($r->{out}) } || {};
is("$j->{status} $j->{answer}{verdict} $j->{answer}{code}", '200 valid OK',
   '... verified valid');
is($j->{request_id}, $fresh, '... with the request id given');
ok(!$j->{replayed}, '... not a replay');
is($j->{answer}{usage_remaining}, 3, '... usage_remaining 3 of 5');
is(record()->{used}, 2, 'used is 2');
is(wait_failures($from), 0, 'no WAIT failure with the replica');

stop_replica();

OvsaTest::stop_nginx();
my $log = slurp("$SERVROOT/logs/error.log") // '';
unlike($log, qr/\[(alert|emerg|crit)\]/, "no alert in nginx's log");

END {
    local $?;
    if ($rpid && kill 0, $rpid) { kill 'KILL', $rpid; waitpid($rpid, 0) }
}

done_testing;
