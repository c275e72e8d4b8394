# Registry events in the Redis Stream "<prefix>events" (docs/events.md):
# the envelope of each action, read back with XRANGE; pulls only when
# asked; MAXLEN; Redis down (pushes work, the lost event is logged); and
# oci_events without oci_redis refused.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use JSON::XS qw(decode_json);
use Time::HiRes qw(sleep);
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start or plan skip_all => 'redis-server not found';
my $sock = $redis->socket;

use constant STREAM => 'ev:events';

sub registry {
    my (@extra) = @_;
    return OCI::Harness->start(config => registry_conf('oci_delete on;',
        "oci_redis unix:$sock;", 'oci_redis_prefix ev:;', 'oci_events on;', @extra));
}

# the entries of the stream, as [ {fields}, event ], once there are $n
# (XADD is answered after the request: bounded polling, not a timing)
sub events {
    my ($n) = @_;
    for (1 .. 100) {
        last if $redis->call('XLEN', STREAM) >= $n;
        sleep 0.05;
    }
    return [ map {
        my %f = @{ $_->[1] };
        [ \%f, decode_json($f{event}) ]
    } @{ $redis->call('XRANGE', STREAM, '-', '+') } ];
}

# empties the stream, once the $n events since the last fresh() are in
sub fresh {
    my ($n) = @_;
    events($n) if $n;
    $redis->call('DEL', STREAM);
}

my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
my $TIME = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

my $srv = registry();

subtest 'a push by tag: one push event with the documented envelope' => sub {
    my $image = new_image($srv, 'ev/app');
    fresh();
    my $bytes = enc($image);
    my $res = put_manifest($srv, 'ev/app', 'v1', $bytes, undef,
                           headers => [ 'User-Agent' => 'events-test/1' ]);
    my $desc = desc_of($bytes, OCI_MANIFEST);
    is $res->code, 201, 'pushed';
    my $ev = events(1);
    is scalar @$ev, 1, 'one event';
    my ($f, $e) = @{ $ev->[0] };
    is_deeply [ sort keys %$f ], [qw(action event repository)], 'stream fields';
    is $f->{action}, 'push', 'field action';
    is $f->{repository}, 'ev/app', 'field repository';
    like $e->{id}, $UUID, 'id is a UUID';
    like $e->{timestamp}, $TIME, 'timestamp in UTC';
    is $e->{action}, 'push', 'action';
    is_deeply $e->{target}, { mediaType => OCI_MANIFEST, digest => $desc->{digest},
                              size => $desc->{size}, length => $desc->{size},
                              repository => 'ev/app', tag => 'v1',
                              artifactType => OCI_CONFIG }, 'target';
    is $e->{request}{method}, 'PUT', 'request.method';
    like $e->{request}{addr}, qr/^127\.0\.0\.1/, 'request.addr';
    is $e->{request}{useragent}, 'events-test/1', 'request.useragent';
    ok length $e->{source}{addr}, 'source.addr';
    is_deeply $e->{actor}, {}, 'no actor without authentication';
};

subtest 'a push by digest with two ?tag=: one event per tag' => sub {
    my $image = new_image($srv, 'ev/app');
    my $bytes = enc($image);
    my $d = sha256($bytes);
    fresh();
    my $res = put_manifest($srv, 'ev/app', "$d?tag=a&tag=b", $bytes);
    is $res->code, 201, 'pushed';
    my $ev = events(2);
    is_deeply [ map { [ $_->[1]{action}, $_->[1]{target}{tag}, $_->[1]{target}{digest} ] } @$ev ],
              [ [ 'push', 'a', $d ], [ 'push', 'b', $d ] ], 'two push events';
    fresh();
    $res = put_manifest($srv, 'ev/app', $d, $bytes);
    is $res->code, 201, 'pushed again by digest alone';
    $ev = events(1);
    is scalar @$ev, 1, 'one event';
    ok !exists $ev->[0][1]{target}{tag}, 'without a tag';
};

my ($subject, $referrer);

