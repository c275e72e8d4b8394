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

    # on a TCP port of 127.0.0.1, with more redis-server arguments
    my $node = OCI::Redis->start(port => $port, args => [...]);

    # three masters with a replica each, cluster-node-timeout 1000 ms
    my $cluster = OCI::Redis::Cluster->start or plan skip_all => ...;
    $cluster->seeds;                # "127.0.0.1:p1,127.0.0.1:p2,..."
    $cluster->masters;              # the OCI::Redis of each master now
    $cluster->owner($key);          # the master serving $key's slot

    # a master, its replica and three sentinels watching them as "main"
    my $ha = OCI::Redis::Sentinel->start or plan skip_all => ...;
    $ha->sentinels;                 # "127.0.0.1:s1,127.0.0.1:s2,..."
    $ha->master;                    # the OCI::Redis the sentinels name

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
use IO::Socket::INET;
use IO::Socket::UNIX;
use Time::HiRes qw(sleep);

sub start {
    my ($class, %opt) = @_;
    return undef unless -x '/usr/bin/redis-server';
    my $self = bless { dir => tempdir(CLEANUP => 1), %opt }, $class;
    $self->{socket} = "$self->{dir}/redis.sock" unless $self->{port};
    return $self->start_again ? $self : undef;
}

sub socket { $_[0]{socket} }
sub port   { $_[0]{port} }
sub addr   { "127.0.0.1:$_[0]{port}" }
sub dir    { $_[0]{dir} }
sub alive  { $_[0]{pid} ? 1 : 0 }

sub start_again {
    my ($self) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$self->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        my @listen = $self->{port}
            ? ('--port', $self->{port}, '--bind', '127.0.0.1')
            : ('--port', '0', '--unixsocket', $self->{socket},
               '--unixsocketperm', '777');
        exec $self->{exec} // '/usr/bin/redis-server', @{ $self->{pre} // [] },
            @listen, ($self->{nosave} ? ()
                      : ('--save', '', '--appendonly', 'no')),
            '--dir', $self->{dir}, @{ $self->{args} // [] };
        exit 127;
    }
    $self->{pid} = $pid;
    for (1 .. 100) {
        return 1 if ($self->{port} || -S $self->{socket})
                    && $self->cli('PING') eq 'PONG';
        sleep 0.05;
    }
    return 0;
}

sub cli {
    my ($self, @args) = @_;
    my @to = $self->{port} ? ('-h', '127.0.0.1', '-p', $self->{port})
                           : ('-s', $self->{socket});
    # "Could not connect" while a node starts or after it is killed
    open my $err, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', '/dev/null' or die "/dev/null: $!";
    my $ok = open my $fh, '-|', 'redis-cli', @to, @args;
    open STDERR, '>&', $err or die "dup: $!";
    $ok or die "redis-cli: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    $out =~ s/\n\z//;
    return $out;
}

