# 081-license-client.t: ovsa-check in license mode against a real nginx
# (ovsa_tls, ovsa_sign, ovsa_chain) and the real backend: every server URL
# of the license tried in order, pins, customer binding end to end, each
# refusal of an offered update with its own code (the old file kept byte
# for byte), ovsactl -c, and provision-new-cert's pre-switch check when
# the admin API cannot be asked.
#
# Ports: $PORT the production-shaped front (backend behind it), +1 a second
# signed TLS front whose /v1/ is a stand-in backend (+2) answering what the
# test writes (offered licenses the real backend would never store), +3
# nothing listening.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 25;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir run_cmd);
use Test::More;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use JSON::PP;

my $t = OvsaBackend->new(offset => 30);
$t->start_redis;
my $tmp = fresh_dir();
my ($F2, $STANDIN, $DOWN) = ($PORT + 1, $PORT + 2, $PORT + 3);
my $URL = "https://127.0.0.1:$PORT";
my $URL2 = "https://127.0.0.1:$F2";

sub ok_run {
    my ($name, $r) = @_;
    is($r->{rc}, 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

# what nginx workers (nobody when the tests run as root) read
my $pub = tempdir('ovsa-t081-pub-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0777, $pub;

# ---- the server: self-signed identity A, backend, two fronts
my $conf = "$tmp/conf";
ok_run('gencert', inst('-d', $conf, 'gencert'));
my $pinA = leaf_pin("$conf/current/server-chain.pem");
my ($api, $admin) = ($t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c81:');
my $ks = "$tmp/isv";
my $ks2 = "$tmp/isv2";
ok_run('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
ok_run('another ISV keystore', ovsatool('keystore', '-out', $ks2));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
my $b = start_backend_on($t, 'b81', $conf, $api, $admin);

my $extra = <<"C";
    server {
        listen 127.0.0.1:$F2 ssl;
        ovsa_tls on;
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://127.0.0.1:$STANDIN;
        }
    }
    server {
        listen 127.0.0.1:$STANDIN;
        default_type application/json;
        location = /v1/check {
            error_page 405 = /answer.json;
            return 405;
        }
        location = /answer.json { root $pub; }
    }
C
start_nginx(nginx_front($conf, $api, $extra));

# a CA for client certificates and foreign keys
my $ca = "$tmp/ca";
ok_run('dev CA', devca('init', '-d', $ca));
ok_run('client certificate', devca('issue-client', '-d', $ca, '-cn',
       'acme', '-out', "$tmp/acme"));
ok_run('another client certificate', devca('issue-client', '-d', $ca,
       '-cn', 'other', '-out', "$tmp/other"));
my $foreign = "$ca/root.pem";            # any certificate with another key

sub create {
    my ($out, $ksd, $id, @servers) = @_;
    return ovsatool('create', '-k', $ksd, '-id', $id, '-product', 'Widget',
                    '-customer', 'ACME', '-type', 'perpetual', @servers,
                    '-out', $out);
}

# next version of a license, same pins (the URL re-pins its current cert)
sub bump {
    my ($in, $out, $ksd, $url, $cert) = @_;
    return ovsatool('updatecustlicense', '-k', $ksd, '-l', $in, '-u', $url,
                    $cert, '-c', $out);
}

my $certA = "$conf/current/server-chain.pem";

# ======== ovsactl -c default.yaml
{
    my $r = ok_run('ovsactl -c: admin URL and token from default.yaml',
                   ovsactl('-c', "$conf/default.yaml", 'pins', $pinA));
    like($r->{out}, qr/^\Q$pinA\E: 0 active license\(s\), 0 pin it, 0 do not$/m,
         'ovsactl -c pins: counts');
    $r = ovsactl('-c', "$conf/default.yaml", '-url', "http://127.0.0.1:$DOWN",
                 'pins', $pinA);
    is($r->{rc}, 4, '-url overrides -c (nothing listens there: exit 4)');
    my $bare = "$tmp/bare";
    mkdir $bare;
    OvsaBackend::spew("$bare/default.yaml",
        "identity: {chain: $certA, key: $conf/current/server.key,"
        . " root: $conf/vendor-root.pem}\n");
    $r = ovsactl('-c', "$bare/default.yaml", 'pins', $pinA);
    is($r->{rc}, 6, 'ovsactl -c without backend.admin_token_file: exit 6');
    like($r->{err}, qr{sets no backend\.admin_token_file}, '... says so');
    $r = ovsactl('-c', "$tmp/nope.yaml", 'pins', $pinA);
    is($r->{rc}, 1, 'ovsactl -c with a missing file: exit 1');
}

# ======== every URL in order, each with its own pins
{
    my $lic = "$tmp/multi.lic";
    ok_run('license with three servers',
           create($lic, $ks, 'M1',
                  '-server', "https://127.0.0.1:$DOWN", '-server-cert', $certA,
                  '-server', "https://localhost:$PORT", '-server-cert', $foreign,
                  '-server', $URL, '-server-cert', $certA));
    ok_run('import', ovsactl('-c', "$conf/default.yaml", 'import', $lic));
    my $r = ok_run('unreachable, wrong pin, then a good server: valid',
                   check('-isv', "$ks/isv.crt", '-license', $lic));
    like($r->{out}, qr{^server 1 https://127\.0\.0\.1:$DOWN: OVSA_E_TRANSPORT: .*\n}m,
         'server 1: unreachable, reported');
    like($r->{out}, qr{^server 2 https://localhost:$PORT: OVSA_E_PIN: }m,
         'server 2: wrong pin, reported');
    like($r->{out}, qr{^server 3 \Q$URL\E: verified \(200\)\nverified: valid OK}m,
         'server 3 answered, verified');

    my $j = decode_json(check('-isv', "$ks/isv.crt", '-license', $lic, '-json')->{out});
    is_deeply([ map { $_->{check} } @{ $j->{attempts} } ],
              [qw(OVSA_E_TRANSPORT OVSA_E_PIN OVSA_E_NONE)],
              '-json lists every attempt');
    is($j->{server}, $URL, '-json names the server that answered');

    my $bad = "$tmp/badpin.lic";
    ok_run('license whose only server has the wrong pin',
           create($bad, $ks, 'M2', '-server', $URL, '-server-cert', $foreign));
    my $before = slurp($bad);
    $r = check('-isv', "$ks/isv.crt", '-license', $bad);
    is($r->{rc}, 3, 'wrong pin: exit 3');
    like($r->{err}, qr/not verified: OVSA_E_PIN/, 'wrong pin: OVSA_E_PIN');
    is(slurp($bad), $before, 'wrong pin: license file byte-identical');

    my $down = "$tmp/down.lic";
    ok_run('license whose only server is down',
           create($down, $ks, 'M3', '-server', "https://127.0.0.1:$DOWN",
                  '-server-cert', $certA));
    $r = check('-isv', "$ks/isv.crt", '-license', $down);
    is($r->{rc}, 4, 'every server unreachable: exit 4');
    like($r->{err}, qr/OVSA_E_TRANSPORT/, '... OVSA_E_TRANSPORT');

    $r = check('-isv', "$ks/isv.crt", '-license', $lic, '-url', $URL);
    is($r->{rc}, 2, '-license with -url: usage error (exit 2)');
}

# ======== customer binding end to end
{
    my $lic = "$tmp/bound.lic";
    ok_run('license bound to the acme certificate',
           ovsatool('create', '-k', $ks, '-id', 'B1', '-product', 'Widget',
                    '-customer', 'ACME', '-customer-cert', "$tmp/acme.crt",
                    '-type', 'perpetual', '-server', $URL, '-server-cert',
                    $certA, '-out', $lic));
    ok_run('import', ovsactl('-c', "$conf/default.yaml", 'import', $lic));
    my $r = ok_run('with its certificate: valid',
                   check('-isv', "$ks/isv.crt", '-license', $lic, '-cert', "$tmp/acme.crt", '-key',
                         "$tmp/acme.key"));
    like($r->{out}, qr/^verified: valid OK/m, '... verified valid');
    system("openssl x509 -in $tmp/acme.crt -outform DER -out $tmp/acme.der"
           . " && openssl pkey -in $tmp/acme.key -outform DER"
           . " -out $tmp/acme-key.der && chmod 600 $tmp/acme-key.der") == 0
        or die 'DER copies of the acme certificate and key';
    $r = ok_run('with its certificate and key in DER: valid',
                check('-isv', "$ks/isv.crt", '-license', $lic, '-cert', "$tmp/acme.der", '-key',
                      "$tmp/acme-key.der"));
    like($r->{out}, qr/^verified: valid OK/m, '... verified valid');
    $r = check('-isv', "$ks/isv.crt", '-license', $lic);
    is($r->{rc}, 5, 'without a certificate: a verified denial (exit 5)');
    like($r->{out}, qr/^verified: denied CUSTOMER_CERT_MISMATCH/m,
         '... CUSTOMER_CERT_MISMATCH, signed');
    $r = check('-isv', "$ks/isv.crt", '-license', $lic, '-cert', "$tmp/other.crt", '-key',
               "$tmp/other.key");
    is($r->{rc}, 5, 'with another certificate: a verified denial (exit 5)');
    like($r->{out}, qr/^verified: denied CUSTOMER_CERT_MISMATCH/m,
         '... CUSTOMER_CERT_MISMATCH');
    $r = check('-isv', "$ks/isv.crt", '-license', $lic, '-cert', "$tmp/acme.crt", '-key',
               "$tmp/other.key");
    is($r->{rc}, 1, 'a key that is not the certificate\'s: local error');
    like($r->{err}, qr/OVSA_E_KEY_MISMATCH/, '... OVSA_E_KEY_MISMATCH');
    copy("$tmp/acme.key", "$tmp/world.key") or die;
    chmod 0644, "$tmp/world.key";
    $r = check('-isv', "$ks/isv.crt", '-license', $lic, '-cert', "$tmp/acme.crt", '-key',
               "$tmp/world.key");
    is($r->{rc}, 1, 'a key readable by everyone: refused');
    like($r->{err}, qr/OVSA_E_KEY_MODE\b/, '... OVSA_E_KEY_MODE');
    like($r->{err}, qr/world\.key: private key file has mode 0644/,
         '... naming the file and its mode');
}

# ======== offered updates: each refusal has its code, the file is kept
my $cli = "$tmp/client";
mkdir $cli;
my $held = "$cli/l2.lic";
ok_run('L2 v1', create("$tmp/l2-v1.lic", $ks, 'L2', '-server', $URL2,
                       '-server-cert', $certA));
ok_run("L2 v$_", bump("$tmp/l2-v" . ($_ - 1) . '.lic', "$tmp/l2-v$_.lic",
                      $ks, $URL2, $certA)) for 2 .. 4;
copy("$tmp/l2-v3.lic", $held) or die;
copy("$tmp/l2-v1.lic.secret", "$held.secret") or die;
chmod 0600, "$held.secret";
ok_run('L3 v1', create("$tmp/l3-v1.lic", $ks, 'L3', '-server', $URL2,
                       '-server-cert', $certA));
ok_run("L3 v$_", bump("$tmp/l3-v" . ($_ - 1) . '.lic', "$tmp/l3-v$_.lic",
                      $ks, $URL2, $certA)) for 2 .. 4;
ok_run('L2 by another ISV, v1', create("$tmp/o2-v1.lic", $ks2, 'L2',
                                       '-server', $URL2, '-server-cert', $certA));
ok_run("L2 by another ISV, v$_", bump("$tmp/o2-v" . ($_ - 1) . '.lic',
       "$tmp/o2-v$_.lic", $ks2, $URL2, $certA)) for 2 .. 4;

# the v4 JWS with one signature character changed
my $forged = decode_json(slurp("$tmp/l2-v4.lic"));
substr($forged->{signature}, 5, 1) =
    substr($forged->{signature}, 5, 1) eq 'A' ? 'B' : 'A';
OvsaBackend::spew("$tmp/forged.lic", encode_json($forged) . "\n");

sub offer {
    my ($licfile) = @_;
    my $now = time;
    my $ans = { verdict => 'valid', code => 'OK', server_time => $now,
                valid_until => $now + 300, license_id => 'L2',
                license => decode_json(slurp($licfile)) };
    OvsaBackend::spew("$pub/answer.json", encode_json($ans), 0644);
}

my $v3 = slurp($held);
for my $case (['forged signature', "$tmp/forged.lic", 'OVSA_E_LIC_SIGNATURE'],
              ['lower version', "$tmp/l2-v2.lic", 'OVSA_E_LIC_VERSION'],
              ['same version', "$tmp/l2-v3.lic", 'OVSA_E_LIC_VERSION'],
              ['another license id', "$tmp/l3-v4.lic", 'OVSA_E_LIC_ID'],
              ['another ISV key', "$tmp/o2-v4.lic", 'OVSA_E_LIC_ISV'])
{
    my ($what, $file, $code) = @$case;
    offer($file);
    my $r = check('-isv', "$ks/isv.crt", '-license', $held);
    is($r->{rc}, 3, "$what: refused (exit 3)");
    like($r->{out}, qr/^verified: valid OK/m, "$what: the answer itself verified");
    like($r->{err}, qr/license update refused: \Q$code\E: /, "$what: $code");
    is(slurp($held), $v3, "$what: license file byte-identical");
    my @tmps = grep { !/l2\.lic(\.secret)?$/ } glob("$cli/* $cli/.*[!.]");
    is(scalar(@tmps), 0, "$what: no temporary file left") or diag("@tmps");
}

# the held license must come from the ISV the client trusts
{
    my $r = check('-license', $held, '-isv', "$ks2/isv.crt");
    is($r->{rc}, 1, '-isv of another ISV: the held license is refused');
    like($r->{err}, qr/OVSA_E_LIC_ISV/, '... OVSA_E_LIC_ISV');
    offer("$tmp/l2-v4.lic");
    $r = check('-license', $held, '-isv', "$ks2/isv.crt");
    is(slurp($held), $v3, '... and nothing is written');
}

# control: the same harness accepts a good update
offer("$tmp/l2-v4.lic");
{
    # the customer keeps the license to himself: the update keeps the mode
    chmod 0600, $held;
    my $r = ok_run('a good update is accepted',
                   check('-license', $held, '-isv', "$ks/isv.crt"));
    like($r->{out}, qr/^license updated: L2 version 3 -> 4/m, '... reported');
    is_deeply(decode_json(slurp($held)), decode_json(slurp("$tmp/l2-v4.lic")),
              '... the file holds the v4 JWS');
    is(sprintf('%04o', (stat $held)[2] & 07777), '0600',
       '... and keeps the old file\'s mode (0600, not 0644)');
}

# ======== provision-new-cert when the store cannot be asked
{
    ok_run('gencert-new', inst('-d', $conf, 'gencert-new'));
    my $cur = readlink("$conf/current");
    $t->stop_backend($b);
    my $r = inst('-d', $conf, 'provision-new-cert');
    isnt($r->{rc}, 0, 'admin API down: provision-new-cert refuses');
    like($r->{err}, qr/cannot ask the license store whether licenses pin \S+ \(admin API unreachable\)/,
         '... naming the reason');
    like($r->{err}, qr/use --force to switch anyway/, '... and the way out');
    is(readlink("$conf/current"), $cur, '... current unchanged');

    {
        local $ENV{OVSACTL} = "$tmp/no-such-ovsactl";
        $r = inst('-d', $conf, 'provision-new-cert');
        isnt($r->{rc}, 0, 'no ovsactl: refused');
        like($r->{err}, qr/ovsactl not found/, '... naming the reason');
    }

    $r = ok_run('--force switches anyway',
                inst('-d', $conf, 'provision-new-cert', '--force'));
    like($r->{err}, qr/--force: skipping the pre-switch check/, '... and says so');
    isnt(readlink("$conf/current"), $cur, '... current switched');
}

# a default.yaml without an admin token: no license can be stored there
{
    my $plain = "$tmp/plain";
    ok_run('plain: gencert', inst('-d', $plain, 'gencert'));
    ok_run('plain: gencert-new', inst('-d', $plain, 'gencert-new'));
    my $r = ok_run('plain: provision-new-cert switches',
                   inst('-d', $plain, 'provision-new-cert'));
    like($r->{err}, qr/pre-switch check skipped: \Q$plain\E\/default\.yaml sets no backend\.admin_token_file/,
         '... saying why the check was skipped');
}

OvsaTest::stop_nginx();
my $log = slurp("$SERVROOT/logs/error.log") // '';
unlike($log, qr/\[(alert|emerg|crit)\]/, "no alert in nginx's log");
done_testing();
