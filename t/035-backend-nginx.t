# 035-backend-nginx.t: the public license API through a real nginx with
# the ovsa module (TLS with the provisioned identity) proxying /v1/ to a
# real ovsa-backend over a kept-alive upstream on the backend's unix
# socket (the shipped default; nginx's workers, nobody here, are a
# trusted peer); the customer-certificate binding with
# $ovsa_client_cert_sha256 (a client cannot forge the header); /admin is
# not reachable through nginx.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 49;
}
use OvsaTest;
use OvsaBackend;
use Test::More;

my $pki = OvsaTest::pki();
my $t = OvsaBackend->new(offset => 40);
$t->start_redis;
# the workers run as nobody:nogroup (no "user" directive, master root)
my %unix = (unix => 1, trusted_peers => '[nobody]',
            listen_group => 'nogroup');
my $b = $t->start_backend(name => 'b1', %unix);
my $SOCK = $b->{sock};

my $leaf_fp = qx{openssl x509 -in $pki/leaf-ec.pem -outform DER | sha256sum};
($leaf_fp) = $leaf_fp =~ /^([0-9a-f]{64})/;

$t->import_ok($b, $t->license(license_id => 'P1', version => 2));
$t->import_ok($b, $t->license(license_id => 'F1', type => 'floating'));
$t->import_ok($b, $t->license(license_id => 'C1',
    customer => { name => 'Bound', cert_sha256 => $leaf_fp }));

# what the lead wires in conf.d (see docs/protocol.md, "nginx")
my $http = <<"NGX";
    upstream ovsa_backend {
        server unix:$SOCK;
        keepalive 16;
    }
NGX
my $server = <<'NGX';
        ssl_verify_client optional_no_ca;
        location /v1/ {
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-OVSA-Client-Cert-SHA256 $ovsa_client_cert_sha256;
            client_max_body_size 64k;
            proxy_next_upstream off;
        }
        location / {
            return 404;
        }
NGX

start_nginx(nginx_conf(tls => '', http_config => $http, config => $server));

# POST through nginx with curl, as a license holder sends it (the
# license secret, Content-Digest, and for lease operations machine_key
# and a request signature: OvsaBackend::holder_request); returns
# (status, answer)
sub post {
    my ($path, $body, @extra) = @_;
    my ($text, $h) = $t->holder_request($path, $OvsaBackend::JSON->decode($body));
    my $f = $t->dir . '/post.json';
    OvsaBackend::spew($f, $text);
    my $hdr = join ' ', map { "-H '$_: $h->{$_}'" } sort keys %$h;
    my $out = qx{curl -s --cacert $pki/root.pem --resolve localhost:$PORT:127.0.0.1 -H 'Content-Type: application/json' $hdr --data-binary \@$f @extra -w '\\n%{http_code}' https://localhost:$PORT$path};
    my ($rtext, $code) = $out =~ /^(.*)\n(\d{3})$/s;
    my $ans = eval { $OvsaBackend::JSON->decode($rtext) };
    return ($code // 0, $ans || {});
}

my ($st, $a) = post('/v1/check', '{"license_id":"P1","version":1}');
is("$st $a->{code}", '200 OK', 'check through nginx');
is($a->{verdict}, 'valid', 'verdict valid');
is(ref $a->{license}, 'HASH', 'newer license passed through');

($st, $a) = post('/v1/lease/checkout', '{"license_id":"F1","client_id":"c"}');
is("$st $a->{code}", '200 OK', 'checkout through nginx');
my $lease = $a->{lease_id};
($st, $a) = post('/v1/lease/checkin',
                 qq({"license_id":"F1","lease_id":"$lease"}));
is("$st $a->{code}", '200 OK', 'checkin through nginx');
($st, $a) = post('/v1/check', '{"license_id":"NOPE"}');
is("$st $a->{code}", '404 UNKNOWN_LICENSE', 'refusals pass through');
($st, $a) = post('/v1/nothing', '{}');
is("$st $a->{code}", '404 NOT_FOUND', 'unknown route');

# customer certificate binding
my @cert = ("--cert $pki/leaf-ec.pem", "--key $pki/leaf-ec.key");
($st, $a) = post('/v1/check', '{"license_id":"C1"}', @cert);
is("$st $a->{code}", '200 OK', 'bound license with its client certificate');
($st, $a) = post('/v1/check', '{"license_id":"C1"}');
is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
   'bound license without a client certificate');
($st, $a) = post('/v1/check', '{"license_id":"C1"}',
                 "-H 'X-OVSA-Client-Cert-SHA256: $leaf_fp'");
is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
   'a client cannot forge the header');
($st, $a) = post('/v1/check', '{"license_id":"C1"}',
                 "--cert $pki/leaf-rsa.pem --key $pki/leaf-rsa.key");
is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
   'another client certificate');

# the admin API is not behind nginx
($st) = post('/admin/v1/licenses', '{}');
is($st, 404, '/admin is not proxied');

# kept-alive upstream connections: after sequential requests, nginx still
# holds an open connection to the backend
post('/v1/check', '{"license_id":"P1"}') for 1 .. 5;
my $est = qx{ss -Hx state connected};
my $n = () = $est =~ /\Q$SOCK\E/g;
cmp_ok($n, '>=', 1, "nginx keeps $n upstream connection(s) open");

# backend gone: 502 from nginx; back: served again
$t->stop_backend($b);
($st) = post('/v1/check', '{"license_id":"P1"}');
is($st, 502, 'backend down: 502 from nginx');
$b = $t->start_backend(name => 'b1', %unix);
($st, $a) = post('/v1/check', '{"license_id":"P1"}');
is("$st $a->{code}", '200 OK', 'backend back: served');

stop_nginx();
my $log = OvsaTest::read_file("$OvsaTest::SERVROOT/logs/error.log");
# nginx logs a missing unix socket at [crit]: only while the backend was
# stopped on purpose above
my @down = $log =~ /^.*\[crit\].*connect\(\) to unix:\Q$SOCK\E failed \(2: No such file or directory\).*$/mg;
is(scalar @down, 1, 'one [crit] for the request while the backend was down');
$log =~ s/^.*\[crit\].*connect\(\) to unix:\Q$SOCK\E failed \(2: .*\n//mg;
unlike($log, qr/\[(alert|emerg|crit)\]/, 'no other alert/crit in the nginx log');
done_testing();
