# make run: scripts/run-registry on a random 127.0.0.1 port with its data in
# a scratch directory. It announces the registry only once GET /v2/ is
# answered, leaves nothing running when anything fails or when it is
# interrupted at any moment, and refuses a DATA_DIR the workers cannot
# reach. Each run gets its own session, so that whatever it started is
# found (and killed, should the script fail to) by session id.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(setsid WNOHANG _exit);
use Time::HiRes qw(sleep time);
use OCI::Client;
use OCI::Server;
use OCI::Test;

my $SCRIPT = 'scripts/run-registry';
my ($MODULE) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
$MODULE //= ($ENV{OCI_BUILD} // 'build') . '/ngx_oci_module.so';
$MODULE = File::Spec->rel2abs($MODULE);

plan skip_all => 'redis-server is not installed' unless which('redis-server');
plan skip_all => "$MODULE is not built" unless -f $MODULE;

my $TMP = tempdir('oci-run-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $TMP;             # the workers (nobody, under root) go through

my %RUNS;                     # pid => run, killed by END if still there

# Starts the script in a session of its own; returns the run.
sub start_run {
    my (%o) = @_;
    my $data = $o{data} // "$TMP/" . unique();
    my $port = $o{port} // OCI::Server::free_port();
    my $run = { data => $data, port => $port, out => "$data.out",
                err => "$data.err" };
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $run->{out};
        open STDERR, '>', $run->{err};
        $ENV{NGINX} = $ENV{TEST_NGINX_BINARY} if $ENV{TEST_NGINX_BINARY};
        $ENV{RUN_REGISTRY_WAIT} = 10;
        exec { $SCRIPT } $SCRIPT, "127.0.0.1:$port", $data,
            $o{module} // $MODULE or print STDERR "exec $SCRIPT: $!\n";
        _exit(127);
    }
    $run->{pid} = $pid;
    $RUNS{$pid} = $run;
    return $run;
}

# Waits (bounded) for the script to exit: its exit code, or undef.
sub finish {
    my ($run, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    while (time < $deadline) {
        if (waitpid($run->{pid}, WNOHANG) == $run->{pid}) {
            delete $RUNS{ $run->{pid} };
            return $run->{status} = $? >> 8;
        }
        sleep 0.05;
    }
    return undef;
}

# The processes of the run's session still alive (the script's own pid
# once it is reaped is not among them).
sub leftovers {
    my ($run) = @_;
    my @left;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = slurp($stat);
        next unless $s =~ /^(\d+) \((.*)\) (\S) (?:\S+ ){2}(\d+)/s;
        push @left, "$1 ($2)" if $4 == $run->{pid} && $3 ne 'Z';
    }
    return @left;
}

sub no_leftovers {
    my ($run, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @left = leftovers($run);
    ok(!@left, "$what: nothing left running") or diag("left: @left");
    kill 'KILL', map { /^(\d+)/ } @left;
}

# Waits (bounded) until the script says the registry is up.
sub announced {
    my ($run, $timeout) = @_;
    my $deadline = time + ($timeout // 60);
    while (time < $deadline) {
        return 1 if slurp($run->{out}) =~ /^registry on http:/m;
        return 0 if waitpid($run->{pid}, WNOHANG) == $run->{pid}
                    && do { delete $RUNS{ $run->{pid} }; 1 };
        sleep 0.05;
    }
    return 0;
}

sub interrupt { my ($run) = @_; kill 'INT', -$run->{pid} }

subtest 'announced once GET /v2/ answers; Ctrl-C stops everything' => sub {
    my $run = start_run();
    ok(announced($run), 'the registry is announced')
        or diag(slurp($run->{err}));
    like(slurp($run->{out}),
         qr{^registry on http://127\.0\.0\.1:$run->{port}/v2/ }m,
         'on the address it listens on');
    my $res = OCI::Client::request_once($run->{port}, 'GET', '/v2/');
    is($res->code, 200, 'GET /v2/ answers right away');
    ok(-S "$run->{data}/redis/redis.sock", 'Redis runs');
    interrupt($run);
    is(finish($run), 0, 'Ctrl-C: the script exits 0');
    no_leftovers($run, 'Ctrl-C');
};

subtest 'SIGTERM to the script alone stops what it started' => sub {
    my $run = start_run();
    ok(announced($run), 'the registry is announced');
    kill 'TERM', $run->{pid};
    is(finish($run), 0, 'the script exits 0');
    no_leftovers($run, 'SIGTERM');
};

subtest 'nginx -t failing: an error, nothing started' => sub {
    my $run = start_run(module => "$TMP/no-such-module.so");
    isnt(finish($run), 0, 'the script fails');
    like(slurp($run->{err}), qr/nginx -t refused/, 'it says why');
    unlike(slurp($run->{out}), qr/registry on/, 'no registry announced');
    ok(!-e "$run->{data}/logs/redis.log", 'Redis was never started');
    no_leftovers($run, 'nginx -t failing');
};

subtest 'nginx failing to start after Redis: Redis is stopped' => sub {
    my $port = OCI::Server::free_port();
    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                     LocalPort => $port, Listen => 1,
                                     ReuseAddr => 1)
        or die "cannot listen on $port: $!\n";
    my $run = start_run(port => $port);
    isnt(finish($run), 0, 'the script fails');
    like(slurp($run->{err}), qr/did not answer GET \/v2\//, 'it says why');
    unlike(slurp($run->{out}), qr/registry on/, 'no registry announced');
    ok(-e "$run->{data}/logs/redis.log", 'Redis had been started');
    no_leftovers($run, 'nginx failing to start');
    close $busy;
};

subtest 'Ctrl-C at any moment leaves nothing running' => sub {
    for my $delay (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2) {
        my $run = start_run();
        sleep $delay;
        interrupt($run);
        my $status = finish($run);
        ok(defined $status, "Ctrl-C after $delay s: the script exits");
        no_leftovers($run, "Ctrl-C after $delay s");
    }
};

SKIP: {
    skip 'the workers change user only when run as root', 1 if $> != 0;

    subtest 'a DATA_DIR the workers cannot reach is refused' => sub {
        my $closed = "$TMP/closed";
        mkdir $closed, 0700 or die "mkdir $closed: $!\n";
        chmod 0700, $closed;
        my $run = start_run(data => "$closed/var");
        is(finish($run), 1, 'the script fails');
        my @lines = split /\n/, slurp($run->{err});
        is(scalar @lines, 1, 'with one line');
        like($lines[0] // '', qr/out of reach .*nobody.*\Q$closed\E is not/,
             'naming the directory that blocks the way');
        ok(!-e "$closed/var/conf/nginx.conf", 'before anything is written');
        no_leftovers($run, 'refused DATA_DIR');
    };
}

END {
    for my $run (values %RUNS) {
        kill 'KILL', -$run->{pid};
        waitpid($run->{pid}, 0);
    }
}

done_testing();
