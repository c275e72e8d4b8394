# The page cache of the referrers API (docs/referrers.md, "The page
# cache"): cached answers are those of the index, byte for byte; pushes,
# deletes, oci-admin gc and reindex invalidate them; links planted in the
# cache are not followed; keys a client makes up create no file; cached
# pages are served while Redis is down, misses answer 503.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use File::Find;
use File::Path qw(make_path remove_tree);
use POSIX ();
use JSON::XS qw(decode_json);
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

my $redis = OCI::Redis->start or plan skip_all => 'redis-server not found';
my $sock = $redis->socket;

use constant {
    SIGNATURE => 'application/vnd.example.signature',
    SBOM      => 'application/vnd.example.sbom',
    PAGE      => 3,
};

my @common = ('oci_delete on;', "oci_redis unix:$sock;",
              'oci_referrers_page_size ' . PAGE . ';');

# the registry, and a second front on its storage that renders every page
my $srv = OCI::Harness->start(workers => 2,
                              config => registry_conf(@common));
my $off = OCI::Harness->start(config => OCI::Test::_location($srv->storage,
                              @common, 'oci_referrers_cache off;'));
my $S = $srv->storage;

my $n = 0;
sub artifact {
    my ($subject, $type) = @_;
    $n++;
    return { schemaVersion => 2, mediaType => OCI_MANIFEST,
             artifactType => $type, config => empty_desc(),
             layers => [ empty_desc() ], subject => $subject,
             annotations => { 'org.example.n' => "$n $$" } };
}

# a referrer pushed by digest (untagged): its digest
sub push_ref {
    my ($name, $subject, $type) = @_;
    $srv->req('POST', "/v2/$name/blobs/uploads/?digest=" . EMPTY_DIGEST, body => '{}');
    my $doc = artifact($subject, $type);
    my ($res, $desc) = push_manifest($srv, $name, sha256(enc($doc)), $doc);
    is $res->code, 201, "referrer $n pushed";
    return $desc->{digest};
}

