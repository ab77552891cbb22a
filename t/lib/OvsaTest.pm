package OvsaTest;

# A data-driven test harness in the style of OpenResty's Test::Nginx
# (which Debian does not package), on Test::Base.  Each block starts a
# real nginx with the built ovsa module on 127.0.0.1 in a private prefix.
#
# Sections: yaml, main_config, http_config, config, tls, no_ovsa_config,
# must_die, request, more_headers, error_code, response_body,
# response_body_like, response_headers, error_log, no_error_log.
#
# Variables replaced in every section: $TEST_NGINX_PORT,
# $TEST_NGINX_SERVROOT, $PKI (the test PKI directory, see OvsaPKI.pm),
# $OVSA_ROOT (the repository).
#
# Environment: OVSA_TEST_PORT_BASE (default 19800), TEST_NGINX_BINARY
# (default /usr/sbin/nginx), OVSA_TEST_KEEP=1 keeps the server root,
# OVSA_BUILD the build directory (default build/).

use strict;
use warnings;

use Test::Base -base;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Socket::SSL;
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use lib dirname(__FILE__);
use OvsaPKI qw(make_pki);

our @EXPORT = qw(run_tests $PKI $ROOT $PORT $SERVROOT $NGINX
                 nginx_conf write_file read_file start_nginx stop_nginx
                 start_server stop_server nginx_t http_req subst);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $BUILD = $ENV{OVSA_BUILD} || "$ROOT/build";
our $MODULE = "$BUILD/nginx/ngx_http_ovsa_module.so";
our $PORT = $ENV{TEST_NGINX_PORT} || $ENV{OVSA_TEST_PORT_BASE} || 19800;
our $SERVROOT = tempdir('ovsa-servroot-XXXXXX', TMPDIR => 1,
                        CLEANUP => !$ENV{OVSA_TEST_KEEP});
our $PKI;
our $PID;

$ENV{TEST_NGINX_PORT} = $PORT;
$ENV{TEST_NGINX_SERVROOT} = $SERVROOT;

filters {
    request         => [qw(chomp)],
    error_code      => [qw(chomp)],
    must_die        => [qw(chomp)],
    tls             => [qw(chomp)],
    response_body_like => [qw(chomp)],
};

sub pki {
    $PKI ||= make_pki()->{dir};
    return $PKI;
}

sub subst {
    my ($s) = @_;
    return $s unless defined $s;
    my $pki = pki();
    $s =~ s/\$TEST_NGINX_PORT\b/$PORT/g;
    $s =~ s/\$TEST_NGINX_SERVROOT\b/$SERVROOT/g;
    $s =~ s/\$PKI\b/$pki/g;
    $s =~ s/\$OVSA_ROOT\b/$ROOT/g;
    return $s;
}

sub write_file {
    my ($file, $data, $mode) = @_;
    make_path(dirname($file));
    open my $fh, '>', $file or die "$file: $!";
    print $fh $data;
    close $fh or die "$file: $!";
    chmod $mode, $file if defined $mode;
}

sub read_file {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

sub default_yaml {
    return <<"YAML";
identity:
  chain: \$PKI/chain-rsa.pem
  key: \$PKI/leaf-rsa.key
  root: \$PKI/root.pem
YAML
}

# Builds nginx.conf; %o: yaml, main_config, http_config, config, tls,
# no_ovsa_config.
sub nginx_conf {
    my (%o) = @_;
    my $listen = defined $o{tls}
        ? "listen 127.0.0.1:$PORT ssl;\n        ovsa_tls on;"
        : "listen 127.0.0.1:$PORT;";
    my $ovsa = defined $o{no_ovsa_config} ? ''
        : "ovsa_config $SERVROOT/conf/default.yaml;";

    write_file("$SERVROOT/conf/default.yaml",
               subst(defined $o{yaml} ? $o{yaml} : default_yaml()));

    return subst(<<"CONF");
daemon off;
master_process on;
worker_processes 1;
pid $SERVROOT/logs/nginx.pid;
error_log $SERVROOT/logs/error.log info;
load_module $MODULE;
@{[ $o{main_config} || '' ]}
events {
    worker_connections 128;
}
http {
    access_log off;
    client_body_temp_path $SERVROOT/tmp/body;
    proxy_temp_path $SERVROOT/tmp/proxy;
    fastcgi_temp_path $SERVROOT/tmp/fastcgi;
    uwsgi_temp_path $SERVROOT/tmp/uwsgi;
    scgi_temp_path $SERVROOT/tmp/scgi;
    default_type text/plain;

    $ovsa
@{[ $o{http_config} || '' ]}
    server {
        $listen
        server_name localhost;
@{[ $o{config} || '' ]}
    }
}
CONF
}

sub prepare {
    my ($conf) = @_;
    make_path("$SERVROOT/logs", "$SERVROOT/tmp", "$SERVROOT/conf",
              "$SERVROOT/html");
    write_file("$SERVROOT/conf/nginx.conf", $conf);
    unlink "$SERVROOT/logs/error.log", "$SERVROOT/logs/stderr.log";
}

# Runs "nginx -t"; returns (exit status, output).
sub nginx_t {
    my ($conf) = @_;
    prepare($conf);
    my $out = qx{$NGINX -p $SERVROOT/ -c $SERVROOT/conf/nginx.conf -t 2>&1};
    return ($? >> 8, $out);
}

sub wait_port {
    my ($port, $secs, $pid) = @_;
    my $until = time + $secs;
    while (time < $until) {
        return 0 if $pid && waitpid($pid, WNOHANG) == $pid;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 1);
        if ($s) { close $s; return 1; }
        sleep 0.05;
    }
    return 0;
}

