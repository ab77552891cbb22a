#!/usr/bin/perl
# 096-multi-key-url.t: several hardware keys behind one license server URL
# (issue 12 item 4), end to end on real parts: three nginx servers in
# hardware-key mode, each with its own SoftHSM2 token (its own p11-kit
# server, t/lib/softhsm.sh) and its own leaf under the one vendor chain of
# the test PKI, one real backend on Redis behind all three, and a TCP load
# balancer in front: the license names ONE URL (the balancer) and pins the
# three token keys as a set (format 2).  The balancer sends each new
# connection to the server the test names (a file), so every step says
# which server answered; each server's access log proves it.
#
#   (a) one license pinning K1, K2, K3 for the URL: each server's answers
#       are verified by ovsa-check; a fourth server with an unpinned key
#       (another token key under the same vendor chain) is refused with
#       OVSA_E_PIN, the license file untouched
#   (b) rotation of server 1's key while servers 2 and 3 keep serving:
#       the pre-switch check (check-new-cert) refuses K1' while no license
#       pins it; -add-pin K1' (v2), import; the check passes; a client
#       fetches v2 through server 2; server 1 switches to K1'; every server
#       serves the v2 client; a client still on v1 is refused by server 1
#       (OVSA_E_PIN); -drop-pin K1 (v3): a server still on K1 is refused
#   (c) the set rules through ovsatool: a ninth key and a repeated key are
#       refused (OVSA_E_LIC_PIN_SET), nothing written
#
# Ports (offset 170): redis +0, backend API/admin +1/+2, balancer +3,
# servers S1..S4 +4..+7.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 173;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir run_cmd);
use Test::More;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(_exit);
use Time::HiRes qw(sleep);

my $fixture = "$OvsaTest::ROOT/t/lib/softhsm.sh";
my $hwkey   = "$OvsaTest::ROOT/scripts/ovsa_hwkey.sh";

for my $need ('/usr/lib/softhsm/libsofthsm2.so', '/usr/bin/p11-kit',
              '/usr/bin/pkcs11-tool',
              '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so') {
    plan skip_all => "$need missing (make deps)" unless -e $need;
}

