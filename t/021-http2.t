# Uploads and pulls over HTTP/2 (h2c, prior knowledge): request bodies
# reach the module through nginx's HTTP/2 body reader.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use OCI::Harness;
use OCI::Test;

my $curl = '/usr/bin/curl';
plan skip_all => 'curl not installed' unless -x $curl;

my $h2_port = OCI::Server::free_port();
my $srv = OCI::Harness->start(workers => 2, vars => { TEST_NGINX_H2_PORT => $h2_port },
    config => "    listen 127.0.0.1:\$TEST_NGINX_H2_PORT http2;\n\n" . registry_conf());

my $tmp = tempdir(CLEANUP => 1);
my $h2 = "http://127.0.0.1:$h2_port";

sub curl {
    my (@args) = @_;
    open my $fh, '-|', $curl, '-s', '--http2-prior-knowledge', '--max-time', '20',
        '-D', "$tmp/headers", @args or die "curl: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    open my $hf, '<', "$tmp/headers" or return ($out, '', 0);
    my $headers = do { local $/; <$hf> };
    my ($code) = $headers =~ m{^HTTP/2 (\d+)}m;
    return ($out, $headers, $code // 0);
}

my $blob = random_bytes(3_000_000);
my $d = sha256($blob);
spew("$tmp/blob", $blob);
spew("$tmp/c1", substr $blob, 0, 1_000_000);
spew("$tmp/c2", substr $blob, 1_000_000);

my ($out, $h, $code) = curl('-X', 'POST', '--data-binary', "\@$tmp/blob",
                            "$h2/v2/h2/mono/blobs/uploads/?digest=$d");
is $code, 201, 'monolithic upload over HTTP/2';

($out, $h, $code) = curl('-X', 'POST', "$h2/v2/h2/chunked/blobs/uploads/");
is $code, 202, 'session opened over HTTP/2';
my ($loc) = $h =~ /^location: (\S+)/mi;
like $loc, qr{^/v2/h2/chunked/blobs/uploads/[0-9a-f]{32}$}, 'Location';

($out, $h, $code) = curl('-X', 'PATCH', '-H', 'Content-Range: 0-999999',
                         '--data-binary', "\@$tmp/c1", "$h2$loc");
is $code, 202, 'first chunk';
like $h, qr/^range: 0-999999\r?$/mi, 'Range after the first chunk';

($out, $h, $code) = curl('-X', 'PUT', '--data-binary', "\@$tmp/c2",
                         "$h2$loc?digest=$d");
is $code, 201, 'closing PUT with the last chunk';

for my $repo (qw(mono chunked)) {
    ($out, $h, $code) = curl("$h2/v2/h2/$repo/blobs/$d");
    is $code, 200, "$repo: pulled over HTTP/2";
    ok $out eq $blob, "$repo: identical bytes";
}

($out, $h, $code) = curl('-X', 'PUT', '-H', 'Content-Type: application/json',
                         '--data-binary', '{"schemaVersion":2,"mediaType":"bad"}',
                         "$h2/v2/h2/mono/manifests/latest");
is $code, 400, 'errors over HTTP/2';
like $out, qr/"code":"MANIFEST_INVALID"/, 'with the JSON body';

stops_cleanly $srv;

done_testing;