sub start_nginx {
    my ($conf) = @_;
    prepare($conf) if defined $conf;
    stop_nginx();
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>>', "$SERVROOT/logs/stdout.log";
        open STDERR, '>>', "$SERVROOT/logs/stderr.log";
        exec $NGINX, '-p', "$SERVROOT/", '-c', "$SERVROOT/conf/nginx.conf";
        exit 127;
    }
    $PID = $pid;
    unless (wait_port($PORT, 10, $pid)) {
        stop_nginx() if kill 0, $pid;
        undef $PID;
        die "nginx did not start: " . read_file("$SERVROOT/logs/stderr.log")
            . read_file("$SERVROOT/logs/error.log");
    }
    return $pid;
}

sub stop_nginx {
    return unless $PID;
    kill 'QUIT', $PID;
    my $until = time + 10;
    while (time < $until) {
        last if waitpid($PID, WNOHANG) == $PID;
        sleep 0.05;
    }
    if (kill 0, $PID) {
        kill 'KILL', $PID;
        waitpid($PID, 0);
    }
    undef $PID;
}

# More nginx servers beside the main one (a fleet): start_server() takes
# nginx_conf()'s options plus "port", runs nginx in its own prefix and
# returns a handle { pid, port, root } for stop_server().
our @SERVERS;

sub start_server {
    my (%o) = @_;
    my $h = { port => $o{port},
              root => tempdir('ovsa-servroot-XXXXXX', TMPDIR => 1,
                              CLEANUP => !$ENV{OVSA_TEST_KEEP}) };
    local $PORT = $h->{port};
    local $SERVROOT = $h->{root};
    local $PID;
    start_nginx(nginx_conf(%o));
    $h->{pid} = $PID;
    push @SERVERS, $h;
    return $h;
}

sub stop_server {
    my ($h) = @_;
    local $PID = $h->{pid};
    local $SERVROOT = $h->{root};
    stop_nginx();
    $h->{pid} = undef;
}

END {
    stop_nginx();
    stop_server($_) for grep { $_->{pid} } @SERVERS;
}

