# Metrics (docs/operations.md, "Metrics"): the counters of "oci_metrics"
# move as a scripted series of requests says they must (pull, push, 404,
# 401, an upload session opened then expired, referrers pages missed and
# hit in the page cache, Redis down), the page is Prometheus' text format
# (checked by a parser written here), the workers' slots add up, the
# counts survive a reload, and the Grafana dashboard of docs/ parses and
# asks only for metrics the page has.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use JSON::XS qw(decode_json);
use Time::HiRes qw(sleep time);
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start or plan skip_all => 'redis-server not found';
my $sock = $redis->socket;

my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND};

my $conf = registry_conf("oci_redis unix:$sock;", 'oci_redis_timeout 1s;',
                         'oci_upload_timeout 2s;',
                         'add_header X-Worker $pid always;')
    . <<'CONF';
    location /v2/private/ {
        oci_registry on;
        oci_storage $TEST_NGINX_STORAGE;
        client_max_body_size 0;
        auth_basic "registry";
        auth_basic_user_file htpasswd;
    }

    location = /metrics {
        oci_metrics;
        allow 127.0.0.1;
        deny all;
    }

    # a page in a registry location is still not a registry request
    location = /v2/metrics {
        oci_registry on;
        oci_storage $TEST_NGINX_STORAGE;
        client_max_body_size 0;
        oci_metrics;
    }
CONF

my $srv = OCI::Harness->start(workers => 2, config => $conf);
spew($srv->path('conf', 'htpasswd'), "dev:{PLAIN}secret\n");

# --- a parser of the text format -------------------------------------------

# name{labels} value lines, each after the HELP and TYPE of its family;
# returns { 'name{k="v",...}' => value } and { family => type }, or dies
sub parse_metrics {
    my ($text) = @_;
    my (%v, %type, %help);
    my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;

    die "no final newline\n" unless $text =~ /\n\z/;

    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP ($name_re) (.+)$/) {
            die "HELP of $1 twice\n" if $help{$1}++;
            next;
        }
        if ($line =~ /^# TYPE ($name_re) (counter|gauge|histogram)$/) {
            die "TYPE of $1 twice\n" if $type{$1};
            die "TYPE of $1 before its HELP\n" unless $help{$1};
            $type{$1} = $2;
            next;
        }
        die "a comment that is neither HELP nor TYPE: $line\n" if $line =~ /^#/;

        $line =~ /^($name_re)(?:\{(.*)\})? (\S+)$/ or die "bad sample: $line\n";
        my ($name, $labels, $value) = ($1, $2 // '', $3);

        $value =~ /^(?:[0-9]+(?:\.[0-9]+)?|\+Inf)$/ or die "bad value: $line\n";

        my @pairs;
        while (length $labels) {
            $labels =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//
                or die "bad labels: $line\n";
            push @pairs, qq($1="$2");
        }

        my $family = $name;
        if (!$type{$family}) {
            ($family = $name) =~ s/_(?:bucket|sum|count)$//;
            die "$name is not part of a histogram\n"
                unless ($type{$family} // '') eq 'histogram';
        }
        my $key = @pairs ? "$name\{" . join(',', sort @pairs) . '}' : $name;
        die "$key twice\n" if exists $v{$key};
        $v{$key} = $value;
    }

    return (\%v, \%type);
}

sub scrape {
    my $res = $srv->req('GET', '/metrics');
    is $res->code, 200, 'metrics answered' or diag dump_res($res);
    my ($v, $t) = eval { parse_metrics($res->content) };
    ok $v, 'the page parses' or diag $@, $res->content;
    return $v // {};
}

# Requests are counted when nginx logs them, which may come a moment
# after the client has read the answer (a lingering close): the page is
# read again until it shows what $done wants, for at most 10 s.
sub scrape_until {
    my ($done) = @_;
    my $deadline = time + 10;
    my $v;
    while (1) {
        my $res = $srv->req('GET', '/metrics');
        $v = eval { (parse_metrics($res->content))[0] } // {};
        last if $done->($v) || time > $deadline;
        sleep 0.1;
    }
    return $v;
}

