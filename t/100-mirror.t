# The pull-through cache (docs/mirrors.md) in front of docker-registry
# 2.8.2, configured as the document lays a mirror out. A blob that is not
# stored streams from the upstream and is stored, then served locally (the
# upstream is not asked again); manifests by digest; a tag within and past
# oci_proxy_tag_ttl (2 s here) when the upstream moved it, and renewed when
# it did not; HEAD of a blob not stored is relayed and stores nothing, HEAD
# of a manifest not stored fetches and stores it;
# the upstream's 404s as the spec's; the upstream stopped (stored content
# served, a stale tag with its Warning, the rest 502 UNAVAILABLE); pushes
# refused, and taken with oci_proxy_push on; ?ns= choosing between two
# upstreams, OCI-Namespace, an ns naming no upstream; the `library`
# mapping of one-component names.
#
# Requests counted at the upstream come from its access log
# (OCI::Distribution). Needs docker-registry.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Distribution;
use OCI::Test;
use OCI::Upstream;
use Test::More;
use Time::HiRes qw(sleep time);

plan skip_all => 'docker-registry is not installed (make test installs it)'
    unless which('docker-registry');

my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST;
# nginx keeps time in seconds: a tag written in second X is within a TTL
# of 2 s for at least one second, and past it from second X + 3 on
my $TTL = 2;

my $up = OCI::Distribution->start or BAIL_OUT($OCI::Distribution::WHY);
my $two = OCI::Distribution->start or BAIL_OUT($OCI::Distribution::WHY);

my @UPSTREAMS = ([ $up, 'up.test', 'default', 'library' ], [ $two, 'two.test' ]);
my $mirror = OCI::Harness->start(
    config => mirror_conf(\@UPSTREAMS, "oci_proxy_tag_ttl ${TTL}s;"));

sub get  { $mirror->req('GET', $_[0], headers => [ Accept => $ACCEPT ]) }
sub head { $mirror->req('HEAD', $_[0], headers => [ Accept => $ACCEPT ]) }

