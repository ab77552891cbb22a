# 080-rotation.t: a license server's key rotation without an outage, end
# to end on real parts: nginx (ovsa_tls, ovsa_sign, ovsa_chain), the
# backend on Redis, ovsatool, ovsactl, the provisioning script and
# ovsa-check in license mode.  Both paths: self-signed (gencert,
# gencert-new) and CA-signed (csr, dev CA, install-cert, install-new-cert).
#
# The story each time: A is provisioned; a license pinning A is issued and
# imported; the client checks.  B is made as the future identity; the ISV
# adds B as "future"; provision-new-cert refuses while the store holds
# licenses that do not pin B; the updated license is imported; a client
# check served by A receives it and stores it (version + 1, pins [A, B]);
# now provision-new-cert switches and reloads nginx; nginx serves B; the
# updated client passes; a client still holding the old license fails with
# OVSA_E_PIN; and a server with a chain that verifies to the vendor root
# but another key is refused with OVSA_E_PIN.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 9;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir run_cmd);
use Test::More;
use File::Copy qw(copy);

my $t = OvsaBackend->new(offset => 10);
$t->start_redis;
my $tmp = fresh_dir();
my $URL = "https://127.0.0.1:$PORT";
my $PIDFILE = "$SERVROOT/logs/nginx.pid";

# the ISV keystore, shared by both stories
my $ks = "$tmp/isv";
is(ovsatool('keystore', '-out', $ks, '-alg', 'ec', '-cn', 'Test ISV')->{rc},
   0, 'ISV keystore');

# the dev vendor CA (the CA-signed story, and the impostor of both)
my $ca = "$tmp/ca";
is(devca('init', '-d', $ca)->{rc}, 0, 'dev vendor CA');

