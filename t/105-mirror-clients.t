# Real clients through a mirror of docker-registry 2.8.2: an image of two
# layers and a two-platform index, built with umoci and pushed to the
# upstream with skopeo. skopeo inspects them through the mirror (the raw
# manifests' digests are the upstream's) and copies them out of it into
# OCI layouts (every blob byte for byte the original), a second time from
# the mirror's storage alone; podman, with the registries.conf mirror
# entry of docs/mirrors.md (as written there, for the upstream's name),
# pulls the image and the arm64 image of the index (digests and image IDs
# as built).
#
# Needs docker-registry, skopeo and umoci; podman and buildah for the
# podman part (skipped, saying why, where they cannot run).

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Distribution;
use OCI::Harness;
use OCI::Layout;
use OCI::Sandbox;
use OCI::Test;
use OCI::Upstream;
use Test::More;
use JSON::XS qw(decode_json);

my @missing = grep { !which($_) } qw(docker-registry skopeo umoci);
plan skip_all => "@missing not installed (make test installs them)" if @missing;

my $SB = OCI::Sandbox->new('oci-mirror');
my $TMP = $SB->dir;
my $SRC = "$TMP/src";
my %D = sample_layout($SRC, $TMP, big => 3 * 1024 * 1024 + 7);
$SB->give_away;

my $up = OCI::Distribution->start or BAIL_OUT($OCI::Distribution::WHY);
my $UP = $up->host;
my @NOTLS = ('--tls-verify=false');

$SB->run_ok('push the image to the upstream', 'skopeo', 'copy', '--preserve-digests',
            '--dest-tls-verify=false', "oci:$SRC:image", "docker://$UP/e2e/image:v1");
$SB->run_ok('push the index to the upstream', 'skopeo', 'copy', '--all', '--preserve-digests',
            '--dest-tls-verify=false', "oci:$SRC:multi", "docker://$UP/e2e/multi:v1");

my $mirror = OCI::Harness->start(log_level => 'info',
    http_config => q{log_format mirror '$request_method $request_uri $status';},
    config => mirror_conf([ [ $up, 'up.test' ] ], 'access_log logs/mirror.log mirror;'));
my $REG = '127.0.0.1:' . $mirror->port;

sub raw_digest {
    my ($reg, $ref) = @_;
    my ($rc, $out, $err) = $SB->run('skopeo', 'inspect', @NOTLS, '--raw', "docker://$reg/$ref");
    return $rc == 0 ? sha256($out) : "skopeo failed: " . $SB->quiet($err);
}

sub config_of {
    my ($digest) = @_;
    return decode_json(slurp(layout_blob($SRC, $digest)))->{config}{digest};
}

subtest 'skopeo through the mirror' => sub {
    is raw_digest($UP, 'e2e/image:v1'), $D{image}, 'the upstream holds the image';
    is raw_digest($REG, 'e2e/image:v1'), $D{image},
        'inspect --raw through the mirror: the upstream\'s image digest';
    is raw_digest($REG, 'e2e/multi:v1'), $D{multi}, 'and its index digest';
    is raw_digest($REG, "e2e/multi\@$D{arm64}"), $D{arm64}, 'the arm64 manifest by digest';

    my $out = $SB->run_ok('inspect the index for arm64', 'skopeo', '--override-arch', 'arm64',
                          'inspect', @NOTLS, "docker://$REG/e2e/multi:v1");
    is +(dec($out // '') || {})->{Architecture}, 'arm64', 'the index resolves to arm64';

    if ($SB->run_ok('copy the image out of the mirror', 'skopeo', 'copy', '--preserve-digests',
                    '--src-tls-verify=false', "docker://$REG/e2e/image:v1", "oci:$TMP/out1:image")) {
        same_layout($SRC, "$TMP/out1", 'image', $D{image}, 'image');
    }
    if ($SB->run_ok('copy the index with --all', 'skopeo', 'copy', '--all', '--preserve-digests',
                    '--src-tls-verify=false', "docker://$REG/e2e/multi:v1", "oci:$TMP/out2:multi")) {
        same_layout($SRC, "$TMP/out2", 'multi', $D{multi}, 'index');
    }
    my @all = (keys %{ reachable($SRC, $D{image}) }, keys %{ reachable($SRC, $D{multi}) });
    eventually(sub { !grep { !-f blob_path($mirror, $_) } @all });
    my @missing = grep { !-f blob_path($mirror, $_) } @all;
    is_deeply \@missing, [], 'the mirror stored every blob and manifest';

    my $asked = $up->requests('GET', qr{/blobs/});
    if ($SB->run_ok('copy the image again', 'skopeo', 'copy', '--preserve-digests',
                    '--src-tls-verify=false', "docker://$REG/e2e/image:v1", "oci:$TMP/out3:image")) {
        same_layout($SRC, "$TMP/out3", 'image', $D{image}, 'image again');
    }
    is $up->requests('GET', qr{/blobs/}), $asked, 'the upstream was asked for no blob';
};

subtest 'podman with a registries.conf mirror entry' => sub {
    my $why_not = $SB->containers->podman_why_not;
    plan skip_all => $why_not if $why_not;

    # the entry of docs/mirrors.md, for the name up.test; its own location
    # is a port of 127.0.0.1 where nothing listens: only the mirror answers
    my $conf = doc_block('docs/mirrors.md', qr{^\s*# /etc/containers/registries\.conf});
    my $closed = OCI::Server::free_port();
    my $n = ($conf =~ s/^prefix = "docker\.io"$/prefix = "up.test"/m)
          + ($conf =~ s/^location = "docker\.io"$/location = "127.0.0.1:$closed"/m)
          + ($conf =~ s/^location = "mirror:8080"$/location = "$REG"/m)
          + ($conf =~ /^insecure = true$/m);
    is $n, 4, 'docs/mirrors.md has the registries.conf entry' or return diag $conf;
    spew("$TMP/registries.conf", $conf);
    $SB->give_away;
    my $off = length slurp($mirror->path('logs', 'mirror.log'));

    $SB->run_ok('podman pull up.test/e2e/image:v1', 'podman', 'pull', 'up.test/e2e/image:v1')
        or return;
    my ($rc, $out) = $SB->run('podman', 'image', 'inspect', 'up.test/e2e/image:v1');
    my $info = (dec($out) || [])->[0] || {};
    is $info->{Digest}, $D{image}, 'podman inspect: the upstream\'s digest';
    is 'sha256:' . ($info->{Id} // ''), config_of($D{image}), 'the image ID is its config digest';
    is scalar @{ $info->{RootFS}{Layers} || [] }, 2, 'two layers';
    like substr(slurp($mirror->path('logs', 'mirror.log')), $off),
        qr{^GET /v2/e2e/image/manifests/v1\S* 200$}m, 'pulled through the mirror';

    $SB->run_ok('podman pull --arch arm64 of the index', 'podman', 'pull', '--arch', 'arm64',
                'up.test/e2e/multi:v1') or return;
    ($rc, $out) = $SB->run('podman', 'image', 'inspect', 'up.test/e2e/multi:v1');
    $info = (dec($out) || [])->[0] || {};
    is 'sha256:' . ($info->{Id} // ''), config_of($D{arm64}), 'the arm64 image came out of the index';
    is $info->{Architecture}, 'arm64', 'podman inspect: arm64';
    like substr(slurp($mirror->path('logs', 'mirror.log')), $off),
        qr{^GET /v2/e2e/multi/manifests/\Q$D{arm64}\E\S* 200$}m,
        'the arm64 manifest through the mirror';
};

stops_cleanly $mirror;
done_testing;
