# An upstream that redirects its blobs (as Docker Hub sends them to its
# CDN): the mirror follows the Location through oci_proxy_follow, streams
# the blob to the client, and stores it, the same as one served directly;
# the next pull is local. Here the upstream is an nginx answering every
# /v2/ request with a 307 to docker-registry.
#
# Needs docker-registry.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Distribution;
use OCI::Test;
use OCI::Upstream;
use Test::More;

plan skip_all => 'docker-registry is not installed (make test installs it)'
    unless which('docker-registry');

my $up = OCI::Distribution->start or BAIL_OUT($OCI::Distribution::WHY);
my $redirector = OCI::Harness->start(config => <<"CONF");
    location /v2/ {
        return 307 http://127.0.0.1:${\ $up->port }\$request_uri;
    }
CONF
my $mirror = OCI::Harness->start(config => mirror_conf([ [ $redirector, 'up.test' ] ]));

for my $size (5000, 3 * 1024 * 1024 + 7) {
    subtest "a blob of $size bytes behind a redirect" => sub {
        my $bytes = random_bytes($size);
        my $d = $up->push_blob('lib/redir', $bytes)->{digest};
        my $path = "/v2/lib/redir/blobs/$d";

        my $res = $mirror->req('GET', $path, timeout => 60);
        is $res->code, 200, 'the first pull: 200' or diag dump_res($res);
        ok $res->content eq $bytes, 'the bytes of the upstream';
        is $up->requests('GET', $path), 1, 'docker-registry got one GET, redirected to it';
        ok eventually(sub { -f link_path($mirror, 'lib/redir', '_blobs', $d) }),
            'the blob is stored, linked in the repository';
        is_deeply [ fill_files($mirror) ], [], 'no fill file left in _tmp/';

        $res = $mirror->req('GET', $path, timeout => 60);
        is $res->code, 200, 'the second pull: 200';
        ok $res->content eq $bytes, 'the same bytes';
        is $up->requests('GET', $path), 1, 'from storage: docker-registry not asked again';
    };
}

done_testing;
