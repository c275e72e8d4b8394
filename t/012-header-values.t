# Values from the request (or from storage) that reach a response header
# never add a header field, a link or a link parameter: the referrers
# Link with hostile ?artifactType= values, the tag list Link with
# hostile ?n= and ?last=, Location, the subject policy's Warning, and
# $oci_mount_from, which only ever holds a valid repository name. Each
# answer is checked on its header lines as received.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

use constant SIGNATURE => 'application/vnd.example.signature';

# what tries to break out of a value: raw, and percent-encoded
my @HOSTILE = (
    'x>;rel="prev",<http://evil.example/>',
    'a,b;c="d"',
    'x%0d%0aX-Evil:%201',
    'x%0D%0ALink:%20%3Chttp://evil.example/%3E',
    'x%22%3E%3B%20rel%3D%22prev%22%2C%3Chttp://evil.example/%3E',
);

# one header field, no X-Evil, one link with only the rel parameter
sub one_link {
    my ($res, $what) = @_;
    my @links = $res->header('Link');
    my @names = $res->headers->header_field_names;
    ok !grep({ /^x-evil$/i } @names), "$what: no header added"
        or diag dump_res($res);
    is scalar @links, 1, "$what: one Link field";
    like $links[0] // '', qr/^<[^<>",; ]+>; rel="next"$/, "$what: one link, rel only";
    return $links[0] =~ /^<([^>]+)>/ ? $1 : undef;
}

