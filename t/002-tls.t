# TLS termination with the provisioned identity: exactly leaf +
# intermediate, TLS 1.2/1.3 only, no other certificate possible.
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use Test::More;

# openssl s_client against the running server; returns its output.
sub s_client {
    my ($args) = @_;
    return scalar qx{openssl s_client -connect 127.0.0.1:$PORT -servername localhost $args </dev/null 2>&1};
}

sub s_client_ok {
    my ($args) = @_;
    my $out = s_client($args);
    return ($? == 0, $out);
}

my $pki = OvsaTest::pki();

# -- the served chain verifies against the vendor root, and only it
start_nginx(nginx_conf(tls => '', yaml => <<"YAML",
identity:
  chain: $pki/chain-with-root.pem
  key: $pki/leaf-rsa.key
  root: $pki/root.pem
YAML
    config => "    location / { return 200 \"ok\\n\"; }"));

my ($ok, $out) = s_client_ok("-verify_return_error -CAfile $pki/root.pem"
                             . " -showcerts");
ok($ok, 's_client -verify_return_error -CAfile root accepts the server')
    or diag($out);
like($out, qr/Verify return code: 0 \(ok\)/, 'verification ok');
my @certs = $out =~ /-----BEGIN CERTIFICATE-----/g;
is(scalar @certs, 2, 'exactly leaf + intermediate are presented '
   . '(the trailing root of the chain file is not)');
like($out, qr/0 s:CN = localhost/, 'certificate 0 is the leaf');
like($out, qr/1 s:CN = ovsa test intermediate/,
     'certificate 1 is the intermediate');

($ok, $out) = s_client_ok("-verify_return_error"
                          . " -CAfile $pki/foreign.pem");
ok(!$ok, 'a client trusting another root refuses the server');

($ok, $out) = s_client_ok("-tls1_1");
ok(!$ok, 'TLS 1.1 is refused');
($ok, $out) = s_client_ok("-tls1_2 -CAfile $pki/root.pem"
                          . " -verify_return_error");
ok($ok, 'TLS 1.2 is served') or diag($out);
($ok, $out) = s_client_ok("-tls1_3 -CAfile $pki/root.pem"
                          . " -verify_return_error");
ok($ok, 'TLS 1.3 is served') or diag($out);

my $r = http_req(path => '/', tls => "$pki/root.pem");
is($r->{status}, 200, 'HTTPS request verified against the root');
is($r->{body}, "ok\n", 'HTTPS body');
stop_nginx();

# -- $ovsa_client_cert_sha256: the SHA-256 of the client's certificate
start_nginx(nginx_conf(tls => '', http_config => '',
    config => "    ssl_verify_client optional_no_ca;\n"
            . "    location / { return 200 \"[\$ovsa_client_cert_sha256]\"; }"));
my $want = lc((split /=/, qx{openssl x509 -in $pki/leaf-ec.pem -outform DER | openssl dgst -sha256 -r})[0]);
($want) = $want =~ /^([0-9a-f]{64})/;
my $got = qx{curl -s --cacert $pki/root.pem --cert $pki/leaf-ec.pem --key $pki/leaf-ec.key https://localhost:$PORT/ --resolve localhost:$PORT:127.0.0.1};
is($got, "[$want]", 'client certificate hash in $ovsa_client_cert_sha256');
$got = qx{curl -s --cacert $pki/root.pem https://localhost:$PORT/ --resolve localhost:$PORT:127.0.0.1};
is($got, "[]", 'empty without a client certificate');
stop_nginx();

# -- an identity in DER: TLS serves the verified objects, not the files
start_nginx(nginx_conf(tls => '', yaml => <<"YAML",
identity:
  chain: $pki/chain-ec.der
  key: $pki/leaf-ec-key.der
  root: $pki/root.der
YAML
    config => "    location / { return 200 \"ok\\n\"; }"));
($ok, $out) = s_client_ok("-verify_return_error -CAfile $pki/root.pem"
                          . " -showcerts");
ok($ok, 'DER identity: s_client verifies the server against the root')
    or diag($out);
@certs = $out =~ /-----BEGIN CERTIFICATE-----/g;
is(scalar @certs, 2, 'DER identity: leaf + intermediate are presented');
like($out, qr/Server public key is 256 bit/, 'DER identity: the P-256 leaf');
$r = http_req(path => '/', tls => "$pki/root.pem");
is($r->{status}, 200, 'DER identity: HTTPS request');
stop_nginx();

# -- configurations that must not start
my @bad = (
    [ "ssl_certificate beside ovsa_tls",
      "    ssl_certificate $pki/chain-foreign.pem;\n"
      . "    ssl_certificate_key $pki/leaf-rsa.key;\n",
      qr/"ovsa_tls" directive conflicts with "ssl_certificate" in this server: the certificate comes from default.yaml/,
      'before' ],
    [ "ssl_certificate after ovsa_tls",
      "    ssl_certificate $pki/chain-foreign.pem;\n"
      . "    ssl_certificate_key $pki/leaf-rsa.key;\n",
      qr/ovsa_tls: the server must have exactly the certificate from default.yaml; remove "ssl_certificate"/,
      'after' ],
    [ "old protocols",
      "    ssl_protocols TLSv1 TLSv1.2;\n",
      qr/ovsa_tls: "ssl_protocols" must be limited to TLSv1.2 and TLSv1.3/,
      'after' ],
);

for my $case (@bad) {
    my ($name, $directives, $re, $where) = @$case;
    my $conf = nginx_conf(tls => '', config => $directives);
    if ($where eq 'before') {
        $conf =~ s/(listen 127\.0\.0\.1:\d+ ssl;\n)/$1$directives/;
        $conf =~ s/(server_name localhost;\n)\Q$directives\E/$1/;
    }
    my ($rc, $log) = nginx_t($conf);
    isnt($rc, 0, "$name: nginx -t fails");
    like($log, $re, "$name: reason") or diag($log);
}

my ($rc, $log) = nginx_t(nginx_conf(tls => '', no_ovsa_config => ''));
isnt($rc, 0, 'ovsa_tls without ovsa_config fails');
like($log, qr/"ovsa_tls" directive needs "ovsa_config" earlier/,
     'ovsa_tls without ovsa_config: reason');

done_testing();