sub tag_file { slurp($mirror->storage . "/repositories/$_[0]/_tags/$_[1]") =~ s/\s+\z//r }

# the blob, its link in the repository, and no fill file left over
sub is_stored {
    my ($repo, $digest, $bytes, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    # published when the fetch ends, which may be after the client got all
    ok eventually(sub { -f link_path($mirror, $repo, '_blobs', $digest) }),
        "$what: linked into $repo";
    ok slurp(blob_path($mirror, $digest)) eq $bytes, "$what: stored under blobs/, byte for byte";
    is_deeply [ eventually(sub { !fill_files($mirror) }) ? () : fill_files($mirror) ], [],
        "$what: no fill file left in _tmp/";
}

sub is_not_stored {
    my ($repo, $digest, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok !-e blob_path($mirror, $digest), "$what: nothing under blobs/";
    ok !-e link_path($mirror, $repo, '_blobs', $digest)
       && !-e link_path($mirror, $repo, '_manifests', $digest), "$what: no link in $repo";
}

subtest 'a blob not stored streams from the upstream and is stored' => sub {
    my $img = $up->push_image('lib/app', 'v1', files => { 'data.bin' => random_bytes(300_000) });
    my $layer = $img->{layer};
    my $bytes = $img->{blobs}{ $layer->{digest} };
    my $path = "/v2/lib/app/blobs/$layer->{digest}";

    is_not_stored('lib/app', $layer->{digest}, 'before the pull');
    my $res = get($path);
    is $res->code, 200, 'GET of the blob: 200' or diag dump_res($res);
    ok $res->content eq $bytes, 'the exact bytes of the upstream';
    is $res->header('Docker-Content-Digest'), $layer->{digest}, 'Docker-Content-Digest';
    is $res->header('OCI-Namespace'), 'up.test', 'OCI-Namespace names the upstream';
    is $up->requests('GET', $path), 1, 'the upstream got one GET of it';
    is_stored('lib/app', $layer->{digest}, $bytes, 'after the pull');

    for my $i (1, 2) {
        $res = get($path);
        ok $res->code == 200 && $res->content eq $bytes, "pull $i again: the same bytes";
        is $res->header('Docker-Content-Digest'), $layer->{digest}, "pull $i again: its digest";
    }
    $res = head($path);
    is $res->code, 200, 'HEAD: 200';
    is $res->header('Content-Length'), $layer->{size}, 'HEAD: Content-Length';
    is $up->requests(undef, $path), 1, 'the upstream was not asked again';

    my $config = $img->{config};
    $res = get("/v2/lib/app/blobs/$config->{digest}");
    ok $res->code == 200 && $res->content eq $img->{blobs}{ $config->{digest} },
        'the config blob too';
};

subtest 'a manifest by digest' => sub {
    my $img = $up->push_image('lib/bydigest', 'v1');
    my $path = "/v2/lib/bydigest/manifests/$img->{digest}";
    my $res = get($path);
    is $res->code, 200, 'GET by digest: 200' or diag dump_res($res);
    ok $res->content eq $img->{manifest}, 'the exact bytes';
    is $res->header('Content-Type'), OCI_MANIFEST, 'Content-Type';
    is $res->header('Docker-Content-Digest'), $img->{digest}, 'Docker-Content-Digest';
    is $res->header('OCI-Namespace'), 'up.test', 'OCI-Namespace';
    ok -f link_path($mirror, 'lib/bydigest', '_manifests', $img->{digest}), 'stored and linked';
    my $asked = $up->requests(undef, $path);
    cmp_ok $asked, '>=', 1, "the upstream was asked ($asked)";
    is_served $mirror, 'lib/bydigest', $img->{digest}, $img->{manifest}, OCI_MANIFEST,
        $img->{digest}, 'stored manifest';
    is $up->requests(undef, $path), $asked, 'and not asked again';

    my $idx = $up->push_index('lib/bydigest', 'multi');
    $res = get("/v2/lib/bydigest/manifests/$idx->{digest}");
    ok $res->code == 200 && $res->content eq $idx->{manifest}, 'an index by digest';
    is $res->header('Content-Type'), OCI_INDEX, 'served as an index';
};

subtest 'a tag: served within its TTL, asked again after it' => sub {
    my $img1 = $up->push_image('lib/tagged', 'moving');
    my $tag_path = '/v2/lib/tagged/manifests/moving';
    my $res = get($tag_path);
    my $written = time;
    is $res->code, 200, 'GET by tag: 200' or diag dump_res($res);
    ok $res->content eq $img1->{manifest}, 'the manifest the tag names';
    is $res->header('Docker-Content-Digest'), $img1->{digest}, 'its digest';
    is tag_file('lib/tagged', 'moving'), $img1->{digest}, 'the tag is written in the storage';

    my $img2 = $up->push_image('lib/tagged', 'moving');
    my $asked = $up->requests(undef, $tag_path);
    my $sent = time;
    $res = get($tag_path);
    SKIP: {
        skip 'the TTL had passed before the second pull (a slow machine)', 3
            if $sent - $written > $TTL * 0.8;
        ok $res->code == 200 && $res->content eq $img1->{manifest},
            'within the TTL: the stored manifest, although the upstream moved the tag';
        is $res->header('Docker-Content-Digest'), $img1->{digest}, 'within the TTL: its digest';
        is $up->requests(undef, $tag_path), $asked, 'within the TTL: the upstream is not asked';
    }

    sleep $TTL + 1.1 - (time - $written) if time - $written < $TTL + 1.1;
    my $heads = $up->requests('HEAD', $tag_path);
    $res = get($tag_path);
    my $moved = time;
    ok $res->code == 200 && $res->content eq $img2->{manifest}, 'past the TTL: the new manifest'
        or diag dump_res($res);
    is $res->header('Docker-Content-Digest'), $img2->{digest}, 'past the TTL: the new digest';
    cmp_ok $up->requests('HEAD', $tag_path), '>', $heads, 'the upstream got a HEAD of the tag';
    is tag_file('lib/tagged', 'moving'), $img2->{digest}, 'the tag now names the new digest';
    ok -f link_path($mirror, 'lib/tagged', '_manifests', $img2->{digest}), 'the new manifest is stored';

    # the same digest upstream: the tag is renewed, the manifest not fetched
    sleep $TTL + 1.1 - (time - $moved) if time - $moved < $TTL + 1.1;
    $heads = $up->requests('HEAD', $tag_path);
    my $gets = $up->requests('GET', qr{^/v2/lib/tagged/manifests/});
    $res = get($tag_path);
    ok $res->code == 200 && $res->content eq $img2->{manifest}, 'past the TTL again: the same manifest';
    cmp_ok $up->requests('HEAD', $tag_path), '>', $heads, 'the upstream got a HEAD of the tag again';
    is $up->requests('GET', qr{^/v2/lib/tagged/manifests/}), $gets,
        'and no GET: the digest had not changed';
};

subtest 'HEAD of a blob not stored is relayed; of a manifest, a pull' => sub {
    my $img = $up->push_image('lib/head', 'v1', files => { 'data.bin' => random_bytes(5000) });
    my $layer = $img->{layer};
    my $path = "/v2/lib/head/blobs/$layer->{digest}";
    my $res = head($path);
    is $res->code, 200, 'HEAD of a blob not stored: 200' or diag dump_res($res);
    is $res->header('Content-Length'), $layer->{size}, 'the upstream\'s Content-Length';
    is $res->header('Docker-Content-Digest'), $layer->{digest}, 'Docker-Content-Digest';
    is $res->content, '', 'no body';
    is $up->requests('HEAD', $path), 1, 'the upstream got the HEAD';
    is $up->requests('GET', $path), 0, 'and no GET';
    is_not_stored('lib/head', $layer->{digest}, 'blob');
    is_deeply [ fill_files($mirror) ], [], 'no fill file in _tmp/';

    my $mpath = "/v2/lib/head/manifests/$img->{digest}";
    $res = head($mpath);
    is $res->code, 200, 'HEAD of a manifest not stored: 200' or diag dump_res($res);
    is $res->header('Docker-Content-Digest'), $img->{digest}, 'its Docker-Content-Digest';
    is $res->header('Content-Length'), length $img->{manifest}, 'its Content-Length';
    is $res->content, '', 'no body';
    is $up->requests('GET', $mpath), 1, 'the upstream got a GET of the manifest';
    ok -f link_path($mirror, 'lib/head', '_manifests', $img->{digest}),
        'the manifest is stored';
    $res = get($mpath);
    is $res->code, 200, 'a GET of it after the HEAD: 200';
    is $res->content, $img->{manifest}, 'the same bytes';
    is $up->requests('GET', $mpath), 1, 'served from storage, the upstream not asked again';

    is head('/v2/lib/head/blobs/' . sha256(unique()))->code, 404,
        'HEAD of a blob the upstream does not have: 404';
};

subtest 'the upstream\'s 404' => sub {
    my $img = $up->push_image('lib/known', 'v1');
    is_error get('/v2/lib/known/blobs/' . sha256(unique())), 404, 'BLOB_UNKNOWN',
        'a blob the upstream does not have';
    is_error get('/v2/lib/known/manifests/nosuchtag'), 404, 'MANIFEST_UNKNOWN',
        'a tag the upstream does not have';
    is_error get('/v2/lib/known/manifests/' . sha256(unique())), 404, 'MANIFEST_UNKNOWN',
        'a manifest digest the upstream does not have';
    is_error get('/v2/lib/nosuchrepo/manifests/v1'), 404, 'MANIFEST_UNKNOWN',
        'a repository the upstream does not have';
    is_error get('/v2/lib/nosuchrepo/blobs/' . $img->{config}{digest}), 404, 'BLOB_UNKNOWN',
        'a blob of another repository';
    is_deeply [ files_under($mirror->storage . '/repositories/lib/nosuchrepo') ], [],
        'nothing stored for the unknown repository';
};

subtest 'pushes: 405 UNSUPPORTED' => sub {
    my $m = image_manifest(config => empty_desc(), layers => []);
    is_error $mirror->req('POST', '/v2/lib/app/blobs/uploads/'), 405, 'UNSUPPORTED', 'POST upload';
    is_error $mirror->req('POST', '/v2/lib/app/blobs/uploads/?digest=' . sha256('x'), body => 'x'),
        405, 'UNSUPPORTED', 'monolithic POST';
    is_error put_manifest($mirror, 'lib/app', 'pushed', $m), 405, 'UNSUPPORTED', 'manifest PUT';
    my $img = $up->push_image('lib/nodelete', 'v1');
    get('/v2/lib/nodelete/manifests/v1');
    is_error $mirror->req('DELETE', "/v2/lib/nodelete/manifests/$img->{digest}"), 405,
        'UNSUPPORTED', 'manifest DELETE';
    is_error $mirror->req('DELETE', "/v2/lib/nodelete/blobs/$img->{config}{digest}"), 405,
        'UNSUPPORTED', 'blob DELETE';
    ok -f link_path($mirror, 'lib/nodelete', '_manifests', $img->{digest}), 'the manifest stays';
    ok !-e $mirror->storage . '/repositories/lib/app/_tags/pushed', 'no tag was written';
};

subtest '?ns= chooses the upstream' => sub {
    my $img = $two->push_image('lib/second', 'v1');
    my $path = '/v2/lib/second/manifests/v1';
    is_error get($path), 404, 'MANIFEST_UNKNOWN', 'without ns: the default upstream, which lacks it';
    my $asked = $up->requests(undef, qr{^/v2/lib/second/});
    cmp_ok $asked, '>=', 1, 'the default upstream was asked';
    my $res = get("$path?ns=two.test");
    is $res->code, 200, 'with ?ns=two.test: 200' or diag dump_res($res);
    ok $res->content eq $img->{manifest}, 'the manifest of the second upstream';
    is $res->header('OCI-Namespace'), 'two.test', 'OCI-Namespace: two.test';
    cmp_ok $two->requests(undef, $path), '>=', 1, 'the second upstream was asked';
    is $up->requests(undef, qr{^/v2/lib/second/}), $asked, 'the default one was not asked';

    my $layer = $img->{layer};
    $res = get("/v2/lib/second/blobs/$layer->{digest}?ns=two.test");
    ok $res->code == 200 && $res->content eq $img->{blobs}{ $layer->{digest} },
        'a blob of the second upstream';
    is $res->header('OCI-Namespace'), 'two.test', 'with its OCI-Namespace';

    $res = get('/v2/lib/app/manifests/v1?ns=up.test');
    is $res->code, 200, '?ns= naming the default upstream: 200';
    is $res->header('OCI-Namespace'), 'up.test', 'OCI-Namespace: up.test';

    # an upstream without `library`: one-component names are asked as they are
    my $solo = $two->push_image('solo', 'v1');
    $res = get('/v2/solo/manifests/v1?ns=two.test');
    ok $res->code == 200 && $res->content eq $solo->{manifest},
        'a one-component name from an upstream without library';
    cmp_ok $two->requests(undef, '/v2/solo/manifests/v1'), '>=', 1, 'asked as solo';
};

subtest 'an ns naming no upstream: local storage only' => sub {
    my $img = $up->push_image('lib/localonly', 'v1');
    my $before = $up->requests(undef, qr{^/v2/lib/localonly/});
    is_error get('/v2/lib/localonly/manifests/v1?ns=nowhere.test'), 404, 'MANIFEST_UNKNOWN',
        'a manifest not stored';
    is_error get("/v2/lib/localonly/blobs/$img->{config}{digest}?ns=nowhere.test"), 404,
        'BLOB_UNKNOWN', 'a blob not stored';
    is $up->requests(undef, qr{^/v2/lib/localonly/}), $before, 'no upstream was asked';
    is $two->requests(undef, qr{^/v2/lib/localonly/}), 0, 'not the second one either';

    my $res = get('/v2/lib/localonly/manifests/v1');
    is $res->code, 200, 'pulled without ns';
    $res = get("/v2/lib/localonly/manifests/$img->{digest}?ns=nowhere.test");
    ok $res->code == 200 && $res->content eq $img->{manifest},
        'then the stored manifest is served with the unknown ns';
};

subtest 'library: a one-component name is asked for as library/<name>' => sub {
    my $img = $up->push_image('library/alpine', 'latest');
    my $res = get('/v2/alpine/manifests/latest');
    is $res->code, 200, 'GET /v2/alpine/manifests/latest: 200' or diag dump_res($res);
    ok $res->content eq $img->{manifest}, 'the manifest of library/alpine';
    cmp_ok $up->requests(undef, '/v2/library/alpine/manifests/latest'), '>=', 1,
        'the upstream was asked for library/alpine';
    is $up->requests(undef, qr{^/v2/alpine/}), 0, 'and never for alpine';
    my $layer = $img->{layer};
    $res = get("/v2/alpine/blobs/$layer->{digest}");
    ok $res->code == 200 && $res->content eq $img->{blobs}{ $layer->{digest} }, 'its layer';
    is $up->requests('GET', "/v2/library/alpine/blobs/$layer->{digest}"), 1,
        'asked as library/alpine';
    is tag_file('alpine', 'latest'), $img->{digest}, 'stored under the name the client used';
    ok eventually(sub { -f link_path($mirror, 'alpine', '_blobs', $layer->{digest}) }),
        'the layer linked into alpine';
    ok !-e $mirror->storage . '/repositories/library', 'nothing under library/';
};

subtest 'the upstream stopped' => sub {
    my $img = $up->push_image('lib/down', 'stale', files => { 'data.bin' => random_bytes(20_000) });
    my $res = get('/v2/lib/down/manifests/stale');
    my $written = time;
    is $res->code, 200, 'pulled by tag while the upstream is up';
    my $layer = $img->{layer};
    is get("/v2/lib/down/blobs/$layer->{digest}")->code, 200, 'its layer pulled';
    my $never = $up->push_image('lib/down', 'never');

    $up->stop;
    ok !$up->alive, 'the upstream is stopped';
    $res = get("/v2/lib/down/blobs/$layer->{digest}");
    ok $res->code == 200 && $res->content eq $img->{blobs}{ $layer->{digest} },
        'a stored blob is served';
    $res = get("/v2/lib/down/manifests/$img->{digest}");
    ok $res->code == 200 && $res->content eq $img->{manifest}, 'a stored manifest by digest is served';

    sleep $TTL + 1.1 - (time - $written) if time - $written < $TTL + 1.1;
    $res = get('/v2/lib/down/manifests/stale');
    ok $res->code == 200 && $res->content eq $img->{manifest},
        'a tag past its TTL: the stored manifest' or diag dump_res($res);
    is $res->header('Warning'), '110 - "Response is Stale"', 'with Warning: 110';
    $res = head('/v2/lib/down/manifests/stale');
    is $res->code, 200, 'HEAD of the stale tag: 200';

    is_error get("/v2/lib/down/blobs/$never->{config}{digest}"), 502, 'UNAVAILABLE',
        'a blob never stored';
    is_error get('/v2/lib/down/manifests/never'), 502, 'UNAVAILABLE', 'a tag never stored';
    is_error get("/v2/lib/down/manifests/$never->{digest}"), 502, 'UNAVAILABLE',
        'a manifest by digest never stored';
    is head("/v2/lib/down/blobs/$never->{config}{digest}")->code, 502,
        'HEAD of a blob never stored: 502';
    is_not_stored('lib/down', $never->{config}{digest}, 'after the failures');

    ok $up->start_again, 'the upstream started again';
    $res = get('/v2/lib/down/manifests/stale');
    ok $res->code == 200 && $res->content eq $img->{manifest}, 'the upstream back: the tag';
    is $res->header('Warning'), undef, 'without a Warning';
    $res = get('/v2/lib/down/manifests/never');
    ok $res->code == 200 && $res->content eq $never->{manifest}, 'and what failed before';
};

subtest 'oci_proxy_push on: pushes beside the cached content' => sub {
    my $pushing = OCI::Harness->start(
        config => mirror_conf(\@UPSTREAMS, "oci_proxy_tag_ttl ${TTL}s;", 'oci_proxy_push on;'));
    my $m = new_image($pushing, 'lib/mine');
    my ($res, $desc) = push_manifest($pushing, 'lib/mine', 'v1', $m);
    is_created $res, 'lib/mine', $desc->{digest}, 'manifest PUT';
    is_served $pushing, 'lib/mine', 'v1', enc($m), OCI_MANIFEST, $desc->{digest}, 'pushed image';
    is $up->requests(undef, qr{^/v2/lib/mine/}), 0, 'the upstream knows nothing of it';
    my $pushed = time;

    # a repository pushed to is still filled from the upstream on a miss
    my $img = $up->push_image('lib/mine', 'up');
    $res = $pushing->req('GET', '/v2/lib/mine/manifests/up', headers => [ Accept => $ACCEPT ]);
    ok $res->code == 200 && $res->content eq $img->{manifest}, 'a tag of the upstream in the same repository';
    is slurp($pushing->storage . '/repositories/lib/mine/_tags/up') =~ s/\s+\z//r, $img->{digest},
        'its tag stored beside the pushed one';

    # the pushed tag is this registry's own: no TTL, the upstream lacks it
    sleep $TTL + 1.1 - (time - $pushed) if time - $pushed < $TTL + 1.1;
    $res = $pushing->req('GET', '/v2/lib/mine/manifests/v1', headers => [ Accept => $ACCEPT ]);
    ok $res->code == 200 && $res->content eq enc($m), 'the pushed tag, past the TTL: still served'
        or diag dump_res($res);
    is slurp($pushing->storage . '/repositories/lib/mine/_tags/v1') =~ s/\s+\z//r, $desc->{digest},
        'the tag file still names it';
    is $pushing->req('DELETE', "/v2/lib/mine/manifests/$desc->{digest}")->code, 405,
        'DELETE still needs oci_delete';
    stops_cleanly $pushing, 'the pushing mirror';
};

stops_cleanly $mirror;
done_testing;