my $t = OvsaBackend->new(offset => 170);
$t->start_redis;
my ($api, $admin) = ($t->port, $t->port);           # +1, +2
my $LB = $PORT;                                      # +3
my @SP = map { $PORT + $_ } 1 .. 4;                  # +4 .. +7
my $URL = "https://127.0.0.1:$LB";
my $tmp = fresh_dir();
my $pki = OvsaTest::pki();
my $dir = tempdir('ovsa-t096-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{TMPDIR} = $dir;     # ovsa_hwkey.sh's private engine config

sub ok_run {
    my ($name, $r) = @_;
    is($r->{rc}, 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

# ---- three tokens, each behind its own p11-kit server
my (%hsm, %env);
for my $n (1 .. 3) {
    my $h = "$dir/hsm$n";
    $hsm{$n} = $h;
    ok_run("token $n", run_cmd('sh', $fixture, 'init', $h, 'ec'));
    ok_run("token $n exported", run_cmd('sh', $fixture, 'start', $h));
    my $e = run_cmd('sh', $fixture, 'env', $h)->{out};
    $env{$n} = { map { /^(\w+)='([^']*)'/ ? ($1, $2) : () } split /\n/, $e };
}
END {
    local $?;                   # the test's exit status stays its own
    # the servers go first: a token pulled under a running nginx is a
    # lost key (master exit status 3), not the end of a test
    stop_server($_) for grep { $_->{pid} } @OvsaTest::SERVERS;
    run_cmd('sh', $fixture, 'destroy', $hsm{$_}) for grep { -d $hsm{$_} }
        keys %hsm;
}

# token_leaf(TOKEN, OBJECT, NAME): a leaf for that token key, issued from
# the token's CSR by the test PKI's intermediate (the one vendor chain);
# returns the chain file
sub token_leaf {
    my ($n, $obj, $name) = @_;
    my $e = $env{$n};
    local $ENV{P11_KIT_SERVER_ADDRESS} = $e->{P11_KIT_SERVER_ADDRESS};
    my $uri = "pkcs11:token=$e->{OVSA_HSM_LABEL};object=$obj;type=private";
    ok_run("$name: CSR from token $n", run_cmd('sh', $hwkey, 'csr', '-module',
           $e->{OVSA_P11_MODULE}, '-uri', $uri, '-pin-file',
           $e->{OVSA_HSM_PIN_FILE}, '-cn', 'localhost',
           '-out', "$dir/$name.csr"));
    ok_run("$name: leaf issued", run_cmd('openssl', 'ca', '-batch',
           '-notext', '-config', "$pki/inter.cnf", '-cert', "$pki/inter.pem",
           '-keyfile', "$pki/inter.key", '-in', "$dir/$name.csr",
           '-out', "$dir/$name.pem", '-extensions', 'v3_leaf',
           '-extfile', "$pki/inter.cnf", '-days', '30'));
    write_file("$dir/$name-chain.pem", read_file("$dir/$name.pem")
               . read_file("$pki/inter.pem"));
    return { chain => "$dir/$name-chain.pem", uri => $uri, token => $n,
             pin => leaf_pin("$dir/$name-chain.pem") };
}

my %key = (K1  => token_leaf(1, 'ovsa-rsa', 'k1'),
           K2  => token_leaf(2, 'ovsa-rsa', 'k2'),
           K3  => token_leaf(3, 'ovsa-ec', 'k3'),
           K1n => token_leaf(1, 'ovsa-ec', 'k1n'),   # server 1's next key
           K4  => token_leaf(2, 'ovsa-ec', 'k4'));   # never pinned
my %seen;
$seen{$_->{pin}}++ for values %key;
is(scalar keys %seen, 5, 'five distinct token keys');

# ---- the backend (its CONFDIR also answers the pre-switch check)
my $conf = "$tmp/conf";
ok_run('backend identity', inst('-d', $conf, 'gencert'));
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c96:');
my $ks = "$tmp/isv";
ok_run('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
start_backend_on($t, 'b96', $conf, $api, $admin);

# ---- the servers: hardware-key mode, TLS and signing with the token key
my $user = $> == 0 ? 'user root;' : '';
my %srv;

sub start_front {
    my ($name, $port, $k) = @_;
    my $e = $env{$k->{token}};
    local $ENV{P11_KIT_SERVER_ADDRESS} = $e->{P11_KIT_SERVER_ADDRESS};
    my $yaml = <<"Y";
identity:
  chain: $k->{chain}
  root: $pki/root.pem
hardware_key:
  enabled: true
  module: $e->{OVSA_P11_MODULE}
  key_uri: "$k->{uri}"
  pin_file: $e->{OVSA_HSM_PIN_FILE}
  sign_timeout_ms: 5000
Y
    my $http = <<"C";
    upstream ovsa_backend {
        server unix:@{[ OvsaRotation::api_sock($api) ]};
        keepalive 4;
    }
C
    my $server = <<'C';
        access_log logs/access.log;
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            client_max_body_size 64k;
            proxy_next_upstream off;
        }
        location / { return 404; }
C
    my $h = start_server(port => $port, tls => '', yaml => $yaml,
                         main_config => "$user\nthread_pool ovsa threads=1;\n"
                                        . "env P11_KIT_SERVER_ADDRESS;\n",
                         http_config => $http, config => $server);
    $h->{name} = $name;
    $srv{$name} = $h;
    return $h;
}

sub hits {
    my ($name) = @_;
    my $log = read_file("$srv{$name}{root}/logs/access.log");
    my @n = $log =~ m{"POST /v1/check }g;
    return scalar @n;
}

# ---- the load balancer: one URL, each new connection to the server
# named in $dir/lb.target (the test plays the balancer's choice)
sub lb_target { write_file("$dir/lb.target", "$_[0]\n") }

sub lb_start {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $LB, Listen => 64,
                                  ReuseAddr => 1)
        or die "balancer: listen $LB: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $l;
        return $pid;
    }
    $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($l);
    my %peer;
    while (1) {
        for my $s ($sel->can_read(1)) {
            if ($s == $l) {
                my $c = $l->accept or next;
                (my $to = read_file("$dir/lb.target")) =~ s/\s+//g;
                my $u = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$to")
                    or do { close $c; next };
                @peer{$c, $u} = ($u, $c);
                $sel->add($c, $u);
                next;
            }
            my $p = $peer{$s} or next;      # closed with its pair
            my $n = sysread($s, my $buf, 65536);
            if (!$n || !defined syswrite($p, $buf)) {
                for my $x (grep { defined } $s, $p) {
                    $sel->remove($x);
                    delete $peer{$x};
                    close $x;
                }
            }
        }
    }
    _exit(0);
}

my $lb = lb_start();
END { local $?; if ($lb) { kill 'TERM', $lb; waitpid($lb, 0) } }

my $v1 = "$tmp/v1.lic";
start_front('S1', $SP[0], $key{K1});
start_front('S2', $SP[1], $key{K2});
start_front('S3', $SP[2], $key{K3});
start_front('S4', $SP[3], $key{K4});

# a client's copy of a license, with the license secret beside it (0600)
sub client_copy {
    my ($lic, $c) = @_;
    copy($lic, $c) or die "copy $lic: $!";
    copy("$v1.secret", "$c.secret") or die "copy $v1.secret: $!";
    chmod 0600, "$c.secret";
}

sub check_via {
    my ($name, $lic) = @_;
    lb_target($srv{$name}{port});
    return check('-isv', "$ks/isv.crt", '-license', $lic);
}

# ======== (a) one URL, a set of three keys: every server serves
{
    my $r = ok_run('create: one URL pinning the three token keys',
        ovsatool('create', '-k', $ks, '-id', 'FLEET-1', '-product', 'Widget',
                 '-customer', 'ACME', '-type', 'perpetual',
                 '-server', $URL, '-server-cert', $key{K1}{chain},
                 '-server-cert', $key{K2}{chain},
                 '-server-cert', $key{K3}{chain}, '-out', $v1));
    my $p = payload_of($v1);
    is($p->{ovsa}, 2, 'the license is format 2');
    is_deeply($p->{servers}, [ { url => $URL, pins =>
                                 [ map { $key{$_}{pin} } qw(K1 K2 K3) ] } ],
              'one URL, the three pins in order');
    $r = ok_run('show', ovsatool('show', '-l', $v1));
    like($r->{out}, qr/pin set:\s+3 keys/, 'show: the pin set');
    like($r->{out}, qr/^  pin 3:\s+\Q$key{K3}{pin}\E$/m, 'show: each pin');
    ok_run('import v1', ovsactl('-c', "$conf/default.yaml", 'import', $v1));

    for my $name (qw(S1 S2 S3)) {
        my $before = hits($name);
        my $c = "$tmp/client-$name.lic";
        client_copy($v1, $c);
        $r = check_via($name, $c);
        is($r->{rc}, 0, "(a) $name: its token's answer is verified")
            or diag("out: $r->{out}\nerr: $r->{err}");
        like($r->{out}, qr/^server 1 \Q$URL\E: verified \(200\)$/m,
             "(a) $name: through the one URL");
        is(hits($name), $before + 1, "(a) $name answered (its access log)");
    }

    my $c = "$tmp/client-S4.lic";
    client_copy($v1, $c);
    my $before = slurp($c);
    $r = check_via('S4', $c);
    is($r->{rc}, 3, '(a) S4 (unpinned token key): refused, exit 3');
    like($r->{err}, qr/not verified: OVSA_E_PIN/, '(a) S4: OVSA_E_PIN');
    is(hits('S4'), 0, '(a) S4: no request reached it past the TLS pin');
    is(slurp($c), $before, '(a) S4: the license file is untouched');
}

# ======== (b) rotate server 1's key; servers 2 and 3 keep serving
{
    my %pid = map { $_ => $srv{$_}{pid} } qw(S2 S3);

    # the operator of server 1 asks before switching: no license pins K1'
    my $r = inst('-d', $conf, 'check-new-cert', $key{K1n}{chain});
    is($r->{rc}, 1, '(b) check-new-cert K1\': refused while unpinned');
    like($r->{err}, qr/1 active license\(s\) do not pin the new key \Q$key{K1n}{pin}\E/,
         '(b) ... with the reason');
    like($r->{err}, qr/-add-pin URL NEW_CERT/, '(b) ... and the remedy');
    $r = ok_run('(b) check-new-cert K2 (pinned): passes',
                inst('-d', $conf, 'check-new-cert', $key{K2}{chain}));
    like($r->{out}, qr/1 pin it, 0 do not/, '(b) ... counts');

    my $v2 = "$tmp/v2.lic";
    $r = ok_run('(b) v2: -add-pin K1\'',
        ovsatool('updatecustlicense', '-k', $ks, '-l', $v1, '-add-pin',
                 $URL, $key{K1n}{chain}, '-c', $v2));
    like($r->{out}, qr/key added to the pin set/, '(b) v2: reported');
    is_deeply(payload_of($v2)->{servers}[0]{pins},
              [ map { $key{$_}{pin} } qw(K1 K2 K3 K1n) ],
              '(b) v2: the three keys kept, K1\' added');
    ok_run('(b) import v2', ovsactl('-c', "$conf/default.yaml", 'import',
                                    $v2));
    ok_run('(b) check-new-cert K1\': passes once v2 is in the store',
           inst('-d', $conf, 'check-new-cert', $key{K1n}{chain}));

    # a client fetches v2 through server 2 (K2, pinned by v1)
    my $c = "$tmp/client-S2.lic";
    $r = check_via('S2', $c);
    is($r->{rc}, 0, '(b) S2 serves the v1 client and offers v2')
        or diag("out: $r->{out}\nerr: $r->{err}");
    like($r->{out}, qr/license updated: FLEET-1 version 1 -> 2/,
         '(b) the client stored v2');

    # server 1 switches to its next key
    stop_server($srv{S1});
    start_front('S1', $SP[0], $key{K1n});
    lb_target($SP[0]);
    is(served_pin(), $key{K1n}{pin}, '(b) S1 now serves K1\' (the URL, '
       . 'balanced to S1)');

    for my $name (qw(S1 S2 S3)) {
        $r = check_via($name, $c);
        is($r->{rc}, 0, "(b) $name serves the v2 client")
            or diag("out: $r->{out}\nerr: $r->{err}");
    }
    is_deeply({ map { $_ => $srv{$_}{pid} } qw(S2 S3) }, \%pid,
              '(b) S2 and S3 were never restarted');

    my $old = "$tmp/client-old.lic";
    client_copy($v1, $old);
    $r = check_via('S1', $old);
    is($r->{rc}, 3, '(b) a client still on v1: S1 (K1\') refused');
    like($r->{err}, qr/not verified: OVSA_E_PIN/, '(b) ... OVSA_E_PIN');
    $r = check_via('S3', $old);
    is($r->{rc}, 0, '(b) ... and S3 still serves it (and offers v2)');

    # K1 is retired from the set; a server still holding K1 is refused
    my $v3 = "$tmp/v3.lic";
    $r = ok_run('(b) v3: -drop-pin K1 (by its pin)',
        ovsatool('updatecustlicense', '-k', $ks, '-l', $v2, '-drop-pin',
                 $URL, $key{K1}{pin}, '-c', $v3));
    is_deeply(payload_of($v3)->{servers}[0]{pins},
              [ map { $key{$_}{pin} } qw(K2 K3 K1n) ],
              '(b) v3: K1 gone, the others kept');
    ok_run('(b) import v3', ovsactl('-c', "$conf/default.yaml", 'import',
                                    $v3));
    $r = check_via('S3', $c);
    like($r->{out}, qr/license updated: FLEET-1 version 2 -> 3/,
         '(b) the client stored v3 through S3');
    stop_server($srv{S4});
    start_front('S4', $SP[3], $key{K1});
    my $before = slurp($c);
    $r = check_via('S4', $c);
    is($r->{rc}, 3, '(b) a server still on the dropped K1: refused');
    like($r->{err}, qr/not verified: OVSA_E_PIN/, '(b) ... OVSA_E_PIN');
    is(slurp($c), $before, '(b) ... the license file is untouched');
    $r = check_via('S1', $c);
    is($r->{rc}, 0, '(b) S1 (K1\') serves the v3 client');
}

# ======== (c) the set rules through ovsatool
{
    my @certs;
    for my $i (1 .. 6) {
        my $f = "$tmp/extra$i.pem";
        ok_run("extra key $i", run_cmd('openssl', 'req', '-x509', '-newkey',
               'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
               '-keyout', "$tmp/extra$i.key", '-out', $f, '-subj',
               "/CN=extra$i", '-days', '2'));
        push @certs, $f;
    }
    my $v3 = "$tmp/v3.lic";
    my $full = "$tmp/full.lic";
    # v3 holds three keys: five more make eight (allowed), six make nine
    my $r = ok_run('8 keys for one URL: allowed',
        ovsatool('updatecustlicense', '-k', $ks, '-l', $v3,
                 map({ ('-add-pin', $URL, $_) } @certs[0 .. 4]), '-c', $full));
    is(scalar @{ payload_of($full)->{servers}[0]{pins} }, 8, '... 8 pins');
    $r = ovsatool('updatecustlicense', '-k', $ks, '-l', $full, '-add-pin',
                  $URL, $certs[5], '-c', "$tmp/nine.lic");
    is($r->{rc}, 1, 'a ninth key: refused');
    like($r->{err}, qr/servers\[0\]\.pins: 9 pins, not 1\.\.8 \(OVSA_E_LIC_PIN_SET\)/,
         '... OVSA_E_LIC_PIN_SET, with the limit');
    ok(!-e "$tmp/nine.lic", '... nothing written');

    $r = ovsatool('create', '-k', $ks, '-id', 'DUP-1', '-product', 'Widget',
                  '-customer', 'ACME', '-type', 'perpetual', '-server', $URL,
                  '-server-cert', $key{K2}{chain}, '-server-cert',
                  $key{K2}{chain}, '-out', "$tmp/dup.lic");
    is($r->{rc}, 1, 'one key twice for a URL: refused');
    like($r->{err}, qr/pins\[1\]: .* repeats .*pins\[0\] \(OVSA_E_LIC_PIN_SET\)/,
         '... OVSA_E_LIC_PIN_SET');
    ok(!-e "$tmp/dup.lic" && !-e "$tmp/dup.lic.secret", '... nothing written');

    $r = ovsatool('updatecustlicense', '-k', $ks, '-l', $v3, '-drop-pin',
                  $URL, $key{K1}{pin}, '-c', "$tmp/v4.lic");
    is($r->{rc}, 1, '-drop-pin of a key not in the set: refused');
    like($r->{err}, qr/not in the pin set .*\(OVSA_E_LIC_PIN_SET\)/,
         '... OVSA_E_LIC_PIN_SET');
    ok(!-e "$tmp/v4.lic", '... nothing written');
}

done_testing();
