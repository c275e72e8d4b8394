package OCI::Redis;

=head1 NAME

OCI::Redis - a private redis-server for a test, on a unix socket

=head1 SYNOPSIS

    use OCI::Redis;
    my $redis = OCI::Redis->start or plan skip_all => 'no redis-server';
    $redis->socket;                 # path, for "oci_redis unix:<path>;"
    $redis->cli('HGETALL', $key);   # redis-cli's output, chomped
    $redis->call('ZRANGE', $k, 0, -1);   # the reply as Perl data (RESP)
    $redis->dump('oci:*');          # { key => content } of matching keys
    $redis->pause; $redis->resume;  # SIGSTOP / SIGCONT
    $redis->stop; $redis->start_again;

=head1 DESCRIPTION

The server listens on no TCP port, keeps no data on disk, and is stopped
when the object goes away (also if the test dies).

C<call> speaks RESP on a connection of its own, kept open (so a C<SELECT>
holds for the calls after it): a status or integer reply comes back as a
string, a bulk string as a string or undef, an array as an array ref; an
error reply dies.

=cut

use strict;
use warnings;
use File::Temp qw(tempdir);
use IO::Socket::UNIX;
use Time::HiRes qw(sleep);

sub start {
    my ($class) = @_;
    return undef unless -x '/usr/bin/redis-server';
    my $self = bless { dir => tempdir(CLEANUP => 1) }, $class;
    $self->{socket} = "$self->{dir}/redis.sock";
    return $self->start_again ? $self : undef;
}

sub socket { $_[0]{socket} }

sub start_again {
    my ($self) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$self->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec '/usr/bin/redis-server', '--port', '0',
            '--unixsocket', $self->{socket}, '--unixsocketperm', '777',
            '--save', '', '--appendonly', 'no', '--dir', $self->{dir};
        exit 127;
    }
    $self->{pid} = $pid;
    for (1 .. 100) {
        return 1 if -S $self->{socket} && $self->cli('PING') eq 'PONG';
        sleep 0.05;
    }
    return 0;
}

sub cli {
    my ($self, @args) = @_;
    open my $fh, '-|', 'redis-cli', '-s', $self->{socket}, @args
        or die "redis-cli: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    $out =~ s/\n\z//;
    return $out;
}

sub call {
    my ($self, @argv) = @_;
    $self->{conn} ||= IO::Socket::UNIX->new(Peer => $self->{socket})
        or die "redis: cannot connect to $self->{socket}: $!\n";
    print { $self->{conn} } '*' . @argv . "\r\n",
        map { '$' . length($_) . "\r\n$_\r\n" } @argv;
    return $self->_reply;
}

sub _reply {
    my ($self) = @_;
    my $fh = $self->{conn};
    my $line = <$fh> // die "redis: connection closed\n";
    $line =~ s/\r\n$//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    die "redis: $v\n" if $t eq '-';
    return undef if $v < 0;
    if ($t eq '$') {
        read($fh, my $buf, $v + 2) == $v + 2 or die "redis: short read\n";
        return substr($buf, 0, $v);
    }
    return [ map { $self->_reply } 1 .. $v ] if $t eq '*';
    die "redis: unexpected reply $line\n";
}

# every key matching $pattern with its content, for is_deeply: a sorted
# set as [member, score, ...] in order, a hash as a hash ref, a string as
# itself, another type as "<type>"
sub dump {
    my ($self, $pattern) = @_;
    my %out;
    for my $key (@{ $self->call('KEYS', $pattern // '*') }) {
        my $type = $self->call('TYPE', $key);
        $out{$key} = $type eq 'zset' ? $self->call('ZRANGE', $key, 0, -1, 'WITHSCORES')
                   : $type eq 'hash' ? { @{ $self->call('HGETALL', $key) } }
                   : $type eq 'string' ? $self->call('GET', $key)
                   : "<$type>";
    }
    return \%out;
}

sub pause  { kill 'STOP', $_[0]{pid} }
sub resume { kill 'CONT', $_[0]{pid} }

sub stop {
    my ($self) = @_;
    close delete $self->{conn} if $self->{conn};
    return unless $self->{pid};
    kill 'CONT', $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
    unlink $self->{socket};
}

sub DESTROY { $_[0]->stop }

1;
