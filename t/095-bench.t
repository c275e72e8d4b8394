# bench/run and bench/compare without measuring anything (speed belongs in
# bench/, not here): the configurations bench/run measures are make run's
# (with the README's location) and its tuned and two static derivatives; a
# work tree with uncommitted changes to src/ is refused before anything
# starts; bench/compare reads small fixed results and calls changes
# better, worse or noise. bench/fronts runs one round of a second, to
# show that it works, not how fast; so does bench/mirror (a docker-registry
# upstream, make run's mirror of it and make run's registry), whose JSON
# bench/compare reads, and bench/requests counts a few requests of each
# kind (when valgrind and strace are there).

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use JSON::PP;
use OCI::Test;

my ($MODULE) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
$MODULE //= ($ENV{OCI_BUILD} // 'build') . '/ngx_oci_module.so';
$MODULE = File::Spec->rel2abs($MODULE);

# the nginx the module was built for (make test-asan: its own build)
my %NGINX = $ENV{TEST_NGINX_BINARY} ? (NGINX => $ENV{TEST_NGINX_BINARY}) : ();

my $TMP = tempdir('oci-bench-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $TMP;

# the directives of a location block: name => [values...]
sub location_directives {
    my ($text) = @_;
    my ($body) = $text =~ /location \/v2\/ \{\n(.*?)^\s*\}/ms
        or return undef;
    my %d;
    for (split /\n/, $body) {
        next unless /^\s*(\w+)\s+([^;]*);/;
        push @{ $d{$1} }, $2;
    }
    return \%d;
}

sub http_directives {
    my ($text) = @_;
    my %d;
    $d{$1} = $2 while $text =~ /^    (\w+)\s+([^;{]*);/mg;
    return \%d;
}

SKIP: {
    skip "$MODULE is not built", 1 unless -f $MODULE;
    subtest 'configurations' => sub {
        my $dir = "$TMP/configs";
        my ($rc, $out, $err) = run_cmd(['bench/run', '--configs', $dir],
            env => { OCI_MODULE => $MODULE, %NGINX }, timeout => 60);
        is($rc, 0, 'bench/run --configs') or diag($err);
        my $default = slurp("$dir/oci/conf/nginx.conf");
        my $tuned = slurp("$dir/tuned/nginx.conf");
        my $static = slurp("$dir/static/nginx.conf");
        my $static_default = slurp("$dir/static-default/nginx.conf");

        # oci-default is what make run writes: the same script, asked for
        # its configuration only
        my ($rc2) = run_cmd(['scripts/run-registry', '127.0.0.1:5000', "$TMP/run", $MODULE],
            env => { RUN_REGISTRY_CONFIG_ONLY => 1, %NGINX }, timeout => 60);
        is($rc2, 0, 'run-registry, configuration only');
        (my $mine = slurp("$TMP/run/conf/nginx.conf")) =~ s/\Q$TMP\E\/run/DIR/g;
        (my $bench = $default) =~ s/\Q$dir\E\/oci/DIR/g;
        is($bench, $mine, "oci-default is make run's configuration");
        ok(!-s "$TMP/run/logs/nginx.pid" && !-S "$TMP/run/redis/redis.sock",
            'configuration only: nothing started');

        # ... and its location is the README's, plus make run's directives
        my $readme = location_directives(doc_block('README.md', qr/location \/v2\//) =~
            s/^/    /mgr);
        ok($readme && %$readme, "the README's location found");
        my $loc = location_directives($default);
        for my $k (sort keys %$readme) {
            next if $k eq 'oci_storage';
            is_deeply($loc->{$k}, $readme->{$k}, "oci-default: $k as in the README");
        }
        ok($loc->{oci_storage}, 'oci-default: oci_storage');
        like($loc->{oci_redis}[0] // '', qr/^unix:/, 'oci-default: Redis on');

        # oci-tuned: the same location and more, tuned http settings
        my $tloc = location_directives($tuned);
        for my $k (sort keys %$loc) {
            next if $k eq 'client_body_buffer_size';
            is_deeply($tloc->{$k}, $loc->{$k}, "oci-tuned: $k as oci-default");
        }
        is_deeply($tloc->{client_body_buffer_size}, ['1m'],
            'oci-tuned: client_body_buffer_size 1m, in the location');
        is_deeply($tloc->{oci_thread_pool}, ['oci_bench'], 'oci-tuned: a thread pool');
        like($tuned, qr/^thread_pool oci_bench threads=\d+;/m, 'oci-tuned: thread_pool');
        my $th = http_directives($tuned);
        is($th->{access_log}, 'off', 'oci-tuned: access_log off');
        is($th->{sendfile}, 'on', 'oci-tuned: sendfile');
        is($th->{tcp_nopush}, 'on', 'oci-tuned: tcp_nopush');
        like($th->{open_file_cache} // '', qr/^max=/, 'oci-tuned: open_file_cache');
        is($th->{keepalive_requests}, 100000, 'oci-tuned: keepalive_requests');
        my $dh = http_directives($default);
        isnt($dh->{access_log}, 'off', 'oci-default keeps its access log');

        # static: the tuned http settings, no module
        unlike($static, qr/load_module|oci_|location \/v2\//, 'static: no module');
        like($static, qr/include \Q$dir\E\/static\/locations\.conf;/, 'static: the files');
        my $sh = http_directives($static);
        is_deeply($sh, $th, 'static: the http settings of oci-tuned');

        # static-default: make run's settings, its own logs, the same files
        unlike($static_default, qr/load_module|oci_|location \/v2\//,
               'static-default: no module');
        like($static_default, qr/include \Q$dir\E\/static\/locations\.conf;/,
             'static-default: the files of static');
        my $sdh = http_directives($static_default);
        like(delete $sdh->{access_log}, qr/^\Q$dir\E\/static-default\/access\.log combined buffer=/,
             'static-default: the access log of make run, in its own directory');
        my %want = %$dh;
        delete $want{access_log};
        is_deeply($sdh, \%want, "static-default: the other http settings of oci-default");
        like($static_default, qr/^error_log \Q$dir\E\/static-default\/error\.log info;/m,
             "static-default: make run's error_log level");
    };
}

subtest 'uncommitted src/ refused' => sub {
    my $git = which('git') or plan skip_all => 'no git';
    my $repo = "$TMP/repo";
    make_path("$repo/bench", "$repo/src", "$repo/scripts");
    spew("$repo/bench/run", slurp('bench/run'));
    chmod 0755, "$repo/bench/run";
    spew("$repo/src/x.c", "int x;\n");
    my @g = ('git', '-C', $repo, '-c', 'user.name=t', '-c', 'user.email=t@t');
    for my $cmd ([@g, 'init', '-q'], [@g, 'add', '.'], [@g, 'commit', '-qm', 'x']) {
        my ($rc, undef, $err) = run_cmd($cmd);
        is($rc, 0, "@$cmd[3 .. $#$cmd]") or diag($err);
    }
    spew("$repo/src/x.c", "int y;\n");
    my ($rc, $out, $err) = run_cmd(["$repo/bench/run"], timeout => 30,
                                   env => { BENCH_NO_BUILD => 1 });
    is($rc, 1, 'refused');
    like($err, qr/uncommitted changes.*committed code only/s, 'says why');
    unlike($err, qr/^== /m, 'before anything started');
};

# --- bench/compare on fixed results ------------------------------------------------

sub fig { my ($med, $min, $max) = @_; { median => $med, min => $min, max => $max, rounds => [$min, $med, $max] } }

sub result {
    my (%r) = @_;
    return {
        schema => 2, git => 'abcdef0', commit => 'abcdef0' x 5 . 'abcdef', dirty => JSON::PP::false,
        date => '2026-01-01T00:00:00Z', cpus => 2,
        settings => { rounds => 3, duration_s => $r{duration} // 3 },
        scenarios => [
            { name => 'blob_get_4k', label => 'GET blob 4 KiB', unit => 'requests/s',
              better => 'higher', main => 'rps', conns => 32, ceiling => 'static',
              target_ratio => 0.97,
              results => { 'oci-default' => { rps => $r{oci}, p99_ms => $r{p99} },
                           static => { rps => fig(1000, 990, 1010) } } },
            { name => 'close_probe', label => 'GET p99 during a close', unit => 'ms (p99)',
              better => 'lower', main => 'p99_ms', conns => 1, target_max_ms => 5,
              results => { 'oci-tuned' => { p99_ms => $r{close} } } },
        ],
    };
}

sub write_json {
    my ($name, $j) = @_;
    spew("$TMP/$name", JSON::PP->new->canonical->encode($j));
    return "$TMP/$name";
}

my $A = write_json('a.json', result(oci => fig(900, 880, 920), p99 => fig(2, 1.9, 2.1),
                                    close => fig(1, 0.8, 1.2)));
# faster beyond the ranges; p99 up 50 % but within the ranges; close worse
my $B = write_json('b.json', result(oci => fig(990, 960, 1000), p99 => fig(3, 1.5, 4),
                                    close => fig(8, 7, 9), duration => 10));

subtest 'compare: one run' => sub {
    my ($rc, $out, $err) = run_cmd(['bench/compare', $A]);
    is($rc, 0, 'exit 0') or diag($err);
    like($out, qr/^\s+oci-default\s+900\s+\[880 \.\. 920\]\s+0\.90 \(>= 0\.97\) MISSED\s+p99_ms=2$/m,
         'median, range, ratio to the ceiling, target missed');
    like($out, qr/^\s+static\s+1000\s+\[990 \.\. 1010\]/m, 'the ceiling');
    like($out, qr/^\s+oci-tuned\s+1\s+\[0\.8 \.\. 1\.2\]\s+< 5 ms met/m, 'a latency target met');
    ($rc, $out) = run_cmd(['bench/compare', $B]);
    like($out, qr/oci-default\s+990\s+\[960 \.\. 1000\]\s+0\.99 \(>= 0\.97\) met/, 'target met');
    like($out, qr/oci-tuned\s+8\s+\[7 \.\. 9\]\s+< 5 ms MISSED/, 'latency target missed');
};

subtest "compare: oci-default against make run's ceiling" => sub {
    my $j = result(oci => fig(900, 880, 920), p99 => fig(2, 1.9, 2.1), close => fig(1, 0.8, 1.2));
    my $sc = $j->{scenarios}[0];
    $sc->{ceiling_default} = 'static-default';
    $sc->{results}{'static-default'} = { rps => fig(920, 900, 940) };
    $sc->{results}{'oci-tuned'} = { rps => fig(980, 970, 990) };
    my ($rc, $out, $err) = run_cmd(['bench/compare', write_json('own.json', $j)]);
    is($rc, 0, 'exit 0') or diag($err);
    like($out, qr/^\s+oci-default\s+900\s+\[880 \.\. 920\]\s+0\.98 of static-default \(>= 0\.97\) met/m,
         "oci-default: the ratio to static nginx with make run's settings");
    like($out, qr/^\s+oci-tuned\s+980\s+\[970 \.\. 990\]\s+0\.98 \(>= 0\.97\) met/m,
         'oci-tuned: the ratio to the static ceiling');
    like($out, qr/^\s+oci-default\s+.*\n\s+oci-tuned\s+.*\n\s+static-default\s+920\s.*\n\s+static\s+1000\s/m,
         'the static contenders after the registries');
};

subtest 'compare: two runs' => sub {
    my ($rc, $out, $err) = run_cmd(['bench/compare', $A, $B]);
    is($rc, 0, 'exit 0') or diag($err);
    like($out, qr/^blob_get_4k\s+oci-default\s+rps\s+900 \[880\.\.920\]\s+990 \[960\.\.1000\]\s+\+10\.0%\s+better$/m,
         'more requests/s, ranges apart: better');
    like($out, qr/^blob_get_4k\s+oci-default\s+p99_ms\s+2 \[1\.9\.\.2\.1\]\s+3 \[1\.5\.\.4\]\s+\+50\.0%\s+noise$/m,
         'a change within the ranges: noise');
    like($out, qr/^close_probe\s+oci-tuned\s+p99_ms\s+1 \[0\.8\.\.1\.2\]\s+8 \[7\.\.9\]\s+\+700\.0%\s+worse$/m,
         'a higher latency, ranges apart: worse');
    like($out, qr/^blob_get_4k\s+static\s+rps\s+.*\+0\.0%\s*$/m, 'no change: no mark');
    like($out, qr/differ in duration_s/, 'different settings noted');
    ($rc, $out) = run_cmd(['bench/compare', '--threshold', 15, $A, $B]);
    like($out, qr/^blob_get_4k\s+oci-default\s+rps\s+.*\+10\.0%\s*$/m, 'under --threshold: no mark');
};

subtest 'compare: what it cannot read' => sub {
    spew("$TMP/old.json", '{"results":{"oci":{}}}');
    spew("$TMP/bad.json", 'not json');
    my ($rc, $out, $err) = run_cmd(['bench/compare', "$TMP/old.json"]);
    is($rc, 2, 'an earlier format: exit 2');
    like($err, qr/not a result of this bench\/run/, 'says so');
    ($rc, $out, $err) = run_cmd(['bench/compare', $A, "$TMP/bad.json"]);
    is($rc, 2, 'not JSON: exit 2');
    like($err, qr/not JSON/, 'says so');
    ($rc) = run_cmd(['bench/compare']);
    is($rc, 2, 'no file: usage, exit 2');
};

subtest 'fronts: one short round, and the bounds' => sub {
    local $ENV{ROUNDS} = 0;
    my ($rc, $out, $err) = run_cmd(['bench/fronts'], timeout => 30);
    isnt($rc, 0, 'ROUNDS=0 refused');
    like($err, qr/ROUNDS 1\.\.20/, 'says what is allowed');
    local @ENV{qw(ROUNDS DURATION CONNS BLOB_KIB)} = (1, 1, 2, 64);
    local $ENV{TEST_NGINX_LOAD_MODULES} = $MODULE;
    ($rc, $out, $err) = run_cmd(['bench/fronts'], timeout => 120);
    is($rc, 0, 'bench/fronts runs') or diag("$out\n$err");
    like($out, qr/^\| \Q$_\E \| \d+ req\/s \| [\d.]+ \|$/m, "a median for $_")
        for 'direct', 'balancer, 1 front', 'balancer, 3 fronts';
};

subtest 'requests: a short count of each pull' => sub {
    plan skip_all => "$MODULE is not built" unless -f $MODULE;
    plan skip_all => 'valgrind or strace is not installed'
        unless which('valgrind') && which('strace');
    plan skip_all => 'an nginx of its own (ASan) is not run under valgrind'
        if $ENV{TEST_NGINX_BINARY};
    my ($rc, $out, $err) = run_cmd(['bench/requests', 'no-such-revision'],
        env => { OCI_MODULE => $MODULE }, timeout => 60);
    isnt($rc, 0, 'a revision that does not exist refused');
    ($rc, $out, $err) = run_cmd(['bench/requests'],
        env => { OCI_MODULE => $MODULE, BENCH_REQUESTS => 5, BENCH_SYSCALLS => 10 },
        timeout => 600);
    is($rc, 0, 'bench/requests runs') or diag("$out\n$err");
    like($out, qr/^kind\s+default\s+tuned\s+static-default\s+static$/m,
         'a column per configuration');
    for my $kind (qw(blob_get_4k blob_head manifest_get_tag manifest_get_digest referrers_10)) {
        my @rows = $out =~ /^\Q$kind\E((?:\s+[\d.]+){4})$/mg;
        is(scalar @rows, 2, "$kind: system calls and instructions")
            or diag($out);
    }
};

subtest 'mirror: one short round, and the bounds' => sub {
    plan skip_all => "$MODULE is not built" unless -f $MODULE;
    plan skip_all => 'docker-registry, wrk or redis-server is not installed'
        unless which('docker-registry') && which('wrk') && which('redis-server');
    my ($rc, $out, $err) = run_cmd(['bench/mirror'], env => { BENCH_ROUNDS => 0 }, timeout => 30);
    isnt($rc, 0, 'BENCH_ROUNDS=0 refused');
    like($err, qr/BENCH_ROUNDS=0: a whole number 1\.\.15/, 'says what is allowed');

    my $json = "$TMP/mirror.json";
    ($rc, $out, $err) = run_cmd(['bench/mirror'], timeout => 300, env => {
        BENCH_ROUNDS => 1, BENCH_DURATION => 1, BENCH_CONNS => 2, BENCH_BLOB_KIB => 64,
        BENCH_MISS_BLOBS => 2, BENCH_MISS_MIB => 1, BENCH_LINK_MIBS => 64,
        BENCH_NO_BUILD => 1, BENCH_DIRTY => 1,
        BENCH_OUT => $json, OCI_MODULE => $MODULE, %NGINX });
    is($rc, 0, 'bench/mirror runs') or diag("$out\n$err");
    my $j = eval { JSON::PP::decode_json(slurp($json)) } || {};
    is($j->{schema}, 2, "bench/run's schema");
    is($j->{bench}, 'mirror', 'a result of bench/mirror');
    my %sc = map { $_->{name} => $_ } @{ $j->{scenarios} || [] };
    for my $s ([ 'mirror_cached', 'rps', 'oci-mirror', 'oci-default' ],
               [ 'mirror_miss', 'mib_s', 'oci-mirror', 'docker-registry' ],
               [ 'mirror_miss_link', 'mib_s', 'oci-mirror-link', 'direct-link' ]) {
        my ($name, $fig, @c) = @$s;
        is($sc{$name}{ceiling}, $c[1], "$name: against $c[1]");
        for my $c (@c) {
            my $v = $sc{$name}{results}{$c}{$fig} || {};
            ok(@{ $v->{rounds} || [] } == 1 && $v->{median} > 0, "$name: $c measured once");
        }
    }
    like($out, qr/^\s+oci-mirror\s+[\d.]+\s+\[.*\]\s+[\d.]+ \(>= 0\.9\) (?:met|MISSED)/m,
         "bench/compare's table, the mirror's ratio to docker-registry");
    like($out, qr/^\s+oci-mirror-link\s+[\d.]+\s+\[.*\]\s+[\d.]+ \(>= 0\.9\)/m,
         "the mirror's ratio to the same link pulled directly");
    is($j->{settings}{link_mibs}, 64, 'the link rate recorded');
    like($out, qr/^results: \Q$json\E /m, 'where the result went');
};

done_testing;
