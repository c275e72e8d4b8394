# Symbolic links planted inside oci_storage are never followed: reads,
# pushes, tags, uploads and deletes that meet one neither serve nor
# touch anything outside the storage root (docs/storage.md, "Links").
# Each case plants links of one kind pointing to a directory outside the
# root, holding a secret file and things laid out like the registry's.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use File::Path qw(make_path remove_tree);
use File::Temp ();
use FindBin;
use OCI::Harness;
use OCI::Test;

# Everything runs twice: with openat2(2), and with the walk one component
# at a time that storage falls back to where the kernel lacks openat2
# (an LD_PRELOAD shim makes it fail with ENOSYS).
my ($srv, $root, $out);

sub shim {
    my $src = "$FindBin::Bin/lib/shim/no_openat2.c";
    my $so = File::Temp::tempdir(CLEANUP => 1) . '/no_openat2.so';
    my ($rc, undef, $err) = run_cmd([ 'cc', '-shared', '-fPIC', '-O', qq{-DOCI_MARK="$so.used"},
                                      '-o', $so, $src, '-ldl' ]);
    return $rc == 0 ? $so : (diag("no shim: $err"), undef)[1];
}

my $SECRET = "secret bytes outside the storage root\n";
my $S = sha256($SECRET);
my $SHEX = substr $S, 7;

# a fresh outside directory, writable by the workers: the secret as a
# file, as blob and manifest files of a repository, as a tag
sub outside {
    remove_tree($out);
    make_path("$out/repo/_blobs/sha256", "$out/repo/_manifests/sha256", "$out/dir",
              "$out/repo/_tags");
    spew("$out/secret", $SECRET);
    spew("$out/repo/_blobs/sha256/$SHEX", $SECRET);
    spew("$out/dir/$SHEX", $SECRET);
    spew("$out/repo/_manifests/sha256/$SHEX", $SECRET);
    spew("$out/repo/_manifests/sha256/$SHEX.type", OCI_MANIFEST);
    spew("$out/type", OCI_MANIFEST);
    system('chmod', '-R', 'a+rwX', $out) == 0 or die "chmod $out";
    return snapshot();
}

# every file outside, with its content and link count
sub snapshot {
    return { map { my $f = "$out/$_"; ($_ => slurp($f) . ' nlink ' . (stat $f)[3]) }
             files_under($out) };
}

