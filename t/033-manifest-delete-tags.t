# Deleting a manifest by digest removes every tag pointing to it. With
# thousands of tags, reading them all is too long for one turn of the
# event loop: it is a job, in steps from a timer or on a thread pool
# (oci_thread_pool), and the worker keeps answering meanwhile. Each tag
# is removed under its own lock, which no other change waits for long.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;

my $TAGS = 20_000;

for my $pool (0, 1) {
    my $what = $pool ? 'on a thread pool' : 'in steps from a timer';
    my $srv = OCI::Harness->start(
        main_config => $pool ? 'thread_pool oci threads=2;' : '',
        config => registry_conf('oci_delete on;', $pool ? 'oci_thread_pool oci;' : ''));

    subtest "a manifest with $TAGS tags deleted, $what" => sub {
        my $repo = 'many/tags';
        my ($res, $m) = push_manifest($srv, $repo, 'keep-0', new_image($srv, $repo));
        is_status $res, 201, 'the manifest';
        my ($res2, $other) = push_manifest($srv, $repo, 'other', new_image($srv, $repo));
        is_status $res2, 201, 'another manifest, tagged "other"';

        store_tag($srv->storage, $repo, "t$_", $m->{digest}) for 1 .. $TAGS;
        store_tag($srv->storage, $repo, "o$_", $other->{digest}) for 1 .. 50;

        my $from = $srv->log_size;
        my ($ok, $lat) = latencies_during($srv, sub {
            $srv->req('DELETE', "/v2/$repo/manifests/$m->{digest}", timeout => 60)
                ->code == 202;
        });
        ok $ok, 'DELETE by digest: 202';
        cmp_ok scalar(@$lat), '>=', 2, 'GET /v2/ was answered during the delete';
        # 64 tags a step: over 300 steps
        is_stepped $srv, $from, $pool, 300, 'the removal of its tags';

        is_unknown $srv, $repo, $m->{digest}, 'the manifest is gone';
        my @left = sort @{ tags_of($srv, $repo) };
        is scalar(@left), 51, 'the tags of the other manifest are left, and only they';
        is_deeply [ grep { !/^(?:o\d+|other)$/ } @left ], [], 'none of the deleted one';
        my $tag = $srv->req('PUT', "/v2/$repo/manifests/again",
            headers => [ 'Content-Type' => OCI_MANIFEST ],
            body => $srv->req('GET', "/v2/$repo/manifests/other",
                              headers => [ Accept => OCI_MANIFEST ])->content);
        is_status $tag, 201, 'a new tag';
        opendir my $dh, $srv->storage . "/repositories/$repo/_tags" or die;
        is_deeply [ grep { /\.lock/ } readdir $dh ], [], 'no tag lock is left';
    };

    stops_cleanly($srv, $what);
}

done_testing;
