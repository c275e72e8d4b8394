# End to end with a real client: skopeo pushes OCI image layouts built with
# umoci (an image of two layers, one over 8 MiB, and a two-platform index)
# into the registry, pulls them back out, lists tags, inspects, pushes to a
# third repository (where skopeo mounts blobs it knows from its blob-info
# cache) and deletes. Needs skopeo and umoci (`make test` installs them).

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Layout;
use OCI::Redis;
use OCI::Sandbox;
use OCI::Test;
use Test::More;
use JSON::XS qw(decode_json);
use Time::HiRes qw(time);

my $T0 = time;

my @missing = grep { !which($_) } qw(skopeo umoci);
plan skip_all => "@missing not installed (make test installs them)" if @missing;

my $REF_NAME = 'org.opencontainers.image.ref.name';

# skopeo keeps a blob-info cache (which repositories of which registry hold
# a digest; it is what makes it try cross-repository mounts): the sandbox
# keeps it in its scratch directory.
my $SB = OCI::Sandbox->new('oci-e2e');
my $TMP = $SB->dir;

my $SRC = "$TMP/src";
my $BIG = 9 * 1024 * 1024 + 12345;      # gzip cannot shrink random bytes

umoci('init', '--layout', $SRC);
# image: two layers, the first over 8 MiB
umoci('new', '--image', "$SRC:image");
umoci('insert', '--image', "$SRC:image", random_file("$TMP/big.bin", $BIG), '/data/big.bin');
umoci('insert', '--image', "$SRC:image", random_file("$TMP/small.bin", 3000), '/data/small.bin');
umoci('config', '--image', "$SRC:image", '--os', 'linux', '--architecture', 'amd64');
# two single-layer images for the index
for my $arch (qw(amd64 arm64)) {
    umoci('new', '--image', "$SRC:$arch");
    umoci('insert', '--image', "$SRC:$arch", random_file("$TMP/$arch.bin", 70000), "/$arch.bin");
    umoci('config', '--image', "$SRC:$arch", '--os', 'linux', '--architecture', $arch);
}
umoci('gc', '--layout', $SRC);
my $INDEX = add_index($SRC, 'multi', [ 'amd64', 'linux', 'amd64' ], [ 'arm64', 'linux', 'arm64' ]);
$SB->give_away;

my $IMAGE = layout_ref($SRC, 'image')->{digest};
my $AMD   = layout_ref($SRC, 'amd64')->{digest};
my $ARM   = layout_ref($SRC, 'arm64')->{digest};
my $image_m = decode_json(slurp(layout_blob($SRC, $IMAGE)));
is scalar @{ $image_m->{layers} }, 2, 'umoci built an image of two layers';
cmp_ok $image_m->{layers}[0]{size}, '>', 8 * 1024 * 1024, 'its first layer is over 8 MiB';

# --- the registry -------------------------------------------------------------

# the referrers index, for the artifact with a subject
my $redis = OCI::Redis->start or BAIL_OUT('redis-server is needed');

my $srv = OCI::Harness->start(workers => 2, log_level => 'info',
    http_config => q{log_format e2e '$request_method $request_uri $status $request_length';},
    config => registry_conf('oci_delete on;', 'oci_tags_page_size 2;',
                            'access_log logs/e2e.log e2e;', 'oci_redis unix:' . $redis->socket . ';'));
my $E2E_LOG = $srv->path('logs', 'e2e.log');
my $REG = '127.0.0.1:' . $srv->port;
my @NOTLS = ('--tls-verify=false');

sub registry_digest {
    my ($ref) = @_;
    my ($rc, $out, $err) = $SB->run('skopeo', 'inspect', @NOTLS, '--raw', "docker://$REG/$ref");
    return $rc == 0 ? (sha256($out), $out) : ('', $err);
}
sub digest_of { (registry_digest(@_))[0] }

# --- push ---------------------------------------------------------------------

$SB->run_ok('push the image', 'skopeo', 'copy', '--preserve-digests', '--dest-tls-verify=false',
          "oci:$SRC:image", "docker://$REG/e2e/image:v1");
$SB->run_ok('push the index with --all', 'skopeo', 'copy', '--all', '--preserve-digests',
          '--dest-tls-verify=false', "oci:$SRC:multi", "docker://$REG/e2e/multi:v1");

# skopeo streams a blob as one PATCH (chunked transfer encoding)
my @big = grep { /^PATCH \/v2\/e2e\/image\/blobs\/uploads\/\S+ 202 (\d+)$/ && $1 > $BIG }
    split /\n/, slurp($E2E_LOG);
