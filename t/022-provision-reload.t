# The provisioning scripts with a real nginx: the default.yaml they write
# loads, and provision-new-cert --reload makes the running server present
# the new certificate, for the CA-signed and the self-signed rotation.
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use OvsaScriptTest qw(run_cmd script fresh_dir spki_pin pem_certs slurp);
use Test::More;
use Time::HiRes ();

my $INST = script('ovsa_install_license_server_cert.sh');
my $DEVCA = script('ovsa_dev_ca.sh');
my $t = fresh_dir();

sub sh_ok {
    my ($name, @argv) = @_;
    my $r = run_cmd('sh', @argv);
    is($r->{rc}, 0, $name) or diag($r->{err});
    return $r;
}

# served(CAFILE): (verified?, pin of the leaf nginx presents)
sub served {
    my ($cafile) = @_;
    my $out = qx{openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile $cafile -verify_return_error -showcerts </dev/null 2>&1};
    my $ok = $? == 0 && $out =~ /Verify return code: 0 \(ok\)/;
    my ($leaf) = pem_certs($out);
    return ($ok, defined $leaf ? spki_pin($leaf) : '', $out);
}

# wait_served(CAFILE, PIN): polls (bounded) until nginx presents PIN; the
# old workers finish gracefully after a reload.
sub wait_served {
    my ($cafile, $pin) = @_;
    my @r;
    for (1 .. 100) {
        @r = served($cafile);
        last if $r[1] eq $pin;
        Time::HiRes::sleep(0.1);
    }
    return @r;
}

# workers(MASTER): pids of MASTER's children (from /proc)
sub workers {
    my ($master) = @_;
    my @w;
    for my $stat (glob('/proc/[0-9]*/stat')) {
        my $s = slurp($stat) // next;
        push @w, $1 if $s =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $master;
    }
    return @w;
}

# wait_gone(PIDS): polls (bounded) until none of PIDS runs; returns the
# ones still running.
sub wait_gone {
    my @pids = @_;
    for (1 .. 200) {
        @pids = grep { kill(0, $_) && (slurp("/proc/$_/stat") // '') !~ /^\d+ \(.*\) Z / } @pids;
        last unless @pids;
        Time::HiRes::sleep(0.05);
    }
    return @pids;
}

sub start_on {
    my ($conf) = @_;
    start_nginx(nginx_conf(tls => '', no_ovsa_config => '',
        http_config => "    ovsa_config $conf/default.yaml;",
        config => "    location / { return 200 \"ok\\n\"; }"));
}

sub rotate {
    my ($name, $conf, $cafile, $old_pin, $new_pin) = @_;
    my ($ok, $pin, $out) = served($cafile);
    ok($ok, "$name: nginx presents a chain that verifies against the vendor root")
        or diag($out);
    is($pin, $old_pin, "$name: nginx presents the current identity");

    my $pidfile = "$SERVROOT/logs/nginx.pid";
    my $master = slurp($pidfile) =~ s/\s+//gr;
    my @old_workers = workers($master);
    ok(scalar(@old_workers), "$name: nginx has workers before the reload");
    my $r = sh_ok("$name: provision-new-cert --reload", $INST, '-d', $conf,
                  'provision-new-cert', '--reload', $pidfile);
    like($r->{out}, qr/^reload: sent SIGHUP to pid $master \(\Q$pidfile\E\)$/m,
         "$name: reload reported");

    # After a reload the master starts new workers, then asks the old
    # ones to finish; until they exit, both may accept.
    my @left = wait_gone(@old_workers);
    is(scalar(@left), 0, "$name: the old workers have exited");
    ($ok, $pin, $out) = wait_served($cafile, $new_pin);
    is($pin, $new_pin, "$name: after the reload nginx presents the new identity");
    ok($ok, "$name: the new chain verifies against the vendor root")
        or diag($out);
    is(slurp($pidfile) =~ s/\s+//gr, $master, "$name: same master (a reload, not a restart)");
    my $res = http_req(path => '/', tls => "$conf/vendor-root.pem");
    is($res->{status}, 200, "$name: HTTPS request after the reload")
        or diag($res->{error});
    stop_nginx();
    my $log = read_file("$SERVROOT/logs/error.log");
    unlike($log, qr/\[(emerg|alert|crit|error)\]/, "$name: no error logged")
        or diag($log);
}

# ---- CA-signed: csr -> sign -> install-cert, then the same into future
my $ca = "$t/ca";
my $conf = "$t/ca-conf";
sh_ok('dev CA', $DEVCA, 'init', '-d', $ca);
sh_ok('csr', $INST, '-d', $conf, 'csr');
sh_ok('sign', $DEVCA, 'sign', '-d', $ca, '-in', "$conf/pending/server.csr",
      '-out', "$t/c1.pem");
sh_ok('install-cert', $INST, '-d', $conf, 'install-cert', "$t/c1.pem",
      '-root', "$ca/root.pem");
my ($rc, $out) = nginx_t(nginx_conf(tls => '', no_ovsa_config => '',
    http_config => "    ovsa_config $conf/default.yaml;"));
is($rc, 0, 'nginx -t accepts the default.yaml the script wrote') or diag($out);

start_on($conf);
sh_ok('second csr', $INST, '-d', $conf, 'csr');
sh_ok('second sign', $DEVCA, 'sign', '-d', $ca, '-in',
      "$conf/pending/server.csr", '-out', "$t/c2.pem");
sh_ok('install-new-cert', $INST, '-d', $conf, 'install-new-cert', "$t/c2.pem");
my ($ok, $pin) = served("$ca/root.pem");
is($pin, spki_pin((pem_certs(slurp("$t/c1.pem")))[0]),
   'CA: install-new-cert alone changes nothing that is served');
rotate('CA', $conf, "$ca/root.pem",
       spki_pin((pem_certs(slurp("$t/c1.pem")))[0]),
       spki_pin((pem_certs(slurp("$t/c2.pem")))[0]));

# ---- self-signed: gencert -> gencert-new -> provision-new-cert
$conf = "$t/ss-conf";
sh_ok('gencert', $INST, '-d', $conf, 'gencert');
my $old = slurp("$conf/current/server-chain.pem");
start_on($conf);
sh_ok('gencert-new', $INST, '-d', $conf, 'gencert-new');
my $new = slurp("$conf/future/server-chain.pem");
# the client trusts both self-signed certificates during the rotation
my $both = "$t/both.pem";
open(my $fh, '>', $both) or die;
print $fh $old, $new;
close($fh);
rotate('self-signed', $conf, $both, spki_pin((pem_certs($old))[0]),
       spki_pin((pem_certs($new))[0]));

done_testing();
