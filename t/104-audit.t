# 104-audit.t: the usage audit trail (docs/audit.md) with a real Redis,
# backend and nginx: every state change and admin action appends one
# hash-chained entry in the script that makes it (a refusal or a replay
# appends nothing); ovsactl audit export gives them as JSON lines and
# CSV; ovsactl audit verify finds an altered (AUDIT_HASH), removed
# (AUDIT_GAP) and moved (AUDIT_ORDER) entry, a history rewritten with
# fresh link hashes (AUDIT_CHECKPOINT) and a forged checkpoint
# (AUDIT_CHECKPOINT_SIG); a checkpoint is the chain head signed by
# nginx with the server identity (ovsa_sign on) and verifies against
# the vendor root.  Port offset 210.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 219;
}
use OvsaTest;
use OvsaBackend;
use Digest::SHA qw(sha1_hex);
use Test::More;

my $pki = OvsaTest::pki();
my $t = OvsaBackend->new(offset => 210);
$t->start_redis;
my $b = $t->start_backend(name => 'b1',
                          extra => "audit: {enabled: true, checkpoint_every: 3}\n");
my $AK = "$OvsaBackend::BIN/bin/ovsactl";
my $ctl = "$AK -url http://127.0.0.1:$b->{admin_port} -token-file "
        . $t->dir . "/admin.token";
my $J = $OvsaBackend::JSON;

sub akey { return $t->key('audit', $_[0]) }
sub entries { return split /\n/, $t->redis('LRANGE', akey($_[0]), 0, -1) }
sub ops {
    return join ' ', map { (/^\S+ 2:v1,\d+:\d+,\d+:\d+,\d+:[^,]*,\d+:(\w+),/)[0] }
        entries($_[0]);
}
sub sh_run {
    my ($cmd) = @_;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

# ---- a session of every kind of operation
$t->import_ok($b, $t->license(license_id => 'U1', type => 'usage-count',
                              limits => { usage => 10 }));
$t->import_ok($b, $t->license(license_id => 'N1', type => 'node-locked'));
$t->import_ok($b, $t->license(license_id => 'F1', type => 'floating'));

my ($st, $a);
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1', version => 1,
                                       request_id => 'spend-1' });
is($a->{code}, 'OK', 'spend 1');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1', version => 1,
                                       request_id => 'spend-2' });
is($a->{usage_remaining}, 8, 'spend 2');

my $before = $t->redis('LLEN', akey('U1'));
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1', version => 1,
                                       request_id => 'spend-2' });
ok($a->{replayed}, 'the same request id is a replay');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1', version => 1 },
                    secret => 'A' x 43);
is($a->{code}, 'LICENSE_PROOF_INVALID', 'a refused spend');
is($t->redis('LLEN', akey('U1')), $before,
   'a replay and a refusal append nothing');

($st, $a) = $t->api($b, '/v1/activate', { license_id => 'N1', hwid => 'h1' });
is($a->{code}, 'OK', 'activate h1');
($st, $a) = $t->api($b, '/v1/activate', { license_id => 'N1', hwid => 'h1' });
is($a->{code}, 'OK', 'activate h1 again (no change)');
$before = $t->redis('LLEN', akey('N1'));
($st, $a) = $t->api($b, '/v1/check', { license_id => 'N1', version => 1,
                                       hwid => 'h1' });
is($a->{code}, 'OK', 'a node-locked check');
is($t->redis('LLEN', akey('N1')), $before,
   'a check that changes nothing appends nothing');
($st, $a) = $t->api($b, '/v1/deactivate', { license_id => 'N1', hwid => 'h1' });
is($a->{code}, 'OK', 'deactivate h1');
($st, $a) = $t->api($b, '/v1/activate', { license_id => 'N1', hwid => 'h2' },
                    machine => 'm2');
is($a->{code}, 'OK', 'activate h2');
($st, $a) = $t->admin($b, 'POST', '/admin/v1/licenses/N1/deactivate',
                      { hwid => 'h2' });
is($a->{code}, 'OK', 'admin deactivate h2');

my @lease;
for my $m (qw(ma mb)) {
    ($st, $a) = $t->api($b, '/v1/lease/checkout',
                        { license_id => 'F1', client_id => "client-$m" },
                        machine => $m);
    is($a->{code}, 'OK', "checkout by $m");
    push @lease, $a->{lease_id};
}
($st, $a) = $t->api($b, '/v1/lease/checkin',
                    { license_id => 'F1', lease_id => $lease[0] },
                    machine => 'ma');
