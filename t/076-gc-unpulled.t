# oci-admin gc --unpulled-for and fsck --mirror (docs/admin.md) on the
# storage of a mirror (docs/mirrors.md): content pushed through nginx,
# then the access times that pulls would have left set by hand (a pull
# reads the file, and the kernel records it).
#
# As in t/075, gc runs with the hidden --age-offset 10d (ages computed as
# if it were ten days later), since setting an access time moves the
# ctime to now and a test cannot set a ctime back. With that offset, an
# access time 25 days old is 35 days old to gc, and one 15 days old is 25.
#
# Nothing here reads a file of the storage outside nginx and oci-admin
# once the access times are set: on a mount that updates access times
# (relatime, the default), any read of a file whose access time is older
# than its ctime moves it to now.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use File::Find;
use File::Temp qw(tempdir);
use IPC::Open3;
use JSON::XS qw(decode_json);
use Symbol qw(gensym);
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start or plan skip_all => 'redis-server is not installed';
my $sock = $redis->socket;
need_admin();

my $srv = OCI::Harness->start(config => registry_conf("oci_redis unix:$sock;"));
my $S = $srv->storage;

my $options = (run_cmd([ 'findmnt', '-n', '-o', 'OPTIONS', '-T', $S ]))[1];
plan skip_all => "the test storage is mounted noatime: reads do not move access times"
    if $options =~ /\bnoatime\b/;

my $OFFSET = 10 * 86400;
my $STALE = time - 25 * 86400;      # 35 days to gc: not pulled for 30d
my $RECENT = time - 15 * 86400;     # 25 days to gc: pulled within 30d

# --- helpers ----------------------------------------------------------------

sub gc { oci_admin_json('gc', '--storage', $S, '--age-offset', '10d', @_) }

sub fsck { oci_admin_json('fsck', '--storage', $S, @_) }

sub atime { (stat $_[0])[8] }

# the access time a mirror location would have left: the inode's, so
# every link of the content and its blobs/ file
sub pulled_at {
    my ($t, @paths) = @_;
    for my $p (@paths) {
        my $m = (stat $p)[9] // die "$p: $!";
        utime $t, $m, $p or die "utime $p: $!";
    }
}

sub links_of {
    my ($repo, $m, @blobs) = @_;
    return ((map { link_path($S, $repo, '_blobs', $_->{digest}) } @blobs),
            $m ? link_path($S, $repo, '_manifests', $m->{digest}) : ());
}

# every regular file, with its inode and links: no content is read
sub files {
    my %t;
    find({ no_chdir => 1, wanted => sub {
        my @st = lstat $_;
        $t{$_} = "$st[1]:$st[3]:$st[7]" if -f _ && !m{/_referrers/|/_tmp/};
    } }, $S);
    return \%t;
}

sub atimes { my ($f) = @_; return { map { $_ => atime($_) } keys %$f } }

sub gone_since {
    my ($before) = @_;
    my $now = files();
    return [ sort grep { !exists $now->{$_} } keys %$before ];
}

sub added_since {
    my ($before) = @_;
    my $now = files();
    return [ sort grep { !exists $before->{$_} } keys %$now ];
}

