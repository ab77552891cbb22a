package OvsaRedisProxy;

# A TCP proxy in front of the test's redis-server that can hold Redis's
# replies: the command reaches Redis and runs, its answer does not reach
# the backend, which times out.  That is the "script ran, answer lost"
# case a retry with the same request id must resolve (t/042).
#
#   my $p = OvsaRedisProxy->start($listen_port, $redis_port);
#   $p->arm;      # the next command containing EVALSHA starts the hold:
#                 # from then on every reply is held back
#   $p->release;  # held replies go out (to connections still open)
#   $p->stop;
#
# One child process, a select loop; arm/release are SIGUSR1/SIGUSR2.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(sleep time);

sub start {
    my ($class, $port, $target) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $port, Listen => 64,
                                  ReuseAddr => 1)
        or die "proxy: listen $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        run($l, $target);
        _exit(0);
    }
    close $l;
    return bless { pid => $pid, port => $port }, $class;
}

sub port { $_[0]{port} }

sub arm {
    my ($self) = @_;
    kill 'USR1', $self->{pid};
    sleep 0.1;      # the child sees the signal before the next request
}

sub release { kill 'USR2', $_[0]{pid}; sleep 0.1 }

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

sub run {
    my ($l, $target) = @_;
    my ($armed, $holding, $stop) = (0, 0, 0);
    local $SIG{USR1} = sub { $armed = 1 };
    local $SIG{USR2} = sub { $armed = 0; $holding = 0 };
    local $SIG{TERM} = sub { $stop = 1 };
    local $SIG{PIPE} = 'IGNORE';

    my $sel = IO::Select->new($l);
    my (%peer, %upstream, %held);

    my $close = sub {
        my ($s) = @_;
        my $p = delete $peer{$s};
        for my $x ($s, $p ? $p : ()) {
            $sel->remove($x);
            delete $held{$x};
            delete $upstream{$x};
            delete $peer{$x};
            close $x;
        }
    };

    while (!$stop) {
        if (!$holding) {
            for my $u (grep { length $held{$_} } keys %held) {
                my ($sock) = grep { "$_" eq $u } $sel->handles;
                next unless $sock && $peer{$sock};
                syswrite($peer{$sock}, $held{$u});
                $held{$u} = '';
            }
        }
        for my $s ($sel->can_read(0.05)) {
            if ($s == $l) {
                my $c = $l->accept or next;
                my $u = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$target")
                    or do { close $c; next };
                $peer{$c} = $u;
                $peer{$u} = $c;
                $upstream{$u} = 1;
                $held{$u} = '';
                $sel->add($c, $u);
                next;
            }
            my $n = sysread($s, my $buf, 65536);
            if (!$n) {
                $close->($s);
                next;
            }
            my $p = $peer{$s} or next;
            if ($upstream{$s}) {
                if ($holding) {
                    $held{$s} .= $buf;
                } else {
                    syswrite($p, $buf) or $close->($s);
                }
            } else {
                if ($armed && $buf =~ /EVALSHA/) {
                    $armed = 0;
                    $holding = 1;
                }
                syswrite($p, $buf) or $close->($s);
            }
        }
    }
}

1;
