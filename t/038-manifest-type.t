# Where a manifest's media type comes from on a GET (docs/storage.md,
# "Media types"): each repository's ".type" is what it pushed; the content
# file keeps a copy in its extended attribute user.oci.type, which a GET
# reads on the descriptor it serves, and which a push that finds another
# type there empties for good. No attribute, an empty one, or a file
# system without them: ".type" serves. Through the open file
# cache, ".type" is read, so that a deleted manifest is gone at once.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use File::Temp ();
use FindBin;
use OCI::Harness;
use OCI::Test;

my $srv = OCI::Harness->start(config => registry_conf('oci_delete on;'));
my $root = $srv->storage;
my $XATTRS = xattrs_work($root);

# the Content-Type of a GET and of a HEAD, by tag and by digest
sub types_of {
    my ($s, $repo, @refs) = @_;
    return [ map { my $ref = $_;
                   map { my $res = $s->req($_, "/v2/$repo/manifests/$ref");
                         $res->code == 200 ? $res->header('Content-Type')
                                           : $res->code } qw(GET HEAD) } @refs ];
}

sub type_file { link_path($_[0], $_[1], '_manifests', $_[2]) . '.type' }

SKIP: {
    skip "the storage's file system keeps no user.* attributes", 5 unless $XATTRS;

    subtest 'a push keeps the media type with the content' => sub {
        my $json = enc(new_image($srv, 'keep/oci'));
        my $d = sha256($json);
        is_created put_manifest($srv, 'keep/oci', 'v1', $json, OCI_MANIFEST), 'keep/oci', $d,
            'an OCI image manifest';
        is type_attr($srv, $d), OCI_MANIFEST, 'the attribute of its content';
        is slurp(type_file($srv, 'keep/oci', $d)), OCI_MANIFEST, 'and its .type';

        my $dj = enc(new_docker_image($srv, 'keep/docker'));
        my $dd = sha256($dj);
        is_created put_manifest($srv, 'keep/docker', 'v1', $dj, DOCKER_MANIFEST),
            'keep/docker', $dd, 'a Docker manifest';
        is type_attr($srv, $dd), DOCKER_MANIFEST, 'its attribute';
        is_served $srv, 'keep/docker', 'v1', $dj, DOCKER_MANIFEST, $dd, 'served by tag';
        is_served $srv, 'keep/docker', $dd, $dj, DOCKER_MANIFEST, $dd, 'by digest';
    };

    subtest 'a GET reads the attribute; without one, or with an empty one, .type' => sub {
        my $json = enc(new_image($srv, 'read/attr'));
        my $d = sha256($json);
        is put_manifest($srv, 'read/attr', 'v1', $json, OCI_MANIFEST)->code, 201, 'pushed';

        # each source told apart by a type only it holds
        set_type_attr($srv, $d, OCI_INDEX);
        is_deeply types_of($srv, 'read/attr', 'v1', $d), [ (OCI_INDEX) x 4 ],
            'the attribute is what GET and HEAD answer, by tag and by digest';

        spew(type_file($srv, 'read/attr', $d), DOCKER_MANIFEST);
        set_type_attr($srv, $d, undef);
        is_deeply types_of($srv, 'read/attr', 'v1', $d), [ (DOCKER_MANIFEST) x 4 ],
            'no attribute: .type';

        set_type_attr($srv, $d, '');
        is_deeply types_of($srv, 'read/attr', 'v1', $d), [ (DOCKER_MANIFEST) x 4 ],
            'an empty attribute: .type';

        unlink type_file($srv, 'read/attr', $d);
        is_unknown $srv, 'read/attr', $d, 'no attribute to use and no .type: not there';
        set_type_attr($srv, $d, OCI_MANIFEST);
        is_served $srv, 'read/attr', $d, $json, OCI_MANIFEST, $d,
            'a link with its attribute is served without .type';
    };

    subtest 'the same bytes in two repositories share the attribute' => sub {
        my $m = new_image($srv, 'two/first');
        for my $b (@{ $m->{layers} }, $m->{config}) {
            my $res = $srv->req('POST', "/v2/two/second/blobs/uploads/?mount=$b->{digest}"
                                        . '&from=two/first');
            is $res->code, 201, "$b->{digest} mounted in two/second";
        }
        my $json = enc($m);
        my $d = sha256($json);
        is put_manifest($srv, "two/$_", 'v1', $json, OCI_MANIFEST)->code, 201,
            "pushed to two/$_" for qw(first second);
        is type_attr($srv, $d), OCI_MANIFEST, 'the attribute is the type of both';
        is_deeply types_of($srv, "two/$_", 'v1', $d), [ (OCI_MANIFEST) x 4 ],
            "two/$_ serves it" for qw(first second);

        # content stored before attributes: the push that finds it sets one
        my $json2 = enc(new_image($srv, 'two/late'));
        my $d2 = sha256($json2);
        store_manifest($root, undef, $json2, no_type => 1);
        ok !defined type_attr($srv, $d2), 'content without the attribute';
        is put_manifest($srv, 'two/late', 'v1', $json2, OCI_MANIFEST)->code, 201, 'pushed';
        is type_attr($srv, $d2), OCI_MANIFEST, 'the push set it';
    };

    # a push's type is that of its bytes, but an attribute may be written
    # by hand, or by another version: the push never leaves it disagreeing
    subtest 'content whose attribute names another type: the push empties it' => sub {
        my $json = enc(new_image($srv, 'other/attr'));
        my $d = sha256($json);
        store_manifest($root, undef, $json, no_type => 1);
        set_type_attr($srv, $d, OCI_INDEX);
        is put_manifest($srv, 'other/attr', 'v1', $json, OCI_MANIFEST)->code, 201,
            'pushed as an image manifest';
        is type_attr($srv, $d), '', 'the attribute is emptied';
        is_deeply types_of($srv, 'other/attr', 'v1'), [ (OCI_MANIFEST) x 2 ],
            'served as pushed';
    };

    subtest 'through the open file cache, the attribute on the cached descriptor' => sub {
        my $c = OCI::Harness->start(config => registry_conf('oci_delete on;',
            'open_file_cache max=100 inactive=60s;', 'open_file_cache_valid 60s;'));
        my $json = enc(new_image($c, 'cache/gone'));
        my $d = sha256($json);
        is put_manifest($c, 'cache/gone', 'v1', $json, OCI_MANIFEST)->code, 201, 'pushed';
        is_served $c, 'cache/gone', $d, $json, OCI_MANIFEST, $d, 'served (and cached)';
        set_type_attr($c, $d, OCI_INDEX);
        is_deeply types_of($c, 'cache/gone', $d), [ (OCI_INDEX) x 2 ],
            'the type from the attribute, not from .type';
        set_type_attr($c, $d, '');
        is_deeply types_of($c, 'cache/gone', $d), [ (OCI_MANIFEST) x 2 ],
            'an empty attribute: .type';
        is $c->req('DELETE', "/v2/cache/gone/manifests/$d")->code, 202, 'deleted';
        is_unknown $c, 'cache/gone', 'v1', 'gone at once by its tag';
        is_unknown $c, 'cache/gone', $d, 'by digest too while the type is only in .type';
        stops_cleanly $c, 'open_file_cache';
    };

    subtest 'through the open file cache, a deleted manifest goes with the cached descriptor' => sub {
        my $c = OCI::Harness->start(config => registry_conf('oci_delete on;',
            'open_file_cache max=100 inactive=60s;', 'open_file_cache_valid 1s;'));
        my $json = enc(new_image($c, 'cache/valid'));
        my $d = sha256($json);
        is put_manifest($c, 'cache/valid', 'v1', $json, OCI_MANIFEST)->code, 201, 'pushed';
        is_served $c, 'cache/valid', $d, $json, OCI_MANIFEST, $d, 'served (and cached)';
        is $c->req('DELETE', "/v2/cache/valid/manifests/$d")->code, 202, 'deleted';
        is_unknown $c, 'cache/valid', 'v1', 'gone at once by its tag';
        # nginx looks at a cached file again once open_file_cache_valid
        # has passed: then the digest is gone too
        sleep 2;
        is_unknown $c, 'cache/valid', $d, 'by digest after open_file_cache_valid';
        stops_cleanly $c, 'open_file_cache';
    };
}