sub get { my ($s, $name, $digest, $q, @h) = @_;
          $s->req('GET', "/v2/$name/referrers/$digest" . ($q // ''), headers => \@h) }

sub pages_dir { my ($name, $digest) = @_; my ($alg, $hex) = split /:/, $digest;
                "$S/repositories/$name/_referrers/$alg/$hex" }

sub files_in {
    my ($dir) = @_;
    my @f;
    find({ wanted => sub { push @f, $File::Find::name if -f $_ || -l $_ },
           no_chdir => 1 }, $dir) if -d $dir;
    return scalar @f;
}

sub listed { my ($res) = @_; $res->code == 200
             ? [ map { $_->{digest} } @{ decode_json($res->content)->{manifests} } ] : undef }

# every page of a listing, following Link
sub all_listed {
    my ($name, $digest) = @_;
    my ($q, @all) = ('');
    for (1 .. 20) {
        my $res = get($srv, $name, $digest, $q);
        push @all, @{ listed($res) // [] };
        my ($next) = ($res->header('Link') // '') =~ /<[^>?]*(\?[^>]*)>/ or last;
        $q = $next;
    }
    return \@all;
}

# the cached front answers as the uncached one, on the miss and on hits
sub same_as_uncached {
    my ($name, $digest, $q, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $want = get($off, $name, $digest, $q);
    is $want->code, 200, "$what: uncached 200";
    same_answer(get($srv, $name, $digest, $q), $want, "$what, request $_")
        for 1 .. 3;
    return $want;
}

my $subject = push_image($srv, 'app');
my @sigs = map { push_ref('app', $subject, SIGNATURE) } 1 .. 5;
my @sboms = map { push_ref('app', $subject, SBOM) } 1 .. 2;
my $D = $subject->{digest};
my $dir = pages_dir('app', $D);

sub push_image {
    my ($s, $name) = @_;
    my ($res, $desc) = push_manifest($s, $name, 'v' . ++$n, new_image($s, $name));
    is $res->code, 201, 'image pushed';
    return $desc;
}

subtest 'cached pages are the uncached answers, byte for byte' => sub {
    ok !-d $dir, 'no pages before the first read';
    my $first = same_as_uncached('app', $D, '', 'first page');
    ok $first->header('Link'), 'it has a Link';
    my ($last) = $first->header('Link') =~ /last=([^&>]+)/;
    same_as_uncached('app', $D, "?last=$last", 'second page');
    same_as_uncached('app', $D, '?artifactType=' . SBOM, 'filtered');
    same_as_uncached('app', $D, '?artifactType=' . SIGNATURE, 'filtered, a Link');
    same_as_uncached('app', $D, '?n=100', 'n above the page size');
    is files_in($dir), 4, 'four pages cached (n above the page size is the page size)';

    my $res = get($srv, 'app', $D, '', 'If-None-Match' => $first->header('ETag'));
    is $res->code, 304, 'If-None-Match with the cached ETag: 304';
    $res = $srv->req('HEAD', "/v2/app/referrers/$D");
    is $res->code, 200, 'HEAD from the cache';
    is $res->header('Content-Length'), length $first->content, 'its length';
    is $res->content, '', 'and no body';
};

# a small page is read whole and answered from memory, a larger one
# (over 4 KiB) is sent from its file
subtest 'a page larger than one read is sent from its file' => sub {
    my $big = push_image($srv, 'big');
    $srv->req('POST', '/v2/big/blobs/uploads/?digest=' . EMPTY_DIGEST, body => '{}');
    my $doc = artifact($big, SBOM);
    $doc->{annotations}{'org.example.padding'} = 'x' x 6000;
    my ($res) = push_manifest($srv, 'big', sha256(enc($doc)), $doc);
    is $res->code, 201, 'a referrer with 6000 bytes of annotations';
    my $want = same_as_uncached('big', $big->{digest}, '', 'a page over 4 KiB');
    cmp_ok length $want->content, '>', 4096, 'the page is over 4 KiB';
    is files_in(pages_dir('big', $big->{digest})), 1, 'and cached';
    $res = $srv->req('HEAD', "/v2/big/referrers/$big->{digest}");
    is $res->header('Content-Length'), length $want->content, 'HEAD: its length';
};

subtest 'a push and a delete of a referrer invalidate its subject' => sub {
    same_as_uncached('app', $D, '', 'before');
    my $new = push_ref('app', $subject, SIGNATURE);
    ok !-d $dir || files_in($dir) == 0, 'no page left after the push';
    same_as_uncached('app', $D, '?artifactType=' . SIGNATURE, 'after the push');
    push @sigs, $new;
    same_as_uncached('app', $D, '', 'first page after the push');

    my $gone = listed(get($srv, 'app', $D, ''))->[0];
    is $srv->req('DELETE', "/v2/app/manifests/$gone")->code, 202,
        'the first referrer of the cached page deleted';
    ok !-d $dir || files_in($dir) == 0, 'no page left after the delete';
    my $after = same_as_uncached('app', $D, '', 'after the delete');
    ok !grep({ $_ eq $gone } @{ listed($after) }), 'the deleted one is not listed';
    @sigs = grep { $_ ne $gone } @sigs;
    @sboms = grep { $_ ne $gone } @sboms;
};

subtest 'several fronts share the cache and its invalidation' => sub {
    my $two = OCI::Harness->start(config => OCI::Test::_location($S, @common));
    same_answer(get($two, 'app', $D, ''), get($off, 'app', $D, ''), "front two, request $_")
        for 1 .. 3;
    my $new = push_ref('app', $subject, SBOM);
    push @sboms, $new;
    my $res = get($two, 'app', $D, '?artifactType=' . SBOM);
    ok grep({ $_ eq $new } @{ listed($res) }), 'front two lists what front one took';
    same_answer($res, get($off, 'app', $D, '?artifactType=' . SBOM), 'front two, filtered');
};

subtest 'Redis down: cached pages served, misses 503' => sub {
    my $want = get($off, 'app', $D, '');
    same_answer(get($srv, 'app', $D, ''), $want, "warm $_") for 1 .. 2;
    $redis->stop;
    same_answer(get($srv, 'app', $D, ''), $want, 'Redis down: the cached page');
    is get($srv, 'app', $D, '?n=2')->code, 503, 'Redis down: a page not cached is 503';
    is get($off, 'app', $D, '')->code, 503, 'and the uncached front answers 503';
    ok $redis->start_again, 'Redis restarted, empty';
    select undef, undef, undef, 2.1;    # past the longest connect backoff

    # the cached page lists what an empty index does not: reindex fixes both
    my ($rc, $j) = oci_admin_json('reindex', '--storage', $S, '--redis', "unix:$sock");
    is $rc, 0, 'oci-admin reindex';
    ok !-d "$S/repositories/app/_referrers" || files_in("$S/repositories/app/_referrers") == 0,
        'reindex dropped the cached pages';
    same_as_uncached('app', $D, '', 'after reindex');
    same_as_uncached('app', $D, '?artifactType=' . SIGNATURE, 'after reindex, filtered');
    is_deeply [ sort @{ all_listed('app', $D) } ], [ sort @sigs, @sboms ],
              'every referrer listed, following Link';
};

subtest 'oci-admin gc deleting referrers invalidates their subject' => sub {
    my $img = push_image($srv, 'gc');
    my @refs = map { push_ref('gc', $img, SIGNATURE) } 1 .. 2;
    my $gdir = pages_dir('gc', $img->{digest});
    same_as_uncached('gc', $img->{digest}, '', 'before gc');
    ok files_in($gdir) > 0, 'cached';

    # the subject goes: its referrers are orphans, gc collects them
    is $srv->req('DELETE', "/v2/gc/manifests/$img->{digest}")->code, 202, 'subject deleted';
    same_answer(get($srv, 'gc', $img->{digest}, ''), get($off, 'gc', $img->{digest}, ''),
                'a deleted subject keeps its listing');
    my ($rc, $j) = oci_admin_json('gc', '--storage', $S, '--untagged', '--age-offset', '10d',
                                  '--redis', "unix:$sock");
    is $rc, 0, 'oci-admin gc --untagged';
    is $srv->req('GET', "/v2/gc/manifests/$refs[0]")->code, 404, 'the referrer is collected';
    ok !-d $gdir || files_in($gdir) == 0, 'its subject has no cached page';
    my $res = get($srv, 'gc', $img->{digest}, '');
    is_deeply listed($res), [], 'the listing is empty';
    same_answer($res, get($off, 'gc', $img->{digest}, ''), 'as uncached');
};

subtest 'links planted in the cache are not followed' => sub {
    my $want = get($off, 'app', $D, '');
    same_answer(get($srv, 'app', $D, ''), $want, "warm $_") for 1 .. 2;
    my @pages = glob("$dir/page-*");
    ok @pages >= 1, 'pages cached';

    # a forged page elsewhere, with a valid header
    my $forged = "$S/forged";
    my $body = '{"forged":true}';
    spew($forged, "ocirefs1\n" . ('0' x 64) . "\n" . (' ' x (256 - 75)) . "\n" . $body);
    for my $p (@pages) { unlink $p; symlink $forged, $p or die "symlink: $!" }
    my $res = get($srv, 'app', $D, '');
    isnt $res->content, $body, 'a page that is a link is not served';
    same_answer($res, $want, 'the page is rendered instead');

    # the pair's directory itself a link to forged pages
    my $elsewhere = "$S/elsewhere";
    remove_tree($elsewhere);
    make_path($elsewhere);
    spew("$elsewhere/" . ($pages[0] =~ s{.*/}{}r), slurp($forged));
    remove_tree($dir);
    symlink $elsewhere, $dir or die "symlink: $!";
    same_answer(get($srv, 'app', $D, ''), $want, "directory a link, request $_") for 1 .. 2;
    is files_in($elsewhere), 1, 'nothing published through the link';
    unlink $dir;
};

subtest 'keys a client makes up create no file' => sub {
    same_as_uncached('app', $D, $_, "warm $_")
        for '', '?artifactType=' . SIGNATURE, '?artifactType=' . SBOM;
    my $root = "$S/repositories/app/_referrers";
    my $before = files_in($root);
    my @dirs_before = glob("$root/*/*");
    my @types = (SIGNATURE, SBOM, map { "application/x-made-up-$_" } 1 .. 5);
    srand(63);
    for my $i (1 .. 100) {
        my @q;
        push @q, 'n=' . int(rand(2 * PAGE)) if rand() < 0.5;
        push @q, 'last=' . sha256("made up $i") if rand() < 0.5;
        push @q, map { 'artifactType=' . $types[rand @types] } 1 .. int(rand(3));
        my $subject = rand() < 0.3 ? sha256("no such subject $i") : $D;
        my $res = get($srv, 'app', $subject, @q ? '?' . join('&', @q) : '');
        is $res->code, 200, "request $i" unless $res->code == 200;
    }
    is $before, 3, 'the pages of the three keys that exist are cached';
    is files_in($root), $before, 'no page file more after 100 requests';
    is scalar(my @d = glob("$root/*/*")), scalar @dirs_before, 'no directory more';
};

subtest 'at most 16 artifactType filters' => sub {
    my $q16 = '?' . join '&', map { "artifactType=t$_" } 1 .. 16;
    is get($srv, 'app', $D, $q16)->code, 200, '16 filters';
    my $res = get($srv, 'app', $D, "$q16&artifactType=t17");
    is $res->code, 400, '17 filters: 400';
    is error_code($res), 'UNSUPPORTED', 'UNSUPPORTED';
};

subtest 'a read racing a push: no page older than the push survives' => sub {
    my $img = push_image($srv, 'race');
    push_ref('race', $img, SIGNATURE);
    same_as_uncached('race', $img->{digest}, '', 'warm');
    for my $round (1 .. 3) {
        unlink glob(pages_dir('race', $img->{digest}) . '/page-*');

        # Redis holds both: the read is queued before the push's update
        $redis->pause;
        my $reader = $srv->connect;
        $reader->send("GET /v2/race/referrers/$img->{digest} HTTP/1.1\r\n"
                      . "Host: localhost\r\nConnection: close\r\n\r\n");
        select undef, undef, undef, 0.2;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $doc = artifact($img, SIGNATURE);
            my ($res) = push_manifest($srv, 'race', sha256(enc($doc)), $doc);
            POSIX::_exit($res->code == 201 ? 0 : 1);
        }
        select undef, undef, undef, 0.2;
        $redis->resume;
        waitpid $pid, 0;
        is $?, 0, "round $round: the racing push succeeded";
        is $reader->read_response->code, 200, "round $round: the racing read answered";
        same_answer(get($srv, 'race', $img->{digest}, ''), get($off, 'race', $img->{digest}, ''),
                    "round $round: the next read lists the push");
    }
};

subtest 'a read publishes into the directory it opened before reading' => sub {
    my $img = push_image($srv, 'steps');
    push_ref('steps', $img, SIGNATURE);
    my $pdir = pages_dir('steps', $img->{digest});
    same_as_uncached('steps', $img->{digest}, '', 'the directory made');
    ok -d $pdir, 'the pair has its directory';
    unlink glob("$pdir/page-*");

    # the read has opened the directory and waits for Redis; a writer's
    # invalidation moves the directory meanwhile
    $redis->pause;
    my $reader = $srv->connect;
    $reader->send("GET /v2/steps/referrers/$img->{digest} HTTP/1.1\r\n"
                  . "Host: localhost\r\nConnection: close\r\n\r\n");
    select undef, undef, undef, 0.3;
    my $dead = "$S/_tmp/steps-dead";
    rename $pdir, $dead or die "rename: $!";
    $redis->resume;
    is $reader->read_response->code, 200, 'the read answered';
    is files_in($dead), 1, 'its page went into the directory it opened';
    ok !-e $pdir, 'no page, no directory where the invalidation left none';
    remove_tree($dead);
};

done_testing;