subtest 'referrers: ?artifactType= values are escaped in the next link' => sub {
    my $redis = OCI::Redis->start or plan skip_all => 'redis-server not found';
    my $sock = $redis->socket;
    my $srv = OCI::Harness->start(config => registry_conf("oci_redis unix:$sock;"));
    my (undef, $subject) = push_manifest($srv, 'r', 'v1', new_image($srv, 'r'));
    $srv->req('POST', '/v2/r/blobs/uploads/?digest=' . EMPTY_DIGEST, body => '{}');
    for my $i (1 .. 2) {
        my ($res) = push_manifest($srv, 'r', "s$i", {
            schemaVersion => 2, mediaType => OCI_MANIFEST, artifactType => SIGNATURE,
            config => empty_desc(), layers => [ empty_desc() ], subject => $subject,
            annotations => { 'org.example.n' => "$i" } });
        is $res->code, 201, "referrer $i";
    }
    for my $evil (@HOSTILE) {
        my $res = $srv->req('GET', "/v2/r/referrers/$subject->{digest}?n=1"
                                   . '&artifactType=' . SIGNATURE . "&artifactType=$evil");
        is $res->code, 200, "artifactType=$evil: 200";

        # pages follow digest order: the second page holds the other one
        my ($first) = $res->content =~ /"org\.example\.n":"(\d)"/;
        my $other = ($first // 0) == 1 ? 2 : 1;
        my $next = one_link($res, "artifactType=$evil") // next;
        like $next, qr/&artifactType=\Q${\SIGNATURE}\E&artifactType=[^&]+$/,
            'both filters are kept';
        $res = $srv->req('GET', $next);
        is $res->code, 200, 'the next page is there';
        like $res->content, qr/"org\.example\.n":"$other"/,
            'with the other referrer';
        is scalar(() = $res->header('Link')), 0, 'and no further page';
    }
};

subtest 'tags: ?n= and ?last= cannot reach the Link' => sub {
    my $srv = OCI::Harness->start(config => registry_conf());
    my $m = new_image($srv, 't');
    is put_manifest($srv, 't', $_, enc($m), OCI_MANIFEST)->code, 201, "tag $_" for qw(a b c);
    for my $evil (@HOSTILE) {
        my $res = $srv->req('GET', "/v2/t/tags/list?n=1&last=$evil");
        is $res->code, 200, "last=$evil: 200";
        one_link($res, "last=$evil") if $res->header('Link');
        ok !grep({ /^x-evil$/i } $res->headers->header_field_names), 'no header added';
        $res = $srv->req('GET', "/v2/t/tags/list?n=1$evil");
        is_error $res, 400, 'UNSUPPORTED', "n=1$evil";
        is scalar(() = $res->header('Link')), 0, 'no Link';
    }
    my $res = $srv->req('GET', '/v2/t/tags/list?n=1');
    is one_link($res, 'n=1'), '/v2/t/tags/list?n=1&last=a', 'the next link';
};

subtest 'Location and Warning: one field each, values from the grammar' => sub {
    my $srv = OCI::Harness->start(config => registry_conf('oci_subject_policy warn;'));
    my $res = $srv->req('POST', '/v2/w/blobs/uploads/');
    is scalar(() = $res->header('Location')), 1, 'upload: one Location';
    like $res->header('Location'), qr{^/v2/w/blobs/uploads/[0-9a-f]{32}$}, 'the session';
    for my $evil (@HOSTILE) {
        $res = $srv->req('POST', "/v2/w/blobs/uploads/?mount=" . EMPTY_DIGEST . "&from=$evil");
        is_error $res, 400, 'NAME_INVALID', "from=$evil";
        is scalar(() = $res->header('Location')), 0, 'no Location';
    }
    my $missing = sha256('no such subject');
    $srv->req('POST', '/v2/w/blobs/uploads/?digest=' . EMPTY_DIGEST, body => '{}');
    my $art = enc({ schemaVersion => 2, mediaType => OCI_MANIFEST,
        artifactType => SIGNATURE, config => empty_desc(), layers => [ empty_desc() ],
        subject => { mediaType => OCI_MANIFEST, digest => $missing, size => 10 } });
    $res = put_manifest($srv, 'w', sha256($art), $art, OCI_MANIFEST);
    is $res->code, 201, 'a manifest whose subject is missing';
    my @w = $res->header('Warning');
    is_deeply \@w, [ qq{299 - "subject $missing not found in w"} ], 'one Warning, quoted';
    is_deeply [ $res->header('Location') ], [ '/v2/w/manifests/' . sha256($art) ], 'one Location';
};

subtest '$oci_mount_from: a valid name of a mount request, or empty' => sub {
    my $srv = OCI::Harness->start(config => registry_conf(
        'add_header X-Mount-From "[$oci_mount_from]" always;'));
    my $d = EMPTY_DIGEST;
    my %want = (
        "/v2/m/blobs/uploads/?mount=$d&from=a/b"           => '[a/b]',
        "/v2/m/blobs/uploads/?mount=$d&from=a%2Fb"         => '[a/b]',
        "/v2/m/blobs/uploads/?from=a/b&mount=$d"           => '[a/b]',
        "/v2/m/blobs/uploads/?mount=$d"                    => '[]',
        "/v2/m/blobs/uploads/?from=a/b"                    => '[]',
        "/v2/m/blobs/uploads/?mount=sha256:x&from=a/b"     => '[]',
        "/v2/m/blobs/uploads/?mount=$d&from=a%0d%0aX:%201" => '[]',
        "/v2/m/blobs/uploads/?mount=$d&from=A/B"           => '[]',
    );
    for my $uri (sort keys %want) {
        my $res = $srv->req('POST', $uri);
        is $res->header('X-Mount-From'), $want{$uri}, "POST $uri";
    }
    my $res = $srv->req('GET', "/v2/m/blobs/uploads/?mount=$d&from=a/b");
    is $res->header('X-Mount-From'), '[]', 'not for a GET';
    $res = $srv->req('POST', "/v2/m/blobs/uploads/0123456789abcdef0123456789abcdef?mount=$d&from=a/b");
    is $res->header('X-Mount-From'), '[]', 'not on an upload session';
};

subtest 'oci_mount_allow: "0" and empty refuse, anything else allows' => sub {
    my $srv = OCI::Harness->start(config => registry_conf('oci_mount_allow $arg_allow;'));
    my $blob = random_bytes(100);
    my $d = sha256($blob);
    is $srv->req('POST', "/v2/src/blobs/uploads/?digest=$d", body => $blob)->code, 201, 'a blob in src';
    my %want = ('' => 202, '&allow=' => 202, '&allow=0' => 202, '&allow=1' => 201,
                '&allow=yes' => 201);
    for my $a (sort keys %want) {
        my $res = $srv->req('POST', "/v2/dst$want{$a}/blobs/uploads/?mount=$d&from=src$a");
        is $res->code, $want{$a}, "mount with allow '$a': $want{$a}";
    }
    is $srv->req('HEAD', "/v2/dst202/blobs/$d")->code, 404, 'nothing linked when refused';
    is $srv->req('HEAD', "/v2/dst201/blobs/$d")->code, 200, 'linked when allowed';
};

done_testing;
