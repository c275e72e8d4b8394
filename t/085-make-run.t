# make run: scripts/run-registry on a random 127.0.0.1 port with its data in
# a scratch directory. It announces the registry only once GET /v2/ is
# answered, leaves nothing running when anything fails or when it is
# interrupted at any moment, and refuses a DATA_DIR the workers cannot
# reach. Each run gets its own session, so that whatever it started is
# found (and killed, should the script fail to) by session id. With
# AUTH=token PASSWORD=...: the token flow with the built-in issuer (user
# dev may do anything, anonymous pull only, a wrong password refused),
# skopeo pushing with credentials and pulling anonymously through it.

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
use OCI::Harness;
use OCI::Test;
use MIME::Base64 ();

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
        @ENV{ keys %{ $o{env} || {} } } = values %{ $o{env} || {} };
        exec { $SCRIPT } $SCRIPT, "127.0.0.1:$port", $data,
            $o{module} // $MODULE or print STDERR "exec $SCRIPT: $!\n";
        _exit(127);
    }
    $run->{pid} = $pid;
    $RUNS{$pid} = $run;

    # a signal to the group before setsid() would reach no one
    my $deadline = time + 5;
    while (time < $deadline) {
        my $s = slurp("/proc/$pid/stat");
        last if $s !~ /^\d+ \(.*\) \S \d+ (\d+)/s || $1 == $pid;
        sleep 0.005;
    }
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
    like(slurp($run->{out}), qr{^metrics on http://127\.0\.0\.1:$run->{port}/metrics }m,
         'metrics announced');
    $res = OCI::Client::request_once($run->{port}, 'GET', '/metrics');
    is($res->code, 200, 'GET /metrics answers');
    like($res->content, qr/^# TYPE oci_requests_total counter$/m, 'with the metrics');
    like($res->content,
         qr/^oci_requests_total\{endpoint="base",method="GET",status="200"\} [1-9]/m,
         'GET /v2/ counted');
    ok(-S "$run->{data}/redis/redis.sock", 'Redis runs');

    # a push lands in the event stream (recorded after the answer)
    my $front = bless { port => $run->{port} }, 'OCI::Harness';
    my ($pushed) = push_manifest($front, 'run/events', 'v1', new_image($front, 'run/events'));
    is($pushed->code, 201, 'a push');
    my ($events, $deadline) = ('', time + 5);
    while (time < $deadline) {
        $events = `redis-cli -s $run->{data}/redis/redis.sock XRANGE oci:events - +`;
        last if $events =~ /run\/events/;
        sleep 0.1;
    }
    like($events, qr/"action":"push".*"repository":"run\/events"/s,
         'is recorded in the event stream');
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

subtest 'AUTH=token: the token flow with the built-in issuer' => sub {
    my $bad = start_run(env => { AUTH => 'token', PASSWORD => '' });
    isnt(finish($bad), 0, 'no PASSWORD: the script fails');
    like(slurp($bad->{err}), qr/AUTH=token needs PASSWORD/, 'it says why');
    no_leftovers($bad, 'no PASSWORD');

    my $run = start_run(env => { AUTH => 'token', PASSWORD => 'dev-secret' });
    ok(announced($run), 'the registry is announced') or diag(slurp($run->{err}));
    my $port = $run->{port};
    my $req = sub { OCI::Client::request_once($port, @_) };
    my $res = $req->('GET', '/v2/');
    is($res->code, 401, 'GET /v2/ asks for a token');
    is($res->header('WWW-Authenticate'),
       qq{Bearer realm="http://127.0.0.1:$port/token",service="run-registry"},
       'the realm is the built-in issuer');
    unlike(slurp("$run->{data}/conf/nginx.conf") . slurp("$run->{data}/conf/htpasswd"),
           qr/dev-secret/, 'the password is stored hashed only');

    my $token = sub {
        my ($user, $scope) = @_;
        my $r = $req->('GET', "/token?service=run-registry&scope=$scope",
                       headers => [ $user ? (Authorization => 'Basic '
                                             . MIME::Base64::encode_base64($user, '')) : () ]);
        return ($r->code, (dec($r->content) // {})->{token});
    };
    my ($code, $dev) = $token->('dev:dev-secret', 'repository:lib/app:pull,push');
    is($code, 200, 'dev gets a token');
    is(($token->('dev:wrong', 'repository:lib/app:pull'))[0], 401, 'a wrong password: 401');
    my (undef, $anon) = $token->(undef, 'repository:lib/app:pull,push');
    my $blob = 'pushed by dev';
    my $d = sha256($blob);
    is($req->('POST', "/v2/lib/app/blobs/uploads/?digest=$d", body => $blob,
              headers => [ Authorization => "Bearer $dev" ])->code, 201, 'dev pushes');
    is($req->('GET', "/v2/lib/app/blobs/$d", headers => [ Authorization => "Bearer $anon" ])->code,
       200, 'anonymous pulls');
    $res = $req->('POST', '/v2/lib/app/blobs/uploads/', headers => [ Authorization => "Bearer $anon" ]);
    is($res->code, 401, 'an anonymous push: 401');
    like($res->header('WWW-Authenticate') // '',
         qr/scope="repository:lib\/app:pull,push",error="insufficient_scope"/, 'with the scope');

    SKIP: {
        skip 'skopeo and umoci are not installed', 4 unless which('skopeo') && which('umoci');
        my $lay = "$TMP/" . unique();
        my @ok = map { (run_cmd($_))[0] == 0 }
            [ 'umoci', 'init', '--layout', $lay ], [ 'umoci', 'new', '--image', "$lay:v1" ];
        ok(!grep(!$_, @ok), 'an OCI layout with an empty image');
        my @copy = (qw(skopeo --insecure-policy copy --dest-tls-verify=false --src-tls-verify=false));
        my ($rc, $out, $err) = run_cmd([ @copy, '--dest-creds', 'dev:dev-secret', "oci:$lay:v1",
                                         "docker://127.0.0.1:$port/lib/img:v1" ], timeout => 120);
        is($rc, 0, 'skopeo pushes with dev\'s credentials') or diag($err);
        ($rc, $out, $err) = run_cmd([ @copy, "docker://127.0.0.1:$port/lib/img:v1", "oci:$lay:back" ],
                                    timeout => 120);
        is($rc, 0, 'skopeo pulls anonymously') or diag($err);
        ($rc, $out, $err) = run_cmd([ @copy, "oci:$lay:v1", "docker://127.0.0.1:$port/lib/anon:v1" ],
                                    timeout => 120);
        isnt($rc, 0, 'skopeo cannot push anonymously');
    }

    interrupt($run);
    is(finish($run), 0, 'Ctrl-C: the script exits 0');
    no_leftovers($run, 'AUTH=token');
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
