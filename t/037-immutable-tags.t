# Immutable tags (oci_immutable_tags, oci_mutable_tags): a tag, once
# written, names its manifest for good. Moving it, deleting it, and
# deleting by digest a manifest it names are refused with 409 DENIED;
# pushing the same digest again is accepted; tags the regex matches stay
# mutable. The policy is the location's: a second server on the same
# storage without it moves tags freely. A DELETE by digest racing a PUT
# of an immutable tag never leaves that tag dangling or moved; the
# digest's delete lock a DELETE holds makes such a PUT retry. oci-admin
# gc --untagged and fsck --repair leave immutable tags alone.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use OCI::Harness;
use OCI::Test;

my $S = '$TEST_NGINX_STORAGE';
my $srv = OCI::Harness->start(
    workers     => 2,
    log_level   => 'info',
    main_config => "thread_pool oci_tags threads=2;\n",
    config      => registry_conf('oci_delete on;', 'oci_immutable_tags on;',
                                 'oci_mutable_tags "^(latest|dev-.+)$";',
                                 'oci_thread_pool oci_tags;'),
    http_config => <<"EOF");
    server {
        listen 127.0.0.1:\$TEST_NGINX_SERVER_PORT;
        server_name mutable.test;
        location /v2/ {
            oci_registry on;
            oci_storage $S;
            oci_delete on;
            client_max_body_size 0;
        }
    }
EOF

my $tags_dir = $srv->storage . '/repositories/r/_tags';