subtest 'a referrer: artifactType and subject' => sub {
    $subject = new_image($srv, 'ev/app');
    fresh();
    my ($res, $sd) = push_manifest($srv, 'ev/app', 'base', $subject);
    is $res->code, 201, 'subject pushed';
    $srv->req('POST', '/v2/ev/app/blobs/uploads/?digest=' . EMPTY_DIGEST, body => '{}');
    my $art = image_manifest(artifactType => 'application/vnd.example.sbom',
                             config => empty_desc(), layers => [ empty_desc() ],
                             subject => $sd);
    fresh(1);
    ($res, $referrer) = push_manifest($srv, 'ev/app', sha256(enc($art)), $art);
    is $res->code, 201, 'referrer pushed';
    my $e = events(1)->[0][1];
    is $e->{target}{artifactType}, 'application/vnd.example.sbom', 'artifactType';
    is_deeply $e->{target}{subject}, { digest => $sd->{digest} }, 'subject';
    is $e->{target}{digest}, $referrer->{digest}, 'digest';
};

subtest 'deletes: a manifest, a tag, a blob' => sub {
    fresh();
    is $srv->req('DELETE', "/v2/ev/app/manifests/$referrer->{digest}")->code, 202,
        'referrer deleted';
    is $srv->req('DELETE', '/v2/ev/app/manifests/base')->code, 202, 'tag deleted';
    my $blob = push_blob($srv, 'ev/other', 'a blob to delete');
    is $srv->req('DELETE', "/v2/ev/other/blobs/$blob->{digest}")->code, 202,
        'blob deleted';
    my $ev = events(3);
    my @t = map { $_->[1]{target} } @$ev;
    is_deeply [ map { $_->[1]{action} } @$ev ], [ ('delete') x 3 ], 'three deletes';
    is_deeply $t[0], { digest => $referrer->{digest}, repository => 'ev/app',
                       subject => { digest => sha256(enc($subject)) } },
        'the manifest: digest, repository, its subject';
    is_deeply $t[1], { repository => 'ev/app', tag => 'base' },
        'the tag: repository and tag, no digest';
    is_deeply $t[2], { digest => $blob->{digest}, repository => 'ev/other' },
        'the blob: digest and repository';
    is_deeply [ map { $_->[0]{repository} } @$ev ], [qw(ev/app ev/app ev/other)],
        'the repository field of each entry';
};

subtest 'pulls: recorded only with oci_events_pulls on' => sub {
    my $image = new_image($srv, 'ev/pull');
    fresh();
    my ($res, $desc) = push_manifest($srv, 'ev/pull', 'v1', $image);
    fresh(1);
    is $srv->req('GET', '/v2/ev/pull/manifests/v1')->code, 200, 'pulled';
    is $srv->req('DELETE', '/v2/ev/pull/manifests/nosuchtag')->code, 404, 'a 404';
    my $blob = push_blob($srv, 'ev/pull', 'marker');
    is $srv->req('DELETE', "/v2/ev/pull/blobs/$blob->{digest}")->code, 202, 'marker';
    my $ev = events(1);
    is_deeply [ map { $_->[1]{action} } @$ev ], ['delete'],
        'no pull event by default, none for a failed delete';

    my $p = registry('oci_events_pulls on;');
    $image = new_image($p, 'ev/pull');
    fresh();
    ($res, $desc) = push_manifest($p, 'ev/pull', 'v1', $image);
    is $res->code, 201, 'pushed to a registry that records pulls';
    fresh(1);
    is $p->req('HEAD', '/v2/ev/pull/manifests/v1')->code, 200, 'HEAD';
    is $p->req('GET', '/v2/ev/pull/manifests/nope')->code, 404, 'an unknown tag';
    is $p->req('GET', '/v2/ev/pull/manifests/v1', headers => ['User-Agent' => "ua \xff"])->code,
        200, 'GET by tag, a User-Agent that is not UTF-8';
    is $p->req('GET', "/v2/ev/pull/manifests/$desc->{digest}")->code, 200, 'GET by digest';
    $ev = events(2);
    is scalar @$ev, 2, 'two events: GETs that found the manifest';
    is_deeply $ev->[0][1]{target}, { mediaType => OCI_MANIFEST, digest => $desc->{digest},
                                     repository => 'ev/pull', tag => 'v1' },
        'a pull by tag';
    is $ev->[0][1]{request}{useragent}, "ua \x{fffd}", 'the bad byte replaced';
    is $ev->[0][1]{request}{method}, 'GET', 'GET';
    ok !exists $ev->[1][1]{target}{tag}, 'a pull by digest has no tag';
};