sub requests_total {
    my ($v) = @_;
    my $n = 0;
    $n += $v->{$_} for grep { /^oci_requests_total\{/ } keys %$v;
    return $n;
}

sub val {
    my ($v, $key) = @_;
    return $v->{$key} // 0;
}

# the change of each named series between two scrapes
sub moved {
    my ($a, $b, @keys) = @_;
    return { map { $_ => val($b, $_) - val($a, $_) } @keys };
}

sub req_key {
    my ($endpoint, $method, $status) = @_;
    return qq(oci_requests_total{endpoint="$endpoint",method="$method",status="$status"});
}

# --- the format ------------------------------------------------------------

subtest 'the page parses and says what it has' => sub {
    my $res = $srv->req('GET', '/metrics');
    is $res->code, 200, 'GET /metrics';
    like $res->header('Content-Type'), qr{^text/plain; version=0\.0\.4}, 'the format version';
    my ($v, $t) = eval { parse_metrics($res->content) };
    ok $v, 'parses' or diag $@;
    is $t->{oci_requests_total}, 'counter', 'requests: a counter';
    is $t->{oci_upload_sessions_live}, 'gauge', 'live sessions: a gauge';
    is $t->{oci_redis_query_duration_seconds}, 'histogram', 'Redis latency: a histogram';
    ok exists $v->{'oci_errors_total{code="BLOB_UNKNOWN"}'}, 'every spec error code is there';
    ok exists $v->{'oci_events_recorded_total'}, 'events recorded';
    ok exists $v->{'oci_events_failed_total'}, 'events failed';
    is $srv->req('POST', '/metrics')->code, 405, 'POST is not allowed';
    is $srv->req('HEAD', '/metrics')->code, 200, 'HEAD is';
    my $inside = $srv->req('GET', '/v2/metrics');
    is $inside->code, 200, 'the page in a registry location';
    ok eval { parse_metrics($inside->content) }, 'parses too';

    # the parser fails where it must
    ok !eval { parse_metrics("x 1\n") }, 'the parser refuses a sample without TYPE';
    ok !eval { parse_metrics("# HELP x h\n# TYPE x counter\nx{a=\"1} 1\n") },
        'and a broken label';
};

# --- a scripted series -------------------------------------------------------

subtest 'pull, push, 404 and 401 are counted' => sub {
    my $before = scrape();
    my $blob = push_blob($srv, 'm/repo', 'metrics blob');
    is_status $srv->req('GET', "/v2/m/repo/blobs/$blob->{digest}"), 200, 'pull';
    is_status $srv->req('HEAD', "/v2/m/repo/blobs/$blob->{digest}"), 200, 'HEAD';
    is_error $srv->req('GET', '/v2/m/repo/manifests/nope'), 404, 'MANIFEST_UNKNOWN',
        'an unknown manifest';
    is_error $srv->req('GET', "/v2/m/repo/blobs/" . sha256('nothing')), 404,
        'BLOB_UNKNOWN', 'an unknown blob';
    is_status $srv->req('GET', '/v2/private/x/tags/list'), 401, 'refused by auth_basic';
    is_status $srv->req('GET', '/v2/_catalog'), 200, 'the catalog';
    my $after = scrape_until(sub { requests_total($_[0]) >= requests_total($before) + 7 });

    is_deeply moved($before, $after,
                    req_key('uploads', 'POST', 201), req_key('blob', 'GET', 200),
                    req_key('blob', 'HEAD', 200), req_key('manifest', 'GET', 404),
                    req_key('blob', 'GET', 404), req_key('tags', 'GET', 401),
                    req_key('catalog', 'GET', 200),
                    'oci_errors_total{code="MANIFEST_UNKNOWN"}',
                    'oci_errors_total{code="BLOB_UNKNOWN"}',
                    'oci_errors_total{code="UNAUTHORIZED"}'),
              { req_key('uploads', 'POST', 201) => 1, req_key('blob', 'GET', 200) => 1,
                req_key('blob', 'HEAD', 200) => 1, req_key('manifest', 'GET', 404) => 1,
                req_key('blob', 'GET', 404) => 1, req_key('tags', 'GET', 401) => 1,
                req_key('catalog', 'GET', 200) => 1,
                'oci_errors_total{code="MANIFEST_UNKNOWN"}' => 1,
                'oci_errors_total{code="BLOB_UNKNOWN"}' => 1,
                'oci_errors_total{code="UNAUTHORIZED"}' => 1 },
              'each request under its endpoint, method and status; each error under its code';

    cmp_ok val($after, 'oci_received_bytes_total') - val($before, 'oci_received_bytes_total'),
        '>=', length('metrics blob'), 'bytes received include the pushed blob';
    cmp_ok val($after, 'oci_sent_bytes_total') - val($before, 'oci_sent_bytes_total'),
        '>=', length('metrics blob'), 'bytes sent include the pulled blob';
    is val($after, req_key('unknown', 'GET', 200)), 0, 'the metrics page itself is not a registry request';
};

subtest 'an upload session opened, then expired and swept' => sub {
    my $before = scrape();
    my $loc = start_upload($srv, 'm/expire');
    my $mid = scrape();
    is val($mid, 'oci_upload_sessions_opened_total') - val($before, 'oci_upload_sessions_opened_total'),
        1, 'one session opened';

    # the timeout is 2 s, the sweeper runs every second
    my $deadline = time + 15;
    my $after;
    while (time < $deadline) {
        $after = scrape();
        last if val($after, 'oci_upload_sessions_expired_total')
                > val($before, 'oci_upload_sessions_expired_total');
        sleep 0.5;
    }
    is val($after, 'oci_upload_sessions_expired_total')
        - val($before, 'oci_upload_sessions_expired_total'), 1, 'it expired and was swept';
    is_error $srv->req('GET', $loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'it is gone';

    # a live one is on disk at the end of a sweep
    my $live = start_upload($srv, 'm/live');
    is_status patch_chunk($srv, $live, 'abcd', 0), 202, 'a live session';
    $deadline = time + 10;
    while (time < $deadline) {
        $after = scrape();
        last if val($after, 'oci_upload_sessions_live') == 1;
        sleep 0.3;
    }
    is val($after, 'oci_upload_sessions_live'), 1, 'the gauge counts it';
    is_status close_upload($srv, $live, sha256('abcd')), 201, 'closed';
};

subtest 'referrers: a miss, then a hit of the page cache; Redis counted' => sub {
    my $img = new_image($srv, 'm/ref');
    my ($res, $subject) = push_manifest($srv, 'm/ref', 'v1', $img);
    is $res->code, 201, 'subject pushed';
    $srv->req('POST', '/v2/m/ref/blobs/uploads/?digest=' . EMPTY_DIGEST, body => '{}');
    my $art = { schemaVersion => 2, mediaType => OCI_MANIFEST,
                artifactType => 'application/vnd.example.sig', config => empty_desc(),
                layers => [ empty_desc() ], subject => $subject };
    ($res) = push_manifest($srv, 'm/ref', sha256(enc($art)), $art);
    is $res->code, 201, 'referrer pushed';

    # the first read makes the pair's cache directory, the second
    # publishes the page, the third finds it (docs/referrers.md)
    my $before = scrape();
    is_status $srv->req('GET', "/v2/m/ref/referrers/$subject->{digest}"), 200, "listed ($_)"
        for 1 .. 3;
    my $after = scrape();
    is_deeply moved($before, $after, qw(oci_referrers_queries_total
                                        oci_referrers_cache_misses_total
                                        oci_referrers_cache_hits_total)),
              { oci_referrers_queries_total => 3, oci_referrers_cache_misses_total => 2,
                oci_referrers_cache_hits_total => 1 },
              'three queries: two missed the cache, the third hit it';
    is val($after, 'oci_redis_queries_total') - val($before, 'oci_redis_queries_total'), 2,
        'one Redis round trip for each miss';

    my $q = val($after, 'oci_redis_queries_total');
    cmp_ok $q, '>=', 3, 'round trips: the two index updates and the listing';
    is val($after, 'oci_redis_query_duration_seconds_count'), $q, 'the histogram counts each';
    is val($after, 'oci_redis_query_duration_seconds_bucket{le="+Inf"}'), $q, 'the last bucket holds all';
    my @b = map { val($after, qq(oci_redis_query_duration_seconds_bucket{le="$_"})) }
            qw(0.001 0.002 0.005 0.010 0.025 0.050 0.100 0.250 0.500 1.000 +Inf);
    is_deeply \@b, [ sort { $a <=> $b } @b ], 'buckets are cumulative';
    cmp_ok val($after, 'oci_redis_connects_total'), '>=', 1, 'connections counted';
    is val($after, 'oci_redis_errors_total{reason="error"}'), 0, 'no Redis error yet';
};

subtest 'Redis late, then down: timeouts, errors and reconnects counted' => sub {
    my $before = scrape();
    my $d = sha256('no such subject');
    $redis->pause;
    is_error $srv->req('GET', "/v2/m/ref/referrers/$d"), 503, 'UNAVAILABLE', 'the index is late';
    $redis->resume;
    my $late = scrape_until(sub {
        val($_[0], 'oci_errors_total{code="UNAVAILABLE"}')
            > val($before, 'oci_errors_total{code="UNAVAILABLE"}') });
    is val($late, 'oci_redis_errors_total{reason="timeout"}')
        - val($before, 'oci_redis_errors_total{reason="timeout"}'), 1, 'one round trip out of time';
    cmp_ok val($late, 'oci_redis_query_duration_seconds_bucket{le="0.500"}'), '<',
        val($late, 'oci_redis_query_duration_seconds_count'), 'and slower than half a second';

    $before = scrape();
    $redis->stop;
    is_error $srv->req('GET', "/v2/m/ref/referrers/$d"), 503, 'UNAVAILABLE', 'the index is down';
    my $after = scrape_until(sub {
        val($_[0], 'oci_errors_total{code="UNAVAILABLE"}')
            > val($before, 'oci_errors_total{code="UNAVAILABLE"}') });
    is val($after, 'oci_redis_errors_total{reason="error"}')
        - val($before, 'oci_redis_errors_total{reason="error"}'), 1, 'one failed round trip';
    is val($after, 'oci_errors_total{code="UNAVAILABLE"}')
        - val($before, 'oci_errors_total{code="UNAVAILABLE"}'), 1, 'one UNAVAILABLE answer';
    $redis->start_again or BAIL_OUT('redis did not start again');
    my $c0 = val($after, 'oci_redis_connects_total');
    my $ok;
    for (1 .. 20) {
        $ok = $srv->req('GET', "/v2/m/ref/referrers/$d")->code == 200 and last;
        sleep 0.2;
    }
    ok $ok, 'answered again once Redis is back';
    cmp_ok val(scrape(), 'oci_redis_connects_total'), '>', $c0, 'a reconnection counted';
};

# --- workers and reloads -----------------------------------------------------

subtest 'the workers add up' => sub {
    my $blob = push_blob($srv, 'm/workers', 'served by both');
    my $before = scrape();
    my (%pids, $n);
    while ($n++ < 200) {
        my $res = $srv->req('GET', "/v2/m/workers/blobs/$blob->{digest}");
        $pids{ $res->header('X-Worker') // '' }++;
        last if $n >= 20 && keys %pids >= 2;
    }
    my $after = scrape_until(sub {
        val($_[0], req_key('blob', 'GET', 200)) >= val($before, req_key('blob', 'GET', 200)) + $n });
    SKIP: {
        skip 'a single process', 1 if $valgrind;
        cmp_ok scalar(keys %pids), '>=', 2, 'both workers served some';
    }
    is val($after, req_key('blob', 'GET', 200)) - val($before, req_key('blob', 'GET', 200)), $n,
        "$n pulls counted, whichever worker served them";
};

SKIP: {
    skip 'no reload without a master process', 2 if $valgrind;

    subtest 'the counts survive a reload' => sub {
        my $before = scrape();
        my $reloads = val($before, 'oci_metrics_reloads_total');
        ok $srv->reload, 'reloaded' or diag $srv->error;
        my $after = scrape();
        is val($after, 'oci_metrics_reloads_total'), $reloads + 1, 'the zone was kept';
        is val($after, req_key('blob', 'GET', 200)), val($before, req_key('blob', 'GET', 200)),
            'pulls before the reload still counted';
        my $blob = push_blob($srv, 'm/reload', 'after the reload');
        is_status $srv->req('GET', "/v2/m/reload/blobs/$blob->{digest}"), 200, 'a pull';
        my $want = val($before, req_key('blob', 'GET', 200)) + 1;
        is val(scrape_until(sub { val($_[0], req_key('blob', 'GET', 200)) >= $want }),
               req_key('blob', 'GET', 200)), $want, 'counted on top';
        cmp_ok val($after, 'oci_upload_sessions_opened_total'), '>=', 2, 'the other counters kept too';
    };

    # a reload that fails after the zone was read (a port taken) leaves
    # the generation alone: the running workers keep their half
    subtest 'a failed reload moves nothing' => sub {
        my $reloads = val(scrape(), 'oci_metrics_reloads_total');
        my $port = OCI::Server::free_port();
        my $taken = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                          Listen => 1, Proto => 'tcp')
            or die "port $port: $!";
        my $off = $srv->log_size;
        ok !$srv->reload(config => $conf . "}\nserver {\n    listen 127.0.0.1:$port;\n"),
            'a reload onto a taken port fails';
        # nginx tries bind() five times, half a second apart
        my $deadline = time + 10;
        sleep 0.1 until $srv->error_log_since($off) =~ /still could not bind/
                        || time > $deadline;
        like $srv->error_log_since($off), qr/still could not bind/, 'nginx gave up';
        close $taken;
        is val(scrape(), 'oci_metrics_reloads_total'), $reloads, 'no new generation';
        ok $srv->reload(config => $conf), 'a reload that works' or diag $srv->error;
        is val(scrape(), 'oci_metrics_reloads_total'), $reloads + 1, 'one new generation';
    };
}

# --- the dashboard of docs/ --------------------------------------------------

subtest 'the Grafana dashboard parses and asks for metrics the page has' => sub {
    my $v = scrape();
    my %families = map { s/\{.*//r =~ s/_(?:bucket|sum|count)$//r => 1 } keys %$v;
    my $file = 'docs/examples/grafana-dashboard.json';
    my $dash = eval { decode_json(slurp($file)) };
    ok $dash, "$file parses" or diag $@;
    ok @{ $dash->{panels} // [] }, 'it has panels';
    my @exprs = map { map { $_->{expr} } @{ $_->{targets} // [] } } @{ $dash->{panels} // [] };
    ok @exprs, 'its panels have queries';
    my @unknown = grep { !$families{$_} && !$families{ s/_(?:bucket|sum|count)$//r } }
                  map { /\b(oci_[a-z_]+)/g } @exprs;
    is_deeply \@unknown, [], 'every metric it names is on the page';

    my $scrape = doc_block('docs/operations.md', 'prometheus.yml');
    like $scrape, qr{metrics_path: /metrics}, 'docs show a Prometheus scrape config';
};

# Redis was down: nginx logged the failed connect() at crit
is $srv->crash_lines, '', 'no worker crashed';

done_testing;
