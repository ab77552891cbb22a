# Signed answers end to end: real nginx with the signing filter, the client
# SDK (through ovsa-check), a tampering TLS proxy for the on-the-wire
# attacks, and an independent check of every signature with the openssl
# command line.  Ports: $PORT nginx (TLS), +1 a stand-in backend (a plain
# server block of the same nginx), +2 the tampering proxy, +3 nothing.
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use OvsaTamper qw(start_proxy stop_proxy set_mode);
use OvsaBackend;
use Test::More;
use Digest::SHA qw(sha256);
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);

my $pki = OvsaTest::pki();
my $check = "$OvsaTest::BUILD/bin/ovsa-check";
my $B = $PORT + 1;
my $PX = $PORT + 2;
my $DOWN = $PORT + 3;
my $tmp = tempdir('ovsa-t051-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# what nginx workers (nobody when the tests run as root) read and write
my $pub = tempdir('ovsa-t051-pub-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0777, $pub;

{
    my ($rc, $out) = nginx_t(nginx_conf(config => "location / { ovsa_sign on; }"));
    plan skip_all => 'the module was built without the signing filter '
        . '(add the config lines of docs/signatures.md)'
        if $out =~ /unknown directive "ovsa_sign"/;
}

# ---- the server: a signed API in front of a stand-in backend

my $backend = <<"C";
    server {
        listen 127.0.0.1:$B;
        access_log $SERVROOT/logs/backend.log;
        default_type application/json;
        location = /v1/check {
            add_header Signature "ovsa=:AAAA:" always;
            return 200 '{"verdict":"valid","code":"OK","server_time":1700000000,"valid_until":2000000000}';
        }
        location = /v1/activate {
            return 409 '{"verdict":"denied","code":"ACTIVATIONS_EXHAUSTED","message":"all 2 activations are in use","server_time":1700000000}';
        }
        location = /v1/deactivate {
            return 403 '{"verdict":"denied","code":"LICENSE_REVOKED","message":"revoked by the vendor","server_time":1700000000}';
        }
        location = /v1/lease/checkout {
            return 503 '{"verdict":"error","code":"STORE_UNAVAILABLE","message":"store down","server_time":1700000000}';
        }
        location = /v1/big {
            error_page 405 = /big.json;
            return 405;
        }
        location = /big.json {
            root $pub;
        }
        location = /v1/nocontent {
            return 204;
        }
        location = /v1/other {
            return 200 '{"verdict":"valid","code":"OK","server_time":1700000000}';
        }
    }
C

my $front = <<"C";
        ovsa_sign_ttl 300;
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://127.0.0.1:$B;
            proxy_buffer_size 1k;
            proxy_buffers 2 1k;
            proxy_busy_buffers_size 1k;
            proxy_temp_path $pub/proxy_temp;
        }
        location /down/ {
            ovsa_sign on;
            proxy_pass http://127.0.0.1:$DOWN;
            error_page 502 504 = \@down;
        }
        location \@down {
            ovsa_sign on;
            default_type application/json;
            return 502 '{"verdict":"error","code":"BACKEND_UNAVAILABLE","message":"the license backend is not reachable","server_time":0}';
        }
        location /small/ {
            ovsa_sign on;
            ovsa_sign_max_body 32;
            proxy_pass http://127.0.0.1:$B/v1/;
        }
        location /gz/ {
            ovsa_sign on;
            gzip on;
            gzip_types application/json;
            gzip_min_length 1;
            proxy_pass http://127.0.0.1:$B/v1/;
        }
        location /smallgz/ {
            ovsa_sign on;
            ovsa_sign_max_body 2k;
            gzip on;
            gzip_types application/json;
            proxy_pass http://127.0.0.1:$B/v1/;
        }
        location /nginx404/ { ovsa_sign on; return 404; }
        location /charset/ {
            ovsa_sign on;
            charset utf-8;
            default_type text/plain;
            return 200 "hello\\n";
        }
        location /bad/ {
            ovsa_sign on;
            default_type "application/x\x7f";
            return 200 "x";
        }
        location /unsigned/ { return 200 "plain"; }
        location /busy/ {
            default_type application/json;
            add_header Retry-After 1 always;
            return 503 '{"code":"SIGNER_BUSY","message":"busy","retry_after":1}';
        }
        location /unsigned503/ {
            default_type application/json;
            return 503 '{"code":"SIGNER_BUSY"}';
        }
        location /static/ {
            ovsa_sign on;
            alias $pub/;
            sendfile on;
        }
C

sub yaml_for {
    my ($type) = @_;
    return <<"Y";
identity:
  chain: $pki/chain-$type.pem
  key: $pki/leaf-$type.key
  root: $pki/root.pem
Y
}

# a 60 kB answer: many upstream buffers and a temporary file
my $pad = join('', map { ('a'..'z', 'A'..'Z', 0..9)[rand 62] } 1 .. 60000);
my $big = qq({"verdict":"valid","code":"OK","server_time":1700000000,)
        . qq("pad":"$pad"});

sub start_front {
    my ($type) = @_;
    write_file("$pub/big.json", $big, 0644);
    start_nginx(nginx_conf(tls => '', yaml => yaml_for($type),
                           http_config => $backend, config => $front));
}

# ---- helpers

# ovsa-check with -json; returns (exit status, decoded output, stdout+err)
sub ovsa_check {
    my (@args) = @_;
    my %o = (url => "https://127.0.0.1:$PORT", root => "$pki/root.pem",
             id => 'LIC-1');
    while (@args && $args[0] =~ /^(url|root|id)$/) {
        my $k = shift @args;
        $o{$k} = shift @args;
    }
    my $cmd = "$check -url $o{url} -root $o{root} -id $o{id} @args";
    my $out = qx{$cmd -json 2>&1};
    my $rc = $? >> 8;
    my $j = eval { decode_json($out) } || {};
    return ($rc, $j, $out);
}

sub check_code {
    my ($name, $want, $want_rc, @args) = @_;
    my ($rc, $j, $out) = ovsa_check(@args);
    is($j->{check}, $want, "$name: $want") or diag($out);
    is($rc, $want_rc, "$name: exit status $want_rc");
}

sub pubkey {
    my ($type) = @_;
    my $f = "$tmp/pub-$type.pem";
    system("openssl x509 -in $pki/leaf-$type.pem -pubkey -noout > $f") == 0
        or die "pubkey";
    return $f;
}

sub spew {
    my ($f, $data) = @_;
    open my $fh, '>', $f or die "$f: $!";
    binmode $fh;
    print $fh $data;
    close $fh;
}

# DER INTEGER of an unsigned big-endian byte string
sub der_int {
    my ($b) = @_;
    $b =~ s/^\x00+//;
    $b = "\x00$b" if !length($b) || ord($b) & 0x80;
    return "\x02" . chr(length $b) . $b;
}

# Rebuilds the signature base from the raw answer and verifies digest and
# signature with the openssl command line against the leaf's public key.
# %q: the request as sent; with a digest (the request's Content-Digest)
# the base has the 7th component "content-digest";req.
sub openssl_verify {
    my ($r, %q) = @_;
    my $h = $r->{headers};
    my $input = $h->{'signature-input'} // '';
    $input =~ s/^ovsa=//;
    my ($alg) = $input =~ /alg="([^"]+)"/;
    my $base = join("\n",
        qq{"\@status": $r->{status}},
        qq{"content-type": $h->{'content-type'}},
        qq{"content-digest": $h->{'content-digest'}},
        qq{"ovsa-nonce";req: $q{nonce}},
        qq{"\@method";req: $q{method}},
        qq{"\@target-uri";req: https://$q{host}$q{path}},
        (defined $q{digest} ? qq{"content-digest";req: $q{digest}} : ()),
        qq{"\@signature-params": $input});
    spew("$tmp/base.txt", $base);

    my ($b64) = ($h->{signature} // '') =~ /^ovsa=:([^:]*):$/;
    my $sig = decode_base64($b64 // '');
    my $pub = pubkey($q{type});
    my $cmd;

    if ($alg eq 'rsa-pss-sha512') {
        spew("$tmp/sig.bin", $sig);
        $cmd = "openssl dgst -sha512 -sigopt rsa_padding_mode:pss"
             . " -sigopt rsa_pss_saltlen:64 -sigopt rsa_mgf1_md:sha512"
             . " -verify $pub -signature $tmp/sig.bin $tmp/base.txt";
    } elsif ($alg eq 'ecdsa-p256-sha256') {
        my $seq = der_int(substr($sig, 0, 32)) . der_int(substr($sig, 32));
        spew("$tmp/sig.bin", "\x30" . chr(length $seq) . $seq);
        $cmd = "openssl dgst -sha256 -verify $pub -signature $tmp/sig.bin"
             . " $tmp/base.txt";
    } else {
        spew("$tmp/sig.bin", $sig);
        $cmd = "openssl pkeyutl -verify -pubin -inkey $pub -rawin"
             . " -in $tmp/base.txt -sigfile $tmp/sig.bin";
    }

    my $out = qx{$cmd 2>&1};
    my $digest = 'sha-256=:' . encode_base64(sha256($r->{body}), '') . ':';
    return { digest_ok => $digest eq ($h->{'content-digest'} // ''),
             sig_ok => $? == 0, out => $out, base => $base, alg => $alg,
             sig_len => length $sig };
}

sub digest_of { 'sha-256=:' . encode_base64(sha256($_[0]), '') . ':' }

# One raw HTTPS request with a nonce and, with a body, its Content-Digest
# (digest => 0: none; digest => 'value': that one); returns (response,
# request facts).
sub raw {
    my (%o) = @_;
    my $nonce = exists $o{nonce} ? $o{nonce} : 'n' . int(rand(1e9));
    my $body = $o{body} // '{"license_id":"LIC-1"}';
    my $digest = exists $o{digest} ? ($o{digest} || undef)
               : length $body ? digest_of($body) : undef;
    my @h = @{ $o{headers} || [] };
    push @h, "OVSA-Nonce: $nonce" if defined $nonce;
    push @h, "Content-Digest: $digest" if defined $digest;
    my $r = http_req(method => $o{method} || 'POST', path => $o{path},
                     body => $body, digest => 0,
                     tls => "$pki/root.pem", headers => \@h);
    return ($r, { nonce => $nonce // '', method => $o{method} || 'POST',
                  path => $o{path}, host => "localhost:$PORT",
                  type => $o{type} || 'rsa', digest => $digest });
}

sub headers_named {
    my ($r, $name) = @_;
    return scalar grep { lc $_->[0] eq lc $name } @{ $r->{header_list} };
}

# ---- 1. verified answers, every verdict, one alg after the other

for my $type (qw(rsa ec ed25519)) {
    start_front($type);

    my ($rc, $j, $out) = ovsa_check();
    is($rc, 0, "$type: check verifies and is valid") or diag($out);
    is($j->{answer}{code}, 'OK', "$type: verified answer code OK");

    my ($r, $q) = raw(path => '/v1/check', type => $type);
    my $v = openssl_verify($r, %$q);
    ok($v->{digest_ok}, "$type: Content-Digest matches the body (Perl)");
    ok($v->{sig_ok}, "$type: openssl verifies the signature over the "
       . "rebuilt base") or diag("$v->{out}\n$v->{base}");
    is($v->{sig_len}, $type eq 'rsa' ? 256 : 64, "$type: signature size");

    stop_nginx();
}

start_front('rsa');

{
    my $out = qx{$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id LIC-1 2>&1};
    is($? >> 8, 0, 'plain output: exit 0');
    is($out, "verified: valid OK, valid until 2033-05-18T03:33:20Z\n",
       'plain output: the verified verdict');

    $out = qx{$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id LIC-1 -op activate -hwid H1 2>&1};
    is($? >> 8, 5, 'a verified denial exits 5');
    is($out, "verified: denied ACTIVATIONS_EXHAUSTED: all 2 activations "
       . "are in use\n", 'a verified denial is printed with its reason');
}

check_code('403 from the backend', 'OVSA_E_NONE', 5, '-op deactivate',
           '-hwid H1');
check_code('503 from the backend', 'OVSA_E_NONE', 5, '-op checkout',
           '-hwid H1');
# a signed BACKEND_UNAVAILABLE is nginx's "try again", not a verdict
check_code('backend down: error_page to a signed JSON named location',
           'OVSA_E_TRANSPORT', 4, '-path /down/check');
{
    my ($rc, $j, $out) = ovsa_check('-path /down/check');
    like($out, qr/signed 502 BACKEND_UNAVAILABLE \(not a verdict; try again\)/,
         'the named location\'s JSON is verified, and read as "try again"')
        or diag($out);
}
check_code('nginx\'s own 404 page is signed but is not ovsa JSON',
           'OVSA_E_PROTOCOL', 3, '-path /nginx404/x');
check_code('an unsigned location', 'OVSA_E_SIG_MISSING', 3,
           '-path /unsigned/x');
# the hardware key's SIGNER_BUSY (docs/signatures.md): anyone on the path
# could send it, so it is no verdict, only "not answered, try again"
check_code('an unsigned 503 with Retry-After (SIGNER_BUSY)',
           'OVSA_E_TRANSPORT', 4, '-path /busy/x');
check_code('an unsigned 503 without Retry-After', 'OVSA_E_SIG_MISSING', 3,
           '-path /unsigned503/x');
check_code('a 60 kB answer', 'OVSA_E_NONE', 0, '-path /v1/big');
{
    my ($rc, $j) = ovsa_check('-path /small/check');
    is($j->{answer}{code}, 'RESPONSE_TOO_LARGE',
       'an answer above ovsa_sign_max_body becomes a signed 502');
    is($j->{status}, 502, '... status 502');
    is($rc, 5, '... exit 5');
}

# ---- 2. the wire, checked with openssl only

{
    my ($r, $q) = raw(path => '/v1/check');
    is(headers_named($r, 'Signature'), 1,
       'the backend\'s own Signature header is dropped');
    is($r->{headers}{'ovsa-nonce'}, $q->{nonce}, 'the nonce is echoed');
    like($r->{headers}{'signature-input'},
         qr/^ovsa=\("\@status" "content-type" "content-digest" "ovsa-nonce";req "\@method";req "\@target-uri";req "content-digest";req\);created=(\d+);expires=(\d+);keyid="[A-Za-z0-9_-]{43}";alg="rsa-pss-sha512";tag="ovsa-license-v1"$/,
         'Signature-Input: a request with a body: the ovsa components, '
         . '"content-digest";req the 7th, and the parameters');
    ok(openssl_verify($r, %$q)->{sig_ok},
       'the 7th component is the Content-Digest the request sent');
    {
        my %q2 = (%$q, digest => digest_of('{"license_id":"LIC-2"}'));
        ok(!openssl_verify($r, %q2)->{sig_ok},
           '... an answer to another body does not verify');
    }
    my ($c, $e) = $r->{headers}{'signature-input'} =~ /created=(\d+);expires=(\d+)/;
    is($e - $c, 300, 'expires - created = ovsa_sign_ttl');
    is($r->{headers}{'content-length'}, length $r->{body},
       'Content-Length fits the body');

    ($r, $q) = raw(path => "https://localhost:$PORT/v1/check");
    $q->{path} = '/v1/check';
    ok(openssl_verify($r, %$q)->{sig_ok},
       'absolute-form request target: it is the @target-uri');

    ($r, $q) = raw(path => '/charset/x', method => 'GET', body => '');
    like($r->{headers}{'signature-input'},
         qr/^ovsa=\("\@status" "content-type" "content-digest" "ovsa-nonce";req "\@method";req "\@target-uri";req\);/,
         'a request without a body and without Content-Digest: 6 components');
    is($r->{headers}{'content-type'}, 'text/plain; charset=utf-8',
       'charset: the Content-Type as sent');
    ok(openssl_verify($r, %$q)->{sig_ok}, 'charset: covered as sent');

    ($r, $q) = raw(path => '/gz/check',
                   headers => ['Accept-Encoding: gzip']);
    is($r->{headers}{'content-encoding'}, 'gzip', 'gzip: compressed');
    my $v = openssl_verify($r, %$q);
    ok($v->{digest_ok}, 'gzip: the digest covers the compressed bytes');
    ok($v->{sig_ok}, 'gzip: signature verifies') or diag($v->{out});

    ($r, $q) = raw(path => '/v1/big');
    ok($r->{body} eq $big, 'big: the whole 60 kB answer')
        or diag(substr($r->{body}, 0, 300));
    $v = openssl_verify($r, %$q);
    ok($v->{digest_ok} && $v->{sig_ok}, 'big: collected from many buffers '
       . 'and a temporary file, signed') or diag($v->{out});

    ($r, $q) = raw(path => '/static/big.json', method => 'GET', body => '');
    ok($r->{body} eq $big, 'static file: the whole answer');
    $v = openssl_verify($r, %$q);
    ok($v->{digest_ok} && $v->{sig_ok}, 'static file: read into memory, '
       . 'signed') or diag($v->{out});

    ($r, $q) = raw(path => '/gz/big', headers => ['Accept-Encoding: gzip']);
    ok(!exists $r->{headers}{'content-length'}
       || $r->{headers}{'content-length'} == length $r->{body},
       'big gzip: length fits');
    is($r->{headers}{'content-encoding'}, 'gzip', 'big gzip: compressed');
    cmp_ok(length $r->{body}, '<', length $big, 'big gzip: smaller');
    $v = openssl_verify($r, %$q);
    ok($v->{digest_ok} && $v->{sig_ok}, 'big gzip: unknown length, '
       . 'signed as sent') or diag($v->{out});
    spew("$tmp/big.gz", $r->{body});
    ok(scalar qx{gzip -dc $tmp/big.gz} eq $big, 'big gzip: the content');

    ($r, $q) = raw(path => '/smallgz/big', headers => ['Accept-Encoding: gzip']);
    is($r->{status}, 502, 'too large mid-body (unknown length): 502');
    like($r->{body}, qr/"code":"RESPONSE_TOO_LARGE"/, '... RESPONSE_TOO_LARGE');
    ok(!exists $r->{headers}{'content-encoding'}, '... not marked gzip');
    $v = openssl_verify($r, %$q);
    ok($v->{digest_ok} && $v->{sig_ok}, '... signed') or diag($v->{out});

    ($r, $q) = raw(path => '/v1/nocontent');
    is($r->{status}, 502, 'a 204 from the backend: 502');
    like($r->{body}, qr/"code":"UNSIGNABLE_RESPONSE"/, '... UNSIGNABLE_RESPONSE');
    $v = openssl_verify($r, %$q);
    ok($v->{digest_ok} && $v->{sig_ok}, '... signed') or diag($v->{out});

    ($r, $q) = raw(path => '/nginx404/x', method => 'GET', body => '');
    is($r->{status}, 404, 'nginx error page: 404');
    ok(openssl_verify($r, %$q)->{sig_ok}, 'nginx error page: signed');

    ($r, $q) = raw(path => '/down/check');
    is($r->{status}, 502, 'error_page: 502');
    $v = openssl_verify($r, %$q);
    ok($v->{sig_ok}, 'error_page: signed with the original method and '
       . 'target') or diag($v->{base});

    # no nonce, bad nonces: a signed 400 NONCE_REQUIRED over nonce ""
    for my $case (['missing', undef], ['empty', ''],
                  ['too long', 'a' x 129], ['not base64url', 'a+b/c='])
    {
        my ($name, $nonce) = @$case;
        my ($r, $q) = raw(path => '/v1/lease/checkin', nonce => $nonce);
        is($r->{status}, 400, "nonce $name: 400");
        like($r->{body}, qr/"code":"NONCE_REQUIRED"/,
             "nonce $name: NONCE_REQUIRED");
        $q->{nonce} = '';
        my $v = openssl_verify($r, %$q);
        ok($v->{sig_ok} && $v->{digest_ok},
           "nonce $name: signed over an empty nonce") or diag($v->{base});
    }
    my ($r2) = raw(path => '/v1/lease/checkin', nonce => undef,
                   headers => ['OVSA-Nonce: a', 'OVSA-Nonce: b']);
    is($r2->{status}, 400, 'two nonces are no nonce');

    # a body without one Content-Digest: a signed 400 DIGEST_REQUIRED
    for my $case (
        [ 'a body without Content-Digest', digest => 0 ],
        [ 'two Content-Digest headers', digest => 0,
          headers => [ 'Content-Digest: ' . digest_of('{"license_id":"LIC-1"}'),
                       'Content-Digest: ' . digest_of('x') ] ],
        [ 'a chunked body without Content-Digest', digest => 0, body => '',
          headers => [ 'Transfer-Encoding: chunked' ],
          raw_body => "5\r\n{\"a\"}\r\n0\r\n\r\n" ],
    ) {
        my ($name, %o) = @$case;
        my $rb = delete $o{raw_body};
        my ($r, $q);
        if (defined $rb) {
            # http_req sends the body as given; chunked by hand
            my $nonce = 'n' . int(rand(1e9));
            $r = http_req(method => 'POST', path => '/v1/lease/checkin',
                          body => $rb, digest => 0, tls => "$pki/root.pem",
                          headers => [ "OVSA-Nonce: $nonce",
                                       @{ $o{headers} } ]);
            $q = { nonce => $nonce, method => 'POST',
                   path => '/v1/lease/checkin', host => "localhost:$PORT",
                   type => 'rsa' };
        } else {
            ($r, $q) = raw(path => '/v1/lease/checkin', %o);
        }
        is($r->{status}, 400, "$name: 400");
        like($r->{body}, qr/^\{"verdict":"error","code":"DIGEST_REQUIRED","message":"a request with a body needs one Content-Digest header \(RFC 9530\) of that body","server_time":\d+\}$/,
             "$name: DIGEST_REQUIRED");
        unlike($r->{headers}{'signature-input'}, qr/"content-digest";req/,
               "$name: the answer covers no request digest");
        my $v = openssl_verify($r, %$q);
        ok($v->{sig_ok} && $v->{digest_ok}, "$name: signed")
            or diag("$v->{out}\n$v->{base}");
    }
    {
        # without a body, one Content-Digest is covered, none is fine
        my ($r, $q) = raw(path => '/v1/check', body => '',
                          digest => digest_of(''));
        is($r->{status}, 200, 'no body, the empty body\'s digest: 200');
        ok(openssl_verify($r, %$q)->{sig_ok}, '... covered as the 7th');
    }
    my $blog = read_file("$SERVROOT/logs/backend.log");
    like($blog, qr{/v1/check}, 'the backend log is written');
    unlike($blog, qr{/v1/lease/checkin}, 'requests without a valid nonce or '
           . 'without their Content-Digest never reach the backend');

    ($r, $q) = raw(path => '/v1/check', method => 'HEAD', body => '');
    is($r->{status}, 200, 'HEAD: 200');
    ok(!exists $r->{headers}{'signature-input'}, 'HEAD: deliberately not signed');
    ok(!exists $r->{headers}{signature}, 'HEAD: the backend\'s Signature is dropped');

    ($r, $q) = raw(path => '/bad/x', method => 'GET', body => '');
    is($r->{status}, 502, 'an answer that cannot be signed becomes a 502');
    ok(!exists $r->{headers}{signature}, '... unsigned');
}

stop_nginx();
{
    my $log = read_file("$SERVROOT/logs/error.log");
    my @err = $log =~ /^(.*\[error\].*)$/mg;
    my @bad = grep { m{for "/bad/x" not signed, sending 502: signing failed: OVSA_E_SIG_COMPONENTS: signature base: component "content-type" is absent or holds a control character} } @err;
    is(scalar @bad, 1, 'one clear [error] line for the unsignable answer')
        or diag($log);
    ok(scalar(grep { /exceeds ovsa_sign_max_body 32/ } @err),
       'the too-large answer is logged');
    ok(scalar(grep { /response exceeds ovsa_sign_max_body 2048/ } @err),
       'the answer too large mid-body is logged');
    like($log, qr/\[info\].*ovsa_sign: request without a valid OVSA-Nonce/,
         'the refused nonce is logged at info');
    like($log, qr/\[info\].*ovsa_sign: request with a body and without one Content-Digest/,
         'the refused body without digest is logged at info');
    @err = grep { !/connect\(\) failed .* \/down\/check/ } @err;
    ok(scalar(grep { /ovsa_sign: status 204 has no content to sign/ } @err),
       'the 204 is logged');
    is(scalar(@err), 4, 'no other [error] line') or diag(join "\n", @err);
}
start_front('rsa');

# ---- 3. attacks on the wire, through the tampering proxy

start_proxy(port => $PX, upstream => $PORT, dir => $tmp,
            cert => "$pki/chain-rsa.pem", key => "$pki/leaf-rsa.key",
            other_rsa => $pki . '/other.key', other_ed => "$pki/leaf-ed25519.key");

my @via = (url => "https://127.0.0.1:$PX");

set_mode('pass');
check_code('through the proxy, untouched', 'OVSA_E_NONE', 0, @via);

for my $case (
    [ 'flip_body',    'body byte flipped',              'OVSA_E_DIGEST_MISMATCH' ],
    [ 'drop_digest',  'Content-Digest removed',         'OVSA_E_DIGEST_MISSING' ],
    [ 'ctype',        'Content-Type changed',           'OVSA_E_SIG_INVALID' ],
    [ 'drop_ctype',   'Content-Type removed',           'OVSA_E_SIG_INVALID' ],
    [ 'status',       'status changed',                 'OVSA_E_SIG_INVALID' ],
    [ 'drop_sig',     'Signature removed',              'OVSA_E_SIG_MISSING' ],
    [ 'tag',          'tag changed',                    'OVSA_E_SIG_TAG' ],
    [ 'components',   'covered component removed',      'OVSA_E_SIG_COMPONENTS' ],
    [ 'drop_req_digest', 'the request\'s Content-Digest not covered', 'OVSA_E_SIG_COMPONENTS' ],
    [ 'path',         'answer to another target',       'OVSA_E_SIG_INVALID' ],
    [ 'resign_keyid', 'signed by another key, same keyid', 'OVSA_E_SIG_INVALID' ],
    [ 'resign_own',   'signed by another key, its keyid', 'OVSA_E_SIG_KEYID' ],
    [ "chain:$pki/chain-foreign.pem",  'chain to another root',  'OVSA_E_CHAIN_ROOT' ],
    [ "chain:$pki/chain-expired.pem",  'expired leaf',           'OVSA_E_CERT_EXPIRED' ],
    [ "chain:$pki/chain-nopolicy.pem", 'leaf without the policy OID', 'OVSA_E_CERT_POLICY' ],
    [ "chain:$pki/chain-noeku.pem",    'leaf without serverAuth', 'OVSA_E_CERT_EKU' ],
    [ "chain:$pki/chain-ec.pem",       'chain of another leaf',  'OVSA_E_SIG_KEYID' ],
) {
    my ($mode, $name, $code) = @$case;
    set_mode($mode);
    check_code($name, $code, 3, @via);
}

set_mode('record');
check_code('recording an answer', 'OVSA_E_NONE', 0, @via);
set_mode('replay');
check_code('answer replayed to a new nonce', 'OVSA_E_NONCE', 3, @via);
set_mode('pass');

# ---- 3b. the request body changed on the way, against the real backend

{
    my $t = OvsaBackend->new(offset => 70);
    $t->start_redis;
    my $bk = $t->start_backend(name => 'b051');
    for my $id (qw(LIC-1 LIC-2)) {
        $t->import_ok($bk, $t->license(license_id => $id,
                                       type => 'usage-count',
                                       limits => { usage => 5 }));
    }
    (my $real = $front) =~ s{proxy_pass http://127\.0\.0\.1:$B;}
                            {proxy_pass http://127.0.0.1:$bk->{port};}
        or die 'no /v1/ proxy_pass';
    stop_nginx();
    start_nginx(nginx_conf(tls => '', yaml => yaml_for('rsa'),
                           http_config => $backend, config => $real));

    set_mode('pass');
    my ($rc, $j, $out) = ovsa_check(@via);
    is("$rc $j->{answer}{code}", '5 LICENSE_PROOF_REQUIRED',
       'real backend, the license id alone: a verified refusal (exit 5)')
        or diag($out);
    is($j->{status}, 401, '... 401');
    my $sf = $t->dir . '/lic.secret';
    OvsaBackend::spew($sf, "$OvsaBackend::SECRET\n", 0600);
    my @auth = (@via, '-secret', $sf);
    ($rc, $j, $out) = ovsa_check(@auth);
    is("$rc $j->{answer}{code}", '0 OK', 'real backend, through the proxy: '
       . 'the request digest is covered and verified') or diag($out);

    my $before = $t->snapshot;
    set_mode('swap_body:LIC-1:LIC-2');
    ($rc, $j, $out) = ovsa_check(@auth);
    is($rc, 5, 'body changed, the client\'s Content-Digest kept: refused '
       . '(exit 5)') or diag($out);
    is($j->{answer}{code}, 'DIGEST_MISMATCH',
       '... by the backend, DIGEST_MISMATCH, in a verified answer');
    is_deeply($t->snapshot, $before, '... and nothing changed in Redis');

    set_mode('swap_body_digest:LIC-1:LIC-2');
    check_code('body changed and its Content-Digest recomputed: the answer '
               . 'covers another request digest', 'OVSA_E_SIG_INVALID', 3,
               @auth);
    set_mode('pass');

    stop_nginx();
    $t->cleanup;
    start_front('rsa');
}

# ---- 4. time

my $now = time;
check_code('expired signature', 'OVSA_E_SIG_EXPIRED', 3,
           '-attime ' . ($now + 300 + 61 + 5));
check_code('within the skew after expiry', 'OVSA_E_NONE', 0,
           '-attime ' . ($now + 300 + 30), '-skew 60');
check_code('created in the future', 'OVSA_E_SIG_CREATED', 3,
           '-attime ' . ($now - 120), '-skew 60');

# ---- 5. the chain cache: by keyid, verified at every use

{
    my $cache = "$tmp/cache";
    check_code('cache: first use fetches', 'OVSA_E_NONE', 0, "-cache $cache");
    my @files = glob("$cache/*.pem");
    is(scalar @files, 1, 'cache: one chain stored');
    my ($keyid) = $files[0] =~ m{/([A-Za-z0-9_-]{43})\.pem$};
    ok($keyid, 'cache: stored under the keyid');
    is(read_file($files[0]), read_file("$pki/chain-rsa.pem"),
       'cache: the chain as served');

    set_mode("chain:$pki/chain-foreign.pem");
    check_code('cache: a cached chain is used without a fetch',
               'OVSA_E_NONE', 0, @via, "-cache $cache");
    set_mode('pass');

    # same key, another root: same keyid, so only verification catches it
    system("cp $pki/chain-foreign.pem $files[0]");
    set_mode("chain:$pki/chain-foreign.pem");
    check_code('cache: a cached chain is verified at every use',
               'OVSA_E_CHAIN_ROOT', 3, @via, "-cache $cache");
    set_mode('pass');
    check_code('cache: a cached chain that no longer verifies is fetched '
               . 'again', 'OVSA_E_NONE', 0, "-cache $cache");
    is(read_file($files[0]), read_file("$pki/chain-rsa.pem"),
       'cache: ... and replaced');

    stop_nginx();
    start_front('ec');
    check_code('cache: a new keyid fetches the new chain', 'OVSA_E_NONE', 0,
               "-cache $cache");
    is(scalar(() = glob("$cache/*.pem")), 2, 'cache: both chains stored');
    stop_nginx();
    start_front('rsa');
}

# ---- 6. TLS: the vendor root only, or the license pins only

# a server certificate our check refuses is a verification failure
# (exit 3), told apart from a server that cannot be reached (exit 4)
check_code('a client trusting another root refuses the server',
           'OVSA_E_CHAIN_VERIFY', 3, root => "$pki/foreign.pem");
{
    my ($rc, $j, $out) = ovsa_check(root => "$pki/foreign.pem");
    like($j->{message}, qr/certificate/i, '... and says why') or diag $out;
    my $closed = $PORT + 7;    # nothing listens there
    check_code('a closed port is unreachable', 'OVSA_E_TRANSPORT', 4,
               url => "https://127.0.0.1:$closed");
}

stop_proxy();
start_proxy(port => $PX, upstream => $PORT, dir => $tmp,
            cert => "$pki/chain-foreign.pem", key => "$pki/leaf-rsa.key");
set_mode('pass');
{
    # OpenSSL's default verify locations name the other root: unused
    local $ENV{SSL_CERT_FILE} = "$pki/foreign.pem";
    local $ENV{SSL_CERT_DIR} = $pki;
    check_code('a TLS chain to another root is refused (no system store)',
               'OVSA_E_CHAIN_VERIFY', 3, @via);
}
stop_proxy();
start_proxy(port => $PX, upstream => $PORT, dir => $tmp,
            cert => "$pki/chain-expired.pem", key => "$pki/leaf-rsa.key");
set_mode('pass');
check_code('an expired server certificate is a verification failure',
           'OVSA_E_CERT_EXPIRED', 3, @via);
stop_proxy();
start_proxy(port => $PX, upstream => $PORT, dir => $tmp,
            cert => "$pki/chain-foreign.pem", key => "$pki/leaf-rsa.key");
set_mode('pass');

my $pin = 'sha256//' . encode_base64(
    scalar qx{openssl pkey -in $pki/leaf-rsa.key -pubout -outform DER | openssl dgst -sha256 -binary}, '');
my $otherpin = 'sha256//' . encode_base64(
    scalar qx{openssl pkey -in $pki/leaf-ec.key -pubout -outform DER | openssl dgst -sha256 -binary}, '');
check_code('pin-only TLS: the pin decides, not a CA', 'OVSA_E_NONE', 0,
           @via, "-pin $otherpin -pin $pin");
check_code('pin-only TLS: a key matching no pin', 'OVSA_E_PIN', 3, @via,
           "-pin $otherpin");
{
    my $out = qx{$check -url https://127.0.0.1:$PX -root $pki/root.pem -id L -pin sha256//short 2>&1};
    is($? >> 8, 1, 'a malformed pin is an error (exit 1)');
    like($out, qr/OVSA_E_PIN: client: pin 1 is not/, '... named');
}
stop_proxy();

# ---- 7. usage

{
    my $out = qx{$check -bogus 2>&1};
    is($? >> 8, 2, 'a bad option exits 2 (usage)');
    is($out, "ovsa-check: unknown option \"-bogus\"\n"
       . "ovsa-check: Use -help for summary.\n", 'the reason and the usage hint');
    $out = qx{$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id L extra 2>&1};
    is($? >> 8, 2, 'an argument after the options is a usage error');
    like($out, qr/unexpected argument "extra"/, '... named');
    $out = qx{$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id L -skew 2>&1};
    is($? >> 8, 2, 'a missing value is a usage error');
    like($out, qr/option "-skew" needs a value/, '... named');
    $out = qx{$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id L -skew x 2>&1};
    is($? >> 8, 2, 'a bad number is a usage error');
    $out = qx{$check -url http://127.0.0.1:$PORT -root $pki/root.pem -id L 2>&1};
    is($? >> 8, 1, 'plain http is refused');
    like($out, qr/OVSA_E_CONF_VALUE: client: "http:\S+" is not an https URL/,
         '... with the reason');
    $out = qx{$check -url https://127.0.0.1:$PORT -root $pki/leaf-rsa.pem -id L 2>&1};
    is($? >> 8, 1, 'a leaf as root is refused');
    like($out, qr/OVSA_E_ROOT: .* is not a CA certificate/, '... with the reason');
    $out = qx{$check -help 2>&1};
    is($? >> 8, 0, '-help exits 0');
    like($out, qr/^ -$_ /m, "-help lists -$_")
        for qw(url root cache id hwid op lease client version skew attime pin
               path json license isv cert key);
    like($out, qr/-pin val\s+Pin-only TLS/, '-help: value and text');
    like($out, qr/^Exit status:\n  0  success\n  1  error.*\n  2  bad command line\n  3  a check failed.*\n  4  the server could not be reached\n  5  the server answered no/m,
         '-help lists the exit codes');
}

stop_nginx();

# ---- 8. ovsa_sign on for the whole server, the chain endpoint included

{
    my $conf = nginx_conf(tls => '', yaml => yaml_for('rsa'),
                          http_config => $backend, config => $front);
    $conf =~ s/(ovsa_sign_ttl 300;)/$1\n        ovsa_sign on;/;
    start_nginx($conf);
    check_code('server-wide signing: the chain is fetched with a nonce',
               'OVSA_E_NONE', 0);
    stop_nginx();
}

# ---- 8b. HTTP/2: :authority is the Host of the @target-uri

{
    my $conf = nginx_conf(tls => '', yaml => yaml_for('rsa'),
                          http_config => $backend, config => $front);
    $conf =~ s/ ssl;/ ssl http2;/;
    start_nginx($conf);
    my $dg = digest_of('{}');
    my $raw = qx{curl -sS --http2 -i --cacert $pki/root.pem https://127.0.0.1:$PORT/v1/check -H 'OVSA-Nonce: h2nonce' -H 'Content-Digest: $dg' -d '{}'};
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = $head =~ m{^HTTP/2 (\d+)};
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $head;
    is($status, 200, 'HTTP/2: 200');
    my $v = openssl_verify({ status => $status, headers => \%h, body => $body },
                           nonce => 'h2nonce', method => 'POST',
                           path => '/v1/check', host => "127.0.0.1:$PORT",
                           type => 'rsa', digest => $dg);
    ok($v->{digest_ok} && $v->{sig_ok}, 'HTTP/2: signed answer verifies')
        or diag($v->{out});

    # an HTTP/2 request with DATA and without Content-Digest
    $raw = qx{curl -sS --http2 -i --cacert $pki/root.pem https://127.0.0.1:$PORT/v1/check -H 'OVSA-Nonce: h2nonce' -d '{}'};
    ($head, $body) = split /\r\n\r\n/, $raw, 2;
    like($head, qr{^HTTP/2 400}, 'HTTP/2: a body without Content-Digest: 400');
    like($body, qr/"code":"DIGEST_REQUIRED"/, '... DIGEST_REQUIRED');
    stop_nginx();
}

# ---- 9. configuration errors

for my $case (
    [ 'ovsa_sign without ovsa_config', '', "location / { ovsa_sign on; }",
      qr/"ovsa_sign" directive needs "ovsa_config" earlier/, 1 ],
    [ 'ttl below bounds', '', "ovsa_sign_ttl 5s;",
      qr/value must be between 10 and 86400/ ],
    [ 'bad size', '', "ovsa_sign_max_body lots;",
      qr/"ovsa_sign_max_body" directive invalid value/ ],
    [ 'duplicate', '', "ovsa_sign on; ovsa_sign off;",
      qr/"ovsa_sign" directive is duplicate/ ],
) {
    my ($name, undef, $conf, $re, $no_ovsa) = @$case;
    my ($rc, $log) = nginx_t(nginx_conf(config => $conf,
        $no_ovsa ? (no_ovsa_config => '') : ()));
    isnt($rc, 0, "$name: nginx -t fails");
    like($log, $re, "$name: reason") or diag($log);
}

done_testing();
