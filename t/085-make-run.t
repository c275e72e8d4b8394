# make run: scripts/run-registry on a random 127.0.0.1 port with its data in
# a scratch directory. It announces the registry only once GET /v2/ is
# answered, leaves nothing running when anything fails or when it is
# interrupted at any moment, and refuses a DATA_DIR the workers cannot
# reach. Each run gets its own session, so that whatever it started is
# found (and killed, should the script fail to) by session id. With
# AUTH=token PASSWORD=...: the token flow with the built-in issuer (user
# dev may do anything, anonymous pull only, a wrong password refused),
# skopeo pushing with credentials and pulling anonymously through it.
# With UPSTREAM=...: the configuration of a pull-through cache (Docker
# Hub's checked with nginx -t, without a network; the resolver from
# resolv.conf; the directives of docs/mirrors.md's upstream locations;
# what is refused), then a docker-registry started here as the upstream,
# over plain HTTP and over HTTPS (its certificate trusted with
# UPSTREAM_CA, refused without): a blob and a manifest pulled through
# make run, fetched from the upstream once and stored. make run alone has
# no oci_proxy.

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
use OCI::Distribution;
use MIME::Base64 ();

my $SCRIPT = 'scripts/run-registry';
my ($MODULE) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
$MODULE //= ($ENV{OCI_BUILD} // 'build') . '/ngx_oci_module.so';
$MODULE = File::Spec->rel2abs($MODULE);

plan skip_all => 'redis-server is not installed' unless which('redis-server');
plan skip_all => "$MODULE is not built" unless -f $MODULE;

# a run's registry, for the helpers of OCI::Test (they need only req)
package RunFront {
    sub req { my ($self, @args) = @_; OCI::Client::request_once($self->{port}, @args) }
}

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
    my $front = bless { port => $run->{port} }, 'RunFront';
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

# --- UPSTREAM: a pull-through cache -------------------------------------------

# The directives of a location of an nginx.conf: name => [values...], or
# undef when there is no such location.
sub location_directives {
    my ($conf, $loc) = @_;
    my ($body) = $conf =~ /^([ ]*)location \Q$loc\E \{\n(.*?)^\1\}/ms ? ($2) : ()
        or return undef;
    my %d;
    push @{ $d{$1} }, $2 while $body =~ /^\s*(\w+)(?:\s+([^;]*))?;/mg;
    return \%d;
}

# scripts/run-registry with RUN_REGISTRY_CONFIG_ONLY=1: (exit code, the
# nginx.conf written, stderr)
sub config_only {
    my (%env) = @_;
    my $data = "$TMP/" . unique();
    my ($rc, $out, $err) = run_cmd([ $SCRIPT, '127.0.0.1:5000', $data, $MODULE ],
        env => { RUN_REGISTRY_CONFIG_ONLY => 1, UPSTREAM => '', UPSTREAM_CA => '',
                 $ENV{TEST_NGINX_BINARY} ? (NGINX => $ENV{TEST_NGINX_BINARY}) : (), %env },
        timeout => 60);
    return ($rc, slurp("$data/conf/nginx.conf"), $err);
}

