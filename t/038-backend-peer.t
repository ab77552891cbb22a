# 038-backend-peer.t: X-OVSA-Client-Cert-SHA256 is nginx's statement of
# the TLS client certificate, and the backend believes it only from nginx:
# over its unix socket from a peer of backend.trusted_peers (SO_PEERCRED).
# The attacks: the forged header sent straight to the backend over TCP,
# and over the unix socket from another uid, are refused with 403
# CERT_HEADER_UNTRUSTED, logged with the peer, and change nothing in
# Redis.  Through real nginx (workers: nobody) over the socket, a license
# bound to a customer certificate still works.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 79;
}
use OvsaTest;
use OvsaBackend;
use IO::Socket::UNIX;
use POSIX ();
use Test::More;

plan skip_all => 'needs root (nginx workers as nobody, setuid children)'
    if $> != 0;

my $H = 'X-OVSA-Client-Cert-SHA256';
my $pki = OvsaTest::pki();
my $t = OvsaBackend->new(offset => 70);
$t->start_redis;

# nginx's workers run as nobody:nogroup (no "user" directive, master root)
my $b = $t->start_backend(name => 'b1', unix => 1,
                          trusted_peers => '[nobody]',
                          listen_group => 'nogroup');
my $sock = $b->{sock};

my $leaf_fp = qx{openssl x509 -in $pki/leaf-ec.pem -outform DER | sha256sum};
($leaf_fp) = $leaf_fp =~ /^([0-9a-f]{64})/;

$t->import_ok($b, $t->license(license_id => 'C1', type => 'usage-count',
    customer => { name => 'Bound', cert_sha256 => $leaf_fp }));
$t->import_ok($b, $t->license(license_id => 'P1'));

is(sprintf('%04o', (stat $sock)[2] & 07777), '0660', 'socket mode 0660');
is((stat $sock)[5], 65534, 'socket group: backend.listen_group (nogroup)');

# ---- 1. the forged header straight to the backend over TCP
my $tcp = $t->start_backend(name => 'tcp', trusted_peers => '[nobody]');
my $before = $t->snapshot;
my ($st, $a) = $t->api($tcp, '/v1/check', { license_id => 'C1' },
                       headers => { $H => $leaf_fp });
is("$st $a->{code}", '403 CERT_HEADER_UNTRUSTED',
   'TCP: forged client-cert header refused');
is($a->{verdict}, 'error', '... verdict error');
like($a->{message}, qr/only accepted from nginx/, '... with a message');
($st, $a) = $t->api($tcp, '/v1/lease/checkout',
                    { license_id => 'C1', client_id => 'x' },
                    headers => { $H => '' });
is("$st $a->{code}", '403 CERT_HEADER_UNTRUSTED',
   'TCP: an empty header is refused too (nginx sends none)');
($st, $a) = $t->api($tcp, '/v1/check', { license_id => 'P1' },
                    headers => { $H => $leaf_fp });
is("$st $a->{code}", '403 CERT_HEADER_UNTRUSTED',
   'TCP: refused whatever the license');
is_deeply($t->snapshot, $before, 'TCP refusals: Redis byte-identical');
my $log = OvsaBackend::slurp($tcp->{log});
like($log, qr/\[warn\] POST \/v1\/check: X-OVSA-Client-Cert-SHA256 from an untrusted peer \(tcp 127\.0\.0\.1:\d+\) refused/,
     'TCP: the refusal is logged with the peer');
($st, $a) = $t->api($tcp, '/v1/check', { license_id => 'P1' });
is("$st $a->{code}", '200 OK', 'TCP without the header: served as before');
($st, $a) = $t->api($tcp, '/v1/check', { license_id => 'C1' });
is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
   'TCP without the header: a bound license is refused');

# ---- 2. over the unix socket from another uid

# One request over the unix socket from a child with uid and gid; returns
# (status, answer) or (0, error text).
sub as_peer {
    my ($uid, $gid, $path, $body, %hdr) = @_;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        # POSIX::_exit: the parent's END blocks must not run here
        close $rd;
        $) = "$gid $gid";
        POSIX::setgid($gid) or POSIX::_exit(90);
        POSIX::setuid($uid) or POSIX::_exit(91);
        POSIX::_exit(92) if $> != $uid || $< != $uid || $) + 0 != $gid;
        my $s = IO::Socket::UNIX->new(Peer => $path);
        if (!$s) { syswrite $wr, "connect: $!"; POSIX::_exit(0) }
        my $req = "POST /v1/check HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\nContent-Type: application/json\r\n"
            . "Content-Digest: " . OvsaBackend::content_digest($body) . "\r\n"
            . "Authorization: License $OvsaBackend::SECRET\r\n"
            . join('', map { "$_: $hdr{$_}\r\n" } sort keys %hdr)
            . "Content-Length: " . length($body) . "\r\n\r\n$body";
        print $s $req;
        local $/;
        syswrite $wr, (<$s> // '');
        POSIX::_exit(0);
    }
    close $wr;
    local $/;
    my $out = <$rd> // '';
    waitpid($pid, 0);
    return (0, "child exit " . ($? >> 8)) if $?;
    my ($code, $text) = $out =~ m{^HTTP/1\.1 (\d{3}).*?\r\n\r\n(.*)$}s
        or return (0, $out);
    return ($code, eval { $OvsaBackend::JSON->decode($text) } || {});
}

$before = $t->snapshot;
# uid 4242 in the socket's group: it may connect, it is not trusted
($st, $a) = as_peer(4242, 65534, $sock, '{"license_id":"C1","request_id":"p1"}',
                    $H => $leaf_fp);