is($a->{code}, 'OK', 'checkin');
# the second lease expires (its expiry moved into the past, raw Redis);
# the next checkout notices it
$t->redis('ZADD', 'ovsa:lz:{F1}', 'XX', int(time) - 5, $lease[1]);
($st, $a) = $t->api($b, '/v1/lease/checkout',
                    { license_id => 'F1', client_id => 'client-mc' },
                    machine => 'mc');
is($a->{code}, 'OK', 'checkout after an expiry');
($st, $a) = $t->admin($b, 'POST', '/admin/v1/licenses/F1/release',
                      { all => JSON::PP::true });
is($a->{released}, 1, 'admin release all');

($st, $a) = $t->admin($b, 'POST', '/admin/v1/licenses/U1/revoke');
is($a->{code}, 'OK', 'revoke');
$t->import_ok($b, $t->license(license_id => 'U1', type => 'usage-count',
                              version => 2, limits => { usage => 10 }));

is(ops('U1'), 'import spend spend revoke import', 'U1: the entries');
is(ops('N1'), 'import activate deactivate activate deactivate',
   'N1: the entries');
is(ops('F1'), 'import checkout checkout checkin checkout lease_expired '
            . 'release', 'F1: the entries');

# ---- export
my ($rc, $out) = sh_run("$ctl audit export -license F1 -format jsonl");
is($rc, 0, 'export jsonl') or diag $out;
my @rows = map { $J->decode($_) } split /\n/, $out;
is(join(' ', map { $_->{op} } @rows),
   'import checkout checkout checkin checkout lease_expired release',
   'jsonl: one line per entry, in order');
is(join(',', map { $_->{seq} } @rows), '1,2,3,4,5,6,7', 'jsonl: seq');
is($rows[1]{detail}{client_id}, 'client-ma', 'jsonl: the checkout detail');
like($rows[1]{actor}, qr/^machine:\S+$/, 'jsonl: the actor is the machine key');
isnt($rows[1]{actor}, $rows[2]{actor}, 'jsonl: two machines, two actors');
is($rows[5]{detail}{lease_id}, $lease[1], 'jsonl: the expired lease');
is($rows[6]{actor}, 'admin', 'jsonl: the release was the admin');
is($rows[2]{prev}, $rows[1]{hash}, 'jsonl: prev is the hash before');

($rc, $out) = sh_run("$ctl audit export -license U1 -format csv");
is($rc, 0, 'export csv');
my @csv = split /\r\n/, $out;
is($csv[0], 'license_id,seq,time,time_utc,op,actor,detail,prev,hash',
   'csv header');
is(scalar @csv, 6, 'csv: a row per entry');
like($csv[2], qr/^U1,2,\d+,\d{4}-\d\d-\d\dT[\d:]+Z,spend,license,request_id=spend-1;used=1;remaining=9,[0-9a-f]{40},[0-9a-f]{40}$/,
     'csv: a spend row');

my $now = time;
($rc, $out) = sh_run("$ctl audit export -license U1 -from " . int($now + 3600));
is("$rc $out", "0 ", 'export -from the future: nothing');
($rc, $out) = sh_run("$ctl audit export -license U1 -format xml");
is($rc, 2, 'export -format xml is a usage error');
($rc, $out) = sh_run("$AK audit export -help");
is($rc, 0, 'export -help (no token needed)');
like($out, qr/-format jsonl\|csv/, 'export -help lists -format');

($rc, $out) = sh_run("$ctl audit verify");
is($rc, 0, 'verify: every license') or diag $out;
like($out, qr/^F1: OK: 7 entries, head seq 7/m, 'verify F1');