sub untouched {
    my ($before, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply snapshot(), $before, "$what: nothing outside was touched";
}

sub refused_in_log {
    my ($off, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    like $srv->error_log_since($off), qr/\[error\].*meets a symbolic link/,
        "$what: logged at error";
}

sub links_everywhere {
    my ($mode) = @_;
    $srv = OCI::Harness->start(workers => 1, config => registry_conf('oci_delete on;'));
    $root = $srv->storage;
    $out = $srv->path('outside');

    subtest 'reads of blobs never go through a link' => sub {
        my $before = outside();
        my $off = $srv->log_size;
        store_link($root, "repositories/l/file/_blobs/sha256/$SHEX", "$out/secret");
        store_link($root, 'repositories/l/repo', "$out/repo");
        store_link($root, 'repositories/l/blobsdir/_blobs/sha256', "$out/dir");
        store_link($root, 'repositories/l/blobsparent/_blobs', "$out/repo/_blobs");
        for my $repo (qw(l/file l/repo l/blobsdir l/blobsparent)) {
            for my $m (qw(GET HEAD)) {
                my $res = $srv->req($m, "/v2/$repo/blobs/$S");
                is $res->code, 404, "$m of a blob through a link in $repo: 404";
                unlike $res->content, qr/secret/, 'without the secret';
            }
        }
        is_error $srv->req('GET', "/v2/l/file/blobs/$S", headers => [ Range => 'bytes=0-5' ]),
            404, 'BLOB_UNKNOWN', 'a range of it';
        refused_in_log($off, 'blob reads');

        # a mount from a repository whose blob is a link copies nothing
        my $res = $srv->req('POST', "/v2/l/mounted/blobs/uploads/?mount=$S&from=l/file");
        is $res->code, 202, 'mount from a link: a session, not a mount';
        is $srv->req('GET', "/v2/l/mounted/blobs/$S")->code, 404, 'nothing mounted';
        untouched($before, 'blob reads');
    };

    subtest 'reads of manifests and tags never go through a link' => sub {
        my $before = outside();
        my $off = $srv->log_size;
        my $real = store_manifest($root, 'm/real', enc(image_manifest(layers => [])));
        store_link($root, "repositories/m/file/_manifests/sha256/$SHEX", "$out/secret");
        spew("$root/repositories/m/file/_manifests/sha256/$SHEX.type", OCI_MANIFEST);
        store_link($root, 'repositories/m/dir/_manifests', "$out/repo/_manifests");
        store_link($root, 'repositories/m/repo', "$out/repo");
        for my $repo (qw(m/file m/dir m/repo)) {
            is_unknown $srv, $repo, $S, "a manifest through a link in $repo";
        }

        # a type file that is a link: the manifest is not served
        my $typed = store_manifest($root, 'm/type', enc(image_manifest(layers => [], annotations => { a => 'b' })));
        my $tlink = link_path($root, 'm/type', '_manifests', $typed->{digest}) . '.type';
        store_link($root, substr($tlink, length($root) + 1), "$out/type");
        is_unknown $srv, 'm/type', $typed->{digest}, 'a manifest whose .type is a link';

        # a tag that is a link to a file naming a stored manifest
        spew("$out/tag", $real->{digest});
        store_link($root, 'repositories/m/real/_tags/linked', "$out/tag");
        is_unknown $srv, 'm/real', 'linked', 'a tag that is a link';

        # a _tags directory that is a link lists nothing of the outside
        store_link($root, 'repositories/m/real/_tags', "$out/repo/_tags");
        spew("$out/repo/_tags/outside-tag", $real->{digest});
        my $res = $srv->req('GET', '/v2/m/real/tags/list');
        unlike $res->content, qr/outside-tag/, 'tags/list through a linked _tags lists nothing of it';
        refused_in_log($off, 'manifest reads');
        unlink "$out/repo/_tags/outside-tag", "$out/tag";
        untouched($before, 'manifest reads');
    };

    subtest 'pushes never write through a link' => sub {
        my $before = outside();
        my $off = $srv->log_size;
        my $blob = "pushed blob " . unique();
        my $d = sha256($blob);
        my $hex = substr $d, 7;

        # the content directory blobs/sha256/<xx> is a link
        store_link($root, 'blobs/sha256/' . substr($hex, 0, 2), "$out/dir");
        my $res = $srv->req('POST', "/v2/p/blob/blobs/uploads/?digest=$d", body => $blob);
        is $res->code, 500, 'a blob whose content directory is a link: 500';
        is $srv->req('GET', "/v2/p/blob/blobs/$d")->code, 404, 'and not served';
        unlink "$root/blobs/sha256/" . substr($hex, 0, 2);

        # the repository's _blobs/sha256 is a link
        store_link($root, 'repositories/p/link/_blobs/sha256', "$out/dir");
        $res = $srv->req('POST', "/v2/p/link/blobs/uploads/?digest=$d", body => $blob);
        is $res->code, 500, 'a blob pushed into a linked _blobs/sha256: 500';

        # a repository directory that is a link
        store_link($root, 'repositories/p/repo', "$out/repo");
        $res = $srv->req('POST', "/v2/p/repo/blobs/uploads/?digest=$d", body => $blob);
        is $res->code, 500, 'a blob pushed into a linked repository: 500';
        my $json = enc(index_manifest(manifests => []));
        is put_manifest($srv, 'p/repo', 'v1', $json, OCI_INDEX)->code, 500,
            'a manifest pushed into a linked repository: 500';

        # _tags, and a tag file, that are links
        my $m = new_image($srv, 'p/tags');
        $json = enc($m);
        store_link($root, 'repositories/p/tags/_tags', "$out/repo/_tags");
        is put_manifest($srv, 'p/tags', 'v1', $json, OCI_MANIFEST)->code, 500,
            'a tag written into a linked _tags: 500';
        remove_tree("$root/repositories/p/tags/_tags");
        unlink "$root/repositories/p/tags/_tags";
        store_link($root, 'repositories/p/tags/_tags/v2', "$out/secret");
        is_created put_manifest($srv, 'p/tags', 'v2', $json, OCI_MANIFEST), 'p/tags', sha256($json),
            'a tag that was a link is replaced';
        ok !-l "$root/repositories/p/tags/_tags/v2", 'by a file';

        # _tmp is a link
        rename "$root/_tmp", "$root/_tmp.real" or die "rename _tmp: $!";
        store_link($root, '_tmp', "$out/dir");
        $json = enc(index_manifest(manifests => [], annotations => { u => unique() }));
        is put_manifest($srv, 'p/tmp', 'v1', $json, OCI_INDEX)->code, 500,
            'a manifest pushed while _tmp is a link: 500';
        unlink "$root/_tmp";
        rename "$root/_tmp.real", "$root/_tmp" or die "rename _tmp back: $!";

        refused_in_log($off, 'pushes');
        untouched($before, 'pushes');
    };

    subtest 'upload sessions never go through a link' => sub {
        my $before = outside();
        my $off = $srv->log_size;

        # a session whose data file became a link
        my $loc = start_upload($srv, 'u/data');
        my ($data) = session_files($srv, $loc);
        unlink $data;
        symlink "$out/secret", $data or die "symlink: $!";
        is_error patch_chunk($srv, $loc, 'abcd', 0), 404, 'BLOB_UPLOAD_UNKNOWN',
            'PATCH of a session whose data file is a link';
        is_error close_upload($srv, $loc, $S), 404, 'BLOB_UPLOAD_UNKNOWN', 'its closing PUT';
        is $srv->req('GET', "/v2/u/data/blobs/$S")->code, 404, 'nothing published';

        # a session whose state file became a link to a state elsewhere
        $loc = start_upload($srv, 'u/state');
        my (undef, $state) = session_files($srv, $loc);
        rename $state, "$out/state" or die "rename: $!";
        symlink "$out/state", $state or die "symlink: $!";
        is_error $srv->req('GET', $loc), 404, 'BLOB_UPLOAD_UNKNOWN',
            'status of a session whose state file is a link';
        is_error patch_chunk($srv, $loc, 'abcd', 0), 404, 'BLOB_UPLOAD_UNKNOWN', 'its PATCH';
        unlink "$out/state";

        # _uploads is a link
        rename "$root/_uploads", "$root/_uploads.real" or die "rename _uploads: $!";
        store_link($root, '_uploads', "$out/dir");
        is $srv->req('POST', '/v2/u/dir/blobs/uploads/')->code, 500, 'POST while _uploads is a link: 500';
        unlink "$root/_uploads";
        rename "$root/_uploads.real", "$root/_uploads" or die "rename _uploads back: $!";

        # the slots of the session caps: all of them, or a repository's
        rename "$root/_slots", "$root/_slots.real" or die "rename _slots: $!";
        store_link($root, '_slots', "$out/dir");
        is $srv->req('POST', '/v2/u/slots/blobs/uploads/')->code, 500,
            'POST while _slots is a link: 500';
        unlink "$root/_slots";
        rename "$root/_slots.real", "$root/_slots" or die "rename _slots back: $!";
        store_link($root, '_slots/u/slotrepo', "$out/dir");
        is $srv->req('POST', '/v2/u/slotrepo/blobs/uploads/')->code, 500,
            "POST while the repository's slots are a link: 500";
        unlink "$root/_slots/u/slotrepo";

        # a big data file is freed from _tmp/: not when _tmp is a link
        my ($big) = big_upload($srv, 'u/big', 17);
        my ($bigdata) = session_files($srv, $big);
        rename "$root/_tmp", "$root/_tmp.real" or die "rename _tmp: $!";
        store_link($root, '_tmp', "$out/dir");
        my $toff = $srv->log_size;
        is $srv->req('DELETE', $big)->code, 204, 'a big session cancelled while _tmp is a link';
        ok !-e $bigdata, 'its data file is removed where it was';
        like $srv->error_log_since($toff), qr{"[^"]*/_tmp/[0-9a-f]+" meets a symbolic link},
            'the move into _tmp/ refused';
        unlink "$root/_tmp";
        rename "$root/_tmp.real", "$root/_tmp" or die "rename _tmp back: $!";

        refused_in_log($off, 'uploads');
        untouched($before, 'uploads');
    };

    subtest 'deletes never remove anything through a link' => sub {
        my $before = outside();
        store_link($root, 'repositories/d/blobs/_blobs/sha256', "$out/dir");
        is_error $srv->req('DELETE', "/v2/d/blobs/blobs/$S"), 404, 'BLOB_UNKNOWN',
            'DELETE of a blob in a linked _blobs/sha256';
        store_link($root, 'repositories/d/mf/_manifests', "$out/repo/_manifests");
        is_error $srv->req('DELETE', "/v2/d/mf/manifests/$S"), 404, 'MANIFEST_UNKNOWN',
            'DELETE of a manifest in a linked _manifests';
        store_link($root, 'repositories/d/repo', "$out/repo");
        is_error $srv->req('DELETE', "/v2/d/repo/manifests/$S"), 404, 'MANIFEST_UNKNOWN',
            'DELETE of a manifest in a linked repository';
        untouched($before, 'deletes');

        # a link itself may go: what it points to stays
        store_link($root, "repositories/d/own/_blobs/sha256/$SHEX", "$out/secret");
        my $res = $srv->req('DELETE', "/v2/d/own/blobs/$S");
        ok !-e "$root/repositories/d/own/_blobs/sha256/$SHEX"
            || -l "$root/repositories/d/own/_blobs/sha256/$SHEX", 'a linked blob: only the link, if anything, goes';
        untouched($before, 'the link deleted');
    };

    subtest "a manifest's tags are dropped without going through a link" => sub {
        my $before = outside();
        my ($res, $desc) = push_manifest($srv, 'd/tags', 'v1', new_image($srv, 'd/tags'));
        is $res->code, 201, 'a tagged manifest';
        my $tags = "$root/repositories/d/tags/_tags";

        # a tag that is a link to a file naming the manifest, and a FIFO,
        # which a blocking open() would wait on for ever
        spew("$out/tagged", $desc->{digest});
        store_link($root, 'repositories/d/tags/_tags/linked', "$out/tagged");
        system('mkfifo', "$tags/fifo") == 0 or die "mkfifo: $?";

        my $off = $srv->log_size;
        $res = $srv->req('DELETE', "/v2/d/tags/manifests/$desc->{digest}", timeout => 10);
        is $res->code, 202, 'DELETE by digest: 202';
        ok !-e "$tags/v1", 'its tag is gone';
        ok -l "$tags/linked", 'the link is left alone';
        like $srv->error_log_since($off), qr/\[error\].*"linked".*symbolic link/,
            'and logged at error';
        is slurp("$out/tagged"), $desc->{digest}, 'what it points to is untouched';
        unlink "$tags/linked", "$tags/fifo", "$out/tagged";
        untouched($before, 'tags dropped');
    };

    stops_cleanly $srv, $mode;
}

links_everywhere('openat2');

SKIP: {
    my $so = shim() or skip 'the LD_PRELOAD shim could not be built', 1;
    my $mark = "$so.used";
    local $ENV{LD_PRELOAD} = $so;
    # an nginx built with ASan (make test-asan) wants its runtime first
    local $ENV{ASAN_OPTIONS} = join ':', grep { defined && length }
        $ENV{ASAN_OPTIONS}, 'verify_asan_link_order=0';
    subtest 'the same without openat2' => sub {
        links_everywhere('without openat2');
        ok -e $mark, 'openat2 was refused, the walk taken';
    };
    unlink $so, $mark;
}

done_testing;