is("$st " . ($a->{code} // $a), '403 CERT_HEADER_UNTRUSTED',
   'unix socket, untrusted uid: forged header refused');
is_deeply($t->snapshot, $before, 'untrusted uid: Redis byte-identical');
$log = OvsaBackend::slurp($b->{log});
like($log, qr/from an untrusted peer \(unix peer pid \d+ uid 4242 gid 65534\) refused/,
     'the refusal names the peer: pid, uid, gid');
($st, $a) = as_peer(4242, 65534, $sock, '{"license_id":"P1"}');
is("$st $a->{code}", '200 OK', 'untrusted uid without the header: served');

# trusted by group: a "group:" entry matches the peer's gid
my $g = $t->start_backend(name => 'grp', unix => 1,
                          trusted_peers => "['group:4243']",
                          listen_group => 4243);
($st, $a) = as_peer(4244, 4243, $g->{sock}, '{"license_id":"C1","request_id":"p2"}',
                    $H => $leaf_fp);
is("$st $a->{code}", '200 OK', 'a peer in a trusted group: header believed');
($st, $a) = as_peer(4243, 4243, $g->{sock}, '{"license_id":"C1","request_id":"p3"}',
                    $H => 'cd' x 32);
is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
   '... and a wrong certificate from it is a mismatch');
# the backend's own user is always trusted (the tests run as it)
($st, $a) = $t->api($g, '/v1/check', { license_id => 'C1' },
                    headers => { $H => uc $leaf_fp });
is("$st $a->{code}", '200 OK', "the backend's own user: header believed");

# a missing socket directory is made 0755 whatever the umask (so that
# the workers reach the 0660 socket in it, as in /run/ovsa)
{
    my $dir = $t->sock_dir . '/made';
    my $old = umask 077;
    my $m = $t->start_backend(name => 'made', listen => "unix:$dir/m.sock");
    umask $old;
    is(sprintf('%04o', (stat $dir)[2] & 07777), '0755',
       'missing socket directory created 0755 under umask 077');
    $t->stop_backend($m);
}

# an unknown user in trusted_peers: the backend does not start
{
    my $y = $t->conf(name => 'bad', listen => '127.0.0.1:1',
                     admin_listen => '127.0.0.1:2',
                     trusted_peers => '[www-data, no-such-user-ovsa]');
    my $out = qx{$OvsaBackend::BIN/bin/ovsa-backend -c $y -t 2>&1};
    is($? >> 8, 1, 'unknown trusted peer: -t fails');
    like($out, qr/\Q$y\E:\d+: backend\.trusted_peers\[1\]: no such user "no-such-user-ovsa" \(OVSA_E_CONF_VALUE\)/,
         '... naming file, line, entry and code');
}

# ---- 3. through nginx over the unix socket: the binding works
my $http = <<"NGX";
    upstream ovsa_backend {
        server unix:$sock;
        keepalive 16;
    }
    upstream ovsa_tcp {
        server 127.0.0.1:$tcp->{port};
    }
NGX
my $proxy = <<'NGX';
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-OVSA-Client-Cert-SHA256 $ovsa_client_cert_sha256;
            proxy_next_upstream off;
NGX
my $server = <<"NGX";
        ssl_verify_client optional_no_ca;
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend;
$proxy
        }
        location /tcp/v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_tcp/v1/;
$proxy
        }
NGX
start_nginx(nginx_conf(tls => '', http_config => $http, config => $server));

sub post {
    my ($path, $body, @extra) = @_;
    my $dg = OvsaBackend::content_digest($body);
    my $out = qx{curl -s -i --cacert $pki/root.pem --resolve localhost:$PORT:127.0.0.1 -H 'Content-Type: application/json' -H 'OVSA-Nonce: nonce-0123456789abcdef' -H 'Content-Digest: $dg' -H 'Authorization: License $OvsaBackend::SECRET' -d '$body' @extra https://localhost:$PORT$path};
    my ($code, $head, $text) = $out =~ m{^HTTP/\S+ (\d{3})(.*?)\r\n\r\n(.*)$}s;
    my $ans = eval { $OvsaBackend::JSON->decode($text) };
    return ($code // 0, $ans || {}, $head // '');
}

my @cert = ("--cert $pki/leaf-ec.pem", "--key $pki/leaf-ec.key");
($st, $a) = post('/v1/check', '{"license_id":"C1","request_id":"p4"}', @cert);
is("$st $a->{code}", '200 OK',
   'nginx over the unix socket: bound license with its certificate');
($st, $a) = post('/v1/check', '{"license_id":"C1","request_id":"p5"}');
is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
   'nginx: without a client certificate');
($st, $a) = post('/v1/check', '{"license_id":"C1","request_id":"p6"}', "-H '$H: $leaf_fp'");
is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
   'nginx: a client cannot forge the header (nginx replaces it)');
($st, $a) = post('/v1/check', '{"license_id":"P1"}');
is("$st $a->{code}", '200 OK', 'nginx: unbound license');

# nginx to a TCP backend: a client certificate cannot be stated there
my $head;
($st, $a, $head) = post('/tcp/v1/check', '{"license_id":"C1","request_id":"p7"}', @cert);
is("$st $a->{code}", '403 CERT_HEADER_UNTRUSTED',
   'nginx to a TCP backend: the statement is refused');
like($head, qr/\r\nSignature: ovsa=:/i, '... in an answer signed by nginx');

stop_nginx();
my $nlog = OvsaTest::read_file("$OvsaTest::SERVROOT/logs/error.log");
unlike($nlog, qr/\[(alert|emerg|crit)\]/, 'no alert/crit in the nginx log');
unlike(OvsaBackend::slurp($b->{log}), qr/\[(alert|crit|emerg)\]/,
       'no alert/crit in the backend log');
done_testing();
