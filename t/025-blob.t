# Blobs: GET, HEAD, ranges, DELETE and the $oci_* variables, as
# docs/api.md promises. Requests that fail on their own (unknown blobs,
# bad digests, methods, deletes off, traversal) are t/026-blob-errors.t.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use Time::HiRes qw(sleep time);

# --- the main server (deletes on) -----------------------------------------

my $srv = OCI::Harness->start(config => registry_conf('oci_delete on;'));

my $data = random_bytes(1000);
my $d = push_blob($srv, 'lib/app', $data)->{digest};

subtest 'GET and HEAD of a blob' => sub {
    my $res = $srv->req('GET', "/v2/lib/app/blobs/$d");
    is_status $res, 200, 'GET';
    ok $res->content eq $data, 'the bytes pushed';
    is $res->header('Content-Type'), 'application/octet-stream', 'Content-Type';
    is $res->header('Content-Length'), 1000, 'Content-Length';
    is $res->header('Docker-Content-Digest'), $d, 'Docker-Content-Digest';
    is $res->header('ETag'), qq{"$d"}, 'ETag is the quoted digest';
    is $res->header('Accept-Ranges'), 'bytes', 'Accept-Ranges';
    is $res->header('Docker-Distribution-API-Version'), 'registry/2.0', 'API version';

    $res = $srv->req('HEAD', "/v2/lib/app/blobs/$d");
    is_status $res, 200, 'HEAD';
    is $res->content, '', 'HEAD has no body';
    is $res->header('Content-Length'), 1000, 'HEAD has the Content-Length';
    is $res->header('Content-Type'), 'application/octet-stream', 'HEAD Content-Type';
    is $res->header('Docker-Content-Digest'), $d, 'HEAD Docker-Content-Digest';
    is $res->header('ETag'), qq{"$d"}, 'HEAD ETag';

    my $e = push_blob($srv, 'lib/app', '')->{digest};
    $res = $srv->req('GET', "/v2/lib/app/blobs/$e");
    is_status $res, 200, 'GET of the empty blob';
    is $res->header('Content-Length'), 0, 'Content-Length 0';
    is $res->content, '', 'empty body';
};

subtest 'Range requests' => sub {
    my $res = $srv->req('GET', "/v2/lib/app/blobs/$d", headers => [ Range => 'bytes=0-3' ]);
    is_status $res, 206, 'bytes=0-3';
    is $res->header('Content-Range'), 'bytes 0-3/1000', 'Content-Range';
    is $res->header('Content-Length'), 4, 'Content-Length';
    ok $res->content eq substr($data, 0, 4), 'the first 4 bytes';

    $res = $srv->req('GET', "/v2/lib/app/blobs/$d", headers => [ Range => 'bytes=-10' ]);
    is_status $res, 206, 'suffix range bytes=-10';
    is $res->header('Content-Range'), 'bytes 990-999/1000', 'Content-Range';
    ok $res->content eq substr($data, 990), 'the last 10 bytes';

    $res = $srv->req('GET', "/v2/lib/app/blobs/$d", headers => [ Range => 'bytes=500-' ]);
    is_status $res, 206, 'open range bytes=500-';
    is $res->header('Content-Range'), 'bytes 500-999/1000', 'Content-Range';
    ok $res->content eq substr($data, 500), 'the second half';

    $res = $srv->req('GET', "/v2/lib/app/blobs/$d", headers => [ Range => 'bytes=1000-' ]);
    is $res->code, 416, 'bytes=1000- is unsatisfiable' or diag dump_res($res);
    like $res->header('Content-Type'), qr{^application/json}, '416 is JSON';
    like error_code($res), qr/^[A-Z_]+$/, '416 has an error code: ' . error_code($res);
    is $res->header('Content-Range'), 'bytes */1000', '416 keeps Content-Range';
    unlike $res->content, qr/\Q$data\E/, 'no content in the 416';
};

subtest 'a blob is not readable through another repository' => sub {
    is_error $srv->req('GET', "/v2/other/blobs/$d"), 404, 'BLOB_UNKNOWN', 'repository other';
    is_error $srv->req('GET', "/v2/lib/blobs/$d"), 404, 'BLOB_UNKNOWN', 'parent repository lib';
    is_error $srv->req('GET', "/v2/lib/app/sub/blobs/$d"), 404, 'BLOB_UNKNOWN', 'child lib/app/sub';
    is $srv->req('HEAD', "/v2/lib/ap/blobs/$d")->code, 404, 'HEAD through lib/ap: 404';
    ok -f blob_path($srv, $d), 'the content exists all the same';
};

