package OCI::Redis;

=head1 NAME

OCI::Redis - a private redis-server for a test, on a unix socket

=head1 SYNOPSIS

    use OCI::Redis;
    my $redis = OCI::Redis->start or plan skip_all => 'no redis-server';
    $redis->socket;                 # path, for "oci_redis unix:<path>;"
    $redis->cli('HGETALL', $key);   # redis-cli's output, chomped
    $redis->pause; $redis->resume;  # SIGSTOP / SIGCONT
    $redis->stop; $redis->start_again;

=head1 DESCRIPTION

The server listens on no TCP port, keeps no data on disk, and is stopped
when the object goes away (also if the test dies).

=cut

use strict;
use warnings;
use File::Temp qw(tempdir);
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

sub pause  { kill 'STOP', $_[0]{pid} }
sub resume { kill 'CONT', $_[0]{pid} }

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'CONT', $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
    unlink $self->{socket};
}

sub DESTROY { $_[0]->stop }

1;