# ---- tampering, each undone after
sub verify_code {
    my ($id) = @_;
    my ($rc, $out) = sh_run("$ctl -json audit verify -license $id -root $pki/root.pem");
    my $r = eval { $J->decode($out) } || {};
    return ($rc, $r->{code} // 'OK', $r->{message} // $out);
}
my @f = entries('F1');

(my $alt = $f[1]) =~ s/client-ma/client-mx/ or die;
$t->redis('LSET', akey('F1'), 1, $alt);
my ($vc, $code, $msg) = verify_code('F1');
is("$vc $code", '3 AUDIT_HASH', 'an altered entry: AUDIT_HASH');
like($msg, qr/entry 2/, 'the message names the entry');
$t->redis('LSET', akey('F1'), 1, $f[1]);

$t->redis('LREM', akey('F1'), 1, $f[3]);
($vc, $code, $msg) = verify_code('F1');
is("$vc $code", '3 AUDIT_GAP', 'a removed entry: AUDIT_GAP');
like($msg, qr/entry 4 is missing/, 'the message names it');
$t->redis('LINSERT', akey('F1'), 'BEFORE', $f[4], $f[3]);

$t->redis('LSET', akey('F1'), 2, $f[3]);
$t->redis('LSET', akey('F1'), 3, $f[2]);
($vc, $code) = verify_code('F1');
is("$vc $code", '3 AUDIT_ORDER', 'two entries swapped: AUDIT_ORDER');
$t->redis('LSET', akey('F1'), 2, $f[2]);
$t->redis('LSET', akey('F1'), 3, $f[3]);
is((verify_code('F1'))[1], 'OK', 'restored: verifies again');

# ---- checkpoints, signed by nginx with the server identity
start_nginx(nginx_conf(tls => '', config => $t->audit_sign_server($b)));

my $cp = "$ctl audit checkpoint -sign-url https://localhost:$PORT -root $pki/root.pem";
($rc, $out) = sh_run("$cp");
is($rc, 0, 'checkpoint (due ones)') or diag $out;
like($out, qr/^F1: checkpoint at seq 7$/m, 'F1 had 7 entries: due');
like($out, qr/^N1: checkpoint at seq 5$/m, 'N1 due');

# two more entries on U1... none on F1: a second run stores nothing new
($rc, $out) = sh_run("$cp -all");
like($out, qr/^F1: no checkpoint due \(0 new entries\)$/m,
     'nothing new: no checkpoint');
is($t->redis('LLEN', akey('F1') . ':cp'), 1, 'one checkpoint of F1');

($rc, $out) = sh_run("$ctl audit verify -license F1");
is($rc, 2, 'checkpoints need -root to verify');
($rc, $code) = verify_code('F1');
is("$rc $code", '0 OK', 'the chain with its signed checkpoint verifies');

# a history rewritten with fresh link hashes (what anyone with Redis
# write access can do to a keyless chain): the signed checkpoint's
# SHA-256 chain tells
my @g = entries('F1');
my $prev = '0' x 40;
my @new;
for my $i (0 .. $#g) {
    my ($h, $c) = $g[$i] =~ /^(\S+) (.*)$/s;
    $c =~ s/client-ma/client-mx/ if $i == 1;
    $c =~ s/40:[0-9a-f]{40},/40:$prev,/ if $i > 0;
    my $nh = sha1_hex($c);
    push @new, "$nh $c";
    $prev = $nh;
}
$t->redis('LSET', akey('F1'), $_, $new[$_]) for 0 .. $#new;
($rc, $code) = verify_code('F1');
is("$rc $code", '3 AUDIT_CHECKPOINT',
   'a rewritten history with valid links: AUDIT_CHECKPOINT');
$t->redis('LSET', akey('F1'), $_, $g[$_]) for 0 .. $#g;

# entries removed from the end, past a checkpoint
$t->redis('RPOP', akey('F1'));
($rc, $code) = verify_code('F1');
is("$rc $code", '3 AUDIT_GAP', 'the tail removed past a checkpoint: AUDIT_GAP');
$t->redis('RPUSH', akey('F1'), $g[-1]);

# a forged checkpoint: another head, its signed body edited
my $real = $t->redis('LINDEX', akey('F1') . ':cp', 0);
my $forged = $J->decode($real);
$forged->{signed}{body} =~ s/"seq":\s*7/"seq":6/ or die;
$forged->{seq} = 6;
$t->redis('RPUSH', akey('F1') . ':cp', $J->encode($forged));
($rc, $code, $msg) = verify_code('F1');
is("$rc $code", '3 AUDIT_CHECKPOINT_SIG', 'a forged checkpoint: AUDIT_CHECKPOINT_SIG');
like($msg, qr/DIGEST_MISMATCH|SIG_INVALID/, 'the signature check says why');
$t->redis('RPOP', akey('F1') . ':cp');

# a checkpoint whose chain is another identity of the same root (the
# test PKI's EC leaf): its key did not make the signature
$forged = $J->decode($real);
my $ec = OvsaTest::read_file("$pki/chain-ec.pem");
$forged->{signed}{chain} = $ec;
$t->redis('RPUSH', akey('F1') . ':cp', $J->encode($forged));
($rc, $code) = verify_code('F1');
is("$rc $code", '3 AUDIT_CHECKPOINT_SIG',
   'a checkpoint with another identity: AUDIT_CHECKPOINT_SIG');
$t->redis('RPOP', akey('F1') . ':cp');

# the backend stores only a checkpoint that states its chain
$forged = $J->decode($real);
$forged->{hash} = 'f' x 40;
($st, $a) = $t->admin($b, 'POST', '/admin/v1/licenses/F1/audit/checkpoint',
                      $forged);
is("$st $a->{code}", '409 AUDIT_CHECKPOINT_MISMATCH',
   'a checkpoint of another chain is refused');

# retention trims only up to a checkpoint: the chain then starts right
# after a signed head (trimmed here by hand, as audit_cp.lua does)
($st, $a) = $t->api($b, '/v1/activate', { license_id => 'N1', hwid => 'h3' });
is($a->{code}, 'OK', 'activate h3 on N1 (entry 6)');
$t->redis('LTRIM', akey('N1'), 5, -1);
is(ops('N1'), 'activate', 'N1: entries 1-5 trimmed');
($rc, $code) = verify_code('N1');
is("$rc $code", '0 OK', 'the trimmed chain verifies from the checkpoint');
my $ncp = $t->redis('LPOP', akey('N1') . ':cp');
($rc, $code, $msg) = verify_code('N1');
is("$rc $code", '3 AUDIT_GAP', 'trimmed without a checkpoint: AUDIT_GAP');
like($msg, qr/starts at seq 6 without a checkpoint/, 'the message says so');
$t->redis('RPUSH', akey('N1') . ':cp', $ncp);

# ---- the chain head kept in the license hash (audit_head): written with
# each entry, so a script that loaded the license does not read the list
$t->import_ok($b, $t->license(license_id => 'U3', type => 'usage-count',
                              limits => { usage => 10 }));
sub spend3 {
    my ($st, $a) = $t->api($b, '/v1/check', { license_id => 'U3',
                                   version => 1, request_id => $_[0] });
    return $a->{code} // "HTTP $st";
}
is(spend3('u3-1') . ' ' . spend3('u3-2'), 'OK OK', 'U3: two spends');
my @u3 = entries('U3');
my ($u3h) = $u3[-1] =~ /^([0-9a-f]{40}) /;
is($t->redis('HGET', 'ovsa:lic:{U3}', 'audit_head'), scalar(@u3) . " $u3h",
   'the head in the license hash is the last entry\'s seq and hash');
is($t->redis('HGET', 'ovsa:lic:{U3}', 'used'), '2', 'used counts the spends');
# used is written in digits, however large (the limit goes to 2^53 - 1)
$t->import_ok($b, $t->license(license_id => 'U4', type => 'usage-count',
                              limits => { usage => 9007199254740991 }));
$t->redis('HSET', 'ovsa:lic:{U4}', 'used', '999999999999999');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U4', version => 1,
                                       request_id => 'u4-1' });
