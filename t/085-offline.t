# 085-offline.t: offline use (docs/offline.md) through a real nginx
# (TLS, signed answers), two real backends on one Redis (a fleet) and
# ovsa-check in license mode.  The offline machine's commands run with no
# network at all (unshare -n).
#   - docs/offline.md's worked example, read from the document and run:
#     offline request, submit, accept, offline check, offline
#     deactivation and its submission; the server's state after each;
#   - response files refused with their own codes: altered, for another
#     machine key, a request this machine did not make, expired, after
#     the deactivation; a request carried again after the deactivation
#     (server), a license without max_offline;
#   - the clock set back is refused;
#   - borrowing: a seat borrowed on one server of the fleet is taken on
#     the other, held offline, not renewed (LEASE_BORROWED), a forced
#     release waits for its end, returned early frees it, and a borrow
#     ends by itself (60 s).
#
# Ports: $PORT, $PORT+1 nginx (two servers of one fleet); from the
# OvsaBackend offset 240: Redis (+0), backend 1 socket name (+1) and
# admin (+2), backend 2 socket name (+3) and admin (+4).
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 86;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir run_cmd);
use Test::More;
use File::Copy qw(copy);
use JSON::PP;
use Time::HiRes qw(time sleep);

my $t = OvsaBackend->new(offset => 240);
$t->start_redis;
my $tmp = fresh_dir();
my ($URL, $URL2) = ("https://127.0.0.1:$PORT", 'https://127.0.0.1:' . ($PORT + 1));
my $J = JSON::PP->new->canonical;