subtest 'oci_events_maxlen bounds the stream' => sub {
    my $m = registry('oci_events_maxlen 3;');
    my $bytes = enc(new_image($m, 'ev/max'));
    fresh();
    for my $i (1 .. 5) {
        is put_manifest($m, 'ev/max', "t$i", $bytes)->code, 201, "tag t$i pushed";
        # one at a time, so the entries are in the requests' order
        for (1 .. 100) {
            my $last = $redis->call('XREVRANGE', STREAM, '+', '-', 'COUNT', 1)->[0];
            last if $last && decode_json({ @{ $last->[1] } }->{event})->{target}{tag} eq "t$i";
            sleep 0.05;
        }
    }
    my $ev = events(3);
    is $redis->call('XLEN', STREAM), 3, 'three entries, not five';
    is_deeply [ map { $_->[1]{target}{tag} } @$ev ], [qw(t3 t4 t5)], 'the newest three';
};

subtest 'Redis down: pushes work as documented, the lost event is logged' => sub {
    my $d = registry('oci_redis_timeout 500ms;');
    my $image = new_image($d, 'ev/down');
    $redis->stop;
    my $off = $d->log_size;
    my ($res) = push_manifest($d, 'ev/down', 'v1', $image);
    is $res->code, 201, 'a push without a subject succeeds';
    my $log = '';
    for (1 .. 100) {
        $log = $d->error_log_since($off);
        last if $log =~ /event not recorded/;
        sleep 0.05;
    }
    like $log, qr/\[warn\].*oci: event not recorded in the stream: no redis connection/,
        'the lost event is logged at warn';
    is $d->req('GET', '/v2/ev/down/manifests/v1')->code, 200, 'and it is stored';
    ok $redis->start_again, 'Redis back';
    # the client waits out its reconnection backoff (at most 2 s) before
    # it connects again: until then events are lost as above
    fresh();
    my $recorded = 0;
    for (1 .. 40) {
        ($res) = push_manifest($d, 'ev/down', 'v2', $image);
        last if $res->code != 201;
        last if $recorded = $redis->call('XLEN', STREAM);
        sleep 0.2;
    }
    is $res->code, 201, 'pushed again';
    ok $recorded, 'recorded again once the connection is back';
};

subtest 'the metrics count events recorded and lost' => sub {
    my $m = OCI::Harness->start(config => registry_conf("oci_redis unix:$sock;",
        'oci_redis_prefix ev:;', 'oci_events on;', 'oci_redis_timeout 500ms;')
        . "    location = /metrics {\n        oci_metrics;\n    }\n");
    my $count = sub {
        my ($name) = @_;
        my $page = $m->req('GET', '/metrics')->content;
        return $page =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
    };
    is $count->('oci_events_recorded_total'), 0, 'none recorded yet';
    my $image = new_image($m, 'ev/metrics');
    fresh();
    my ($res) = push_manifest($m, 'ev/metrics', 'v1', $image);
    is $res->code, 201, 'pushed';
    events(1);
    my $n;
    for (1 .. 100) { last if ($n = $count->('oci_events_recorded_total')) >= 1; sleep 0.05 }
    is $n, 1, 'one recorded';
    is $count->('oci_events_failed_total'), 0, 'none failed';
    $redis->stop;
    ($res) = push_manifest($m, 'ev/metrics', 'v2', $image);
    is $res->code, 201, 'pushed while Redis is down';
    for (1 .. 100) { last if ($n = $count->('oci_events_failed_total')) >= 1; sleep 0.05 }
    is $n, 1, 'one failed';
    ok $redis->start_again, 'Redis back';
};

subtest 'oci_events without oci_redis is refused' => sub {
    my $bad = OCI::Harness->launch(config => registry_conf('oci_events on;'));
    ok !$bad->{pid}, 'nginx does not start';
    like $bad->error, qr/"oci_events" is on but no "oci_redis" is set/,
        'and says why';
};

done_testing;
