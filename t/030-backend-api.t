# 030-backend-api.t: every public operation of ovsa-backend and every
# refusal with its code and HTTP status, against a real redis-server and
# real backend processes; refused requests leave Redis unchanged; the
# unix-socket listener; memory per activation and per lease.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Test::More;
use OvsaBackend;

my $t = OvsaBackend->new(offset => 0);
$t->start_redis;
my $b = $t->start_backend(name => 'b1', max_body => 2048);
my $now = time;

my $CERT = 'ab' x 32;
my %lic = (
    P1 => { type => 'perpetual', version => 2 },
    T1 => { type => 'time-limited', expires_at => $now + 3600 },
    T2 => { type => 'time-limited', expires_at => $now + 120 },
    TX => { type => 'time-limited', expires_at => $now - 5,
            issued_at => $now - 100 },
    U1 => { type => 'usage-count', limits => { usage => 3 } },
    N1 => { type => 'node-locked', limits => { max_activations => 2 } },
    F1 => { type => 'floating', limits => { seats => 2,
                                            lease_seconds => 60 } },
    C1 => { type => 'perpetual',
            customer => { name => 'Bound', cert_sha256 => $CERT } },
    H1 => { type => 'perpetual', require_hardware_key => JSON::PP::true },
    HF => { type => 'floating', require_hardware_key => JSON::PP::true },
    R1 => { type => 'perpetual' },
);
for my $id (sort keys %lic) {
    $t->import_ok($b, $t->license(license_id => $id, %{ $lic{$id} }));
}
is(($t->admin($b, 'POST', '/admin/v1/licenses/R1/revoke', {}))[0], 200,
   'R1 revoked');