sub run_ok {
    my ($name, $r, $rc) = @_;
    is($r->{rc}, $rc // 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}
sub json_of { my $o = eval { decode_json($_[0]{out}) }; $o || {} }

# ---- a fleet: two backends on one Redis, two nginx servers
my $conf = "$tmp/conf";
run_ok('gencert', inst('-d', $conf, 'gencert'));
my ($api, $admin, $api2, $admin2) = ($t->port, $t->port, $t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c85:');
my $conf2 = "$tmp/conf2";
mkdir $conf2;
system('cp', '-a', "$conf/.", $conf2) == 0 or die 'cp';
write_yaml($conf2, $t->{redis_port}, $admin2, $api2, 'c85:');
my $ks = "$tmp/isv";
run_ok('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
copy("$ks/isv.crt", "$conf2/isv.pem") or die;
my $b1 = start_backend_on($t, 'b85a', $conf, $api, $admin);
my $b2 = start_backend_on($t, 'b85b', $conf2, $api2, $admin2);
my $sock2 = OvsaRotation::api_sock($api2);
my $F2 = $PORT + 1;
start_nginx(nginx_front($conf, $api, <<"C"));
    upstream ovsa_backend2 {
        server unix:$sock2;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:$F2 ssl;
        ovsa_tls on;
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend2;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-OVSA-Client-Cert-SHA256 \$ovsa_client_cert_sha256;
        }
    }
C
my $cert = "$conf/current/server-chain.pem";

sub create {
    my ($id, @o) = @_;
    run_ok("create $id", ovsatool('create', '-k', $ks, '-id', $id,
        '-product', 'Widget', '-customer', 'ACME', @o, '-server', $URL,
        '-server-cert', $cert, '-server', $URL2, '-server-cert', $cert,
        '-out', "$tmp/$id.lic"));
    run_ok("import $id", ovsactl('-c', "$conf/default.yaml", 'import',
                                 "$tmp/$id.lic"));
}
sub show {
    my ($id) = @_;
    my ($st, $a) = $t->admin($b1, 'GET', "/admin/v1/licenses/$id");
    die "show $id: $st" unless $st == 200;
    return $a;
}

# a borrow that must end by itself: taken first, looked at last
create('F2', '-type', 'floating', '-seats', 1, '-lease-seconds', 60,
       '-max-borrow', 60);
my $lic = sub { ('-license', "$tmp/$_[0].lic", '-isv', "$ks/isv.crt") };
my $borrowed_at = time;
my $r = run_ok('F2: borrowed for 60 s', check($lic->('F2'), '-state',
    "$tmp/stC", '-op', 'borrow', '-seconds', 60, '-json'));
is(json_of($r)->{code}, 'OK', '... OK');

# ---- docs/offline.md's worked example, as the document says
create('widget', '-type', 'node-locked', '-max-activations', 1,
       '-max-offline', '1d');
my $doc = slurp(dirname(__FILE__) . '/../docs/offline.md');
my ($block) = $doc =~ m{<!-- t/085: example -->\s*```\n(.*?)```}s
    or die 'docs/offline.md: no example block';
my $where = '';
my @ran;
for my $line (split /\n/, $block) {
    if ($line =~ /^# (offline|connected) machine$/) { $where = $1; next }
    next if $line !~ /^ovsa-check /;
    my @argv = split ' ', $line;
    shift @argv;
    my %file = ('widget.lic' => "$tmp/widget.lic", 'isv.crt' => "$ks/isv.crt",
                'state' => "$tmp/state");
    @argv = map { $file{$_} // (/\.(req|grant)$/ ? "$tmp/$_" : $_) } @argv;
    my @cmd = ("$BIN/ovsa-check", @argv, '-json');
    unshift @cmd, 'unshare', '-n' if $where eq 'offline';
    my $x = run_cmd(@cmd);
    push @ran, [$where, $line, $x];
    is($x->{rc}, 0, "docs/offline.md: $where: $line")
        or diag("out: $x->{out}\nerr: $x->{err}");
}
is(scalar @ran, 6, 'the example has six commands, all run');

# what each step did
my ($req1, $sub1, $acc, $chk, $dreq, $dsub) = map { json_of($_->[2]) } @ran;
my $grant = decode_json(slurp("$tmp/activate.grant"));
my $req = decode_json(slurp("$tmp/activate.req"));
is($req->{path}, '/v1/offline/activate', 'request file: the path');
my $secret = slurp("$tmp/widget.lic.secret");
$secret =~ s/\s+//g;
ok(index(slurp("$tmp/activate.req"), $secret) < 0,
   'request file: no license secret in it');
is($grant->{nonce}, $req->{nonce}, 'response: bound to the request nonce');
is($sub1->{code}, 'OK', 'submit: the server activated');
is($acc->{code}, 'OK', 'accept: OK');
ok($acc->{valid_until} > time + 86000, 'accept: valid for max_offline (1 d)');
is($chk->{sdk}{code}, 'OFFLINE', 'offline check: allowed by the grant');
is($chk->{sdk}{allowed}, JSON::PP::true, '... allowed');
diag(sprintf('request file %d bytes, response file %d bytes',
             -s "$tmp/activate.req", -s "$tmp/activate.grant"));
is($dsub->{code}, 'OK', 'the deactivation proof freed the slot');
is(scalar @{ show('widget')->{activations} }, 0, 'server: no activation left');

my $st = "$tmp/state";
my @off = ('unshare', '-n', "$BIN/ovsa-check", $lic->('widget'),
           '-state', $st, '-hwid', 'H1', '-json');
$r = run_cmd(@off, '-op', 'check');
isnt($r->{rc}, 0, 'after the offline deactivation: offline check refused');
$r = run_cmd(@off, '-op', 'offline-accept', '-in', "$tmp/activate.grant");
is(json_of($r)->{check}, 'OVSA_E_GRANT_DEACTIVATED',
   'the old response file again: OVSA_E_GRANT_DEACTIVATED');

# the server refuses the activation request carried again
$r = check($lic->('widget'), '-op', 'offline-submit', '-in',
           "$tmp/activate.req", '-out', "$tmp/again.grant", '-json');
is(json_of($r)->{code}, 'OFFLINE_REQUEST_REPLAYED',
   'server: the activation request again: OFFLINE_REQUEST_REPLAYED');
is($r->{rc}, 5, '... a verified refusal (exit 5)');
$r = check($lic->('widget'), '-op', 'offline-submit', '-in',
           "$tmp/deactivate.req", '-out', "$tmp/again.grant", '-json');
is(json_of($r)->{code}, 'ACTIVATION_UNKNOWN',
   'server: the deactivation proof again: ACTIVATION_UNKNOWN');

# ---- a new activation, then every forged or misdirected response
run_ok('a new offline request', run_cmd(@off, '-op', 'offline-request',
                                        '-out', "$tmp/a2.req"));
run_ok('submitted', check($lic->('widget'), '-op', 'offline-submit', '-in',
       "$tmp/a2.req", '-out', "$tmp/a2.grant"));
sub accept_code {
    my ($file, @extra) = @_;
    my $x = run_cmd(@off, @extra, '-op', 'offline-accept', '-in', $file);
    return (json_of($x)->{check} // '') . ' ' . $x->{rc};
}
sub altered {
    my ($name, $edit) = @_;
    my $x = decode_json(slurp("$tmp/a2.grant"));
    $edit->($x);
    OvsaBackend::spew("$tmp/alt.grant", $J->encode($x));
    return "$tmp/alt.grant";
}
is(accept_code(altered('body', sub { $_[0]{body} =~ s/"H1"/"H2"/ or die })),
   'OVSA_E_DIGEST_MISMATCH 3', 'altered answer: OVSA_E_DIGEST_MISMATCH');
is(accept_code(altered('nonce', sub { $_[0]{nonce} = 'AAAAAAAAAAAAAAAAAAAAAA' })),
   'OVSA_E_SIG_INVALID 3', 'another nonce: OVSA_E_SIG_INVALID');
# another machine (its own state directory and key), same hwid
my @other = ('unshare', '-n', "$BIN/ovsa-check", $lic->('widget'),
             '-state', "$tmp/state-other", '-hwid', 'H1', '-json');
my $x = run_cmd(@other, '-op', 'offline-accept', '-in', "$tmp/a2.grant");
system('cp', '-a', $tmp, '/tmp/t085-debug') if $ENV{T085_DEBUG};
is((json_of($x)->{check} // '') . " $x->{rc}", 'OVSA_E_GRANT_MACHINE 3',
   'the response on another machine key: OVSA_E_GRANT_MACHINE')
    or diag("$x->{out} $x->{err}");
# expired: accepted a day and a bit later
SKIP: {
    skip 'faketime is not installed (scripts/install-deps.sh)', 2
        unless -x '/usr/bin/faketime';
    $x = run_cmd('faketime', '-f', '+2d', @off, '-op', 'offline-accept',
                 '-in', "$tmp/a2.grant");
    is(json_of($x)->{check}, 'OVSA_E_GRANT_EXPIRED',
       'the response two days later: OVSA_E_GRANT_EXPIRED');
    run_ok('accepted now', run_cmd(@off, '-op', 'offline-accept', '-in',
                                   "$tmp/a2.grant"));
    $x = run_cmd('faketime', '-f', '-1d', @off, '-op', 'check');
    is(json_of($x)->{sdk}{code}, 'CLOCK_BACK',
       'the clock set back a day: CLOCK_BACK') or diag("$x->{out} $x->{err}");
}
is(accept_code("$tmp/a2.grant"), 'OVSA_E_GRANT_NONCE 3',
   'the same response twice: OVSA_E_GRANT_NONCE');
$x = run_cmd(@off, '-op', 'check');
is(json_of($x)->{sdk}{code}, 'OFFLINE', 'offline check: allowed again');

# a license without max_offline
create('nooff', '-type', 'node-locked', '-max-activations', 1);
my @noff = ('unshare', '-n', "$BIN/ovsa-check", $lic->('nooff'),
            '-state', $st, '-hwid', 'H1', '-json');
run_ok('nooff: request', run_cmd(@noff, '-op', 'offline-request', '-out',
                                 "$tmp/n.req"));
$x = check($lic->('nooff'), '-op', 'offline-submit', '-in', "$tmp/n.req",
           '-out', "$tmp/n.grant", '-json');
is(json_of($x)->{code} . " $x->{rc}", 'OFFLINE_NOT_ALLOWED 5',
   'no max_offline: OFFLINE_NOT_ALLOWED');

# ---- borrowing across the fleet
create('F1', '-type', 'floating', '-seats', 1, '-lease-seconds', 60,
       '-max-borrow', '1d');
$r = run_ok('A borrows F1 on server 1', check($lic->('F1'), '-state',
    "$tmp/stA", '-op', 'borrow', '-seconds', 7200, '-json'));
my $ba = json_of($r);
ok($ba->{lease_expires} >= time + 7100 && $ba->{lease_expires} <= time + 7300,
   'borrowed for the 2 h asked (max_borrow 1 d)');
# B asks the fleet's second backend (its own process, the shared Redis)
sub secret_of { my $s = slurp("$tmp/$_[0].lic.secret"); $s =~ s/\s+//g; $s }
sub on_b2 {
    my ($id) = @_;
    my ($s, $a) = $t->api($b2, '/v1/lease/checkout',
                          { license_id => $id, client_id => 'B' },
                          secret => secret_of($id));
    return $a->{code} // "status $s";
}
is(on_b2('F1'), 'NO_SEATS', 'B on server 2: NO_SEATS');
my ($lease) = grep { $_->{borrowed} } @{ show('F1')->{leases} };
ok($lease, 'ovsactl/admin: the seat is shown borrowed');
$x = run_cmd('unshare', '-n', "$BIN/ovsa-check", $lic->('F1'), '-state',
             "$tmp/stA", '-op', 'lease', '-json');
is(json_of($x)->{code} . ' ' . json_of($x)->{allowed}, 'OFFLINE 1',
   'A offline: the borrowed seat allows');
$x = check($lic->('F1'), '-state', "$tmp/stA", '-op', 'heartbeat',
           '-lease', $lease->{lease_id}, '-json');
is(json_of($x)->{answer}{code}, 'LEASE_BORROWED',
   'a heartbeat on a borrowed seat: LEASE_BORROWED');
my ($rs, $ra) = $t->admin($b1, 'POST', '/admin/v1/licenses/F1/release',
                          { lease_id => $lease->{lease_id} });
is($ra->{released}, 0, 'admin release of a borrowed seat: not at once');
is($ra->{deferred}[0]{takes_effect}, $lease->{expires},
   '... it takes effect when the borrow ends');
ok((grep { $_->{release_asked} } @{ show('F1')->{leases} }),
   '... and is recorded');
is(on_b2('F1'), 'NO_SEATS', '... the seat stays taken');
run_ok('A returns it early', check($lic->('F1'), '-state', "$tmp/stA",
                                   '-op', 'lease-release'));
is(on_b2('F1'), 'OK', 'B on server 2: the seat is free');

# a license that lends nothing
$x = check($lic->('nooff'), '-state', "$tmp/stA", '-op', 'borrow',
           '-seconds', 60, '-json');
isnt($x->{rc}, 0, 'borrow on a node-locked license refused');

# ---- F2's borrow ends by itself
my $left = $borrowed_at + 62 - time;
sleep $left if $left > 0;
is(on_b2('F2'), 'OK', 'F2: the borrow ended by itself, the seat is free '
   . 'on server 2');
$x = run_cmd('unshare', '-n', "$BIN/ovsa-check", $lic->('F2'), '-state',
             "$tmp/stC", '-op', 'lease', '-json');
isnt(json_of($x)->{allowed}, JSON::PP::true, 'F2 offline after its end: '
     . 'not allowed');

done_testing();