subtest 'UPSTREAM: the configuration of a pull-through cache' => sub {
    my ($rc, $conf, $err) = config_only();
    is($rc, 0, 'no UPSTREAM: nginx -t passes') or diag($err);
    unlike($conf, qr/oci_proxy|_upstream|_follow/, 'no UPSTREAM: no oci_proxy, no upstream location');

    my $resolv = "$TMP/resolv.conf";
    spew($resolv, "# made by t/085\nsearch example.org\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n");
    my %hub = (RUN_REGISTRY_RESOLV_CONF => $resolv);
    for my $up ('https://registry-1.docker.io', 'https://docker.io', 'https://index.docker.io/') {
        ($rc, $conf, $err) = config_only(%hub, UPSTREAM => $up);
        is($rc, 0, "UPSTREAM=$up: nginx -t passes without a network") or diag($err);
        my $v2 = location_directives($conf, '/v2/') || {};
        is_deeply($v2->{oci_proxy}, [ 'docker.io /_upstream/ default library' ],
                  "UPSTREAM=$up: Docker Hub, namespace docker.io, library names");
        is_deeply($v2->{oci_proxy_follow}, [ '/_follow' ], "UPSTREAM=$up: oci_proxy_follow");
        is_deeply($v2->{oci_registry}, [ 'on' ], "UPSTREAM=$up: still the registry location");
        my $u = location_directives($conf, '/_upstream/') || {};
        is_deeply($u->{set}, [ '$mirror_upstream https://registry-1.docker.io' ],
                  "UPSTREAM=$up: asked at registry-1.docker.io");
        is_deeply($u->{proxy_pass}, [ '$mirror_upstream' ], "UPSTREAM=$up: resolved when asked");
        my $f = location_directives($conf, '= /_follow') || {};
        is_deeply([ @{ $u->{resolver} || [] }, @{ $f->{resolver} || [] } ],
                  [ '192.0.2.53', '192.0.2.53' ],
                  "UPSTREAM=$up: both locations resolve with resolv.conf's first nameserver");
        is_deeply([ @{ $u->{proxy_ssl_verify} || [] }, @{ $f->{proxy_ssl_verify} || [] } ],
                  [ 'on', 'on' ], "UPSTREAM=$up: certificates verified");
        like($u->{proxy_ssl_trusted_certificate}[0] // '', qr{^/etc/ssl/certs/},
             "UPSTREAM=$up: against the system's bundle");
    }

    # the documented upstream locations, but for how the name is resolved
    my $doc = doc_block('docs/mirrors.md', qr/^\s*location \/v2\/ \{/);
    my $doc_up = location_directives($doc, '/_hub/');
    my $doc_follow = location_directives($doc, '= /_follow');
    ok($doc_up && $doc_follow, "docs/mirrors.md's upstream and follow locations found");
    ($rc, $conf) = config_only(%hub, UPSTREAM => 'https://registry-1.docker.io');
    my $u = location_directives($conf, '/_upstream/') || {};
    my $f = location_directives($conf, '= /_follow') || {};
    for my $k (sort keys %{ $doc_up || {} }) {
        next if $k eq 'proxy_pass';
        is_deeply($u->{$k}, $doc_up->{$k}, "upstream location: $k as in docs/mirrors.md");
    }
    for my $k (sort keys %{ $doc_follow || {} }) {
        next if $k eq 'resolver';
        is_deeply($f->{$k}, $doc_follow->{$k}, "follow location: $k as in docs/mirrors.md");
    }

    spew($resolv, "nameserver 2001:db8::53\n");
    ($rc, $conf, $err) = config_only(%hub, UPSTREAM => 'http://127.0.0.1:5001');
    is($rc, 0, 'UPSTREAM=http://127.0.0.1:5001: nginx -t passes') or diag($err);
    is_deeply((location_directives($conf, '/v2/') || {})->{oci_proxy},
              [ '127.0.0.1:5001 /_upstream/ default' ], 'namespace 127.0.0.1:5001, no library names');
    is_deeply((location_directives($conf, '/_upstream/') || {})->{set},
              [ '$mirror_upstream http://127.0.0.1:5001' ], 'asked over plain HTTP');
    is_deeply((location_directives($conf, '= /_follow') || {})->{resolver}, [ '[2001:db8::53]' ],
              'an IPv6 nameserver in brackets');

    # the upstream's credentials: a file named by its absolute path
    my $creds = "$TMP/up-credentials";
    spew($creds, "mirror:s3cret\n");
    ($rc, $conf, $err) = config_only(%hub, UPSTREAM => 'http://127.0.0.1:5001',
                                     UPSTREAM_CREDENTIALS => $creds);
    is($rc, 0, 'UPSTREAM_CREDENTIALS: nginx -t passes') or diag($err);
    is_deeply((location_directives($conf, '/v2/') || {})->{oci_proxy},
              [ "127.0.0.1:5001 /_upstream/ default credentials=$creds" ],
              'UPSTREAM_CREDENTIALS: credentials= on oci_proxy');
    unlike($conf, qr/s3cret/, 'UPSTREAM_CREDENTIALS: the password is not in nginx.conf');
    my $nopass = "$TMP/up-credentials-bad";
    spew($nopass, "just-a-user\n");

    my $none = "$TMP/resolv-none.conf";
    spew($none, "search example.org\n");
    my @refused = (
        [ { UPSTREAM_CREDENTIALS => $creds }, qr/UPSTREAM_CREDENTIALS goes with UPSTREAM/,
          'UPSTREAM_CREDENTIALS without UPSTREAM' ],
        [ { UPSTREAM => 'http://127.0.0.1:5001', UPSTREAM_CREDENTIALS => "$TMP/no-such-file" },
          qr/UPSTREAM_CREDENTIALS=.*not a readable file/, 'UPSTREAM_CREDENTIALS that are not there' ],
        [ { UPSTREAM => 'http://127.0.0.1:5001', UPSTREAM_CREDENTIALS => $nopass },
          qr/first line must be user:password/, 'UPSTREAM_CREDENTIALS without user:password' ],
        [ { UPSTREAM => 'http://127.0.0.1:5001', RUN_REGISTRY_RESOLV_CONF => $none },
          qr/names no nameserver/, 'resolv.conf without a nameserver' ],
        [ { UPSTREAM => 'registry.example.com' }, qr/UPSTREAM=registry\.example\.com: expected/, 'no scheme' ],
        [ { UPSTREAM => 'ftp://registry.example.com' }, qr/expected http/, 'ftp://' ],
        [ { UPSTREAM => 'https://registry.example.com/v2/' }, qr/no path/, 'a path' ],
        [ { UPSTREAM => 'http://docker.io' }, qr/Docker Hub is https only/, 'Docker Hub over HTTP' ],
        [ { UPSTREAM => 'https://registry.example.com', UPSTREAM_CA => "$TMP/no-such-ca.crt" },
          qr/UPSTREAM_CA=.*not readable/, 'an UPSTREAM_CA that is not there' ],
    );
    for my $r (@refused) {
        my ($env, $why, $what) = @$r;
        my ($rc, $conf, $err) = config_only(%hub, %$env);
        isnt($rc, 0, "$what: refused");
        like($err, $why, "$what: says why") or diag($err);
        is($conf, '', "$what: no configuration written");
    }

    # make passes both on
    # (-n still runs the lines with $(MAKE): MAKE=true makes them no-ops)
    my ($mrc, $mout) = run_cmd([ 'make', '-n', 'run', 'MAKE=true', 'UPSTREAM=https://up.example:5000',
                                 'UPSTREAM_CA=/tmp/up-ca.crt', 'UPSTREAM_CREDENTIALS=/tmp/up-creds' ]);
    like($mout, qr{UPSTREAM="https://up\.example:5000" UPSTREAM_CA="/tmp/up-ca\.crt"},
         'make run passes UPSTREAM and UPSTREAM_CA to the script');
    like($mout, qr{UPSTREAM_CREDENTIALS="/tmp/up-creds"}, 'and UPSTREAM_CREDENTIALS');
};

subtest 'UPSTREAM_CREDENTIALS: an upstream that asks for a password' => sub {
    my $htpasswd = "$TMP/upstream.htpasswd";
    spew($htpasswd, 'mirror:' . crypt('s3cret', 'ab') . "\n");
    chmod 0644, $htpasswd;
    # pushes open, pulls behind auth_basic
    my $up = OCI::Harness->start(config => registry_conf('limit_except POST PUT PATCH {'
        . ' auth_basic "upstream"; auth_basic_user_file ' . $htpasswd . '; }'));
    my $blob = random_bytes(70_000);
    my $desc = push_blob($up, 'locked/app', $blob);
    is($up->req('GET', "/v2/locked/app/blobs/$desc->{digest}")->code, 401,
       'the upstream asks a pull for a password');

    my $creds = "$TMP/mirror-credentials";
    spew($creds, "mirror:s3cret\n");
    my $run = start_run(env => { UPSTREAM => $up->url, UPSTREAM_CREDENTIALS => $creds });
    ok(announced($run), 'announced') or diag(slurp($run->{err}));
    my $res = OCI::Client::request_once($run->{port}, 'GET', "/v2/locked/app/blobs/$desc->{digest}");
    is($res->code, 200, 'a blob pulled through with the credentials: 200') or diag(dump_res($res));
    ok($res->content eq $blob, 'the upstream\'s bytes');
    interrupt($run);
    is(finish($run), 0, 'Ctrl-C: the script exits 0');
    no_leftovers($run, 'UPSTREAM_CREDENTIALS');

    spew($creds, "mirror:wrong\n");
    $run = start_run(env => { UPSTREAM => $up->url, UPSTREAM_CREDENTIALS => $creds });
    ok(announced($run), 'wrong credentials: announced') or diag(slurp($run->{err}));
    $res = OCI::Client::request_once($run->{port}, 'GET', "/v2/locked/app/blobs/$desc->{digest}");
    is_error($res, 502, 'UNAVAILABLE', 'wrong credentials: 502');
    interrupt($run);
    is(finish($run), 0, 'Ctrl-C: the script exits 0');
    no_leftovers($run, 'UPSTREAM_CREDENTIALS, wrong');
    stops_cleanly $up, 'the upstream';
};

SKIP: {
    my $up = OCI::Distribution->start;
    skip $OCI::Distribution::WHY, 2 unless $up;
    my $blob = random_bytes(300_000);
    my $desc = $up->push_blob('mirror/app', $blob);
    my $img = $up->push_image('mirror/app', 'v1', files => { 'hello.txt' => "hello\n" });
    my $gets = sub { my ($re) = @_; scalar grep { $_->[0] eq 'GET' } $up->gets($re) };

    subtest 'UPSTREAM=http://...: a blob and a manifest pulled through make run' => sub {
        my $run = start_run(env => { UPSTREAM => 'http://' . $up->host });
        ok(announced($run), 'the registry is announced') or diag(slurp($run->{err}));
        like(slurp($run->{out}), qr/^pull-through cache of http:\/\/\Q${\ $up->host }\E /m,
             'as a pull-through cache of the upstream');
        my $port = $run->{port};
        my $path = "/v2/mirror/app/blobs/$desc->{digest}";
        my $res = OCI::Client::request_once($port, 'GET', $path);
        is($res->code, 200, 'GET of a blob the storage does not hold: 200') or diag(dump_res($res));
        ok($res->content eq $blob, 'the upstream\'s bytes');
        is($gets->(qr/\Q$desc->{digest}\E/), 1, 'the upstream was asked once');
        my $stored;
        for (1 .. 100) {
            last if ($stored = -f blob_path("$run->{data}/storage", $desc->{digest}));
            sleep 0.05;
        }
        ok($stored, 'the blob is stored in DATA_DIR/storage');
        $res = OCI::Client::request_once($port, 'GET', $path);
        ok($res->code == 200 && $res->content eq $blob, 'GET again: 200, the same bytes');
        is($gets->(qr/\Q$desc->{digest}\E/), 1, 'from local storage: the upstream was not asked again');

        $res = OCI::Client::request_once($port, 'GET', '/v2/mirror/app/manifests/v1',
                                         headers => [ Accept => OCI_MANIFEST ]);
        is($res->code, 200, 'GET of a manifest by tag: 200') or diag(dump_res($res));
        is($res->content, $img->{manifest}, 'the upstream\'s manifest, byte for byte');
        is($res->header('Docker-Content-Digest'), $img->{digest}, 'its digest');
        is_error(OCI::Client::request_once($port, 'POST', '/v2/mirror/app/blobs/uploads/'),
                 405, 'UNSUPPORTED', 'a push: 405, the mirror is read-only');
        # the access log is buffered, flushed every second
        my $logged = qr{"GET \Q$path\E HTTP/1\.1" 200 }m;
        for (1 .. 100) {
            last if slurp("$run->{data}/logs/access.log") =~ $logged;
            sleep 0.05;
        }
        like(slurp("$run->{data}/logs/access.log"), $logged, 'the pull is in the access log');
        interrupt($run);
        is(finish($run), 0, 'Ctrl-C: the script exits 0');
        no_leftovers($run, 'UPSTREAM=http://');
    };

    subtest 'UPSTREAM=https://...: the upstream\'s certificate is verified' => sub {
        my $tls = OCI::Distribution->start(tls => 1, storage => $up->storage)
            or plan skip_all => $OCI::Distribution::WHY;
        my $path = "/v2/mirror/app/blobs/$img->{layer}{digest}";

        my $run = start_run(env => { UPSTREAM => $tls->url, UPSTREAM_CA => $tls->ca });
        ok(announced($run), 'UPSTREAM_CA=its certificate: announced') or diag(slurp($run->{err}));
        my $res = OCI::Client::request_once($run->{port}, 'GET', $path);
        is($res->code, 200, 'a blob pulled over HTTPS: 200') or diag(dump_res($res));
        is(sha256($res->content), $img->{layer}{digest}, 'the layer\'s bytes');
        interrupt($run);
        is(finish($run), 0, 'Ctrl-C: the script exits 0');
        no_leftovers($run, 'UPSTREAM=https://');

        $run = start_run(env => { UPSTREAM => $tls->url });
        ok(announced($run), 'the system\'s bundle: announced') or diag(slurp($run->{err}));
        $res = OCI::Client::request_once($run->{port}, 'GET', $path);
        is_error($res, 502, 'UNAVAILABLE', 'a self-signed upstream is not trusted: 502');
        like(slurp("$run->{data}/logs/error.log"), qr/upstream SSL certificate verify error/,
             'the error log says why');
        ok(!-e blob_path("$run->{data}/storage", $img->{layer}{digest}), 'nothing stored');
        interrupt($run);
        is(finish($run), 0, 'Ctrl-C: the script exits 0');
        no_leftovers($run, 'UPSTREAM=https://, not trusted');
    };
}

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
