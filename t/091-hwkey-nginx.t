#!/usr/bin/perl
# 091-hwkey-nginx.t: hardware-key mode end to end: real nginx with the ovsa
# module, the server key on a SoftHSM2 token behind `p11-kit server`
# (t/lib/softhsm.sh), a leaf issued from the token's CSR by the test PKI.
#
#   (a) start: nginx -t, the TLS chain, the token key serves TLS, signed
#       answers verify with ovsa-check (RSA and P-256 token keys)
#   (b) nginx -t fails with its own code for each broken token setup
#   (c) slow token: signing runs off the event loop (ordering, no timings)
#   (d) unplug under load: clean answers, master exits with status 3,
#       plug back and start again
#   (e) frozen token: unsigned 503 OVSA_E_P11_TIMEOUT, master exits 3
#
# Ports: $PORT nginx TLS, +1 stand-in backend, +2 nginx plain HTTP.
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use OvsaBackend;
use OvsaToken;
use JSON::PP;
use Test::More;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $fixture = "$OvsaTest::ROOT/t/lib/softhsm.sh";
my $hwkey   = "$OvsaTest::ROOT/scripts/ovsa_hwkey.sh";
my $check   = "$OvsaTest::BUILD/bin/ovsa-check";
my $delay   = "$OvsaTest::BUILD/lib/ovsa-p11-delay.so";

for my $need ('/usr/lib/softhsm/libsofthsm2.so', '/usr/bin/p11-kit',
              '/usr/bin/pkcs11-tool',
              '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so') {
    plan skip_all => "$need missing (make deps)" unless -e $need;
}
for my $need ($check, $delay) {
    plan skip_all => "$need not built (run make)" unless -e $need;
}

my $B = $PORT + 1;
my $H = $PORT + 2;
my $pki = OvsaTest::pki();
my $dir = tempdir('ovsa-t091-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# the workers (user nobody in part d) load the shim: a readable copy, so
# the test does not depend on the umask the tree was built with
{
    my $copy = "$dir/ovsa-p11-delay.so";
    system('cp', $delay, $copy) == 0 or die "cp $delay: $?";
    chmod 0755, $copy;
    $delay = $copy;
}
my $hsm = "$dir/hsm";
$ENV{TMPDIR} = $dir;     # ovsa_hwkey.sh's private engine config


sub fixture { return cmd_run('sh', $fixture, $_[0], $hsm) }

my ($rc, $out) = cmd_run('sh', $fixture, 'init', $hsm, 'ec');
is($rc, 0, 'token with an RSA-2048 and a P-256 key') or diag $out;
($rc, $out) = fixture('start');
is($rc, 0, 'p11-kit server exports the token') or diag $out;
END { cmd_run('sh', $fixture, 'destroy', $hsm) if defined $hsm && -d $hsm }

($rc, $out) = fixture('env');
for (split /\n/, $out) {
    $ENV{$1} = $2 if /^(\w+)='([^']*)'; export/;
}
my $module = $ENV{OVSA_P11_MODULE};
my $pin = $ENV{OVSA_HSM_PIN_FILE};
my $label = $ENV{OVSA_HSM_LABEL};

# ---- leaves for the token keys, issued by the test PKI's intermediate
sub token_leaf {
    my ($obj, $type) = @_;
    my $uri = "pkcs11:token=$label;object=$obj;type=private";
    my ($rc, $out) = cmd_run('sh', $hwkey, 'csr', '-module', $module, '-uri',
                         $uri, '-pin-file', $pin, '-cn', 'localhost',
                         '-out', "$dir/$type.csr");
    die "csr $obj: $out" if $rc;
    ($rc, $out) = cmd_run('openssl', 'ca', '-batch', '-notext', '-config',
                      "$pki/inter.cnf", '-cert', "$pki/inter.pem",
                      '-keyfile', "$pki/inter.key", '-in', "$dir/$type.csr",
                      '-out', "$dir/leaf-$type.pem", '-extensions', 'v3_leaf',
                      '-extfile', "$pki/inter.cnf", '-days', '90');
    die "issue $obj: $out" if $rc;
    write_file("$dir/chain-$type.pem", read_file("$dir/leaf-$type.pem")
               . read_file("$pki/inter.pem"));
    return $uri;
}