sub image { my $m = new_image($srv, 'r'); (enc($m), sha256(enc($m))) }
sub put { my ($ref, $bytes, %o) = @_; put_manifest($srv, 'r', $ref, $bytes, OCI_MANIFEST, %o) }
sub tag_names { my $t = slurp("$tags_dir/$_[0]"); $t }
sub mutable_host { (headers => [ Host => 'mutable.test' ]) }
sub digest_locks {
    opendir my $dh, $tags_dir or return ();
    return grep { /^\.sha\d+:.*\.lock/ } readdir $dh;
}
sub is_denied {
    my ($res, $like, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_error($res, 409, 'DENIED', $what);
    like error_json($res)->{message} // '', $like, "$what: the message says why";
}

my ($a_json, $a) = image();
my ($b_json, $b) = image();

subtest 'a tag, once written, is not moved' => sub {
    is put('v1', $a_json)->code, 201, 'v1 names A';
    is put('v1', $a_json)->code, 201, 'the same digest again: 201 (not a move)';
    is_denied(put('v1', $b_json), qr/tag "v1" is immutable and names \Q$a\E/,
              'v1 to B');
    is tag_names('v1'), $a, 'v1 still names A';
    is_denied(put("$b?tag=v2&tag=v1", $b_json), qr/"v1"/,
              'a push of B by digest with ?tag=v2&tag=v1');
    ok !-e "$tags_dir/v2", 'and nothing of it was tagged: not v2 either';
};

subtest 'tags the regex matches stay mutable' => sub {
    is put('latest', $a_json)->code, 201, 'latest names A';
    is put('latest', $b_json)->code, 201, 'latest moves to B';
    is tag_names('latest'), $b, 'latest names B';
    is put('dev-1', $a_json)->code, 201, 'dev-1 names A';
    is put('dev-1', $b_json)->code, 201, 'dev-1 moves to B';
    is put('dev-', $a_json)->code, 201, '"dev-" names A';
    is_denied(put('dev-', $b_json), qr/"dev-"/,
              'the regex does not match "dev-" alone: it is immutable');
};

subtest 'deleting a tag' => sub {
    is_denied($srv->req('DELETE', '/v2/r/manifests/v1'), qr/tag "v1" is immutable/,
              'DELETE of v1');
    is tag_names('v1'), $a, 'v1 is still there';
    is_error($srv->req('DELETE', '/v2/r/manifests/nosuch'), 404, 'MANIFEST_UNKNOWN',
             'an immutable tag that is not there: 404');
    is $srv->req('DELETE', '/v2/r/manifests/dev-1')->code, 202, 'a mutable tag goes: 202';
    ok !-e "$tags_dir/dev-1", 'dev-1 is gone';
};

subtest 'deleting a manifest by digest' => sub {
    is_denied($srv->req('DELETE', "/v2/r/manifests/$a"),
              qr/the immutable tag "(v1|dev-)" names this manifest/, 'A, named by v1');
    is $srv->req('GET', "/v2/r/manifests/$a")->code, 200, 'A is still stored';
    is tag_names('v1'), $a, 'v1 still names it';
    is_deeply [ digest_locks() ], [], 'no delete lock is left behind';

    my ($c_json, $c) = image();
    is put('latest', $c_json)->code, 201, 'C, named by latest only';
    is put('dev-2', $c_json)->code, 201, 'and dev-2';
    is $srv->req('DELETE', "/v2/r/manifests/$c")->code, 202, 'C goes: 202';
    is_unknown($srv, 'r', $c, 'C');
    ok !-e "$tags_dir/latest" && !-e "$tags_dir/dev-2", 'with its mutable tags';

    my ($d_json, $d) = image();
    is put($d, $d_json)->code, 201, 'D, untagged';
    is $srv->req('DELETE', "/v2/r/manifests/$d")->code, 202, 'D goes: 202';
    is_error($srv->req('DELETE', "/v2/r/manifests/$d"), 404, 'MANIFEST_UNKNOWN', 'again: 404');
    is_deeply [ digest_locks() ], [], 'no delete lock is left behind';
};

subtest 'the policy is the location\'s' => sub {
    my ($e_json, $e) = image();
    is put('v9', $e_json)->code, 201, 'v9 names E';
    is put('v9', $b_json, mutable_host())->code, 201,
        'through the server without the policy, v9 moves to B';
    is tag_names('v9'), $b, 'v9 names B';
    is_denied(put('v9', $e_json), qr/"v9"/, 'through this one, not back');
    is $srv->req('DELETE', '/v2/r/manifests/v9', mutable_host())->code, 202,
        'and the other deletes it';
    is $srv->req('DELETE', "/v2/r/manifests/$e", mutable_host())->code, 202,
        'deletes by digest too';
};

subtest 'a PUT retries while a DELETE holds the digest\'s lock' => sub {
    my ($f_json, $f) = image();
    is put($f, $f_json)->code, 201, 'F, untagged';
    my $lock = "$tags_dir/.$f.lock";
    spew($lock, '');
    my $res = put('rel-f', $f_json);
    is_error($res, 503, 'UNAVAILABLE', 'an immutable tag for F: 503 after a second');
    ok !-e "$tags_dir/rel-f", 'and not written';
    is put('dev-f', $f_json)->code, 201, 'a mutable tag for F does not wait';
    is_error($srv->req('DELETE', "/v2/r/manifests/$f"), 503, 'UNAVAILABLE',
             'nor does another DELETE of F take it: 503');
    is $srv->req('GET', "/v2/r/manifests/$f")->code, 200, 'F is still there';

    utime time - 60, time - 60, $lock;
    is put('rel-f', $f_json)->code, 201, 'a lock a minute old was left by a dead worker: 201';
    is_denied($srv->req('DELETE', "/v2/r/manifests/$f"), qr/"rel-f"/,
              'a DELETE takes the stale lock over, and finds rel-f');
    ok !-e $lock, 'and lets it go';
};

subtest 'PUT of an immutable tag against DELETE by digest' => sub {
    my %seen;
    for my $i (1 .. 25) {
        my ($json, $d) = image();
        is put($d, $json)->code, 201, "round $i: the manifest, untagged";
        my @kids;
        for my $job ([ PUT => sub { put("race$i", $json)->code } ],
                     [ DELETE => sub { $srv->req('DELETE', "/v2/r/manifests/$d")->code } ]) {
            my $pid = open(my $out, '-|') // die "fork: $!";
            if ($pid == 0) { print $job->[1]->(); POSIX::_exit(0) }
            push @kids, [ $job->[0], $out ];
        }
        my %code = map { my $fh = $_->[1]; ($_->[0] => scalar(do { local $/; <$fh> })) } @kids;
        close $_->[1] for @kids;
        $seen{"PUT $code{PUT}, DELETE $code{DELETE}"}++;

        my $tag = -e "$tags_dir/race$i" ? tag_names("race$i") : undef;
        my $stored = $srv->req('GET', "/v2/r/manifests/$d")->code == 200;
        if ($code{PUT} == 201) {
            is $tag, $d, "round $i: the PUT got 201, its tag names the manifest";
        }
        ok !defined $tag || ($tag eq $d && $stored),
            "round $i: the tag, if there, names the manifest, which is stored";
        ok $code{DELETE} == 202 || $code{DELETE} == 409,
            "round $i: the DELETE is 202 or 409 (got $code{DELETE})";
        ok $code{PUT} == 201 || $code{PUT} == 503, "round $i: the PUT is 201 or 503";
    }
    note "outcomes: " . join ', ', map { "$_ ($seen{$_})" } sort keys %seen;
    is_deeply [ digest_locks() ], [], 'no delete lock is left behind';
};

subtest 'oci-admin gc --untagged and fsck --repair leave immutable tags alone' => sub {
    need_admin();
    my $before = tag_names('v1');
    my ($rc, $out, $err) = oci_admin('gc', '--storage', $srv->storage, '--untagged',
                                     '--age-offset', '10d');
    is $rc, 0, 'gc --untagged ran' or diag "$out\n$err";
    ($rc, $out, $err) = oci_admin('fsck', '--storage', $srv->storage, '--repair');
    is $rc, 0, 'fsck --repair ran' or diag "$out\n$err";
    is tag_names('v1'), $before, 'v1 names the same manifest';
    is $srv->req('GET', '/v2/r/manifests/v1')->code, 200, 'which is still served';
};

stops_cleanly($srv);
done_testing();
