package OvsaRotation;

# Helpers of the license-mode and rotation tests (t/08x): a provisioned
# CONFDIR whose default.yaml also configures the backend and Redis, the
# real ovsa-backend started on it, nginx with TLS + signing + the chain
# in front of it, and the command-line tools (scripts, ovsatool, ovsactl,
# ovsa-check) run without a shell.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use lib dirname(__FILE__);
use OvsaBackend;
use OvsaScriptTest qw(run_cmd script slurp spki_pin pem_certs);
use OvsaTest;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use File::Temp ();
use Time::HiRes ();

our @EXPORT = qw(inst devca ovsatool ovsactl check write_yaml
                 start_backend_on nginx_front payload_of leaf_pin
                 served_pin wait_served workers wait_gone $BIN);

our $BIN = "$OvsaBackend::BIN/bin";

# The backends' public unix sockets (the shipped shape): a directory the
# nginx workers (nobody:nogroup) can reach; api_sock(API_PORT) names one.
our $SOCKDIR = File::Temp::tempdir('ovsa-sock-XXXXXX', TMPDIR => 1,
                                   CLEANUP => !$ENV{OVSA_TEST_KEEP});
chmod 0755, $SOCKDIR;
sub api_sock { "$SOCKDIR/api-$_[0].sock" }

sub inst { run_cmd('sh', script('ovsa_install_license_server_cert.sh'), @_) }
sub devca { run_cmd('sh', script('ovsa_dev_ca.sh'), @_) }
sub ovsatool { run_cmd("$BIN/ovsatool", @_) }
sub ovsactl { run_cmd("$BIN/ovsactl", @_) }
# OVSA_CHECK_WRAPPER, e.g. "valgrind -q --error-exitcode=99
# --leak-check=full --errors-for-leak-kinds=definite", runs ovsa-check
# under a checker (a finding changes the exit status: the tests fail)
sub check {
    run_cmd(split(' ', $ENV{OVSA_CHECK_WRAPPER} || ''), "$BIN/ovsa-check",
            @_);
}

# write_yaml(CONFDIR, REDIS_PORT, ADMIN_PORT, API_PORT, PREFIX): the
# default.yaml of a whole server (the script writes the identity part
# only; it never rewrites the file, and operators add the rest).
sub write_yaml {
    my ($conf, $redis, $admin, $api, $prefix) = @_;
    OvsaBackend::spew("$conf/admin.token", "$OvsaBackend::TOKEN\n", 0600);
    OvsaBackend::spew("$conf/default.yaml", <<"Y");
identity:
  chain: current/server-chain.pem
  key: current/server.key
  root: vendor-root.pem
backend:
  listen: unix:@{[ api_sock($api) ]}
  listen_group: nogroup
  trusted_peers: [nobody]
  admin_listen: 127.0.0.1:$admin
  admin_token_file: admin.token
  threads: 2
redis:
  address: 127.0.0.1:$redis
  prefix: "$prefix"
licenses:
  isv_certs: [isv.pem]
Y
}

# start_backend_on(T, NAME, CONFDIR, API_PORT, ADMIN_PORT): the real
# backend on CONFDIR/default.yaml (public API on the unix socket
# api_sock(API_PORT)), stopped by T's cleanup.
sub start_backend_on {
    my ($t, $name, $conf, $api, $admin) = @_;
    my $log = $t->dir . "/$name.log";
    my $pid = OvsaBackend::spawn($log, "$BIN/ovsa-backend", '-c',
                                 "$conf/default.yaml");
    my $b = { name => $name, pid => $pid, port => $api,
              sock => api_sock($api), admin_port => $admin, log => $log };
    $t->{backends}{$name} = $b;
    OvsaBackend::wait_file(api_sock($api)) && OvsaBackend::wait_port($admin)
        or die "backend $name did not start:\n" . slurp($log);
    return $b;
}

# nginx_front(CONFDIR, API_PORT, EXTRA_HTTP): the production shape:
# TLS with the provisioned identity, customer binding, signed /v1/.
sub nginx_front {
    my ($conf, $api, $extra) = @_;
    my $http = <<"C";
    ovsa_config $conf/default.yaml;
    upstream ovsa_backend {
        server unix:@{[ api_sock($api) ]};
        keepalive 4;
    }
@{[ $extra || '' ]}
C
    my $server = <<'C';
        ssl_verify_client optional_no_ca;
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-OVSA-Client-Cert-SHA256 $ovsa_client_cert_sha256;
            client_max_body_size 64k;
            proxy_next_upstream off;
        }
        location / { return 404; }
C
    return nginx_conf(tls => '', no_ovsa_config => '', http_config => $http,
                      config => $server);
}

# payload_of(FILE): the decoded payload of a license file
sub payload_of {
    my ($file) = @_;
    my $jws = decode_json(slurp($file));
    (my $p = $jws->{payload}) =~ tr{-_}{+/};
    $p .= '=' x ((4 - length($p) % 4) % 4);
    return decode_json(decode_base64($p));
}

# leaf_pin(CHAIN_FILE): the pin of the first certificate, computed by the
# DER walk of OvsaScriptTest (not by the code under test)
sub leaf_pin { spki_pin((pem_certs(slurp($_[0])))[0]) }

# served_pin(): the pin of the leaf nginx presents on $PORT
sub served_pin {
    my $out = qx{openssl s_client -connect 127.0.0.1:$PORT -servername localhost -showcerts </dev/null 2>&1};
    my ($leaf) = pem_certs($out);
    return defined $leaf ? spki_pin($leaf) : '';
}

# wait_served(PIN): polls (bounded) until nginx presents PIN after a reload
sub wait_served {
    my ($pin) = @_;
    my $got = '';
    for (1 .. 100) {
        $got = served_pin();
        last if $got eq $pin;
        Time::HiRes::sleep(0.1);
    }
    return $got;
}

# workers(MASTER_PID): the pids of the master's children (from /proc)
sub workers {
    my ($master) = @_;
    my @w;
    for my $stat (glob('/proc/[0-9]*/stat')) {
        my $st = slurp($stat) // next;
        push @w, $1 if $st =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $master;
    }
    return @w;
}

# wait_gone(PIDS): polls (bounded) until none of PIDS runs (an old worker
# still accepts connections with the old identity until it exits); returns
# the ones still running
sub wait_gone {
    my @pids = @_;
    for (1 .. 200) {
        @pids = grep { kill(0, $_)
                       && (slurp("/proc/$_/stat") // '') !~ /^\d+ \(.*\) Z / }
                @pids;
        last unless @pids;
        Time::HiRes::sleep(0.05);
    }
    return @pids;
}

1;
