# A mirror of upstreams that want Bearer tokens: docker-registry 2.8.2 with
# `auth: token`, its tokens issued by this module's issuer (oci_token_issue)
# in an nginx of its own, reached through oci_proxy_follow. First an
# issuer that grants pull to anonymous requests: the token dance works,
# and the token is kept (one request to the token endpoint for many pulls
# of one repository within its lifetime, another for another repository).
# Then an issuer that refuses anonymous requests and grants pull to a
# user: the upstream with credentials=file works the same way, as that
# user, never anonymously; the same upstream without credentials gets
# 502 naming the upstream's refusal.
#
# The mirror has one worker: tokens are kept per worker. Needs
# docker-registry.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Distribution;
use OCI::Test;
use OCI::Upstream;
use Test::More;
use File::Temp qw(tempdir);

plan skip_all => 'docker-registry is not installed (make test installs it)'
    unless which('docker-registry');

my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST;

my $open_iss = OCI::Upstream::Issuer->start(anonymous => 'pull');
my $open = OCI::Distribution->start(token => $open_iss) or BAIL_OUT($OCI::Distribution::WHY);
my $user_iss = OCI::Upstream::Issuer->start(anonymous => '', users => { alice => 'secret' });
my $closed = OCI::Distribution->start(token => $user_iss) or BAIL_OUT($OCI::Distribution::WHY);

my $CRED = tempdir(CLEANUP => 1) . '/alice';
spew($CRED, "alice:secret\n");
chmod 0600, $CRED;

# tag_ttl 0: every pull by tag goes to the upstream, with a token
my $mirror = OCI::Harness->start(config => mirror_conf(
    [ [ $open, 'open.test', 'default' ],
      [ $closed, 'closed.test', "credentials=$CRED" ],
      [ $closed, 'nocred.test' ] ],
    'oci_proxy_tag_ttl 0;'));

sub get { $mirror->req('GET', $_[0], headers => [ Accept => $ACCEPT ]) }

# every blob of the image and its manifest by tag, $n times, through the
# mirror; a test each
sub pulls {
    my ($repo, $img, $ns, $n) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $q = $ns ? "?ns=$ns" : '';
    my @bad;
    for my $d (sort keys %{ $img->{blobs} }) {
        my $res = get("/v2/$repo/blobs/$d$q");
        push @bad, "blob $d: " . $res->code unless $res->code == 200 && $res->content eq $img->{blobs}{$d};
    }
    for my $i (1 .. $n) {
        my $res = get("/v2/$repo/manifests/v1$q");
        push @bad, "manifest, pull $i: " . $res->code
            unless $res->code == 200 && $res->content eq $img->{manifest};
    }
    is_deeply \@bad, [], "$repo: the blobs and $n pulls by tag through the mirror";
}

subtest 'an upstream granting anonymous pulls' => sub {
    my $res = OCI::Client::request_once($open->port, 'GET', '/v2/tok/app/manifests/v1');
    is $res->code, 401, 'the upstream wants a token';
    like $res->header('WWW-Authenticate') // '', qr/^Bearer realm="\Q${\ $open_iss->realm }\E"/,
        'from the issuer';

    my $img = $open->push_image('tok/app', 'v1');
    my @more = map { $open->push_blob('tok/app', random_bytes(3000 + $_)) } 1 .. 3;
    is scalar($open_iss->requests), 0, 'no token asked for yet';
    pulls('tok/app', $img, undef, 5);
    my @asked = $open_iss->requests;
    is scalar(@asked), 1, 'one token request for the repository' or diag join "\n", @asked;
    like $asked[0] // '', qr{scope=repository(?::|%3A)tok(?:/|%2F)app(?::|%3A)pull\b}i,
        'for pull of tok/app';
    is scalar($open_iss->requests('')), 1, 'made anonymously';

    for my $d (@more) {
        $res = get("/v2/tok/app/blobs/$d->{digest}");
        is $res->code, 200, "a blob of $d->{size} bytes";
    }
    is scalar($open_iss->requests), 1, 'still one token request';

    my $other = $open->push_image('tok/other', 'v1');
    pulls('tok/other', $other, undef, 2);
    is scalar($open_iss->requests), 2, 'another repository: another token';
    pulls('tok/app', $img, undef, 2);
    is scalar($open_iss->requests), 2, 'back to the first: its token is still kept';
};

subtest 'an upstream granting a user only: credentials=file' => sub {
    my $img = $closed->push_image('cred/app', 'v1');
    my $res = OCI::Client::request_once($user_iss->port, 'GET',
        '/token?service=' . $user_iss->service . '&scope=repository:cred/app:pull');
    is $res->code, 401, 'the issuer refuses anonymous requests';
    my $before = scalar $user_iss->requests;

    pulls('cred/app', $img, 'closed.test', 4);
    my @asked = $user_iss->requests;
    is scalar(@asked) - $before, 1, 'one token request' or diag join "\n", @asked;
    is scalar($user_iss->requests('alice')), 1, 'as alice';
    my $res2 = get('/v2/cred/app/manifests/v1?ns=closed.test');
    is $res2->header('OCI-Namespace'), 'closed.test', 'OCI-Namespace';

    my $img2 = $closed->push_image('cred/nocred', 'v1');
    $res = get('/v2/cred/nocred/manifests/v1?ns=nocred.test');
    is $res->code, 502, 'without credentials: 502' or diag dump_res($res);
    like $res->header('Content-Type') // '', qr{^application/json}, 'a JSON error';
    like error_json($res)->{message} // '', qr/\b401\b/, 'whose message names the 401';
    $res = get("/v2/cred/nocred/blobs/$img2->{config}{digest}?ns=nocred.test");
    is $res->code, 502, 'a blob without credentials: 502';
    ok !-e blob_path($mirror, $img2->{config}{digest}), 'nothing stored';
    $res = get("/v2/cred/nocred/blobs/$img2->{config}{digest}?ns=closed.test");
    ok $res->code == 200 && $res->content eq $img2->{blobs}{ $img2->{config}{digest} },
        'the same blob through the upstream with credentials';
};

stops_cleanly $mirror;
done_testing;