sub ok_run {
    my ($name, $r) = @_;
    is($r->{rc}, 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

# an impostor: a chain from the vendor CA for another key, served on the
# same address; returns its CONFDIR
sub impostor {
    my ($name) = @_;
    my $conf = "$tmp/$name-impostor";
    ok_run("$name: impostor csr", inst('-d', $conf, 'csr'));
    ok_run("$name: impostor signed by the vendor CA",
           devca('sign', '-d', $ca, '-in', "$conf/pending/server.csr",
                 '-out', "$tmp/$name-impostor.pem"));
    ok_run("$name: impostor installed",
           inst('-d', $conf, 'install-cert', "$tmp/$name-impostor.pem",
                '-root', "$ca/root.pem"));
    return $conf;
}

sub story {
    my (%o) = @_;
    my $name = $o{name};
    my $conf = "$tmp/$name-conf";
    my ($api, $admin) = ($t->port, $t->port);
    my $id = "$name-lic";
    my @root = $o{root} ? ('-root', $o{root}) : ('-isv', "$ks/isv.crt");

    # ---- A: the current identity
    $o{make_current}->($conf);
    my $pinA = leaf_pin("$conf/current/server-chain.pem");
    is(inst('-d', $conf, 'pin')->{out}, "$pinA\n", "$name: pin of A");
    write_yaml($conf, $t->{redis_port}, $admin, $api, "$name:");
    copy("$ks/isv.crt", "$conf/isv.pem") or die;
    my $b = start_backend_on($t, $name, $conf, $api, $admin);
    start_nginx(nginx_front($conf, $api));
    is(served_pin(), $pinA, "$name: nginx serves A");

    # ---- a license pinning A, imported through ovsactl -c default.yaml
    my $cli = "$tmp/$name-client";
    mkdir $cli;
    my $lic = "$cli/app.lic";
    ok_run("$name: license pinning A",
           ovsatool('create', '-k', $ks, '-id', $id, '-product', 'Widget',
                    '-customer', 'ACME', '-type', 'perpetual',
                    '-server', $URL, '-server-cert',
                    "$conf/current/server-chain.pem", '-out', $lic));
    my $v1 = slurp($lic);
    ok_run("$name: import v1",
           ovsactl('-c', "$conf/default.yaml", 'import', $lic));

    my $r = ok_run("$name: check with the license (pins A)",
                   check('-license', $lic, @root));
    like($r->{out}, qr{^server 1 \Q$URL\E: verified \(200\)$}m,
         "$name: the license's server answered, verified");
    like($r->{out}, qr/^verified: valid OK/m, "$name: valid");
    is(slurp($lic), $v1, "$name: nothing to update");

    # ---- B: the future identity, and the license that announces it
    $o{make_future}->($conf);
    my $pinB = leaf_pin("$conf/future/server-chain.pem");
    isnt($pinB, $pinA, "$name: B has another key");
    is(served_pin(), $pinA, "$name: a future identity changes nothing served");

    my $v2file = "$tmp/$name-v2.lic";
    ok_run("$name: updatecustlicense adds B as future",
           ovsatool('updatecustlicense', '-k', $ks, '-l', $lic, '-u', $URL,
                    "$conf/future/server-chain.pem", '-c', $v2file));
    is_deeply(payload_of($v2file)->{servers},
              [{ url => $URL, pins => { current => $pinA, future => $pinB } }],
              "$name: v2 pins [A, B]");

    # ---- the switch is refused while the store holds v1
    my $cur = readlink("$conf/current");
    $r = inst('-d', $conf, 'provision-new-cert', '--reload', $PIDFILE);
    isnt($r->{rc}, 0, "$name: provision-new-cert refuses");
    like($r->{out}, qr{^pre-switch check: future \Q$pinB\E: 1 active license\(s\), 0 pin it, 1 do not$}m,
         "$name: the counts are printed");
    like($r->{err}, qr{not pinning the future key: \Q$id\E\n}, "$name: the license is named");
    like($r->{err}, qr{1 active license\(s\) do not pin the future key \Q$pinB\E yet},
         "$name: the reason");
    is(readlink("$conf/current"), $cur, "$name: current unchanged");
    ok(-l "$conf/future", "$name: future kept");
    is(served_pin(), $pinA, "$name: still serving A");

    # ---- the ISV's update reaches the store, then the client through A
    ok_run("$name: import v2", ovsactl('-c', "$conf/default.yaml", 'import',
                                       $v2file));
    my $old = "$tmp/$name-old-client";
    mkdir $old;
    copy($lic, "$old/app.lic") or die;
    copy("$lic.secret", "$old/app.lic.secret") or die;
    chmod 0600, "$old/app.lic.secret";

    $r = ok_run("$name: check served by A", check('-license', $lic, @root));
    like($r->{out}, qr{^license updated: \Q$id\E version 1 -> 2, \Q$lic\E replaced$}m,
         "$name: the client reports the update");
    is(slurp($lic), slurp($v2file), "$name: the license file is now v2");
    is(payload_of($lic)->{version}, 2, "$name: version 2");
    is_deeply([ @{ payload_of($lic)->{servers}[0]{pins} }{qw(current future)} ],
              [$pinA, $pinB], "$name: the client holds pins [A, B]");
    ok(!glob("$cli/.*.tmp*") && !glob("$cli/*.tmp*"),
       "$name: no temporary file left");

    # ---- now the switch is safe
    my $master = slurp($PIDFILE) =~ s/\s+//gr;
    my @old_workers = workers($master);
    $r = ok_run("$name: provision-new-cert switches",
                inst('-d', $conf, 'provision-new-cert', '--reload', $PIDFILE));
    like($r->{out}, qr{^pre-switch check: future \Q$pinB\E: 1 active license\(s\), 1 pin it, 0 do not$}m,
         "$name: 0 licenses not pinning B");
    like($r->{out}, qr/^reload: sent SIGHUP/m, "$name: nginx reloaded");
    is(scalar(wait_gone(@old_workers)), 0,
       "$name: the workers that served A have exited");
    is(wait_served($pinB), $pinB, "$name: nginx serves B");

    $r = ok_run("$name: the updated client passes against B",
                check('-license', $lic, @root));
    like($r->{out}, qr{^server 1 \Q$URL\E: verified \(200\)$}m,
         "$name: verified against B");
    unlike($r->{out}, qr/license updated/, "$name: no further update");

    my $oldv1 = slurp("$old/app.lic");
    $r = check('-license', "$old/app.lic", @root);
    is($r->{rc}, 3, "$name: a client with the old license (pins A) fails");
    like($r->{out}, qr{^server 1 \Q$URL\E: OVSA_E_PIN: }m,
         "$name: ... with OVSA_E_PIN");
    like($r->{err}, qr/not verified: OVSA_E_PIN/, "$name: ... reported");
    is(slurp("$old/app.lic"), $oldv1, "$name: ... its file is untouched");

    # ---- an impostor with a vendor-CA chain but another key
    my $imp = impostor($name);
    my $vr = run_cmd('openssl', 'verify', '-CAfile', "$ca/root.pem",
                     '-untrusted', "$imp/current/server-chain.pem",
                     "$imp/current/server-chain.pem");
    is($vr->{rc}, 0, "$name: the impostor's chain verifies to the vendor CA");
    start_nginx(nginx_front($imp, $api));
    is(served_pin(), leaf_pin("$imp/current/server-chain.pem"),
       "$name: the impostor is serving");
    my $before = slurp($lic);
    $r = check('-license', $lic, '-root', "$ca/root.pem");
    is($r->{rc}, 3, "$name: the impostor is refused");
    like($r->{err}, qr/not verified: OVSA_E_PIN/,
         "$name: ... with OVSA_E_PIN although its chain verifies");
    is(slurp($lic), $before, "$name: ... license untouched");

    OvsaTest::stop_nginx();
    $t->stop_backend($b);
    my $log = slurp("$SERVROOT/logs/error.log") // '';
    unlike($log, qr/\[(alert|emerg|crit)\]/, "$name: no alert in nginx's log");
}

story(name => 'ss',
      make_current => sub {
          ok_run('ss: gencert (A)', inst('-d', $_[0], 'gencert'));
      },
      make_future => sub {
          ok_run('ss: gencert-new (B)', inst('-d', $_[0], 'gencert-new'));
      });

story(name => 'ca', root => "$ca/root.pem",
      make_current => sub {
          my ($conf) = @_;
          ok_run('ca: csr (A)', inst('-d', $conf, 'csr'));
          ok_run('ca: signed (A)', devca('sign', '-d', $ca, '-in',
                 "$conf/pending/server.csr", '-out', "$tmp/ca-a.pem"));
          ok_run('ca: install-cert (A)', inst('-d', $conf, 'install-cert',
                 "$tmp/ca-a.pem", '-root', "$ca/root.pem"));
      },
      make_future => sub {
          my ($conf) = @_;
          ok_run('ca: csr (B)', inst('-d', $conf, 'csr'));
          ok_run('ca: signed (B)', devca('sign', '-d', $ca, '-in',
                 "$conf/pending/server.csr", '-out', "$tmp/ca-b.pem"));
          ok_run('ca: install-new-cert (B)', inst('-d', $conf,
                 'install-new-cert', "$tmp/ca-b.pem"));
      });

done_testing();