# call + the checks every answer must pass
sub call {
    my ($path, $body, $status, $code, $name, %h) = @_;
    my ($st, $ans, $r) = $t->api($h{backend} || $b, $path, $body, %h);
    subtest $name => sub {
        is($st, $status, "HTTP $status") or diag $r->{content};
        is($ans->{code}, $code, "code $code");
        is($ans->{verdict}, $status == 200 ? 'valid'
                            : $code eq 'CERT_HEADER_UNTRUSTED' ? 'error'
                            : $status =~ /^(403|409)$/
                              || $code =~ /UNKNOWN|ACTIVATION_UNKNOWN/
                              ? 'denied' : 'error', 'verdict');
        like($ans->{server_time}, qr/^\d+$/, 'server_time');
        ok(length($ans->{message} // '') > 0, 'message') if $status != 200;
        is($r->{headers}{'content-type'}, 'application/json',
           'content-type');
    };
    return $ans;
}

# ---- check: the simple types
call('/v1/check', { license_id => 'NOPE' }, 404, 'UNKNOWN_LICENSE',
     'check unknown license');
my $a = call('/v1/check', { license_id => 'P1', version => 1 }, 200, 'OK',
             'check perpetual, older client version');
is($a->{license_id}, 'P1', 'license_id echoed');
is($a->{version}, 2, 'stored version');
is($a->{type}, 'perpetual', 'type');
is($a->{valid_until}, $a->{server_time} + 600, 'valid_until = now + sync');
is(ref $a->{license}, 'HASH', 'newer license attached');
ok($a->{license}{payload} && $a->{license}{signature}, 'as a JWS object');
$a = call('/v1/check', { license_id => 'P1', version => 2 }, 200, 'OK',
          'check perpetual, current version');
ok(!exists $a->{license}, 'no license when the client is current');
$a = call('/v1/check', { license_id => 'T1', version => 1 }, 200, 'OK',
          'check time-limited');
is($a->{valid_until}, $a->{server_time} + 600, 'T1 bounded by sync');
$a = call('/v1/check', { license_id => 'T2', version => 1 }, 200, 'OK',
          'check time-limited, close to expiry');
is($a->{valid_until}, $now + 120, 'T2 bounded by expires_at');
call('/v1/check', { license_id => 'TX' }, 403, 'LICENSE_EXPIRED',
     'check expired');
call('/v1/check', { license_id => 'R1' }, 403, 'LICENSE_REVOKED',
     'check revoked');

# ---- usage-count: atomic, idempotent per request_id
$a = call('/v1/check', { license_id => 'U1', request_id => 'r1' }, 200, 'OK',
          'usage 1');
is($a->{usage_remaining}, 2, 'two left');
$a = call('/v1/check', { license_id => 'U1', request_id => 'r1' }, 200, 'OK',
          'usage retry r1');
is($a->{usage_remaining}, 2, 'retry answers the same');
is($t->redis('HGET', $t->key('lic', 'U1'), 'used'), 1, 'retry spent nothing');
$a = call('/v1/check', { license_id => 'U1', request_id => 'r2' }, 200, 'OK',
          'usage 2');
is($a->{usage_remaining}, 1, 'one left');
$a = call('/v1/check', { license_id => 'U1' }, 200, 'OK', 'usage 3');
is($a->{usage_remaining}, 0, 'none left');
call('/v1/check', { license_id => 'U1', request_id => 'r3' }, 403,
     'USAGE_EXHAUSTED', 'usage exhausted');
$a = call('/v1/check', { license_id => 'U1', request_id => 'r1' }, 200, 'OK',
          'old request id still answers its answer');
is($t->redis('HGET', $t->key('lic', 'U1'), 'used'), 3, 'exactly 3 spent');

# ---- node-locked
$a = call('/v1/check', { license_id => 'N1' }, 400, 'BAD_FIELD',
          'node-locked check without hwid');
is($a->{field}, 'hwid', 'names hwid');
call('/v1/check', { license_id => 'N1', hwid => 'h1' }, 403,
     'HWID_NOT_ACTIVATED', 'node-locked check, not activated');
$a = call('/v1/activate', { license_id => 'N1', hwid => 'h1' }, 200, 'OK',
          'activate h1');
is($a->{activations}, 1, 'one activation');
my $at = $a->{activated_at};
$a = call('/v1/activate', { license_id => 'N1', hwid => 'h1' }, 200, 'OK',
          'activate h1 again (idempotent)');
is($a->{activations}, 1, 'still one');
is($a->{activated_at}, $at, 'same activation');
call('/v1/activate', { license_id => 'N1', hwid => 'h2' }, 200, 'OK',
     'activate h2');
$a = call('/v1/activate', { license_id => 'N1', hwid => 'h3' }, 409,
          'MAX_ACTIVATIONS', 'activate h3: full');
call('/v1/check', { license_id => 'N1', hwid => 'h1' }, 200, 'OK',
     'node-locked check, activated');
call('/v1/activate', { license_id => 'P1', hwid => 'h1' }, 400,
     'WRONG_LICENSE_TYPE', 'activate a perpetual license');
call('/v1/activate', { license_id => 'R1', hwid => 'h1' }, 403,
     'LICENSE_REVOKED', 'activate a revoked license');
call('/v1/deactivate', { license_id => 'N1', hwid => 'h3' }, 404,
     'ACTIVATION_UNKNOWN', 'deactivate unbound hwid');
call('/v1/deactivate', { license_id => 'F1', hwid => 'h3' }, 400,
     'WRONG_LICENSE_TYPE', 'deactivate on a floating license');
call('/v1/deactivate', { license_id => 'N1', hwid => 'h2' }, 200, 'OK',
     'deactivate h2');
call('/v1/check', { license_id => 'N1', hwid => 'h2' }, 403,
     'HWID_NOT_ACTIVATED', 'h2 no longer activated');
call('/v1/activate', { license_id => 'N1', hwid => 'h3' }, 200, 'OK',
     'activate h3 in the freed slot');

# ---- floating
$a = call('/v1/check', { license_id => 'F1' }, 400, 'BAD_FIELD',
          'floating check without lease_id');
is($a->{field}, 'lease_id', 'names lease_id');
my $l1 = call('/v1/lease/checkout', { license_id => 'F1', client_id => 'c1' },
              200, 'OK', 'checkout 1');
like($l1->{lease_id}, qr/^[0-9a-f]{32}$/, 'lease id: 128 bits hex');
is($l1->{lease_expires}, $l1->{server_time} + 60, 'lease_expires');
my $l2 = call('/v1/lease/checkout', { license_id => 'F1', client_id => 'c2' },
              200, 'OK', 'checkout 2');
isnt($l2->{lease_id}, $l1->{lease_id}, 'distinct lease ids');
$a = call('/v1/lease/checkout', { license_id => 'F1', client_id => 'c3' },
          409, 'NO_SEATS', 'checkout 3: no seats');
is($a->{seats_used}, 2, 'seats_used');
$a = call('/v1/check', { license_id => 'F1', lease_id => $l1->{lease_id},
                         version => 1 }, 200, 'OK', 'check with a lease');
is($a->{valid_until}, $l1->{lease_expires}, 'valid_until = lease expiry');
$a = call('/v1/check', { license_id => 'F1',
                         lease_id => uc $l1->{lease_id}, version => 1 },
          200, 'OK', 'lease id in upper case');
$a = call('/v1/lease/heartbeat', { license_id => 'F1',
                                   lease_id => $l1->{lease_id} },
          200, 'OK', 'heartbeat');
ok($a->{lease_expires} >= $l1->{lease_expires}, 'lease extended');
call('/v1/lease/checkin', { license_id => 'F1', lease_id => $l1->{lease_id} },
     200, 'OK', 'checkin');
call('/v1/check', { license_id => 'F1', lease_id => $l1->{lease_id} },
     403, 'LEASE_UNKNOWN', 'check with a released lease');
call('/v1/lease/heartbeat', { license_id => 'F1',
                              lease_id => $l1->{lease_id} },
     403, 'LEASE_UNKNOWN', 'heartbeat a released lease');
call('/v1/lease/checkin', { license_id => 'F1', lease_id => $l1->{lease_id} },
     403, 'LEASE_UNKNOWN', 'checkin twice');
call('/v1/lease/heartbeat', { license_id => 'F1', lease_id => 'f' x 32 },
     403, 'LEASE_UNKNOWN', 'heartbeat a never-issued lease');
call('/v1/lease/checkout', { license_id => 'F1', client_id => 'c3' },
     200, 'OK', 'checkout in the freed seat');
call('/v1/lease/checkout', { license_id => 'P1', client_id => 'c3' },
     400, 'WRONG_LICENSE_TYPE', 'checkout on a perpetual license');
call('/v1/lease/checkout', { license_id => 'NOPE', client_id => 'c3' },
     404, 'UNKNOWN_LICENSE', 'checkout on an unknown license');

# ---- customer certificate binding (header set by nginx, believed only
# over the unix socket from a trusted peer: here the backend's own user;
# the refusals over TCP and from other users are in t/038)
my $bu = $t->start_backend(name => 'bound', unix => 1);
call('/v1/check', { license_id => 'C1' }, 403, 'CUSTOMER_CERT_MISMATCH',
     'bound license, no client cert', backend => $bu);
call('/v1/check', { license_id => 'C1' }, 403, 'CUSTOMER_CERT_MISMATCH',
     'bound license, other client cert', backend => $bu,
     headers => { 'X-OVSA-Client-Cert-SHA256' => 'cd' x 32 });
call('/v1/check', { license_id => 'C1' }, 200, 'OK',
     'bound license, matching client cert (any case)', backend => $bu,
     headers => { 'X-OVSA-Client-Cert-SHA256' => uc $CERT });
$a = call('/v1/check', { license_id => 'C1' }, 400, 'BAD_FIELD',
          'malformed client cert header', backend => $bu,
          headers => { 'X-OVSA-Client-Cert-SHA256' => 'xyz' });
is($a->{field}, 'X-OVSA-Client-Cert-SHA256', 'names the header');
call('/v1/check', { license_id => 'P1' }, 200, 'OK',
     'unbound license ignores the header', backend => $bu,
     headers => { 'X-OVSA-Client-Cert-SHA256' => 'cd' x 32 });
call('/v1/check', { license_id => 'C1' }, 403, 'CERT_HEADER_UNTRUSTED',
     'the header over TCP is refused',
     headers => { 'X-OVSA-Client-Cert-SHA256' => $CERT });
$t->stop_backend($bu);

# ---- hardware-key mode: only licenses that require it
my $hw = $t->start_backend(name => 'hw', hw => 1);
call('/v1/check', { license_id => 'P1' }, 403, 'HARDWARE_KEY_REQUIRED',
     'hw mode: check a license without require_hardware_key',
     backend => $hw);
call('/v1/activate', { license_id => 'N1', hwid => 'h9' }, 403,
     'HARDWARE_KEY_REQUIRED', 'hw mode: activate', backend => $hw);
call('/v1/lease/checkout', { license_id => 'F1', client_id => 'x' }, 403,
     'HARDWARE_KEY_REQUIRED', 'hw mode: checkout', backend => $hw);
call('/v1/check', { license_id => 'H1' }, 200, 'OK',
     'hw mode: check a license that requires the key', backend => $hw);
call('/v1/lease/checkout', { license_id => 'HF', client_id => 'x' }, 200,
     'OK', 'hw mode: checkout a license that requires the key',
     backend => $hw);
call('/v1/check', { license_id => 'H1' }, 200, 'OK',
     'normal mode serves hardware-key licenses too');

# ---- malformed requests
call('/v1/check', '{"license_id":', 400, 'BAD_JSON', 'truncated JSON');
call('/v1/check', '[1,2]', 400, 'BAD_JSON', 'JSON array body');
call('/v1/check', '', 400, 'BAD_JSON', 'empty body');
$a = call('/v1/check', {}, 400, 'BAD_FIELD', 'missing license_id');
is($a->{field}, 'license_id', 'names license_id');
$a = call('/v1/check', { license_id => 5 }, 400, 'BAD_FIELD',
          'license_id not a string');
is($a->{field}, 'license_id', 'names license_id');
$a = call('/v1/check', { license_id => 'a/b' }, 400, 'BAD_FIELD',
          'license_id with a slash');
$a = call('/v1/check', { license_id => 'P1', version => 'x' }, 400,
          'BAD_FIELD', 'version not an integer');
is($a->{field}, 'version', 'names version');
$a = call('/v1/check', { license_id => 'F1', lease_id => 'zz' }, 400,
          'BAD_FIELD', 'lease_id not hex');
is($a->{field}, 'lease_id', 'names lease_id');
$a = call('/v1/activate', { license_id => 'N1' }, 400, 'BAD_FIELD',
          'activate without hwid');
is($a->{field}, 'hwid', 'names hwid');
$a = call('/v1/activate', { license_id => 'N1', hwid => "a\tb" }, 400,
          'BAD_FIELD', 'hwid with a control character');
$a = call('/v1/lease/checkout', { license_id => 'F1' }, 400, 'BAD_FIELD',
          'checkout without client_id');
is($a->{field}, 'client_id', 'names client_id');
call('/v1/check', { license_id => 'P1', pad => 'x' x 3000 }, 413,
     'BODY_TOO_LARGE', 'body over max_body');
call('/v1/nothing', {}, 404, 'NOT_FOUND', 'unknown route');
my ($st, $ans, $r) = $t->api($b, '/v1/check', undef, method => 'GET');
is($st, 405, 'GET /v1/check: 405');
is($ans->{code}, 'METHOD_NOT_ALLOWED', 'METHOD_NOT_ALLOWED');
is($r->{headers}{allow}, 'POST', 'Allow: POST');
for my $p ('/admin/v1/licenses', '/admin/v1/licenses/P1', '/admin/v1/pins') {
    ($st, $ans) = $t->api($b, $p, undef, method => 'GET',
        headers => { Authorization => "Bearer $OvsaBackend::TOKEN" });
    is("$st $ans->{code}", '404 NOT_FOUND',
       "public listener: GET $p is 404");
}

# ---- refused requests change nothing in Redis
my $before = $t->snapshot;
my @refusals = (
    [ '/v1/check', { license_id => 'NOPE' } ],
    [ '/v1/check', { license_id => 'U1', request_id => 'r9' } ],
    [ '/v1/check', { license_id => 'R1' } ],
    [ '/v1/check', { license_id => 'TX' } ],
    [ '/v1/check', { license_id => 'N1', hwid => 'zz' } ],
    [ '/v1/check', { license_id => 'N1' } ],
    [ '/v1/check', { license_id => 'F1', lease_id => 'e' x 32 } ],
    [ '/v1/check', { license_id => 'C1' } ],
    [ '/v1/activate', { license_id => 'N1', hwid => 'h4' } ],
    [ '/v1/activate', { license_id => 'P1', hwid => 'h4' } ],
    [ '/v1/activate', { license_id => 'R1', hwid => 'h4' } ],
    [ '/v1/deactivate', { license_id => 'N1', hwid => 'h4' } ],
    [ '/v1/lease/checkout', { license_id => 'F1', client_id => 'c9' } ],
    [ '/v1/lease/checkout', { license_id => 'R1', client_id => 'c9' } ],
    [ '/v1/lease/heartbeat', { license_id => 'F1', lease_id => 'e' x 32 } ],
    [ '/v1/lease/checkin', { license_id => 'F1', lease_id => 'e' x 32 } ],
    [ '/v1/check', '{' ],
    [ '/v1/check', { license_id => 'P1', pad => 'x' x 3000 } ],
);
my $refused = 0;
for my $q (@refusals) {
    my ($s) = $t->api($b, @$q);
    $refused++ if $s >= 400;
}
($st) = $t->api($hw, '/v1/check', { license_id => 'P1' });
$refused++ if $st == 403;
is($refused, @refusals + 1, 'every request of the batch was refused');
is_deeply($t->snapshot, $before, 'Redis unchanged by the refusals');

# ---- Content-Digest: checked before the body is parsed or a route runs
$t->import_ok($b, $t->license(license_id => 'UD', type => 'usage-count',
                              limits => { usage => 5 }));
$before = $t->snapshot;
{
    my $cd = \&OvsaBackend::content_digest;
    my $body = '{"license_id":"UD"}';
    for my $case (
        [ 'no Content-Digest', '', 'DIGEST_REQUIRED',
          qr/^a request with a body needs a Content-Digest header/ ],
        [ 'the digest of another body', $cd->('{"license_id":"U1"}'),
          'DIGEST_MISMATCH', qr/sha-256 does not match the 19 body bytes/ ],
        [ 'a wrong sha-512', $cd->('{}', 'sha-512'), 'DIGEST_MISMATCH',
          qr/sha-512 does not match/ ],
        [ 'a right and a wrong member',
          $cd->($body) . ', ' . $cd->('x', 'sha-512'), 'DIGEST_MISMATCH',
          qr/sha-512 does not match/ ],
        [ 'an unknown algorithm only', 'md5=:AAAAAAAAAAAAAAAAAAAAAA==:',
          'DIGEST_REQUIRED', qr/neither sha-256 nor sha-512/ ],
        [ 'a malformed field', 'sha-256=abc', 'DIGEST_REQUIRED',
          qr/is not a byte sequence/ ],
        [ 'two Content-Digest headers',
          $cd->($body) . "\r\nContent-Digest: " . $cd->($body),
          'DIGEST_REQUIRED', qr/carries 2 Content-Digest headers/ ],
    ) {
        my ($name, $dg, $code, $re) = @$case;
        for my $path ('/v1/check', '/v1/activate', '/v1/nothing') {
            my ($st, $ans) = $t->api($b, $path, $body, digest => $dg);
            is("$st $ans->{code}", "400 $code", "$path, $name: 400 $code");
            like($ans->{message}, $re, "$path, $name: the reason");
        }
    }
    # no body: none is fine, one must be the empty body's
    my ($st, $ans) = $t->api($b, '/v1/check', undef, method => 'GET',
                             digest => $cd->('x'));
    is("$st $ans->{code}", '400 DIGEST_MISMATCH',
       'no body, the digest of another: DIGEST_MISMATCH before the route');
    ($st, $ans) = $t->api($b, '/v1/check', undef, method => 'GET',
                          digest => $cd->(''));
    is("$st $ans->{code}", '405 METHOD_NOT_ALLOWED',
       'no body, the empty body\'s digest: on to the route');
    is_deeply($t->snapshot, $before,
              'Redis unchanged by the refused digests');

    my $spend = '{"license_id":"UD","request_id":"d1"}';
    ($st, $ans) = $t->api($b, '/v1/check', $spend,
                          digest => $cd->($spend, 'sha-512'));
    is("$st $ans->{code} $ans->{usage_remaining}", '200 OK 4',
       'a right sha-512 digest: served, one use spent');
    ($st, $ans) = $t->admin($b, 'POST', '/admin/v1/licenses/UD/revoke', {});
    is($st, 200, 'the admin listener needs no Content-Digest');
}

# ---- unix socket listener
# POST /v1/check over the unix socket with curl, with its Content-Digest
sub ucheck {
    my ($body) = @_;
    my $dg = OvsaBackend::content_digest($body);
    return `curl -s --unix-socket $_[1] -H 'Content-Digest: $dg' -H 'Authorization: License $OvsaBackend::SECRET' -d '$body' http://localhost/v1/check`;
}
my $sock = $t->dir . '/pub.sock';
my $u = $t->start_backend(name => 'unix', listen => "unix:$sock");
my $out = ucheck('{"license_id":"P1","version":2}', $sock);
like($out, qr/"code":"OK"/, 'check over the unix socket');
is(sprintf('%04o', (stat $sock)[2] & 07777), '0660', 'socket mode 0660');
my $clash = "$OvsaBackend::BIN/bin/ovsa-backend -c " . $t->conf(
    name => 'clash', listen => "unix:$sock",
    admin_listen => '127.0.0.1:' . $t->port);
my $msg = `$clash 2>&1`;
like($msg, qr/listen unix:\Q$sock\E: in use by a running process/,
     'a second backend does not steal a live socket');
ok(-S $sock, 'the live socket is still there');
$out = ucheck('{"license_id":"P1"}', $sock);
like($out, qr/"code":"OK"/, 'and still served');
kill 'KILL', $u->{pid};
waitpid($u->{pid}, 0);
ok(-S $sock, 'SIGKILL leaves a stale socket');
$u = $t->start_backend(name => 'unix', listen => "unix:$sock");
$out = ucheck('{"license_id":"P1"}', $sock);
like($out, qr/"code":"OK"/, 'a new backend replaces the stale socket');
is($t->stop_backend($u), 0, 'SIGTERM: exit status 0');
ok(!-e $sock, 'socket file removed on exit');

# ---- memory: at most ~300 bytes per activation and per lease
$t->import_ok($b, $t->license(license_id => 'NBIG', type => 'node-locked',
                              limits => { max_activations => 1000 }));
$t->import_ok($b, $t->license(license_id => 'FBIG', type => 'floating',
                              limits => { seats => 1000,
                                          lease_seconds => 600 }));
my $n = 400;
my $ok = 0;
for my $i (1 .. $n) {
    my ($s1) = $t->api($b, '/v1/activate',
        { license_id => 'NBIG', hwid => sprintf('host-%04d-4c4c4544-0042', $i) });
    my ($s2) = $t->api($b, '/v1/lease/checkout',
        { license_id => 'FBIG', client_id => sprintf('client-%04d', $i) });
    $ok++ if $s1 == 200 && $s2 == 200;
}
is($ok, $n, "$n activations and $n leases");
my $act = $t->redis('MEMORY', 'USAGE', $t->key('act', 'NBIG'), 'SAMPLES', 0);
my $lease = $t->redis('MEMORY', 'USAGE', $t->key('lz', 'FBIG'), 'SAMPLES', 0)
          + $t->redis('MEMORY', 'USAGE', $t->key('lh', 'FBIG'), 'SAMPLES', 0);
cmp_ok($act / $n, '<=', 300, sprintf('%.0f bytes per activation', $act / $n));
cmp_ok($lease / $n, '<=', 300, sprintf('%.0f bytes per lease', $lease / $n));

kill 'HUP', $b->{pid};
($st, $ans) = $t->api($b, '/v1/check', { license_id => 'P1' });
is("$st $ans->{code}", '200 OK', 'SIGHUP does not stop the backend');
is($t->stop_backend($b), 0, 'backend exits 0 on SIGTERM');
like(OvsaBackend::slurp($b->{log}), qr/SIGHUP ignored/, 'SIGHUP logged');
unlike(OvsaBackend::slurp($b->{log}), qr/\[(crit|alert|emerg)\]/,
       'no crit/alert in the log');

done_testing();