my %uri = (rsa => token_leaf('ovsa-rsa', 'rsa'),
           ec => token_leaf('ovsa-ec', 'ec'));
ok(-s "$dir/chain-rsa.pem" && -s "$dir/chain-ec.pem",
   'leaves issued from the token CSRs');

sub yaml {
    my (%o) = @_;
    my $type = $o{type} || 'rsa';
    my $chain = $o{chain} || "$dir/chain-$type.pem";
    my $uri = $o{uri} || $uri{$type};
    my $mod = $o{module} || $module;
    my $p = $o{pin} || $pin;
    my $t = $o{timeout} || 2000;
    return <<"Y";
identity:
  chain: $chain
  root: $pki/root.pem
hardware_key:
  enabled: true
  module: $mod
  key_uri: "$uri"
  pin_file: $p
  sign_timeout_ms: $t
Y
}

my $user = $> == 0 ? 'user root;' : '';
my $main = <<"M";
$user
thread_pool ovsa threads=1;
env P11_KIT_SERVER_ADDRESS;
env OVSA_P11_DELAY_TARGET;
env OVSA_P11_DELAY_MS;
M

my $http = <<"C";
    ssl_session_cache shared:SSL:1m;
    server {
        listen 127.0.0.1:$B;
        default_type application/json;
        location = /v1/check {
            return 200 '{"verdict":"valid","code":"OK","server_time":1700000000,"valid_until":2000000000}';
        }
    }
    server {
        listen 127.0.0.1:$H;
        location /v1/ { ovsa_sign on; proxy_pass http://127.0.0.1:$B; }
        location = /fast { return 200 "fast\\n"; }
    }
C

my $server = <<"C";
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ { ovsa_sign on; proxy_pass http://127.0.0.1:$B; }
        location = /fast { return 200 "fast\\n"; }
C

sub conf {
    my (%o) = @_;
    my $c = nginx_conf(tls => '', yaml => yaml(%o),
                       main_config => defined $o{main} ? $o{main} : $main,
                       http_config => $http, config => $server);
    $c =~ s/(listen 127\.0\.0\.1:$PORT ssl);/$1 http2;/;
    return $c;
}

sub error_log { read_file("$SERVROOT/logs/error.log") }

# Waits for the nginx master started by start_nginx; returns its exit
# status, or undef when it is still running after $secs.
sub master_exit {
    my ($secs) = @_;
    my $pid = $OvsaTest::PID or return undef;
    my $until = time + $secs;
    while (time < $until) {
        if (waitpid($pid, WNOHANG) == $pid) {
            undef $OvsaTest::PID;
            return $? >> 8;
        }
        sleep 0.05;
    }
    return undef;
}

# Sends a request on a new plain connection and returns the socket
# without reading the answer.
sub send_req {
    my ($path, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$H", Timeout => 10)
        or die "connect: $!";
    my $nonce = 'n' . int(rand(1e9));
    my $body = '{"license_id":"LIC-1"}';
    print $s "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "OVSA-Nonce: $nonce\r\nContent-Type: application/json\r\n"
        . "Content-Digest: sha-256=:"
        . MIME::Base64::encode_base64(Digest::SHA::sha256($body), '') . ":\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return $s;
}

sub read_all {
    my ($s) = @_;
    my $raw = '';
    while (1) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    return $raw;
}

sub pending { return !IO::Select->new($_[0])->can_read(0) }

# ---- (a) start and serve

($rc, $out) = nginx_t(conf());
is($rc, 0, '(a) nginx -t passes with the token key') or diag $out;
like($out, qr/hardware key verified/, '(a) nginx -t checked the token');

for my $type (qw(rsa ec)) {
    start_nginx(conf(type => $type));

    $out = qx{openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile $pki/root.pem -verify_return_error -showcerts </dev/null 2>&1};
    like($out, qr/Verify return code: 0 \(ok\)/,
         "(a) $type: s_client verifies the chain against the root");
    my @certs = $out =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/sg;
    is(scalar @certs, 2, "(a) $type: leaf + intermediate served");
    write_file("$dir/served.pem", ($certs[0] // '') . "\n");
    my ($r1, $served) = cmd_run('openssl', 'x509', '-in', "$dir/served.pem",
                            '-pubkey', '-noout');
    my $obj = $type eq 'rsa' ? 'ovsa-rsa' : 'ovsa-ec';
    cmd_run('pkcs11-tool', '--module', $module, '--token-label', $label,
        '--read-object', '--type', 'pubkey', '--label', $obj,
        '-o', "$dir/tok.der");
    my ($r2, $tok) = cmd_run('openssl', 'pkey', '-pubin', '-inform', 'DER',
                         '-in', "$dir/tok.der", '-pubout');
    ok($served =~ /BEGIN PUBLIC KEY/ && $served eq $tok,
       "(a) $type: the served leaf's key is the token key");

    my $cmd = "$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id LIC-1";
    $out = qx{$cmd 2>&1};
    is($? >> 8, 0, "(a) $type: ovsa-check verifies the signed answer")
        or diag $out;
    like($out, qr/^verified: valid OK/, "(a) $type: verified verdict");

    $out = qx{curl -s --http2 --cacert $pki/root.pem --resolve localhost:$PORT:127.0.0.1 -D - -o /dev/null -X POST -H 'OVSA-Nonce: abc' -H 'Content-Digest: sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:' -d '{}' https://localhost:$PORT/v1/check 2>&1};
    like($out, qr{^HTTP/2 200}m, "(a) $type: HTTP/2 answer")
        or diag $out;
    like($out, qr/^signature: ovsa=:/mi, "(a) $type: ... signed");

    stop_nginx();
    my $log = error_log();
    like($log, qr/hardware key opened in worker/, "(a) $type: worker opened the key");
    unlike($log, qr/\[(error|alert|crit|emerg)\]/, "(a) $type: no errors logged")
        or diag $log;
}

# ---- (b) nginx -t: one code per broken setup

write_file("$dir/bad-pin", "000000\n", 0600);
my @bad = (
    ['wrong PIN', { pin => "$dir/bad-pin" }, 'OVSA_E_P11_PIN'],
    ['key label missing',
     { uri => "pkcs11:token=$label;object=nokey;type=private" },
     'OVSA_E_P11_KEY'],
    ['token key not the leaf\'s', { chain => "$pki/chain-rsa.pem" },
     'OVSA_E_KEY_MISMATCH'],
    ['not a PKCS#11 module',
     { module => '/usr/lib/x86_64-linux-gnu/libyaml-0.so.2' },
     'OVSA_E_P11_MODULE'],
    ['module path missing', { module => "$dir/none.so" },
     'OVSA_E_(P11_MODULE|CONF_FILE)'],
);
for my $b (@bad) {
    my ($name, $o, $code) = @$b;
    ($rc, $out) = nginx_t(conf(%$o));
    isnt($rc, 0, "(b) $name: nginx -t fails");
    like($out, qr/\[emerg\] .*ovsa: .*\($code\)/, "(b) $name: $code")
        or diag $out;
}

($rc, $out) = fixture('stop');
($rc, $out) = nginx_t(conf());
isnt($rc, 0, '(b) token absent (p11-kit server down): nginx -t fails');
like($out, qr/\[emerg\] .*hardware key: .*\(OVSA_E_P11_TOKEN\)/,
     '(b) token absent: OVSA_E_P11_TOKEN') or diag $out;
$out = qx{$OvsaTest::NGINX -p $SERVROOT/ -c $SERVROOT/conf/nginx.conf -s quit 2>&1};
unlike($out, qr/hardware key/, '(b) token absent: "nginx -s" does not check '
       . 'the token') or diag $out;
($rc, $out) = fixture('start');
is($rc, 0, '(b) token plugged back') or diag $out;

($rc, $out) = nginx_t(conf(main => "$user\nenv P11_KIT_SERVER_ADDRESS;"));
isnt($rc, 0, '(b) no thread pool: nginx -t fails');
like($out, qr/\[emerg\] \d+#\d+: unknown thread pool "ovsa"/,
     '(b) no thread pool: says which') or diag $out;

# ---- (b2) root master, workers "nobody": the start check runs as the
# workers' user, so what they cannot use is a permission error at
# nginx -t (OVSA_E_PERMISSION), not a key lost at run time

SKIP: {
    skip 'needs root (a master that starts workers as nobody)', 6
        if $> != 0;
    my $nobody = "user nobody nogroup;\nthread_pool ovsa threads=1;\n"
               . "env P11_KIT_SERVER_ADDRESS;";
    chmod 0711, $dir, $hsm;
    chmod 0666, "$hsm/p11.sock";
    write_file("$dir/root-pin", read_file($pin), 0600);

    ($rc, $out) = nginx_t(conf(main => $nobody, pin => "$dir/root-pin"));
    isnt($rc, 0, '(b2) PIN file the workers cannot read: nginx -t fails');
    like($out, qr/\[emerg\] .*hardware key: read secret: \Q$dir\E\/root-pin: Permission denied \(the workers' user nobody cannot use it\) \(OVSA_E_PERMISSION\)/,
         '(b2) ... as OVSA_E_PERMISSION naming the file and the user')
        or diag $out;

    chmod 0600, "$hsm/p11.sock";
    my (undef, undef, $uid, $gid) = getpwnam('nobody');
    chown $uid, $gid, "$dir/root-pin";
    ($rc, $out) = nginx_t(conf(main => $nobody, pin => "$dir/root-pin"));
    isnt($rc, 0, '(b2) p11-kit socket the workers cannot use: nginx -t fails');
    like($out, qr/\[emerg\] .*hardware key: p11-kit socket \S+p11\.sock: Permission denied .*\(OVSA_E_PERMISSION\)/,
         '(b2) ... as OVSA_E_PERMISSION naming the socket') or diag $out;

    chmod 0666, "$hsm/p11.sock";
    ($rc, $out) = nginx_t(conf(main => $nobody, pin => "$dir/root-pin"));
    is($rc, 0, '(b2) both usable by nobody: nginx -t passes') or diag $out;
    ($rc, $out) = nginx_t(conf());
    is($rc, 0, '(b2) user root: the root-only setup still passes')
        or diag $out;
}

# ---- (c) slow token: signing does not block the event loop

{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 1500;
    start_nginx(conf(module => $delay, timeout => 10000));

    # a TLS session to resume (the full handshake signs on the token)
    $out = qx{printf 'GET /fast HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile $pki/root.pem -sess_out $dir/sess.pem -ign_eof 2>&1};
    like($out, qr/fast/, '(c) full handshake through the slow token');

    my $signed = send_req('/v1/check');
    my $fast = http_req(path => '/fast', port => $H);
    is($fast->{status}, 200, '(c) unsigned location answered');
    ok(pending($signed), '(c) ... while the signed answer is still pending');

    $out = qx{printf 'GET /fast HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile $pki/root.pem -sess_in $dir/sess.pem -ign_eof 2>&1};
    like($out, qr/^Reused, TLSv1\.3/m, '(c) TLS session resumed');
    like($out, qr/fast/, '(c) resumed session answered');
    ok(pending($signed), '(c) ... while the signed answer is still pending');

    my $raw = read_all($signed);
    like($raw, qr{^HTTP/1\.1 200 }, '(c) the signed answer came afterwards');
    like($raw, qr/^Signature: ovsa=:/mi, '(c) ... signed');

    stop_nginx();
    unlike(error_log(), qr/\[(error|alert|crit|emerg)\]/, '(c) no errors')
        or diag error_log();
}

# ---- (d) unplug under load, after a reload; when the tests run as root
# the workers run as nobody: they cannot kill() the root master, the
# notify pipe must do it

my $worker_main = $main;
my $worker_pin = $pin;
if ($> == 0) {
    my (undef, undef, $uid, $gid) = getpwnam('nobody');
    $worker_pin = "$dir/nobody-pin";
    write_file($worker_pin, read_file($pin), 0600);
    chown $uid, $gid, $worker_pin;
    chmod 0711, $dir, $hsm;
    chmod 0666, "$hsm/p11.sock";
    $worker_main =~ s/user root;/user nobody nogroup;/;
}

sub worker_opened {
    my ($n, $secs) = @_;
    my $until = time + $secs;
    while (time < $until) {
        my @l = error_log() =~ /hardware key opened in worker/g;
        return 1 if @l >= $n;
        sleep 0.05;
    }
    return 0;
}

{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 200;
    start_nginx(conf(module => $delay, timeout => 10000, pin => $worker_pin,
                     main => $worker_main));
    ok(worker_opened(1, 10), '(d) worker opened the key');
    kill 'HUP', $OvsaTest::PID;
    ok(worker_opened(2, 10), '(d) reloaded: a new worker opened the key');
    if ($> == 0) {
        # the newest worker: the first one exits after the reload
        my ($w) = (read_file("$SERVROOT/logs/error.log")
            =~ /hardware key opened in worker (\d+)/g)[-1];
        my @st = stat("/proc/$w");
        is(getpwuid($st[4] // 0), 'nobody', '(d) workers run as nobody');
    }
    my $ok = http_req(path => '/v1/check', port => $H, method => 'POST',
                      headers => ['OVSA-Nonce: abc'], body => '{}');
    is($ok->{status}, 200, '(d) signed answer after the reload');

    my @socks = map { send_req('/v1/check') } 1 .. 12;
    sleep 0.5;
    ($rc, $out) = fixture('unplug');
    is($rc, 0, '(d) token unplugged under load') or diag $out;

    my ($ok2, $n503, $other) = (0, 0, 0);
    for my $s (@socks) {
        my $raw = read_all($s);
        if ($raw =~ m{^HTTP/1\.1 200 } && $raw =~ /^Signature: ovsa=:/mi) {
            $ok2++;
        } elsif ($raw =~ m{^HTTP/1\.1 503 } && $raw !~ /^Signature:/mi) {
            $n503++;
        } else {
            $other++;
            diag "unexpected answer: " . substr($raw, 0, 200);
        }
    }
    is($other, 0, "(d) every in-flight request ended: $ok2 signed, "
       . "$n503 unsigned 503");
    ok($n503 > 0, '(d) requests after the unplug got 503');

    my $status = master_exit(15);
    is($status, 3, '(d) the master exits with status 3');
    my $log = error_log();
    my @lost = $log =~ /(hardware key lost; exiting with status 3)/g;
    is(scalar @lost, 1, '(d) the master logs the one line');
    my @alerts = $log =~ /(\[alert\] .*ovsa: hardware key lost \()/g;
    is(scalar @alerts, 1, '(d) the worker logs one [alert]') or diag $log;
    like($log, qr/OVSA_E_P11_(DEVICE|TOKEN)/, '(d) the loss has its code');

    ($rc, $out) = fixture('start');
    is($rc, 0, '(d) token plugged back') or diag $out;
    chmod 0666, "$hsm/p11.sock" if $> == 0;
}

start_nginx(conf());
{
    my $cmd = "$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id LIC-1";
    $out = qx{$cmd 2>&1};
    is($? >> 8, 0, '(d) started again: signed answers verify') or diag $out;
}
stop_nginx();

# ---- (e) frozen token: the watchdog answers 503, the key is lost

start_nginx(conf(timeout => 1000));
# freeze only once the worker holds its session: a worker still opening the
# key would hang in init_process (no watchdog there) and the request with it
ok(worker_opened(1, 10), '(e) worker opened the key');
($rc, $out) = fixture('freeze');
is($rc, 0, '(e) token frozen') or diag $out;
{
    my $raw = read_all(send_req('/v1/check'));
    like($raw, qr{^HTTP/1\.1 503 }, '(e) signed location answers 503');
    unlike($raw, qr/^Signature:/mi, '(e) ... unsigned');
    my $status = master_exit(20);
    is($status, 3, '(e) the master exits with status 3');
    my $log = error_log();
    like($log, qr/\[error\] .*sending 503: hardware key: OVSA_E_P11_TIMEOUT/,
         '(e) OVSA_E_P11_TIMEOUT logged for the request') or diag $log;
    like($log, qr/worker exits with status 2/,
         '(e) the worker with the stuck thread exits');
}
($rc, $out) = fixture('thaw');

# ---- (f) as a daemon (the production default): the master is the child
# of nginx's daemon fork, and still gets the signal

($rc, $out) = fixture('stop');
($rc, $out) = fixture('start');
is($rc, 0, '(f) token restarted') or diag $out;
{
    my $c = conf();
    $c =~ s/^daemon off;/daemon on;/m;
    write_file("$SERVROOT/conf/nginx.conf", $c);
    unlink "$SERVROOT/logs/error.log", "$SERVROOT/logs/nginx.pid";
    ($rc, $out) = cmd_run($OvsaTest::NGINX, '-p', "$SERVROOT/", '-c',
                          "$SERVROOT/conf/nginx.conf");
    is($rc, 0, '(f) nginx daemonized') or diag $out;
    my $until = time + 10;
    sleep 0.05 until -s "$SERVROOT/logs/nginx.pid" || time > $until;
    my $master = read_file("$SERVROOT/logs/nginx.pid") + 0;
    ok(worker_opened(1, 10), '(f) worker opened the key');
    ($rc, $out) = fixture('unplug');
    $until = time + 15;
    sleep 0.05 while kill(0, $master) && time < $until;
    if (kill 0, $master) {
        fail('(f) the daemon master stops after the unplug');
        kill 'KILL', $master;
    } else {
        pass('(f) the daemon master stops after the unplug');
    }
    like(error_log(), qr/hardware key lost; exiting with status 3/,
         '(f) ... with status 3');
}

# ---- (g) the real backend on the same default.yaml: in hardware-key mode
# it refuses licenses that do not require the hardware key; both answers
# are signed by the token and verify

($rc, $out) = fixture('start');
is($rc, 0, '(g) token plugged back') or diag $out;
{
    my $t = OvsaBackend->new(offset => 10);
    $t->start_redis;
    my ($bport, $aport) = ($t->port, $t->port);
    my $td = $t->dir;
    my $full = yaml() . <<"Y";
backend:
  listen: "127.0.0.1:$bport"
  admin_listen: "127.0.0.1:$aport"
  admin_token_file: $td/admin.token
redis: {address: "127.0.0.1:$t->{redis_port}"}
licenses: {isv_certs: [$td/isv.pem]}
Y
    write_file("$dir/full.yaml", $full);
    my $log = "$td/hw-backend.log";
    my $pid = OvsaBackend::spawn($log, "$OvsaBackend::BIN/bin/ovsa-backend",
                                 '-c', "$dir/full.yaml");
    ok(OvsaBackend::wait_port($bport), '(g) backend started in hardware-key '
       . 'mode from the same default.yaml') or diag read_file($log);
    my $b = { name => 'hw', pid => $pid, port => $bport,
              admin_port => $aport, log => $log };
    $t->{backends}{hw} = $b;
    $t->import_ok($b, $t->license(license_id => 'P1'));
    $t->import_ok($b, $t->license(license_id => 'H1',
                                  require_hardware_key => JSON::PP::true));

    my $srv = <<"C";
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ { ovsa_sign on; proxy_pass http://127.0.0.1:$bport; }
C
    start_nginx(nginx_conf(tls => '', yaml => $full, main_config => $main,
                           config => $srv));
    OvsaBackend::spew("$td/lic.secret", "$OvsaBackend::SECRET\n", 0600);
    my $cmd = "$check -url https://127.0.0.1:$PORT -root $pki/root.pem"
            . " -secret $td/lic.secret";
    $out = qx{$cmd -id P1 2>&1};
    is($? >> 8, 5, '(g) license without require_hardware_key: verified '
       . 'denial') or diag $out;
    like($out, qr/^verified: denied HARDWARE_KEY_REQUIRED/,
         '(g) ... HARDWARE_KEY_REQUIRED');
    $out = qx{$cmd -id H1 2>&1};
    is($? >> 8, 0, '(g) license that requires the hardware key: valid')
        or diag $out;
    like($out, qr/^verified: valid OK/, '(g) ... verified valid');
    stop_nginx();
}

done_testing();