# Sends one HTTP/1.1 request; %o: method, path, headers (array of
# "Name: value"), body, tls (CA file to verify against, or 'none'),
# port, host, digest (a non-empty body gets its Content-Digest unless
# headers has one or digest is 0; no Content-Length with a
# Transfer-Encoding header).  Returns a hash: status, headers
# (lower-case name -> value), header_list, body, raw, error.
sub http_req {
    my (%o) = @_;
    my $port = $o{port} || $PORT;
    my $sock;

    if ($o{tls}) {
        $sock = IO::Socket::SSL->new(
            PeerAddr => "127.0.0.1:$port",
            SSL_hostname => 'localhost',
            $o{tls} eq 'none'
                ? (SSL_verify_mode => SSL_VERIFY_NONE)
                : (SSL_verify_mode => SSL_VERIFY_PEER,
                   SSL_ca_file => $o{tls}, SSL_ca_path => undef,
                   SSL_verifycn_name => 'localhost',
                   SSL_verifycn_scheme => 'http'),
            Timeout => 10,
        );
        return { error => "TLS: $SSL_ERROR" } unless $sock;
    } else {
        $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 10);
        return { error => "connect: $!" } unless $sock;
    }

    my $body = defined $o{body} ? $o{body} : '';
    my $req = ($o{method} || 'GET') . " " . ($o{path} || '/') . " HTTP/1.1\r\n"
        . "Host: " . ($o{host} || "localhost:$port") . "\r\n"
        . "Connection: close\r\n";
    $req .= "$_\r\n" for @{ $o{headers} || [] };
    $req .= "Content-Digest: sha-256=:" . encode_base64(sha256($body), '')
        . ":\r\n"
        if length $body && ($o{digest} // 1)
           && !grep { /^content-digest:/i } @{ $o{headers} || [] };
    $req .= "Content-Length: " . length($body) . "\r\n"
        if (length $body || ($o{method} || '') eq 'POST')
           && !grep { /^transfer-encoding:/i } @{ $o{headers} || [] };
    $req .= "\r\n" . $body;

    print $sock $req;
    my $raw = '';
    while (1) {
        my $n = sysread($sock, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $sock;

    my ($head, $rbody) = split /\r\n\r\n/, $raw, 2;
    return { error => 'no response', raw => $raw } unless defined $head;
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($status) = $status_line =~ m{^HTTP/1\.\d (\d{3})};
    my (%h, @list);
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @list, [$k, $v];
        $h{lc $k} = $v;
    }
    $rbody = '' unless defined $rbody;
    if (($h{'transfer-encoding'} || '') =~ /chunked/i) {
        my $plain = '';
        while ($rbody =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $plain .= substr($rbody, 0, $n, '');
            $rbody =~ s/^\r\n//;
        }
        $rbody = $plain;
    }
    return { status => $status, headers => \%h, header_list => \@list,
             body => $rbody, raw => $raw };
}

sub check_log {
    my ($block, $log, $name) = @_;

    if (defined $block->error_log) {
        for my $want (grep /\S/, split /\n/, subst($block->error_log)) {
            ok(index($log, $want) >= 0, "$name - log has: $want")
                or diag("log was:\n$log");
        }
    }

    my @bad = defined $block->no_error_log
        ? grep(/\S/, split /\n/, $block->no_error_log)
        : ('[error]', '[alert]', '[crit]', '[emerg]');
    @bad = () if defined $block->must_die && !defined $block->no_error_log;

    for my $no (@bad) {
        ok(index($log, $no) < 0, "$name - log lacks: $no")
            or diag("log was:\n$log");
    }
}

sub run_block {
    my ($block) = @_;
    my $name = $block->name;
    my $conf = nginx_conf(map { $_ => scalar $block->$_ }
        qw(yaml main_config http_config config tls no_ovsa_config));

    if (defined $block->must_die) {
        my ($rc, $out) = nginx_t($conf);
        isnt($rc, 0, "$name - nginx -t fails");
        like($out, qr/\[emerg\]/, "$name - [emerg] logged")
            if $block->must_die ne 'quiet';
        check_log($block, $out, $name);
        return;
    }

    start_nginx($conf);

    if (defined $block->request) {
        my ($line, @body) = split /\n/, subst($block->request);
        my ($method, $path) = split / /, $line;
        my $tls = defined $block->tls
            ? ($block->tls || "$PKI/root.pem") : undef;
        my $r = http_req(method => $method, path => $path,
                         body => join("\n", @body), tls => $tls,
                         headers => [grep /\S/, split /\n/,
                                     subst($block->more_headers || '')]);
        ok(!$r->{error}, "$name - request sent")
            or diag($r->{error});

        is($r->{status}, $block->error_code || 200, "$name - status");

        if (defined $block->response_body) {
            is($r->{body}, subst($block->response_body),
               "$name - response body");
        }
        if (defined $block->response_body_like) {
            my $re = subst($block->response_body_like);
            like($r->{body}, qr/$re/s, "$name - response body like");
        }
        for (grep /\S/, split /\n/, subst($block->response_headers || '')) {
            if (/^!\s*(\S+)/) {
                ok(!exists $r->{headers}{lc $1}, "$name - no header $1");
            } elsif (/^([^:]+):\s*(.*)$/) {
                is($r->{headers}{lc $1}, $2, "$name - header $1");
            }
        }
    }

    stop_nginx();
    check_log($block, read_file("$SERVROOT/logs/stderr.log")
                      . read_file("$SERVROOT/logs/error.log"), $name);
}

sub run_tests {
    for my $block (blocks()) {
        run_block($block);
    }
    Test::More::done_testing();
}

1;
