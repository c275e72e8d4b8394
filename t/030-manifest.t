# Manifests: PUT, GET, HEAD and DELETE of /v2/<name>/manifests/<reference>
# for the four media types, exact bytes, reference checks, size limits,
# digests, ?tag=, conditional tag updates and races, as docs/api.md
# ("Manifests", "Pull", "Errors") and the distribution spec promise.
# Requests that fail on their own (invalid bodies and tags, unknown and
# malformed references, methods) are t/032-manifest-errors.t.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use JSON::XS qw(decode_json);
use POSIX ();
use Time::HiRes qw(sleep time);

# Nested locations share the registry settings of /v2/ and change one each:
# repositories under sparse/ are not reference-checked, big/ accepts 8 MiB
# manifests, ro/ has deletes off.
my $LOCATION = registry_conf('oci_delete on;', <<'NESTED');
location /v2/sparse/ {
    oci_check_references off;
}
location /v2/big/ {
    oci_max_manifest_size 8m;
}
location /v2/ro/ {
    oci_delete off;
}
NESTED

my $MiB = 1024 * 1024;

# Runs the requests [METHOD, PATH, %opt] at the same moment, one child
# process each: every child sends all of its request but the body's last
# byte, and all send that byte when the parent closes the "go" pipe.
# Returns [code, Docker-Content-Digest, error code] per request, in order.
sub race {
    my ($srv, @reqs) = @_;
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    pipe(my $ready_r, my $ready_w) or die "pipe: $!";
    pipe(my $res_r, my $res_w) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $#reqs) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $_ for $go_w, $ready_r, $res_r;
            my ($method, $path, %o) = @{ $reqs[$i] };
            my ($head, @pieces) = OCI::Client::request_parts($method, $path, %o);
            my $body = join '', @pieces;
            my $c = $srv->connect;
            $c->send($head . substr($body, 0, length($body) - 1));
            syswrite $ready_w, "r";
            sysread $go_r, my $x, 1;                # EOF: go
            $c->send(substr($body, -1));
            my $res = $c->read_response($method);
            syswrite $res_w, join("\t", $i, $res->code,
                                  $res->header('Docker-Content-Digest') // '-',
                                  error_code($res) || '-') . "\n";
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $_ for $go_r, $ready_w, $res_w;
    my $ready = 0;
    while ($ready < @reqs) {
        my $n = sysread $ready_r, my $buf, 64;
        last unless $n;
        $ready += $n;
    }
    sleep 0.05;                                 # the partial bodies are read
    close $go_w;
    my @out;
    while (my $line = <$res_r>) {
        chomp $line;
        my ($i, @f) = split /\t/, $line;
        $out[$i] = \@f;
    }
    waitpid $_, 0 for @pids;
    return map { $out[$_] // [0, '-', '-'] } 0 .. $#reqs;
}

# --- the server -----------------------------------------------------------

my $srv = OCI::Harness->start(config => $LOCATION, workers => 2);

# $first PUT by $tag and $second by its digest: each is served by what it
# was pushed by, the first by its digest too
sub push_by_tag_and_digest {
    my ($name, $type, $tag, $first, $second) = @_;
    my ($d1, $d2) = (sha256($first), sha256($second));
    is_created put_manifest($srv, $name, $tag, $first, $type), $name, $d1, 'PUT by tag';
    is_served $srv, $name, $tag, $first, $type, $d1, 'by tag';
    is_served $srv, $name, $d1, $first, $type, $d1, 'by digest';
    is_created put_manifest($srv, $name, $d2, $second, $type), $name, $d2, 'PUT by digest';
    is_served $srv, $name, $d2, $second, $type, $d2, 'pushed by digest';
}

# manifests of the given platforms pushed by digest, for a list: their
# descriptors
sub children {
    my ($name, $type, @archs) = @_;
    my @children;
    for my $arch (@archs) {
        my $m = enc($type eq OCI_MANIFEST ? new_image($srv, $name) : new_docker_image($srv, $name));
        is_created put_manifest($srv, $name, sha256($m), $m, $type), $name, sha256($m),
            "child $arch";
        push @children, desc_of($m, $type, platform => { architecture => $arch, os => 'linux' });
    }
    return @children;
}

subtest 'OCI image manifest: PUT by tag and by digest, GET and HEAD' => sub {
    my $name = 'media/oci-image';
    my $m1 = enc(new_image($srv, $name));
    my $m2 = enc(new_image($srv, $name, annotations => { 'org.example.n' => '2' }));
    push_by_tag_and_digest($name, OCI_MANIFEST, 'v1', $m1, $m2);
    is_deeply tags_of($srv, $name), ['v1'], 'a push by digest adds no tag';
    is_served $srv, $name, 'v1', $m1, OCI_MANIFEST, sha256($m1), 'the tag still names the first';
};

subtest 'OCI image index: PUT by tag and by digest, GET and HEAD' => sub {
    my $name = 'media/oci-index';
    my @children = children($name, OCI_MANIFEST, 'amd64', 'arm64');
    push_by_tag_and_digest($name, OCI_INDEX, 'multi', enc(index_manifest(manifests => \@children)),
        enc(index_manifest(manifests => [ $children[0] ],
                           annotations => { 'org.example.single' => 'yes' })));
    my $res = $srv->req('GET', "/v2/$name/manifests/$children[1]{digest}");
    is $res->header('Content-Type'), OCI_MANIFEST, 'a child is served with its own type';
};

subtest 'Docker schema 2 manifest: PUT by tag and by digest, GET and HEAD' => sub {
    my $name = 'media/docker-image';
    push_by_tag_and_digest($name, DOCKER_MANIFEST, 'latest',
        enc(new_docker_image($srv, $name)), enc(new_docker_image($srv, $name)));
};

subtest 'Docker manifest list: PUT by tag and by digest, GET and HEAD' => sub {
    my $name = 'media/docker-list';
    my @children = children($name, DOCKER_MANIFEST, 'amd64', 's390x');
    push_by_tag_and_digest($name, DOCKER_LIST, 'multi', enc(docker_list(manifests => \@children)),
        enc(docker_list(manifests => [ reverse @children ])));
};

subtest 'the exact bytes are stored (whitespace, key order, escapes)' => sub {
    my $name = 'bytes/exact';
    my $m = new_image($srv, $name);
    my ($c, $l) = ($m->{config}, $m->{layers}[0]);
    # keys in reverse order, tabs, CRLF, spaces before colons, a \u escape,
    # a non-ASCII annotation and a trailing newline: canonical JSON would
    # change every one of them
    my $json = "{\r\n\t\"layers\" :[ {\"size\":$l->{size} , \"mediaType\":\"$l->{mediaType}\",\n"
             . "  \"digest\":\"$l->{digest}\"}\n\t],\n"
             . "   \"config\":{\"size\" : $c->{size},\"digest\":\"$c->{digest}\","
             . "\"mediaType\":\"$c->{mediaType}\"},\n"
             . "\"annotations\":{\"n\\u00e4me\":\"caf\xc3\xa9 \\\"q\\\"\"},"
             . "\"mediaType\":\"" . OCI_MANIFEST . "\",   \"schemaVersion\":2   }\n";
    ok eval { decode_json($json); 1 }, 'the test manifest is valid JSON' or diag $@;
    isnt enc(decode_json($json)), $json, 'and is not canonical';
    my $d = sha256($json);
    is_created put_manifest($srv, $name, 'odd', $json, OCI_MANIFEST), $name, $d, 'PUT';
    is_served $srv, $name, 'odd', $json, OCI_MANIFEST, $d, 'by tag';
    is_served $srv, $name, $d, $json, OCI_MANIFEST, $d, 'by digest';
    my $file = blob_path($srv, $d);
    open my $fh, '<:raw', $file;
    my $disk = $fh ? do { local $/; <$fh> } : '';
    ok $disk eq $json, 'the file in blobs/ holds the bytes';
};

subtest 'a manifest without mediaType is served with the Content-Type it was pushed with' => sub {
    my $name = 'media/no-mediatype';
    my $m = enc(new_image($srv, $name, mediaType => undef));
    unlike $m, qr/mediaType":"application\/vnd\.oci\.image\.manifest/, 'no mediaType in the body';
    is_created put_manifest($srv, $name, 'img', $m, OCI_MANIFEST), $name, sha256($m), 'image manifest';
    is_served $srv, $name, 'img', $m, OCI_MANIFEST, sha256($m), 'image manifest';

    my $i = enc(index_manifest(manifests => [ desc_of($m, OCI_MANIFEST) ], mediaType => undef));
    is_created put_manifest($srv, $name, 'idx', $i, OCI_INDEX), $name, sha256($i), 'index';
    is_served $srv, $name, 'idx', $i, OCI_INDEX, sha256($i), 'index';
};

subtest 'missing references: 400 MANIFEST_BLOB_UNKNOWN with the digest' => sub {
    my $name = 'refs/check';
    my $config = push_blob($srv, $name, '{"config":"present"}', OCI_CONFIG);
    my $layer = push_blob($srv, $name, 'present layer');
    my $ghost_c = { mediaType => OCI_CONFIG, digest => sha256('absent config ' . unique()), size => 20 };
    my $ghost_l = { mediaType => OCI_LAYER, digest => sha256('absent layer ' . unique()), size => 13 };
    my $ghost_m = { mediaType => OCI_MANIFEST, digest => sha256('absent manifest ' . unique()), size => 300 };

    my %cases = (
        'missing config' => [ enc(image_manifest(config => $ghost_c, layers => [$layer])),
                              OCI_MANIFEST, $ghost_c->{digest} ],
        'missing layer'  => [ enc(image_manifest(config => $config, layers => [$layer, $ghost_l])),
                              OCI_MANIFEST, $ghost_l->{digest} ],
        'missing Docker layer' => [ enc(docker_manifest(config => { %$config, mediaType => DOCKER_CONFIG },
                                                        layers => [ { %$ghost_l, mediaType => DOCKER_LAYER } ])),
                                    DOCKER_MANIFEST, $ghost_l->{digest} ],
        'index with a missing child' => [ enc(index_manifest(manifests => [ $ghost_m ])),
                                          OCI_INDEX, $ghost_m->{digest} ],
    );
    for my $what (sort keys %cases) {
        my ($json, $ct, $missing) = @{ $cases{$what} };
        my $res = put_manifest($srv, $name, 'ref', $json, $ct);
        is_error $res, 400, 'MANIFEST_BLOB_UNKNOWN', $what
            and is error_json($res)->{detail}{digest}, $missing, "$what: detail.digest";
        is_unknown $srv, $name, sha256($json), "$what: not stored";

        # the same manifest where references are not checked
        my $sparse = "sparse/$name";
        push_blob($srv, $sparse, '{"config":"present"}', OCI_CONFIG);
        push_blob($srv, $sparse, 'present layer');
        is_created put_manifest($srv, $sparse, 'ref', $json, $ct), $sparse, sha256($json),
            "$what: accepted with oci_check_references off";
        is_served $srv, $sparse, sha256($json), $json, $ct, undef, "$what: sparse copy";
    }
    is_unknown $srv, $name, 'ref', 'no tag was created where the checks failed';
};

subtest 'references in another repository do not count' => sub {
    my ($a, $b) = ('refs/owner', 'refs/stranger');
    my $m = new_image($srv, $a);
    my $json = enc($m);
    is_created put_manifest($srv, $a, 'v1', $json, OCI_MANIFEST), $a, sha256($json), 'pushed where the blobs are';

    my $res = put_manifest($srv, $b, 'v1', $json, OCI_MANIFEST);
    is_error $res, 400, 'MANIFEST_BLOB_UNKNOWN', 'blobs of another repository';
    is error_json($res)->{detail}{digest}, $m->{config}{digest}, 'detail.digest is the config';

    push_blob($srv, $b, '{"architecture":"amd64"}', OCI_CONFIG);     # unrelated content
    my $i = enc(index_manifest(manifests => [ desc_of($json, OCI_MANIFEST) ]));
    $res = put_manifest($srv, $b, 'idx', $i, OCI_INDEX);
    is_error $res, 400, 'MANIFEST_BLOB_UNKNOWN', 'child manifest of another repository';
    is error_json($res)->{detail}{digest}, sha256($json), 'detail.digest is the child';
    is_created put_manifest($srv, $a, 'idx', $i, OCI_INDEX), $a, sha256($i), 'the index where the child is';
};

subtest 'a subject that does not exist is accepted' => sub {
    my $name = 'refs/subject';
    my $empty = push_blob($srv, $name, '{}', OCI_EMPTY);
    is $empty->{digest}, EMPTY_DIGEST, 'the empty descriptor digest';
    my $ghost = { mediaType => OCI_MANIFEST, digest => sha256('no such subject ' . unique()), size => 512 };

    my $art = enc(image_manifest(
        artifactType => 'application/vnd.example.sbom.v1+json',
        config => empty_desc(),
        layers => [ push_blob($srv, $name, '{"sbom":true}', 'application/vnd.example.sbom.v1+json') ],
        subject => $ghost,
        annotations => { 'org.opencontainers.image.created' => '2024-01-01T00:00:00Z' },
    ));
    is_created put_manifest($srv, $name, sha256($art), $art, OCI_MANIFEST), $name, sha256($art),
        'artifact manifest with a dangling subject';
    is_served $srv, $name, sha256($art), $art, OCI_MANIFEST, undef, 'artifact';

    my $child = enc(new_image($srv, $name));
    is put_manifest($srv, $name, sha256($child), $child, OCI_MANIFEST)->code, 201, 'child pushed';
    my $idx = enc(index_manifest(
        artifactType => 'application/vnd.example.bundle.v1',
        manifests => [ desc_of($child, OCI_MANIFEST) ],
        subject => { %$ghost, digest => sha256('another missing subject ' . unique()) },
    ));
    is_created put_manifest($srv, $name, 'bundle', $idx, OCI_INDEX), $name, sha256($idx),
        'index with a dangling subject';
    is_served $srv, $name, 'bundle', $idx, OCI_INDEX, undef, 'index';
    is_unknown $srv, $name, $ghost->{digest}, 'the subject still does not exist';
};

subtest 'the digest in the URL must be the digest of the body' => sub {
    my $name = 'digest/check';
    my $json = enc(new_image($srv, $name));
    my $wrong = sha256($json . ' ');
    is_error put_manifest($srv, $name, $wrong, $json, OCI_MANIFEST), 400, 'DIGEST_INVALID',
        'PUT by a wrong sha256 digest';
    is_unknown $srv, $name, sha256($json), 'nothing stored under the real digest';
    is_unknown $srv, $name, $wrong, 'nothing stored under the wrong digest';
    ok !-e blob_path($srv, sha256($json)), 'no file in blobs/';

    is_error put_manifest($srv, $name, sha512($json . 'x'), $json, OCI_MANIFEST), 400, 'DIGEST_INVALID',
        'PUT by a wrong sha512 digest';

    my $d512 = sha512($json);
    my $res = put_manifest($srv, $name, $d512, $json, OCI_MANIFEST);
    is_created $res, $name, $d512, 'PUT by the right sha512 digest';
    is_served $srv, $name, $d512, $json, OCI_MANIFEST, $d512, 'by sha512 digest';

    $res = put_manifest($srv, $name, "$d512?tag=long", $json, OCI_MANIFEST);
    is_created $res, $name, $d512, 'PUT by sha512 with ?tag=';
    is_served $srv, $name, 'long', $json, OCI_MANIFEST, $d512, 'a tag on a sha512 manifest';
};

subtest '?tag= on a PUT by digest, and tag grammar' => sub {
    my $name = 'tags/query';
    my $json = enc(new_image($srv, $name));
    my $d = sha256($json);
    my $res = put_manifest($srv, $name, "$d?tag=b&tag=a", $json, OCI_MANIFEST);
    is_created $res, $name, $d, 'PUT with ?tag=b&tag=a';
    is_deeply [ $res->header('OCI-Tag') ], ['b', 'a'], 'two OCI-Tag headers, in the order given'
        or diag dump_res($res);
    is_served $srv, $name, 'a', $json, OCI_MANIFEST, $d, 'tag a';
    is_served $srv, $name, 'b', $json, OCI_MANIFEST, $d, 'tag b';
    is_deeply tags_of($srv, $name), ['a', 'b'], 'tags/list has both';

    my $json2 = enc(new_image($srv, $name));
    my $d2 = sha256($json2);
    $res = put_manifest($srv, $name, "$d2?tag=c", $json2, OCI_MANIFEST);
    is_created $res, $name, $d2, 'PUT with one ?tag=';
    is_deeply [ $res->header('OCI-Tag') ], ['c'], 'one OCI-Tag header';
    $res = put_manifest($srv, $name, sha256($json2), $json2, OCI_MANIFEST);
    is_created $res, $name, $d2, 'PUT by digest without ?tag=';
    is_deeply [ $res->header('OCI-Tag') ], [], 'no OCI-Tag header';

    my $json3 = enc(new_image($srv, $name));
    my $long = 'T' . ('x' x 126) . '_';
    is length($long), 128, 'a 128-character tag';
    is_created put_manifest($srv, $name, $long, $json3, OCI_MANIFEST), $name, sha256($json3),
        'PUT to a 128-character tag';
    is_served $srv, $name, $long, $json3, OCI_MANIFEST, undef, '128-character tag';
    is_created put_manifest($srv, $name, '_0.A-z', $json3, OCI_MANIFEST), $name, sha256($json3),
        'PUT to the tag _0.A-z';
};

# a valid image manifest of exactly $size bytes (padded with an annotation)
sub sized_manifest {
    my ($m, $size) = @_;
    my $base = enc(with_keys({ %$m }, annotations => { pad => '' }));
    die "manifest too large to pad" if length($base) > $size;
    return enc(with_keys({ %$m }, annotations => { pad => 'p' x ($size - length $base) }));
}

subtest 'size limit: 4 MiB accepted, more is 413' => sub {
    my $name = 'size/limit';
    my $m = new_image($srv, $name);

    my $json = sized_manifest($m, 4 * $MiB);
    is length($json), 4 * $MiB, 'a manifest of exactly 4 MiB';
    is_created put_manifest($srv, $name, 'four', $json, OCI_MANIFEST, req => { timeout => 30 }),
        $name, sha256($json), 'PUT 4 MiB';
    my $res = $srv->req('GET', "/v2/$name/manifests/four", timeout => 30);
    is $res->code, 200, 'GET 200';
    is length($res->content), 4 * $MiB, 'GET returns 4 MiB';
    ok $res->content eq $json, 'intact';
    is $res->header('Docker-Content-Digest'), sha256($json), 'digest';

    $json = sized_manifest($m, 4 * $MiB + 1);
    is length($json), 4 * $MiB + 1, 'a manifest of 4 MiB + 1 byte';
    $res = put_manifest($srv, $name, 'over', $json, OCI_MANIFEST, req => { timeout => 30 });
    is_error $res, 413, 'MANIFEST_INVALID', 'PUT 4 MiB + 1 with Content-Length';
    is_unknown $srv, $name, 'over', 'not stored';

    my @chunks = map { substr $json, $_ * 65536, 65536 } 0 .. int(length($json) / 65536);
    $res = put_manifest($srv, $name, 'chunked', undef, OCI_MANIFEST,
                        req => { chunked => \@chunks, timeout => 30 });
    is_error $res, 413, 'MANIFEST_INVALID', 'PUT 4 MiB + 1 chunked';
    is_unknown $srv, $name, 'chunked', 'not stored';

    # a chunked body within the limit is fine
    my $small = enc(with_keys({ %$m }, annotations => { how => 'chunked' }));
    @chunks = map { substr $small, $_ * 100, 100 } 0 .. int(length($small) / 100);
    $res = put_manifest($srv, $name, 'small-chunked', undef, OCI_MANIFEST, req => { chunked => \@chunks });
    is_created $res, $name, sha256($small), 'PUT a small manifest chunked';
    is_served $srv, $name, 'small-chunked', $small, OCI_MANIFEST, undef, 'chunked push';
};

subtest 'oci_max_manifest_size 8m accepts 5 MiB' => sub {
    my $name = 'big/manifest';
    my $m = new_image($srv, $name);
    my $json = sized_manifest($m, 5 * $MiB);
    is_created put_manifest($srv, $name, 'five', $json, OCI_MANIFEST, req => { timeout => 30 }),
        $name, sha256($json), 'PUT 5 MiB';
    my $res = $srv->req('GET', "/v2/$name/manifests/five", timeout => 30);
    ok $res->code == 200 && $res->content eq $json, 'GET returns the 5 MiB intact';

    $json = sized_manifest($m, 8 * $MiB + 1);
    is_error put_manifest($srv, $name, 'nine', $json, OCI_MANIFEST, req => { timeout => 30 }),
        413, 'MANIFEST_INVALID', 'PUT 8 MiB + 1';
    is_error put_manifest($srv, 'size/limit', 'five', sized_manifest(new_image($srv, 'size/limit'), 5 * $MiB),
                          OCI_MANIFEST, req => { timeout => 30 }),
        413, 'MANIFEST_INVALID', 'the 4m default still applies outside big/';
};

subtest 'conditional tag updates: If-None-Match: * and If-Match' => sub {
    my $name = 'cond/tags';
    my ($j1, $j2, $j3) = map { enc(new_image($srv, $name)) } 1 .. 3;
    my ($d1, $d2, $d3) = map { sha256($_) } $j1, $j2, $j3;

    is_created put_manifest($srv, $name, 'v', $j1, OCI_MANIFEST, headers => [ 'If-None-Match' => '*' ]),
        $name, $d1, 'If-None-Match: * creates an absent tag';
    is_error put_manifest($srv, $name, 'v', $j2, OCI_MANIFEST, headers => [ 'If-None-Match' => '*' ]),
        412, 'PRECONDITION_FAILED', 'If-None-Match: * on an existing tag';
    is_served $srv, $name, 'v', $j1, OCI_MANIFEST, $d1, 'the tag is unchanged';

    is_error put_manifest($srv, $name, 'v', $j2, OCI_MANIFEST, headers => [ 'If-Match' => qq{"$d3"} ]),
        412, 'PRECONDITION_FAILED', 'If-Match with another digest';
    is_served $srv, $name, 'v', $j1, OCI_MANIFEST, $d1, 'the tag is unchanged';

    is_created put_manifest($srv, $name, 'v', $j2, OCI_MANIFEST, headers => [ 'If-Match' => qq{"$d1"} ]),
        $name, $d2, 'If-Match with the current digest moves the tag';
    is_served $srv, $name, 'v', $j2, OCI_MANIFEST, $d2, 'the tag moved';

    is_error put_manifest($srv, $name, 'v', $j3, OCI_MANIFEST, headers => [ 'If-Match' => qq{"$d1"} ]),
        412, 'PRECONDITION_FAILED', 'If-Match with the previous digest';
    is_served $srv, $name, 'v', $j2, OCI_MANIFEST, $d2, 'the tag is unchanged';

    is_error put_manifest($srv, $name, 'missing', $j3, OCI_MANIFEST, headers => [ 'If-Match' => qq{"$d1"} ]),
        412, 'PRECONDITION_FAILED', 'If-Match on a missing tag';
    is_unknown $srv, $name, 'missing', 'the tag was not created';

    # on ?tag= of a push by digest too
    is_error put_manifest($srv, $name, "$d3?tag=v", $j3, OCI_MANIFEST, headers => [ 'If-None-Match' => '*' ]),
        412, 'PRECONDITION_FAILED', 'If-None-Match: * with ?tag= of an existing tag';
    is_served $srv, $name, 'v', $j2, OCI_MANIFEST, $d2, 'the tag is unchanged';

    # If-Match: * (any current tag) and a list of entity tags
    is_error put_manifest($srv, $name, 'absent', $j3, OCI_MANIFEST, headers => [ 'If-Match' => '*' ]),
        412, 'PRECONDITION_FAILED', 'If-Match: * on a missing tag';
    is_unknown $srv, $name, 'absent', 'the tag was not created';
    is_created put_manifest($srv, $name, 'v', $j1, OCI_MANIFEST, headers => [ 'If-Match' => '*' ]),
        $name, $d1, 'If-Match: * on an existing tag';
    is_served $srv, $name, 'v', $j1, OCI_MANIFEST, $d1, 'the tag moved';
    is_created put_manifest($srv, $name, 'v', $j2, OCI_MANIFEST,
                            headers => [ 'If-Match' => qq{"$d3", "$d1"} ]),
        $name, $d2, 'If-Match with a list holding the current digest';
    is_served $srv, $name, 'v', $j2, OCI_MANIFEST, $d2, 'the tag moved';

    # without conditions the tag is simply moved
    is_created put_manifest($srv, $name, 'v', $j3, OCI_MANIFEST), $name, $d3, 'unconditional PUT';
    is_served $srv, $name, 'v', $j3, OCI_MANIFEST, $d3, 'the tag moved';
};

# 8 clients PUT variants of the manifest $m to $tag at the same moment,
# with the given condition: exactly one wins, seven get 412. Returns the
# racers' JSON, the race's results and the winner's index (undef unless
# exactly one won).
sub race_for_tag {
    my ($name, $tag, $m, @condition) = @_;
    my @json = map { enc(with_keys({ %$m }, annotations => { racer => "$_" })) } 1 .. 8;
    my @res = race($srv, map {
        [ 'PUT', "/v2/$name/manifests/$tag",
          headers => [ 'Content-Type' => OCI_MANIFEST, @condition ], body => $_ ]
    } @json);
    my @won = grep { $res[$_][0] == 201 } 0 .. 7;
    my @lost = grep { $res[$_][0] == 412 && $res[$_][2] eq 'PRECONDITION_FAILED' } 0 .. 7;
    is scalar(@won), 1, 'exactly one 201' or diag explain \@res;
    is scalar(@lost), 7, 'seven 412 PRECONDITION_FAILED' or diag explain \@res;
    return (\@json, \@res, @won == 1 ? $won[0] : undef);
}

subtest 'race: 8 clients If-Match the same tag, exactly one wins' => sub {
    my $name = 'race/if-match';
    my $m = new_image($srv, $name);
    my $j0 = enc($m);
    my $d0 = sha256($j0);
    is_created put_manifest($srv, $name, 'current', $j0, OCI_MANIFEST), $name, $d0, 'the tag exists';
    my ($json, $res, $w) = race_for_tag($name, 'current', $m, 'If-Match' => qq{"$d0"});
    my @json = @$json;
    if (defined $w) {
        is $res->[$w][1], sha256($json[$w]), "the winner's Docker-Content-Digest";
        is_served $srv, $name, 'current', $json[$w], OCI_MANIFEST, sha256($json[$w]),
            'the tag points to the winner';
    }
    my $readable = grep { $srv->req('HEAD', "/v2/$name/manifests/" . sha256($_))->code == 200 } @json;
    is $readable, 8, "every racer's manifest is stored by digest";
    is_deeply tags_of($srv, $name), ['current'], 'one tag';
};

subtest 'race: 8 clients If-None-Match: * a fresh tag, exactly one wins' => sub {
    my $name = 'race/if-none-match';
    my $m = new_image($srv, $name);
    my ($json, undef, $w) = race_for_tag($name, 'fresh', $m, 'If-None-Match' => '*');
    if (defined $w) {
        is_served $srv, $name, 'fresh', $json->[$w], OCI_MANIFEST, sha256($json->[$w]),
            'the tag points to the winner';
    }
};

subtest 'the same manifest pushed concurrently: both 201, one file' => sub {
    my $name = 'race/same';
    for my $round (1 .. 4) {
        my $json = enc(new_image($srv, $name, annotations => { round => "$round" }));
        my $d = sha256($json);
        my @res = race($srv, map {
            [ 'PUT', "/v2/$name/manifests/" . ($_ % 2 ? $d : "t$round-$_"),
              headers => [ 'Content-Type' => OCI_MANIFEST ], body => $json ]
        } 1 .. 4);
        is_deeply [ map { $_->[0] } @res ], [ (201) x 4 ], "round $round: all 201" or diag explain \@res;
        is_deeply [ map { $_->[1] } @res ], [ ($d) x 4 ], "round $round: all the same digest";
        is_served $srv, $name, $d, $json, OCI_MANIFEST, $d, "round $round";
        my @blob = stat blob_path($srv, $d);
        my @link = stat link_path($srv, $name, '_manifests', $d);
        ok @blob && @link && $blob[1] == $link[1],
            "round $round: the repository's link is the file in blobs/ (one inode)"
            or diag "blob inode " . ($blob[1] // '-') . ", link inode " . ($link[1] // '-');
        is $blob[3], 2, "round $round: the file has exactly two links (blobs/ and the repository)";
        my ($hex) = $d =~ /:(.*)/;
        my @copies = grep { !/\.type$/ } glob $srv->storage . "/blobs/sha256/*/$hex*";
        is scalar(@copies), 1, "round $round: one file in blobs/";
    }
    opendir my $dh, $srv->storage . '/_tmp';
    my @left = $dh ? grep { !/^\./ } readdir $dh : ();
    is_deeply \@left, [], 'nothing left in _tmp/';
};

subtest 'DELETE by digest removes the manifest and every tag pointing to it' => sub {
    my $name = 'delete/digest';
    my $json = enc(new_image($srv, $name));
    my $d = sha256($json);
    my $other = enc(new_image($srv, $name));
    is_created put_manifest($srv, $name, "$d?tag=one&tag=two", $json, OCI_MANIFEST), $name, $d, 'pushed';
    is put_manifest($srv, $name, 'three', $json, OCI_MANIFEST)->code, 201, 'third tag';
    is put_manifest($srv, $name, 'keep', $other, OCI_MANIFEST)->code, 201, 'another manifest';
    is_deeply tags_of($srv, $name), [qw(keep one three two)], 'four tags';

    my $res = $srv->req('DELETE', "/v2/$name/manifests/$d");
    is_status $res, 202, 'DELETE by digest';
    is_unknown $srv, $name, $d, 'GET by digest';
    is_unknown $srv, $name, $_, "GET by tag $_" for qw(one two three);
    $res = $srv->req('HEAD', "/v2/$name/manifests/$d");
    is $res->code, 404, 'HEAD by digest: 404';
    is_deeply tags_of($srv, $name), ['keep'], 'only the other tag is left in tags/list';
    is_served $srv, $name, 'keep', $other, OCI_MANIFEST, undef, 'the other manifest';

    is_error $srv->req('DELETE', "/v2/$name/manifests/$d"), 404, 'MANIFEST_UNKNOWN', 'DELETE again';
    is_error $srv->req('DELETE', "/v2/$name/manifests/" . sha256('never')), 404, 'MANIFEST_UNKNOWN',
        'DELETE of an unknown digest';
    is_error $srv->req('DELETE', "/v2/$name/manifests/nosuchtag"), 404, 'MANIFEST_UNKNOWN',
        'DELETE of an unknown tag';
    is_error $srv->req('DELETE', "/v2/never/pushed/manifests/$d"), 404, 'MANIFEST_UNKNOWN',
        'DELETE in an unknown repository';

    is_created put_manifest($srv, $name, 'again', $json, OCI_MANIFEST), $name, $d, 'pushed again';
    is_served $srv, $name, 'again', $json, OCI_MANIFEST, $d, 'back after a new push';
};

subtest 'DELETE by tag removes only the tag' => sub {
    my $name = 'delete/tag';
    my $json = enc(new_image($srv, $name));
    my $d = sha256($json);
    is put_manifest($srv, $name, "$d?tag=a&tag=b", $json, OCI_MANIFEST)->code, 201, 'pushed with two tags';
    is_status $srv->req('DELETE', "/v2/$name/manifests/a"), 202, 'DELETE by tag';
    is_unknown $srv, $name, 'a', 'the tag is gone';
    is_served $srv, $name, $d, $json, OCI_MANIFEST, $d, 'the manifest stays, by digest';
    is_served $srv, $name, 'b', $json, OCI_MANIFEST, $d, 'the other tag stays';
    is_deeply tags_of($srv, $name), ['b'], 'tags/list';
    is_error $srv->req('DELETE', "/v2/$name/manifests/a"), 404, 'MANIFEST_UNKNOWN', 'DELETE of the tag again';
};

subtest 'DELETE with oci_delete off: 405 UNSUPPORTED' => sub {
    my $name = 'ro/repo';
    my $json = enc(new_image($srv, $name));
    my $d = sha256($json);
    is put_manifest($srv, $name, 'v1', $json, OCI_MANIFEST)->code, 201, 'pushed';
    is_error $srv->req('DELETE', "/v2/$name/manifests/$d"), 405, 'UNSUPPORTED', 'DELETE by digest';
    is_error $srv->req('DELETE', "/v2/$name/manifests/v1"), 405, 'UNSUPPORTED', 'DELETE by tag';
    is_served $srv, $name, 'v1', $json, OCI_MANIFEST, $d, 'still there';
};

stops_cleanly $srv;

done_testing;