sub call {
    my ($self, @argv) = @_;
    $self->{conn} ||= ($self->{port}
        ? IO::Socket::INET->new(PeerAddr => $self->addr, Proto => 'tcp')
        : IO::Socket::UNIX->new(Peer => $self->{socket}))
        or die "redis: cannot connect to " . ($self->{socket} // $self->addr)
               . ": $!\n";
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
    unlink $self->{socket} if $self->{socket};
}

# SIGKILL: no goodbye to replicas or clients, as a crash
sub kill9 {
    my ($self) = @_;
    close delete $self->{conn} if $self->{conn};
    return unless $self->{pid};
    kill 'KILL', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

# polls $cond every 50 ms for at most $secs; true when it held
sub wait_for {
    my ($secs, $cond) = @_;
    for (1 .. $secs * 20) {
        my $ok = eval { $cond->() };
        return 1 if $ok;
        sleep 0.05;
    }
    return 0;
}


package OCI::Redis::Cluster;

=head1 OCI::Redis::Cluster

Three masters and a replica for each, on free ports of 127.0.0.1, made a
cluster with C<redis-cli --cluster create>; C<cluster-node-timeout> is
1000 ms, so that a replica takes over a killed master within seconds.
Every node stops with the object.

=cut

use strict;
use warnings;
use OCI::Server;

sub start {
    my ($class, %opt) = @_;
    return undef unless -x '/usr/bin/redis-server';
    my $self = bless { nodes => [] }, $class;
    for (1 .. 6) {
        # the cluster bus listens on port + 10000
        my $port;
        for (1 .. 50) {
            $port = OCI::Server::free_port();
            last if IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                LocalPort => $port + 10000, Listen => 1, ReuseAddr => 1);
        }
        my $node = OCI::Redis->start(port => $port, args => [
            '--cluster-enabled', 'yes', '--cluster-node-timeout', '1000',
            '--cluster-config-file', "nodes-$port.conf",
            '--cluster-replica-validity-factor', '0',
            '--cluster-require-full-coverage', 'no',
            @{ $opt{args} // [] } ]) or return undef;
        push @{ $self->{nodes} }, $node;
    }
    my @addrs = map { $_->addr } @{ $self->{nodes} };
    my $log = $self->{nodes}[0]->dir . '/create.log';
    if (system("redis-cli --cluster create @addrs --cluster-replicas 1 "
               . "--cluster-yes >$log 2>&1") != 0)
    {
        print STDERR "# redis-cli --cluster create failed:\n",
            OCI::Server::slurp($log);
        return undef;
    }
    return $self if $self->wait_ok;
    print STDERR "# the cluster did not become ok:\n",
        map { $_->addr . ': ' . $_->cli('CLUSTER', 'INFO') . "\n" }
        $self->nodes;
    return undef;
}

sub nodes { @{ $_[0]{nodes} } }
sub seeds { join ',', map { $_->addr } $_[0]->nodes }

# every live node says the cluster is ok, and three masters serve slots
sub ok_now {
    my ($self) = @_;
    for my $n (grep { $_->alive } $self->nodes) {
        return 0 unless $n->cli('CLUSTER', 'INFO') =~ /cluster_state:ok/;
    }
    my @m = $self->masters;
    return @m == 3;
}

sub wait_ok {
    my ($self) = @_;
    return OCI::Redis::wait_for(30, sub { $self->ok_now });
}

sub masters {
    my ($self) = @_;
    return grep {
        $_->alive && ($_->cli('ROLE') =~ /\Amaster/) && _owns_slots($_)
    } $self->nodes;
}

sub _owns_slots {
    my ($n) = @_;
    my $id = $n->cli('CLUSTER', 'MYID');
    for (split /\n/, $n->cli('CLUSTER', 'NODES')) {
        my @f = split / /;
        return @f > 8 if $f[0] eq $id;
    }
    return 0;
}

sub owner {
    my ($self, $key) = @_;
    my $slot = ($self->masters)[0]->cli('CLUSTER', 'KEYSLOT', $key);
    for my $m ($self->masters) {
        my $id = $m->cli('CLUSTER', 'MYID');
        for (split /\n/, $m->cli('CLUSTER', 'NODES')) {
            my @f = split / /;
            next unless $f[0] eq $id;
            for my $r (@f[8 .. $#f]) {
                my ($a, $b) = split /-/, $r;
                $b //= $a;
                return $m if $a =~ /^\d+$/ && $slot >= $a && $slot <= $b;
            }
        }
    }
    return undef;
}

# every key of every master matching $pattern
sub keys {
    my ($self, $pattern) = @_;
    return sort map { split /\n/, $_->cli('KEYS', $pattern) } $self->masters;
}


package OCI::Redis::Sentinel;

=head1 OCI::Redis::Sentinel

A master, its replica, and three sentinels (C<redis-sentinel>) watching
them as "main", with C<down-after-milliseconds> 1000 and
C<failover-timeout> 5000, all on free ports of 127.0.0.1.  Everything
stops with the object.

=cut

use strict;
use warnings;
use OCI::Server;

sub start {
    my ($class) = @_;
    my $sentinel = '/usr/bin/redis-sentinel';
    return undef unless -x '/usr/bin/redis-server' && -x $sentinel;
    my $self = bless { data => [], sentinels => [] }, $class;
    my $master = OCI::Redis->start(port => OCI::Server::free_port())
        or return undef;
    my $replica = OCI::Redis->start(port => OCI::Server::free_port(),
        args => ['--replicaof', '127.0.0.1', $master->port]) or return undef;
    $self->{data} = [ $master, $replica ];
    OCI::Redis::wait_for(20, sub {
        $master->cli('INFO', 'replication') =~ /connected_slaves:1/
        && $replica->cli('INFO', 'replication') =~ /master_link_status:up/
    }) or return undef;
    for (1 .. 3) {
        my $port = OCI::Server::free_port();
        my $dir = File::Temp::tempdir(CLEANUP => 1);
        my $conf = "$dir/sentinel.conf";
        open my $fh, '>', $conf or die "$conf: $!";
        print $fh "port $port\nbind 127.0.0.1\ndir $dir\n",
            "sentinel monitor main 127.0.0.1 ", $master->port, " 2\n",
            "sentinel down-after-milliseconds main 1000\n",
            "sentinel failover-timeout main 5000\n",
            "sentinel parallel-syncs main 1\n";
        close $fh;
        my $s = OCI::Redis->start(port => $port, dir => $dir,
                                  exec => $sentinel, pre => [$conf],
                                  nosave => 1)
            or return undef;
        push @{ $self->{sentinels} }, $s;
    }
    OCI::Redis::wait_for(20, sub {
        $self->{sentinels}[0]->cli('SENTINEL', 'replicas', 'main') =~ /\S/
        && $self->{sentinels}[0]->cli('SENTINEL', 'sentinels', 'main')
           =~ /\S/
    }) or return undef;
    return $self;
}

sub sentinels { join ',', map { $_->addr } @{ $_[0]{sentinels} } }
sub data      { @{ $_[0]{data} } }

# the data node the sentinels name as master, undef if none is reachable
sub master {
    my ($self) = @_;
    my ($host, $port) = split /\n/,
        $self->{sentinels}[0]->cli('SENTINEL', 'get-master-addr-by-name',
                                   'main');
    return undef unless $port;
    my ($m) = grep { $_->alive && $_->port == $port } $self->data;
    return $m;
}

1;