is($a->{code}, 'OK', 'a spend at used 10^15 - 1');
is($t->redis('HGET', 'ovsa:lic:{U4}', 'used'), '1000000000000000',
   'used is written in digits');
# a hash without the head (a list written before it was kept there): the
# next entry follows the list's last one
$t->redis('HDEL', 'ovsa:lic:{U3}', 'audit_head');
is(spend3('u3-3'), 'OK', 'a spend without a head in the hash');
is(ops('U3'), 'import spend spend spend', 'U3: the entries');
is((verify_code('U3'))[1], 'OK', 'the chain continues from the list');
like($t->redis('HGET', 'ovsa:lic:{U3}', 'audit_head'), qr/^4 [0-9a-f]{40}$/,
     'the head is written again');
# an admin action (no license loaded) continues the same chain
($st, $a) = $t->admin($b, 'POST', '/admin/v1/licenses/U3/revoke');
is($a->{code}, 'OK', 'U3 revoked');
is(join(' ', map { /^[0-9a-f]{40} 2:v1,\d+:(\d+),/ } entries('U3')),
   '1 2 3 4 5', 'U3: seq 1 to 5');
is((verify_code('U3'))[1], 'OK', 'and verifies');
# the whole list deleted while the head stays: the next entry keeps its
# place in the chain, and verify tells what is missing
$t->redis('DEL', akey('U3'));
$t->import_ok($b, $t->license(license_id => 'U3', type => 'usage-count',
                              version => 2, limits => { usage => 10 }));
is(scalar(entries('U3')), 1, 'one entry after the list was deleted');
like($t->redis('LINDEX', akey('U3'), 0), qr/^[0-9a-f]{40} 2:v1,1:6,/,
     'it is seq 6');
($rc, $code, $msg) = verify_code('U3');
is("$rc $code", '3 AUDIT_GAP', 'a deleted list: AUDIT_GAP');

# audit.enabled: false appends nothing
my $b2 = $t->start_backend(name => 'b2', prefix => 'off:',
                           extra => "audit: {enabled: false}\n");
$t->import_ok($b2, $t->license(license_id => 'U2', type => 'usage-count'));
($st, $a) = $t->api($b2, '/v1/check', { license_id => 'U2', version => 1 });
is($a->{code}, 'OK', 'a spend with the audit off');
is($t->redis('EXISTS', 'off:audit:{U2}'), '0', 'audit off: no entries');

unlike(read_file("$SERVROOT/logs/error.log"), qr{\[(?:alert|crit|emerg)\]}, "no nginx alerts");
done_testing();