sub push_image {
    my ($repo, $ref, %o) = @_;
    my $u = unique();
    my $config = push_blob($srv, $repo, qq({"architecture":"amd64","os":"linux","u":"$u"}),
                           OCI_CONFIG);
    my @layers = map { push_blob($srv, $repo, $_) } @{ $o{layers} // [ "layer $u" ] };
    my $doc = image_manifest(config => $config, layers => \@layers,
                             $o{subject} ? (subject => $o{subject}) : ());
    my ($res, $desc) = push_manifest($srv, $repo, $ref // sha256(enc($doc)), $doc);
    is $res->code, 201, "$repo: manifest pushed" or diag dump_res($res);
    return ($desc, $config, @layers);
}

sub files_in {
    my ($dir) = @_;
    my $n = 0;
    find({ no_chdir => 1, wanted => sub { $n++ if -f $_ } }, $dir) if -d $dir;
    return $n;
}

sub listed {
    my ($repo, $digest) = @_;
    my $res = $srv->req('GET', "/v2/$repo/referrers/$digest");
    return $res->code == 200 ? [ map { $_->{digest} } @{ decode_json($res->content)->{manifests} } ]
                             : "status " . $res->code;
}

sub refs_of {
    my ($repo, $subject) = @_;
    return [ grep { length } split /\n/,
             $redis->cli('ZRANGE', "oci:{$repo\@$subject->{digest}}:refs", 0, -1) ];
}

# --- usage ------------------------------------------------------------------

{
    my ($rc, $out) = oci_admin('gc', '--help');
    like $out, qr/--orphan-referrers-grace.*--unpulled-for <dur>.*--redis/s,
        'gc --help lists --unpulled-for';
    unlike $out, qr/pause-before-expire/, '... but not the test hook';
    ($rc, $out) = oci_admin('fsck', '--help');
    like $out, qr/--mirror/, 'fsck --help lists --mirror';

    my $err;
    ($rc, $out, $err) = oci_admin('gc', '--storage', $S, '--unpulled-for', '30y');
    is $rc, 1, 'gc --unpulled-for 30y: exit 1';
    like $err, qr/--unpulled-for "30y" is not a duration/, '... and says so';
    ($rc, $out, $err) = oci_admin('gc', '--storage', $S, '--unpulled-for', '0');
    is $rc, 1, 'gc --unpulled-for 0: exit 1';

    SKIP: {
        skip 'the test storage is not mounted relatime', 2 unless $options =~ /\brelatime\b/;
        ($rc, $out, $err) = oci_admin('gc', '--storage', $S, '--unpulled-for', '12h', '--dry-run');
        is $rc, 0, 'gc --unpulled-for 12h on a relatime mount: exit 0' or diag $err;
        like $err, qr/^oci-admin: gc: --unpulled-for 12h: with relatime an access time moves once a day at most/m,
            '... with a warning';
    }

    # on a noatime mount nothing would ever look pulled
    SKIP: {
        my $dir = tempdir('oci-noatime-XXXXXX', TMPDIR => 1, CLEANUP => 1);
        skip 'cannot mount a tmpfs noatime here', 3
            unless $> == 0 && (run_cmd([ 'mount', '-t', 'tmpfs', '-o', 'noatime,size=1m', 'tmpfs', $dir ]))[0] == 0;
        ($rc, $out, $err) = oci_admin('gc', '--storage', $dir, '--unpulled-for', '30d');
        my ($rc2) = oci_admin('gc', '--storage', $dir);
        run_cmd([ 'umount', $dir ]);
        is $rc, 1, 'gc --unpulled-for on a storage mounted noatime: exit 1';
        like $err, qr/--unpulled-for: \Q$dir\E is on a file system mounted noatime/, '... and says why';
        is $rc2, 0, '... gc without it works there';
    }
}

# --- a mirror's storage -----------------------------------------------------

# hub/a pulls an image whose layer hub/b's old image has too
my $shared = "a layer of both images";
my ($ma, $ca, $la, $lshared) = push_image('hub/a', 'v1', layers => [ "layer of a", $shared ]);

# hub/b: an image nobody pulled, tagged; one pulled but for a layer
my ($mb, $cb, $lb, $lshared_b) = push_image('hub/b', 'old', layers => [ "layer of b", $shared ]);
my ($mb2, $cb2, $lb2, $lb2x) = push_image('hub/b', 'new', layers => [ "layer of b2", "cached by clients" ]);
store_tag($S, 'hub/b', 'gone', sha256('a manifest never stored'));

# hub/c: an index, one platform pulled and the other not, a signature of
# the first that nobody fetched
my ($c1, $cc1, $lc1) = push_image('hub/c');
my ($c2, $cc2, $lc2) = push_image('hub/c');
my $index = index_manifest(manifests => [ $c1, $c2 ]);
my ($res, $mi) = push_manifest($srv, 'hub/c', 'multi', $index);
is $res->code, 201, 'hub/c: index pushed';
my $empty = push_blob($srv, 'hub/c', '{}', OCI_EMPTY);
my $sigdoc = { schemaVersion => 2, mediaType => OCI_MANIFEST,
               artifactType => 'application/vnd.example.signature',
               config => empty_desc(), layers => [ empty_desc() ], subject => $c1 };
($res, my $sig) = push_manifest($srv, 'hub/c', sha256(enc($sigdoc)), $sigdoc);
is $res->code, 201, 'hub/c: signature pushed';
# the first reading makes the pair's directory, the second publishes
is_deeply listed('hub/c', $c1->{digest}), [ $sig->{digest} ], "the signature is listed ($_)"
    for 1 .. 2;
my $pages = "$S/repositories/hub/c/_referrers/" . ($c1->{digest} =~ s{:}{/}r);
ok files_in($pages) > 0, '... and its page cached';

# hub/d: a link made a moment ago to content nobody pulled for long
push_blob($srv, 'hub/d', 'old content, linked anew');
my $young = link_path($S, 'hub/d', '_blobs', sha256('old content, linked anew'));

# the access times a mirror would have left: pushes stored everything
# with a fresh one
pulled_at($STALE, links_of('hub/b', $mb, $cb, $lb), links_of('hub/b', undef, $lb2x),
          links_of('hub/c', $c2, $cc2, $lc2), links_of('hub/c', $sig, $empty));
pulled_at($RECENT, links_of('hub/c', $c1, $cc1));
utime $STALE, time + $OFFSET - 600, $young or die "utime: $!";

my @expired_manifests = (['hub/b', $mb], ['hub/c', $c2], ['hub/c', $sig]);
my @expired_links = ((map { ['hub/b', $_] } $cb, $lb, $lb2x),
                     (map { ['hub/c', $_] } $cc2, $lc2, $empty));
my @expired_tags = ('hub/b:gone', 'hub/b:old');

# what goes: the links, .type files and tags expired; hub/b's link to
# the shared layer (no manifest of hub/b uses it any more); the content
# nothing links then. The shared layer stays: hub/a links it.
my @gone = sort(
    (map { link_path($S, $_->[0], '_manifests', $_->[1]{digest}),
           link_path($S, $_->[0], '_manifests', $_->[1]{digest}) . '.type' } @expired_manifests),
    (map { link_path($S, $_->[0], '_blobs', $_->[1]{digest}) } @expired_links),
    "$S/repositories/hub/b/_tags/gone", "$S/repositories/hub/b/_tags/old",
    link_path($S, 'hub/b', '_blobs', $lshared->{digest}),
    (map { blob_path($S, $_->[1]{digest}) } @expired_manifests, @expired_links));

# --- dry run ------------------------------------------------------------------

{
    my $before = files();
    my $times = atimes($before);
    my ($rc, $j, $err) = gc('--unpulled-for', '30d', '--dry-run', '--redis', "unix:$sock");
    is $rc, 0, 'gc --unpulled-for --dry-run: exit 0' or diag $err;
    is_deeply files(), $before, '... removes nothing';
    is_deeply atimes($before), $times, '... and moves no access time';
    is $j->{unpulled_for}, 30 * 86400, '... the duration in seconds';
    is_deeply [ @$j{qw(expired_manifests expired_blob_links expired_tags deleted_blob_links
                       deleted_blob_files unindexed)} ],
              [ 3, 6, 2, 1, 9, 1 ], '... counts what would go' or diag explain $j;
    my $w = $j->{would_expire} // {};
    is_deeply [ sort map { "$_->{repository}\@$_->{digest}" } @{ $w->{manifests} // [] } ],
              [ sort map { "$_->[0]\@$_->[1]{digest}" } @expired_manifests ],
              '... naming the manifests that would expire';
    is_deeply [ sort map { "$_->{repository}\@$_->{digest}" } @{ $w->{blob_links} // [] } ],
              [ sort map { "$_->[0]\@$_->[1]{digest}" } @expired_links ], '... the blob links';
    is_deeply [ sort map { "$_->{repository}:$_->{tag}" } @{ $w->{tags} // [] } ],
              \@expired_tags, '... the tags';
    is_deeply [ map { "$_->{repository}\@$_->{digest}" } @{ $j->{would_delete}{blob_links} // [] } ],
              [ "hub/b\@$lshared->{digest}" ], '... and what the sweep would delete then';
    is_deeply [ sort map { $_->{digest} } @{ $j->{would_delete}{blob_files} // [] } ],
              [ sort map { $_->[1]{digest} } @expired_manifests, @expired_links ],
              '... and the content nothing would link';

    my $out;
    ($rc, $out, $err) = oci_admin('gc', '--storage', $S, '--age-offset', '10d',
                                  '--unpulled-for', '30d', '--dry-run');
    is $rc, 0, 'in text: exit 0' or diag $err;
    like $out, qr/^would expire manifest hub\/b\@\Q$mb->{digest}\E$/m, '... a manifest named';
    like $out, qr/^would expire blob link hub\/b\@\Q$lb2x->{digest}\E$/m, '... a blob link';
    like $out, qr/^would expire tag hub\/b:old$/m, '... a tag';
    like $out, qr/^gc \(dry run\): 4 repositories, \d+ manifests, \d+ blob links, \d+ blob files; would expire 3 manifests, 6 blob links, 2 tags not pulled for 30d; would delete 0 manifests, 1 blob links, 9 blob files/m,
        '... and the summary';
    is_deeply files(), $before, 'still nothing removed';
}

# --- the run ----------------------------------------------------------------

{
    my $before = files();
    my $kept = [ grep { my $f = $_; !grep { $_ eq $f } @gone } keys %$before ];
    my $times = atimes({ map { $_ => 1 } @$kept });

    my ($rc, $j, $err) = gc('--unpulled-for', '30d', '--redis', "unix:$sock");
    is $rc, 0, 'gc --unpulled-for 30d: exit 0' or diag $err;
    is_deeply [ @$j{qw(expired_manifests expired_blob_links expired_tags deleted_manifests
                       deleted_blob_links deleted_blob_files unindexed changed errors)} ],
              [ 3, 6, 2, 0, 1, 9, 1, 0, 0 ], '... as the dry run said' or diag explain $j;
    is_deeply gone_since($before), \@gone, '... exactly what was not pulled, and what only it used';
    is_deeply added_since($before), [], '... nothing added';
    is_deeply atimes({ map { $_ => 1 } @$kept }), $times,
        '... and no access time of what stays moved (gc read the manifests)';

    ok -e $young, 'a link younger than the grace stays, whatever its access time';
    ok -e blob_path($S, $lshared->{digest}), 'the shared layer stays, linked by hub/a';
    ok !-e link_path($S, 'hub/b', '_blobs', $lshared->{digest}), '... but not by hub/b';

    is_deeply refs_of('hub/c', $c1), [], 'the signature left the referrers index';
    is files_in($pages), 0, '... and its subject has no cached page';
    is_deeply listed('hub/c', $c1->{digest}), [], '... and is listed no more';

    is_unknown $srv, 'hub/b', 'old', 'the expired image: its tag is gone';
    is_error $srv->req('GET', "/v2/hub/b/manifests/$mb->{digest}"), 404, 'MANIFEST_UNKNOWN',
        '... and its manifest';
    is_error $srv->req('GET', "/v2/hub/b/blobs/$lb->{digest}"), 404, 'BLOB_UNKNOWN', '... and its layer';
    is $srv->req('GET', "/v2/hub/a/manifests/v1")->code, 200, 'hub/a still serves its image';
    is $srv->req('GET', "/v2/hub/a/blobs/$lshared->{digest}")->code, 200, '... and the shared layer';
    is $srv->req('GET', "/v2/hub/c/manifests/multi")->code, 200, 'the index stays';
    is $srv->req('GET', "/v2/hub/b/manifests/new")->code, 200, 'so does the image pulled recently';
}

{
    my ($rc, $j, $err) = gc('--unpulled-for', '30d');
    is $rc, 0, 'a second run: exit 0' or diag $err;
    is_deeply [ @$j{qw(expired_manifests expired_blob_links expired_tags deleted_blob_files)} ],
              [ 0, 0, 0, 0 ], '... expires nothing more';
}

# --- fsck on the mirror ---------------------------------------------------------

{
    my $before = files();
    my $times = atimes($before);
    my ($rc, $j, $err) = fsck('--mirror');
    is $rc, 0, 'fsck --mirror: exit 0' or diag $err;
    is $j->{problems_found}, 0, '... no problem' or diag explain $j->{problems};
    is $j->{not_fetched}, 2, '... two manifests not fetched whole yet (an image, the index)';
    ok $j->{mirror}, '... "mirror": true';
    is_deeply atimes($before), $times, '... and no access time moved (fsck hashed every blob)';

    my $out;
    ($rc, $out) = oci_admin('fsck', '--storage', $S, '--mirror');
    like $out, qr/^fsck: \d+ blob files .*, 4 repositories, 4 manifests \(2 not fetched whole yet\), 3 tags, /,
        'in text: the manifests not fetched whole';

    ($rc, $j, $err) = fsck();
    is $rc, 3, 'fsck without --mirror: exit 3';
    is_deeply [ sort map { "$_->{kind} $_->{repository} $_->{ref}" } @{ $j->{problems} } ],
              [ sort "missing-blob hub/b $mb2->{digest}", "missing-manifest hub/c $mi->{digest}" ],
              '... the absent layer and platform are problems' or diag explain $j->{problems};
    is $j->{not_fetched}, 0, '... none counted as not fetched';
    ok !$j->{mirror}, '... "mirror": false';

    # everything else fsck checks stays
    store_tag($S, 'hub/a', 'dangling', sha256('never stored either'));
    ($rc, $j, $err) = fsck('--mirror');
    is $rc, 3, 'fsck --mirror with a dangling tag: exit 3';
    is_deeply [ map { "$_->{kind} $_->{repository} $_->{ref}" } @{ $j->{problems} } ],
              [ 'dangling-tag hub/a dangling' ], '... reported';
    unlink "$S/repositories/hub/a/_tags/dangling";
}

SKIP: {
    skip 'not root: setpriv cannot run oci-admin as another user', 2 unless $> == 0;
    # readable by all: the module makes its directories 0700
    chmod 0755, $srv->servroot;
    find({ no_chdir => 1, wanted => sub { chmod -d $_ ? 0755 : 0644, $_ } }, $S);
    my ($rc, $out, $err) = run_cmd([ 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                                     admin_command('fsck', '--storage', $S, '--mirror') ]);
    is $rc, 0, 'fsck --mirror as a user that does not own the files: exit 0' or diag $err;
    like $err, qr/^oci-admin: fsck: \d+ files were read without O_NOATIME.*run oci-admin as the user that owns the storage$/m,
        '... and a warning that their access times moved';
}

# --- pulls while gc runs ------------------------------------------------------

# pulled between the finding and the removal: kept
{
    my ($me, $ce, $le) = push_image('hub/e', 't');
    pulled_at($STALE, links_of('hub/e', $me, $ce, $le));

    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, admin_command('gc', '--storage', $S, '--age-offset', '10d',
                    '--unpulled-for', '30d', '--json', '--pause-before-expire', '2'));
    close $in;
    my $line = <$err> // '';
    like $line, qr/^oci-admin: gc: unpulled links found, pausing 2 s$/, 'gc paused before expiring';

    # a pull moves the access time alone (it is older than the ctime)
    my $manifest = link_path($S, 'hub/e', '_manifests', $me->{digest});
    my $layer = link_path($S, 'hub/e', '_blobs', $le->{digest});
    is $srv->req('GET', "/v2/hub/e/manifests/$me->{digest}")->code, 200, 'the manifest pulled meanwhile';
    is $srv->req('GET', "/v2/hub/e/blobs/$le->{digest}")->code, 200, '... and the layer';
    ok atime($manifest) > $STALE && atime($layer) > $STALE, '... which moved their access times';

    my $stdout = do { local $/; <$out> } // '';
    my $stderr = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    is $? >> 8, 0, 'gc: exit 0' or diag $stderr;
    my $j = eval { decode_json($stdout) } // {};

    ok -e $manifest, 'the manifest pulled meanwhile stays';
    ok -e "$S/repositories/hub/e/_tags/t", '... and its tag';
    ok -e $layer, '... and the layer';
    is $j->{changed}, 2, '... counted as changed' or diag explain $j;
    ok !-e link_path($S, 'hub/e', '_blobs', $ce->{digest}), 'the config nobody pulled goes';
}

# filled again after its links expired, before the blobs/ pass: the
# content the fresh links point to stays
{
    my ($mf, $cf, $lf) = push_image('hub/f', 't', layers => [ 'layer of f' ]);
    pulled_at($STALE, links_of('hub/f', $mf, $cf, $lf));

    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, admin_command('gc', '--storage', $S, '--age-offset', '10d',
                    '--unpulled-for', '30d', '--json', '--pause-after-mark', '2'));
    close $in;
    my $line = <$err> // '';
    like $line, qr/^oci-admin: gc: marked, pausing 2 s$/, 'gc paused after the mark';
    ok !-e link_path($S, 'hub/f', '_manifests', $mf->{digest}), 'the image expired';

    my ($mf2) = push_image('hub/f', 't', layers => [ 'layer of f' ]);

    my $stdout = do { local $/; <$out> } // '';
    my $stderr = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    is $? >> 8, 0, 'gc: exit 0' or diag $stderr;

    ok -e blob_path($S, $lf->{digest}), 'the layer filled again meanwhile stays in blobs/';
    is $srv->req('GET', "/v2/hub/f/blobs/$lf->{digest}")->code, 200, '... and is served';
    is $srv->req('GET', "/v2/hub/f/manifests/t")->code, 200, 'the image filled again is served';
    my ($rc, $j) = fsck('--mirror');
    is $rc, 0, 'fsck --mirror: exit 0' or diag explain $j->{problems};
}

# a tag whose manifest is filled again while gc waits for the tag's lock
# stays
{
    my ($mg) = push_image('hub/g', 't');
    pulled_at($STALE, link_path($S, 'hub/g', '_manifests', $mg->{digest}));
    my $release = hold_tag_lock($S, 'hub/g', 't');

    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, admin_command('gc', '--storage', $S, '--age-offset', '10d',
                    '--unpulled-for', '30d', '--json'));
    close $in;
    my $link = link_path($S, 'hub/g', '_manifests', $mg->{digest});
    for (1 .. 600) { last unless -e $link; select undef, undef, undef, 0.05 }
    ok !-e $link, 'the manifest expired, gc waits for the lock of its tag';
    my $res = put_manifest($srv, 'hub/g', $mg->{digest}, slurp(blob_path($S, $mg->{digest})),
                           OCI_MANIFEST);
    is $res->code, 201, 'the manifest filled again' or diag dump_res($res);
    $release->();

    my $stdout = do { local $/; <$out> } // '';
    my $stderr = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    is $? >> 8, 0, 'gc: exit 0' or diag $stderr;
    my $j = eval { decode_json($stdout) } // {};
    is $j->{expired_tags}, 0, '... removed no tag' or diag explain $j;
    is $srv->req('GET', "/v2/hub/g/manifests/t")->code, 200, 'the tag still names the manifest';
}

# --- a real mirror ------------------------------------------------------------

# a mirror of another nginx: what gc expired is fetched again by the next
# pull
{
    my $up = OCI::Harness->start(config => registry_conf());
    my $port = $up->port;
    my $mirror = OCI::Harness->start(config => registry_conf('oci_proxy up.test /_up/ default;')
        . "    location /_up/ {\n        internal;\n        proxy_pass http://127.0.0.1:$port/;\n"
        . "        proxy_pass_request_headers off;\n"
        . "        proxy_set_header Authorization \$oci_proxy_authorization;\n"
        . "        proxy_set_header Accept \$oci_proxy_accept;\n"
        . "        proxy_max_temp_file_size 0;\n        proxy_http_version 1.1;\n"
        . "        proxy_set_header Connection \"\";\n    }\n");
    my $M = $mirror->storage;

    my %img;
    for my $t ('kept', 'old') {
        my $doc = new_image($up, 'lib/app');
        my ($res, $desc) = push_manifest($up, 'lib/app', $t, $doc);
        is $res->code, 201, "upstream: $t pushed";
        $img{$t} = { manifest => $desc, layer => $doc->{layers}[0], config => $doc->{config} };
        is $mirror->req('GET', "/v2/lib/app/manifests/$t", headers => [ Accept => OCI_MANIFEST ])->code,
            200, "mirror: $t pulled";
        is $mirror->req('GET', "/v2/lib/app/blobs/$img{$t}{layer}{digest}")->code, 200, '... and its layer';
    }
    ok -e link_path($M, 'lib/app', '_manifests', $img{old}{manifest}{digest}), 'the mirror stored what was pulled';
    ok !-e link_path($M, 'lib/app', '_blobs', $img{old}{config}{digest}), '... and not the config nobody pulled';

    my ($rc, $j, $err) = oci_admin_json('fsck', '--storage', $M, '--mirror');
    is $rc, 0, 'fsck --mirror of the mirror: exit 0' or diag $err;
    is $j->{not_fetched}, 2, '... the two images are not fetched whole';
    ($rc, $j) = oci_admin_json('fsck', '--storage', $M);
    is_deeply [ sort map { $_->{kind} } @{ $j->{problems} } ], [ 'missing-blob', 'missing-blob' ],
        'fsck without --mirror: their configs are missing';

    pulled_at($STALE, map { link_path($M, 'lib/app', $_->[0], $img{old}{$_->[1]}{digest}) }
                          [ '_manifests', 'manifest' ], [ '_blobs', 'layer' ]);
    ($rc, $j, $err) = oci_admin_json('gc', '--storage', $M, '--age-offset', '10d', '--unpulled-for', '30d');
    is $rc, 0, 'gc --unpulled-for on the mirror: exit 0' or diag $err;
    is_deeply [ @$j{qw(expired_manifests expired_blob_links expired_tags deleted_blob_files)} ],
              [ 1, 1, 1, 2 ], '... the image nobody pulled expired, its content freed'
        or diag explain $j;
    ok !-e blob_path($M, $img{old}{layer}{digest}), '... its layer is gone';
    ok -e blob_path($M, $img{kept}{layer}{digest}), 'the image pulled lately stays';

    my $res = $mirror->req('GET', "/v2/lib/app/manifests/old", headers => [ Accept => OCI_MANIFEST ]);
    is $res->code, 200, 'the expired image is pulled again';
    is $res->header('Docker-Content-Digest'), $img{old}{manifest}{digest}, '... the same manifest';
    is $mirror->req('GET', "/v2/lib/app/blobs/$img{old}{layer}{digest}")->code, 200, '... and its layer';
    ok -e blob_path($M, $img{old}{layer}{digest}), '... fetched and stored again';
    ($rc, $j, $err) = oci_admin_json('fsck', '--storage', $M, '--mirror');
    is $rc, 0, 'fsck --mirror: exit 0' or diag $err;

    stops_cleanly($mirror, 'the mirror');
    stops_cleanly($up, 'the upstream');
}

stops_cleanly($srv);

done_testing;