subtest 'DELETE of a blob with oci_delete on' => sub {
    my $x = random_bytes(300);
    my $xd = push_blob($srv, 'del/one', $x)->{digest};
    push_blob($srv, 'del/two', $x);
    my $res = $srv->req('DELETE', "/v2/del/one/blobs/$xd");
    is_status $res, 202, 'DELETE';
    is_error $srv->req('GET', "/v2/del/one/blobs/$xd"), 404, 'BLOB_UNKNOWN', 'GET after DELETE';
    ok !-e link_path($srv, 'del/one', '_blobs', $xd), 'the repository link is gone';
    ok -f blob_path($srv, $xd), 'the content file remains (garbage collection removes it)';
    is -s blob_path($srv, $xd), 300, 'content file intact';
    is $srv->req('GET', "/v2/del/two/blobs/$xd")->content, $x, 'another repository still serves it';
    is_error $srv->req('DELETE', "/v2/del/one/blobs/$xd"), 404, 'BLOB_UNKNOWN', 'DELETE again';
    is_error $srv->req('DELETE', "/v2/del/none/blobs/$xd"), 404, 'BLOB_UNKNOWN',
        'DELETE in a repository that never had it';
};

# --- variables in the access log -------------------------------------------

subtest '$oci_* variables in the access log' => sub {
    my $v = OCI::Harness->start(
        http_config => q{    log_format oci '$request_method $status action=[$oci_action] }
                     . q{repo=[$oci_repository] ref=[$oci_reference] digest=[$oci_digest] }
                     . q{in=[$oci_bytes_received]';},
        config => registry_conf('oci_delete on;',
                                'access_log $TEST_NGINX_SERVER_ROOT/logs/oci.log oci;'),
    );
    my $log = $v->path('logs', 'oci.log');
    my $x = random_bytes(100);
    my $xd = sha256($x);
    is_status $v->req('POST', "/v2/acme/web/blobs/uploads/?digest=$xd", body => $x), 201,
        'monolithic POST';
    is_status $v->req('GET', "/v2/acme/web/blobs/$xd"), 200, 'GET';
    is_status $v->req('HEAD', "/v2/acme/web/blobs/$xd"), 200, 'HEAD';
    is_status $v->req('DELETE', "/v2/acme/web/blobs/$xd"), 202, 'DELETE';

    my $y = random_bytes(50);
    my $yd = sha256($y);
    my $res = $v->req('POST', '/v2/acme/api/blobs/uploads/');
    is_status $res, 202, 'POST opens a session';
    my $loc = $res->header('Location');
    my ($id) = $loc =~ m{/([0-9a-f]{32})$};
    is_status $v->req('PATCH', $loc, body => $y), 202, 'PATCH';
    is_status $v->req('PUT', "$loc?digest=$yd"), 201, 'closing PUT';
    is_status $v->req('GET', '/v2/'), 200, 'base endpoint';

    my @lines;
    my $deadline = time + 3;
    while (time < $deadline) {
        @lines = split /\n/, slurp($log);
        last if @lines >= 8;
        sleep 0.05;
    }
    is_deeply \@lines, [
        "POST 201 action=[push] repo=[acme/web] ref=[] digest=[$xd] in=[100]",
        "GET 200 action=[pull] repo=[acme/web] ref=[$xd] digest=[$xd] in=[0]",
        "HEAD 200 action=[pull] repo=[acme/web] ref=[$xd] digest=[$xd] in=[0]",
        "DELETE 202 action=[delete] repo=[acme/web] ref=[$xd] digest=[$xd] in=[0]",
        "POST 202 action=[push] repo=[acme/api] ref=[] digest=[] in=[0]",
        "PATCH 202 action=[push] repo=[acme/api] ref=[$id] digest=[] in=[50]",
        "PUT 201 action=[push] repo=[acme/api] ref=[$id] digest=[$yd] in=[0]",
        "GET 200 action=[] repo=[] ref=[] digest=[] in=[0]",
    ], 'action, repository, reference, digest and body bytes of each request';
};

stops_cleanly $srv;

done_testing;