is scalar @big, 1, 'the big layer went through one PATCH of over 9 MiB (202)'
    or diag slurp($E2E_LOG);

my ($got, $raw) = registry_digest('e2e/image:v1');
is $got, $IMAGE, 'image manifest digest through the registry equals the pushed one';
is $raw, slurp(layout_blob($SRC, $IMAGE)), 'and so are its bytes';
($got, $raw) = registry_digest('e2e/multi:v1');
is $got, $INDEX, 'index digest through the registry equals the pushed one';
is(digest_of("e2e/multi\@$ARM"), $ARM, 'the arm64 manifest is there by digest');

my $out = $SB->run_ok('inspect --format {{.Digest}}', 'skopeo', 'inspect', @NOTLS,
                      '--format', '{{.Digest}}',
                    "docker://$REG/e2e/image:v1");
is +($out // '') =~ s/\s+\z//r, $IMAGE, 'inspect reports the pushed digest';

$out = $SB->run_ok('inspect the image', 'skopeo', 'inspect', @NOTLS, "docker://$REG/e2e/image:v1");
my $info = eval { decode_json($out // '') } || {};
is_deeply [ $info->{Os}, $info->{Architecture}, scalar @{ $info->{Layers} || [] } ],
          [ 'linux', 'amd64', 2 ], 'inspect: linux/amd64, two layers';
is_deeply $info->{Layers}, [ map { $_->{digest} } @{ $image_m->{layers} } ],
          'inspect: the layers pushed';

$out = $SB->run_ok('inspect the index for arm64', 'skopeo', '--override-arch', 'arm64',
                  'inspect', @NOTLS,
                 "docker://$REG/e2e/multi:v1");
$info = eval { decode_json($out // '') } || {};
is $info->{Architecture}, 'arm64', 'the index resolves to the arm64 image';

# three more tags, so that the list takes two pages of 2 (Link: rel="next")
for my $tag (qw(v2 v3 v4)) {
    my $res = $srv->req('PUT', "/v2/e2e/image/manifests/$tag",
                        body => slurp(layout_blob($SRC, $IMAGE)),
                        headers => [ 'Content-Type' => OCI_MANIFEST ]);
    is $res->code, 201, "tag $tag added by PUT";
}
$out = $SB->run_ok('list-tags', 'skopeo', 'list-tags', @NOTLS, "docker://$REG/e2e/image");
$info = eval { decode_json($out // '') } || {};
is_deeply $info->{Tags}, [qw(v1 v2 v3 v4)], 'list-tags follows the pages and lists all tags';

# --- an artifact with a subject, listed by the referrers API -------------------

# A signature-like artifact as oras or cosign would make it: the empty
# config, one layer, an artifactType, and the image as its subject.
sub add_artifact {
    my ($layout, $name, $subject) = @_;
    my $empty = sha256('{}');
    spew(layout_blob($layout, $empty), '{}');
    my $payload = "signature of $subject->{digest} " . rand();
    my $pd = sha256($payload);
    spew(layout_blob($layout, $pd), $payload);
    my $body = enc({
        schemaVersion => 2, mediaType => OCI_MANIFEST,
        artifactType => 'application/vnd.example.signature',
        config => { mediaType => 'application/vnd.oci.empty.v1+json',
                    digest => $empty, size => 2 },
        layers => [ { mediaType => 'application/vnd.example.signature.v1',
                      digest => $pd, size => length $payload } ],
        subject => { mediaType => $subject->{mediaType} // OCI_MANIFEST,
                     digest => $subject->{digest}, size => $subject->{size} },
        annotations => { 'org.example.signer' => 'e2e' } });
    my $digest = sha256($body);
    spew(layout_blob($layout, $digest), $body);
    my $index = layout_index($layout);
    push @{ $index->{manifests} }, { mediaType => OCI_MANIFEST, digest => $digest,
        size => length $body, annotations => { $REF_NAME => $name } };
    spew("$layout/index.json.tmp", enc($index));
    rename "$layout/index.json.tmp", "$layout/index.json" or die "rename: $!\n";
    $SB->give_away;
    return ($digest, length $body);
}

my ($SIG, $SIG_SIZE) = add_artifact($SRC, 'sig', layout_ref($SRC, 'image'));
my $res = $srv->req('GET', "/v2/e2e/image/referrers/$IMAGE");
is_deeply decode_json($res->content)->{manifests}, [], 'no referrers before the artifact';

$SB->run_ok('push the artifact', 'skopeo', 'copy', '--preserve-digests', '--dest-tls-verify=false',
          "oci:$SRC:sig", "docker://$REG/e2e/image:sig");
is digest_of('e2e/image:sig'), $SIG, 'the artifact digest round-trips';

$res = $srv->req('GET', "/v2/e2e/image/referrers/$IMAGE");
is $res->code, 200, 'referrers of the image: 200';
is_deeply decode_json($res->content)->{manifests}, [ {
    mediaType => OCI_MANIFEST, digest => $SIG, size => $SIG_SIZE,
    artifactType => 'application/vnd.example.signature',
    annotations => { 'org.example.signer' => 'e2e' } } ],
    'the artifact is listed with its artifactType and annotations';
$res = $srv->req('GET', "/v2/e2e/image/referrers/$IMAGE"
                 . '?artifactType=application/vnd.example.signature');
is $res->header('OCI-Filters-Applied'), 'artifactType', 'filtered listing';

# --- pull ---------------------------------------------------------------------

my $OUT1 = "$TMP/pulled-image";
my $OUT2 = "$TMP/pulled-multi";
if ($SB->run_ok('pull the image', 'skopeo', 'copy', '--preserve-digests', '--src-tls-verify=false',
              "docker://$REG/e2e/image:v1", "oci:$OUT1:image")) {
    same_layout($SRC, $OUT1, 'image', $IMAGE, 'image');
}
if ($SB->run_ok('pull the index with --all', 'skopeo', 'copy', '--all', '--preserve-digests',
              '--src-tls-verify=false', "docker://$REG/e2e/multi:v1", "oci:$OUT2:multi")) {
    same_layout($SRC, $OUT2, 'multi', $INDEX, 'index');
}

# --- a third repository: skopeo mounts what its cache says e2e/image has ---------

my $access_off = -s $E2E_LOG || 0;
$SB->run_ok('push the image to a third repository', 'skopeo', 'copy', '--preserve-digests',
          '--dest-tls-verify=false', "oci:$SRC:image", "docker://$REG/e2e/third:v1");
is(digest_of('e2e/third:v1'), $IMAGE, 'third repository: same manifest digest');

my $access = substr(slurp($E2E_LOG), $access_off);
my @mounts = $access =~ m{^POST /v2/e2e/third/blobs/uploads/\?\S*mount=\S* (\d+) }mg;
ok scalar(grep { $_ == 201 } @mounts), 'skopeo mounted blobs from e2e/image (201)'
    or diag "access log of the push:\n$access";
my @blobs = ($image_m->{config}{digest}, map { $_->{digest} } @{ $image_m->{layers} });
my @unlinked = grep { my ($alg, $h) = split /:/; !-f $srv->storage . "/repositories/e2e/third/_blobs/$alg/$h" } @blobs;
is_deeply \@unlinked, [], 'config and layers are linked in repositories/e2e/third/_blobs/';
my @shared = grep {
    my ($alg, $h) = split /:/;
    my @s1 = stat($srv->storage . "/repositories/e2e/third/_blobs/$alg/$h");
    my @s2 = stat($srv->storage . "/repositories/e2e/image/_blobs/$alg/$h");
    @s1 && @s2 && $s1[1] == $s2[1];
} @blobs;
is scalar @shared, scalar @blobs, 'as the same files as in e2e/image (hard links)';

# --- delete -------------------------------------------------------------------

$SB->run_ok('skopeo delete', 'skopeo', 'delete', @NOTLS, "docker://$REG/e2e/third:v1");
$res = $srv->req('HEAD', "/v2/e2e/third/manifests/$IMAGE");
is $res->code, 404, 'the deleted manifest is gone by digest';
$res = $srv->req('GET', '/v2/e2e/third/manifests/v1');
is $res->code, 404, 'and by tag';
my ($rc) = $SB->run('skopeo', 'inspect', @NOTLS, '--raw', "docker://$REG/e2e/third:v1");
isnt $rc, 0, 'skopeo inspect fails after the delete';
$SB->run_ok('skopeo delete of the index', 'skopeo', 'delete', @NOTLS, "docker://$REG/e2e/multi:v1");
is $srv->req('HEAD', "/v2/e2e/multi/manifests/$INDEX")->code, 404, 'the index is gone';
is $srv->req('HEAD', "/v2/e2e/multi/manifests/$ARM")->code, 200,
    'the manifests it listed stay (by digest)';
is(digest_of('e2e/image:v1'), $IMAGE, 'e2e/image is untouched');
$res = $srv->req('HEAD', "/v2/e2e/image/blobs/$image_m->{layers}[0]{digest}");
is $res->code, 200, 'and so are its blobs';

# --- the server ---------------------------------------------------------------

stops_cleanly $srv;

note sprintf 'took %.1f s', time - $T0;
done_testing;
