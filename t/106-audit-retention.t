# 106-audit-retention.t: audit.retention_days end to end (docs/audit.md
# "Retention"): a trail and a signed checkpoint three days old, then
# newer entries; storing the next checkpoint removes the entries up to
# the old checkpoint (and the checkpoints before it), never the last
# entry, never past a checkpoint, and the trail left verifies from the
# old checkpoint.  Retention compares entry times (Redis TIME), so the
# old part of a trail is made by the backend, then dated three days
# back: each entry's time rewritten and the links and the head
# (audit_head) computed again, as an entry of that age would be.
# (libfaketime cannot move Redis's clock: with Debian's jemalloc build
# it fails at start, "unexpected recursive calls to clock_gettime()".)
# Port offset 250.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 259;
}
use OvsaTest;
use OvsaBackend;
use Digest::SHA qw(sha1_hex);
use Test::More;

my $pki = OvsaTest::pki();
my $t = OvsaBackend->new(offset => 250);
$t->start_redis;
my $b = $t->start_backend(name => 'b1', extra =>
    "audit: {enabled: true, checkpoint_every: 1, retention_days: 1}\n");
my $ctl = "$OvsaBackend::BIN/bin/ovsactl -url http://127.0.0.1:"
        . "$b->{admin_port} -token-file " . $t->dir . '/admin.token';
my $PORT = $ENV{TEST_NGINX_PORT};
start_nginx(nginx_conf(tls => '', config => $t->audit_sign_server($b)));
my $cp = "$ctl audit checkpoint -all -sign-url https://localhost:$PORT "
       . "-root $pki/root.pem";

sub akey { return $t->key('audit', $_[0]) }
sub seqs {
    return join ' ', map { /^[0-9a-f]{40} 2:v1,\d+:(\d+),/ }
        split /\n/, $t->redis('LRANGE', akey($_[0]), 0, -1);
}
sub cp_seqs {
    return join ' ', map { $OvsaBackend::JSON->decode($_)->{seq} }
        split /\n/, $t->redis('LRANGE', akey($_[0]) . ':cp', 0, -1);
}
# Dates every entry of ID's trail $_[1] seconds earlier, then links the
# entries again (prev, hash) and writes the new head to the license hash.
sub age_trail {
    my ($id, $by) = @_;
    my @e = split /\n/, $t->redis('LRANGE', akey($id), 0, -1);
    my ($prev, $seq, $h) = ('0' x 40);
    for my $i (0 .. $#e) {
        my ($c) = $e[$i] =~ /^[0-9a-f]{40} (.*)$/s or die "entry $i";
        $c =~ s/^(2:v1,\d+:(\d+),)\d+:(\d+),/
                $seq = $2; my $tm = $3 - $by; "$1" . length($tm) . ":$tm,"/e
            or die "entry $i: no time";
        $c =~ s/,40:[0-9a-f]{40},/,40:$prev,/ or die "entry $i: no prev";
        $h = sha1_hex($c);
        $t->redis('LSET', akey($id), $i, "$h $c");
        $prev = $h;
    }
    $t->redis('HSET', $t->key('lic', $id), 'audit_head', "$seq $h");
}

sub spend {
    my ($id, $rid) = @_;
    my ($st, $a) = $t->api($b, '/v1/check', { license_id => $id,
                                   version => 1, request_id => $rid });
    return $a->{code} // "HTTP $st";
}
sub run_ok {
    my ($cmd, $name) = @_;
    my $out = qx{$cmd 2>&1};
    is($? >> 8, 0, $name) or diag $out;
    return $out;
}
# "<exit status> <code>" of ovsactl audit verify (its -json answer, as
# t/104 reads it), and the message
sub verify {
    my $out = qx{$ctl -json audit verify -license $_[0] -root $pki/root.pem 2>&1};
    my $rc = $? >> 8;
    my $r = eval { $OvsaBackend::JSON->decode($out) } || {};
    return ("$rc " . ($r->{code} // 'OK'), $r->{message} // $out);
}

my $DAY = 86400;
my $real = time;

# ---- three days ago: R1 with a checkpoint at its last entry, R2 with
# none
for my $id (qw(R1 R2)) {
    $t->import_ok($b, $t->license(license_id => $id, type => 'usage-count',
                                  limits => { usage => 100 }));
}
is(join(' ', map { spend('R1', "old-$_") } 1 .. 3), 'OK OK OK',
   'R1: three spends');
is(spend('R2', 'old-1'), 'OK', 'R2: one spend');
age_trail($_, 3 * $DAY) for qw(R1 R2);
my @old = map { ($_ =~ /^\S+ 2:v1,\d+:\d+,\d+:(\d+),/)[0] }
    split /\n/, $t->redis('LRANGE', akey('R1'), 0, -1);
cmp_ok($real - $old[-1], '>', 2 * $DAY, 'their entries dated three days ago');
is((verify('R1'))[0], '0 OK', 'and the trail verifies');

my $out = run_ok($cp, 'checkpoint: R1 at seq 4, three days ago');
like($out, qr/^R1: checkpoint at seq 4$/m,
     'the last entry is never removed: nothing trimmed');
like($out, qr/^R2: checkpoint at seq 2$/m, 'R2 checkpointed too');
# R2's checkpoint goes: without it, nothing of R2 may ever be trimmed
$t->redis('DEL', akey('R2') . ':cp');

# ---- now
is(join(' ', map { spend('R1', "new-$_") } 1 .. 2), 'OK OK',
   'R1: two spends now');
is(spend('R2', 'new-1'), 'OK', 'R2: one spend now');
is(seqs('R1'), '1 2 3 4 5 6', 'R1: six entries before the checkpoint');

$out = run_ok($cp, 'checkpoint: R1 at seq 6');
like($out, qr/^R1: checkpoint at seq 6, 4 entries past retention removed$/m,
     'storing it removes the entries up to the old checkpoint');
is(seqs('R1'), '5 6', 'R1: the trail starts right after the old head');
is(cp_seqs('R1'), '4 6', 'the old checkpoint stays (the trail starts there)');
is((verify('R1'))[0], '0 OK',
   'the trimmed trail verifies from the old checkpoint');
like($out, qr/^R2: checkpoint at seq 3$/m,
     'R2: old entries without an old checkpoint are kept');
is(seqs('R2'), '1 2 3', 'R2: all three entries');
is((verify('R2'))[0], '0 OK', 'R2 verifies');

# ---- a trail trimmed past a checkpoint it no longer has: the removed
# head is missing, and verify says so (the retention never does this)
my $first_cp = $t->redis('LPOP', akey('R1') . ':cp');
my ($res, $msg) = verify('R1');
is($res, '3 AUDIT_GAP', 'the old checkpoint removed by hand: AUDIT_GAP');
like($msg, qr/starts at seq 5 without a checkpoint/, 'the message says where');
$t->redis('LPUSH', akey('R1') . ':cp', $first_cp);

# ---- a later checkpoint trims nothing more until a newer one is old
is(spend('R1', 'new-3'), 'OK', 'R1: one more spend');
$out = run_ok($cp, 'checkpoint: R1 at seq 7');
like($out, qr/^R1: checkpoint at seq 7$/m, 'nothing else is past retention');
is(seqs('R1'), '5 6 7', 'R1: entries 5 to 7');
is(cp_seqs('R1'), '4 6 7', 'its checkpoints');

done_testing();
