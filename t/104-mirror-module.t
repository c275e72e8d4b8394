# A mirror whose upstream is another nginx with this module (each with
# its own Redis for the referrers index). Pull through: manifests by tag
# and digest, an index, blobs, stored and then served locally; the
# upstream's 404. Referrers: a subject and an artifact pushed upstream,
# another artifact of the same subject pushed to the mirror
# (oci_proxy_push on): the mirror's referrers list has both, once each
# (also after the upstream's artifact was pulled through the mirror), and
# its artifactType filter applies to the merged list; the upstream's list
# is asked for once within the TTL, and again after a push here.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Redis;
use OCI::Distribution qw(access_log_requests);
use OCI::Test;
use OCI::Upstream;
use Test::More;

use constant {
    SIGNATURE => 'application/vnd.example.signature',
    SBOM      => 'application/vnd.example.sbom',
};

my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST;

my $up_redis = OCI::Redis->start or BAIL_OUT('redis-server is needed');
my $mirror_redis = OCI::Redis->start or BAIL_OUT('redis-server is needed');

my $up = OCI::Harness->start(config => registry_conf('oci_redis unix:' . $up_redis->socket . ';'));
my $mirror = OCI::Harness->start(config => mirror_conf([ [ $up, 'module.test' ] ],
    'oci_redis unix:' . $mirror_redis->socket . ';', 'oci_proxy_push on;'));

sub get { my ($srv, $path) = @_; $srv->req('GET', $path, headers => [ Accept => $ACCEPT ]) }

# the access log of the upstream nginx: requests for a path
sub upstream_asked { access_log_requests($up->path('logs', 'access.log'), undef, $_[0]) }

my $n = 0;
sub artifact {
    my ($subject, $type) = @_;
    $n++;
    return { schemaVersion => 2, mediaType => OCI_MANIFEST, artifactType => $type,
             config => empty_desc(), layers => [ empty_desc() ], subject => $subject,
             annotations => { 'org.example.n' => "$n" } };
}