# small files read whole with one read(): tags that are not what they
# should be are not there
subtest 'a tag file that holds no digest, or is not a file' => sub {
    my $json = enc(new_image($srv, 'tags/odd'));
    my $d = sha256($json);
    is put_manifest($srv, 'tags/odd', 'v1', $json, OCI_MANIFEST)->code, 201, 'pushed';
    my $tags = "$root/repositories/tags/odd/_tags";

    spew("$tags/empty", '');
    spew("$tags/long", $d . ('0' x 200));
    spew("$tags/short", substr($d, 0, 20));
    mkdir "$tags/dir" or die "mkdir: $!";
    system('mkfifo', "$tags/fifo") == 0 or die "mkfifo: $?";
    spew("$tags/ok", $d);

    my $off = $srv->log_size;
    is_unknown $srv, 'tags/odd', $_, "a tag file $_" for qw(empty long short dir fifo);
    my $log = $srv->error_log_since($off);
    like $log, qr{\[error\].*/_tags/dir".*non-directory}, 'the directory is refused, logged';
    like $log, qr{\[error\].*/_tags/fifo".*non-directory}, 'so is the FIFO';
    like $log, qr/tag "empty" of "tags\/odd" does not hold a digest/,
        'an empty one holds no digest';
    is_served $srv, 'tags/odd', 'ok', $json, OCI_MANIFEST, $d, 'a tag file written by hand';
    unlink "$tags/fifo";
    rmdir "$tags/dir";
};

stops_cleanly $srv;

# a file system that keeps no attributes: an LD_PRELOAD shim fails the
# calls on descriptors with EOPNOTSUPP and counts them
SKIP: {
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $so = "$dir/no_xattr.so";
    my $mark = "$dir/refused";
    my ($rc, undef, $err) = run_cmd([ 'cc', '-shared', '-fPIC', '-O', qq{-DOCI_MARK="$mark"},
                                      '-o', $so, "$FindBin::Bin/lib/shim/no_xattr.c" ]);
    skip "the LD_PRELOAD shim could not be built: $err", 1 if $rc != 0;
    local $ENV{LD_PRELOAD} = $so;
    # an nginx built with ASan (make test-asan) wants its runtime first
    local $ENV{ASAN_OPTIONS} = join ':', grep { defined && length }
        $ENV{ASAN_OPTIONS}, 'verify_asan_link_order=0';

    subtest 'without extended attributes, .type serves' => sub {
        my $n = OCI::Harness->start(config => registry_conf('oci_delete on;'));
        my @pushed;
        for my $i (1 .. 3) {
            my $json = enc(new_image($n, 'none/attr'));
            is put_manifest($n, 'none/attr', "v$i", $json, OCI_MANIFEST)->code, 201, "push $i";
            push @pushed, [ "v$i", $json ];
        }
        for (@pushed) {
            my ($tag, $json) = @$_;
            my $d = sha256($json);
            is_served $n, 'none/attr', $tag, $json, OCI_MANIFEST, $d, "$tag by tag";
            is_served $n, 'none/attr', $d, $json, OCI_MANIFEST, $d, "$tag by digest";
            ok !defined type_attr($n, $d), "$tag: no attribute was set" if $XATTRS;
        }
        is -s $mark, 1, 'the file system was asked once, then no more';
        my @notes = $n->error_log =~ /keeps no extended attributes/g;
        is scalar @notes, 1, 'and that was told once in the log';
        stops_cleanly $n, 'no attributes';
    };
}

done_testing;