sub push_artifact {
    my ($srv, $repo, $doc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is $srv->req('POST', "/v2/$repo/blobs/uploads/?digest=" . EMPTY_DIGEST, body => '{}')->code, 201,
        'the empty config pushed';
    my ($res, $desc) = push_manifest($srv, $repo, sha256(enc($doc)), $doc);
    is $res->code, 201, "artifact of type $doc->{artifactType} pushed" or diag dump_res($res);
    return $desc;
}

sub referrers {
    my ($srv, $repo, $digest, $query) = @_;
    my $res = $srv->req('GET', "/v2/$repo/referrers/$digest" . ($query // ''));
    return ($res, $res->code == 200 ? dec($res->content) || {} : {});
}

sub digests { [ sort map { $_->{digest} } @{ $_[0]{manifests} || [] } ] }

my ($img, $img_desc);

subtest 'pull through another nginx with the module' => sub {
    $img = new_image($up, 'mod/app');
    my $res;
    ($res, $img_desc) = push_manifest($up, 'mod/app', 'v1', $img);
    is $res->code, 201, 'the image pushed upstream';
    my $json = enc($img);

    $res = get($mirror, '/v2/mod/app/manifests/v1');
    is $res->code, 200, 'by tag through the mirror' or diag dump_res($res);
    ok $res->content eq $json, 'the exact bytes';
    is $res->header('Docker-Content-Digest'), $img_desc->{digest}, 'Docker-Content-Digest';
    is $res->header('OCI-Namespace'), 'module.test', 'OCI-Namespace';
    for my $d ($img->{config}, @{ $img->{layers} }) {
        $res = get($mirror, "/v2/mod/app/blobs/$d->{digest}");
        ok $res->code == 200 && sha256($res->content) eq $d->{digest}, "blob $d->{digest}";
        ok eventually(sub { -f blob_path($mirror, $d->{digest}) }), 'stored';
    }
    my $asked = upstream_asked(qr{^/v2/mod/app/blobs/});
    is_served $mirror, 'mod/app', $img_desc->{digest}, $json, OCI_MANIFEST, $img_desc->{digest},
        'by digest';
    for my $d ($img->{config}, @{ $img->{layers} }) {
        blob_is($mirror, 'mod/app', $d->{digest}, slurp(blob_path($up, $d->{digest})), 'again');
    }
    is upstream_asked(qr{^/v2/mod/app/blobs/}), $asked, 'the blobs come from the storage now';

    my @m = map { [ new_image($up, 'mod/app'), $_ ] } qw(amd64 arm64);
    my @descs = map { (push_manifest($up, 'mod/app', sha256(enc($_->[0])), $_->[0]))[1] } @m;
    my $index = index_manifest(manifests => [ map {
        { %{ $descs[$_] }, platform => { os => 'linux', architecture => $m[$_][1] } } } 0, 1 ]);
    ($res, my $idesc) = push_manifest($up, 'mod/app', 'multi', $index);
    is $res->code, 201, 'an index pushed upstream';
    $res = get($mirror, '/v2/mod/app/manifests/multi');
    ok $res->code == 200 && $res->content eq enc($index), 'the index through the mirror';
    is $res->header('Content-Type'), OCI_INDEX, 'as an index';
    $res = get($mirror, "/v2/mod/app/manifests/$descs[1]{digest}");
    ok $res->code == 200 && $res->content eq enc($m[1][0]), 'a manifest it lists, by digest';

    is_error get($mirror, '/v2/mod/app/manifests/nosuch'), 404, 'MANIFEST_UNKNOWN',
        'a tag the upstream does not have';
    is_error get($mirror, '/v2/mod/app/blobs/' . sha256(unique())), 404, 'BLOB_UNKNOWN',
        'a blob the upstream does not have';
};

subtest 'referrers: the upstream\'s and the mirror\'s, merged' => sub {
    plan skip_all => 'no image' unless $img_desc;
    my $subject = { mediaType => OCI_MANIFEST, digest => $img_desc->{digest}, size => $img_desc->{size} };
    my $theirs = push_artifact($up, 'mod/app', artifact($subject, SIGNATURE));
    my ($res, $body) = referrers($up, 'mod/app', $subject->{digest});
    is_deeply digests($body), [ $theirs->{digest} ], 'the upstream lists its artifact';

    my $lists = upstream_asked(qr{^/v2/mod/app/referrers/});
    ($res, $body) = referrers($mirror, 'mod/app', $subject->{digest});
    is $res->code, 200, 'referrers through the mirror: 200' or diag dump_res($res);
    is $res->header('OCI-Namespace'), 'module.test', 'OCI-Namespace';
    is_deeply digests($body), [ $theirs->{digest} ], 'the upstream\'s artifact appears'
        or diag dump_res($res);

    is upstream_asked(qr{^/v2/mod/app/referrers/}), ++$lists, 'the upstream\'s list was asked for';
    ($res, $body) = referrers($mirror, 'mod/app', $subject->{digest});
    is_deeply digests($body), [ $theirs->{digest} ], 'listed again';
    is upstream_asked(qr{^/v2/mod/app/referrers/}), $lists, 'from the local index (within the TTL)';

    my $ours = push_artifact($mirror, 'mod/app', artifact($subject, SBOM));
    ok !upstream_asked(qr{^/v2/mod/app/manifests/\Q$ours->{digest}\E}), 'the upstream never saw ours';
    ($res, $body) = referrers($up, 'mod/app', $subject->{digest});
    is_deeply digests($body), [ $theirs->{digest} ], 'the upstream still lists its own only';
    $lists = upstream_asked(qr{^/v2/mod/app/referrers/});

    ($res, $body) = referrers($mirror, 'mod/app', $subject->{digest});
    is $res->code, 200, 'referrers through the mirror: 200';
    is_deeply digests($body), [ sort $theirs->{digest}, $ours->{digest} ],
        'both artifacts, the upstream\'s and the one pushed to the mirror' or diag dump_res($res);
    my %by = map { $_->{digest} => $_ } @{ $body->{manifests} || [] };
    is $by{ $theirs->{digest} }{artifactType}, SIGNATURE, 'the upstream\'s with its artifactType';
    is $by{ $ours->{digest} }{artifactType}, SBOM, 'ours with its artifactType';
    is $by{ $theirs->{digest} }{size}, $theirs->{size}, 'and its size';
    is upstream_asked(qr{^/v2/mod/app/referrers/}), $lists + 1,
        'the push here made the listing ask the upstream again (once)';

    ($res, $body) = referrers($mirror, 'mod/app', $subject->{digest}, '?artifactType=' . SIGNATURE);
    is_deeply digests($body), [ $theirs->{digest} ], 'filtered: the upstream\'s only';
    is $res->header('OCI-Filters-Applied'), 'artifactType', 'OCI-Filters-Applied';
    ($res, $body) = referrers($mirror, 'mod/app', $subject->{digest}, '?artifactType=' . SBOM);
    is_deeply digests($body), [ $ours->{digest} ], 'filtered: ours only';

    # the upstream's artifact pulled through the mirror: still listed once
    $res = get($mirror, "/v2/mod/app/manifests/$theirs->{digest}");
    is $res->code, 200, 'the upstream\'s artifact pulled through the mirror';
    ($res, $body) = referrers($mirror, 'mod/app', $subject->{digest});
    is_deeply digests($body), [ sort $theirs->{digest}, $ours->{digest} ], 'each listed once';
    is scalar @{ $body->{manifests} || [] }, 2, 'two entries';

    my $none = sha256(unique());
    ($res, $body) = referrers($mirror, 'mod/app', $none);
    is $res->code, 200, 'a subject nobody refers to: 200';
    is_deeply digests($body), [], 'an empty list';
};

stops_cleanly $mirror, 'the mirror';
stops_cleanly $up, 'the upstream';
done_testing;
