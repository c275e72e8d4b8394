# The sweep of abandoned upload sessions works in batches of directory
# entries, one batch per turn of the event loop: thousands of expired
# sessions, made by hand in _uploads/, are all swept while the worker
# keeps answering GET /v2/ quickly; a live session among them stays.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use Time::HiRes qw(sleep time);

my $SESSIONS = 20_000;

# expired sessions: a data and a state file each, idle for a day
sub expired_sessions {
    my ($dir, $n) = @_;
    my $old = time - 86400;
    for my $i (1 .. $n) {
        my $id = sprintf '%032x', $i;
        for my $f ("$dir/$id.data", "$dir/$id.state") {
            open my $fh, '>', $f or die "$f: $!";
            close $fh;
            utime $old, $old, $f or die "$f: $!";
        }
    }
}

sub entries {
    my ($dir) = @_;
    opendir my $dh, $dir or die "$dir: $!";
    return scalar grep { !/^\./ } readdir $dh;
}

my $srv = OCI::Harness->start(
    config => registry_conf('oci_upload_timeout 8s;'),
    log_level => 'debug');
my $uploads = $srv->storage . '/_uploads';

subtest "$SESSIONS expired sessions swept while the worker answers" => sub {

    # made aside, then put in place at once, so the sweep finds them all
    my $aside = $srv->storage . '/_uploads.new';
    mkdir $aside or die "$aside: $!";
    my $t0 = time;
    expired_sessions($aside, $SESSIONS);
    note sprintf 'made in %.1f s', time - $t0;
    my $live = start_upload($srv, 'sweep/repo');
    is_status patch_chunk($srv, $live, 'abcd', 0), 202, 'a live session'
        or diag(dump_res($srv->req('GET', $live)));
    rename $_, $aside . '/' . ($_ =~ s{.*/}{}r) or die "$_: $!"
        for session_files($srv, $live);
    is entries($aside), 2 * $SESSIONS + 2, 'they are ready, with the live one';
    rename $uploads, "$uploads.old" or die $!;
    rename $aside, $uploads or die $!;
    rmdir "$uploads.old" or die $!;
    my $from = $srv->log_size;

    # the sweeper runs every 2 s with an 8 s timeout
    my ($ok, $lat) = latencies_during($srv, sub {
        while (entries($uploads) > 2) { sleep 0.1 }
        return 1;
    }, 60);

    ok $ok, 'all swept within 60 s';
    cmp_ok scalar(@$lat), '>=', 5, 'GET /v2/ was answered during the sweep';
    # 64 entries a batch; a session's state file goes with its data file,
    # so at least one entry read for each of 20,000 sessions: over 300
    my $batches = () = $srv->error_log_since($from) =~ /oci sweep batch/g;
    cmp_ok $batches, '>=', 250, 'the sweep went in batches, one per turn of the event loop';
    is_status $srv->req('GET', $live), 204, 'the live session is still there';
    is_status close_upload($srv, $live, sha256('abcd')), 201, 'and closes';
};

# a big file with real blocks, idle for a day
sub big_file {
    my ($f, $mib) = @_;
    my $block = random_bytes(1 << 20);
    open my $fh, '>', $f or die "$f: $!";
    print {$fh} $block for 1 .. $mib;
    close $fh or die "$f: $!";
    my $old = time - 86400;
    utime $old, $old, $f or die "$f: $!";
}

subtest 'big abandoned files are freed in steps' => sub {
    my $id = 'b' x 32;
    my $tmp = $srv->storage . '/_tmp';
    my $aside = $srv->storage . '/_big';
    mkdir $aside or die "$aside: $!";
    big_file("$aside/$id.data", 768);
    big_file("$aside/$id.state", 0);
    big_file("$aside/stray", 256);
    rename "$aside/$id.$_", "$uploads/$id.$_" or die $! for qw(data state);
    rename "$aside/stray", "$tmp/stray" or die $!;
    rmdir $aside;

    # the data file is freed from _tmp/, cut 64 MiB at a time
    my $from = $srv->log_size;
    my ($ok, $lat) = latencies_during($srv, sub {
        my $seen;
        while (entries($uploads) || entries($tmp)) {
            $seen ||= -e "$tmp/$id";
            sleep 0.002;
        }
        return $seen;
    }, 60);
    ok $ok, 'an abandoned 768 MiB session (through _tmp/) and a 256 MiB '
        . 'stray file swept';
    cmp_ok scalar(@$lat), '>=', 2, 'GET /v2/ was sent meanwhile';
    # 768 and 256 MiB by 64 MiB: 16 steps
    is_stepped $srv, $from, 0, 14, 'the freeing';
};

subtest 'the sweep never goes through a link' => sub {
    my $tmp = $srv->storage . '/_tmp';
    my $out = $srv->path('outside');
    mkdir $out;
    big_file("$out/victim", 20);
    big_file("$out/stray-victim", 20);
    my $victim = slurp("$out/victim");

    # an expired session whose data file is a link to a big file outside,
    # a link in _tmp/ to another, and a plain expired session as witness
    my ($evil, $plain) = ('e' x 32, 'f' x 32);
    symlink "$out/victim", "$uploads/$evil.data" or die $!;
    big_file("$uploads/$evil.state", 0);
    big_file("$uploads/$plain.$_", 0) for qw(data state);
    symlink "$out/stray-victim", "$tmp/stray-link" or die $!;

    my $t0 = time;
    sleep 0.2 while -e "$uploads/$plain.data" && time - $t0 < 30;
    ok !-e "$uploads/$plain.data", 'the sweeper ran (the plain session is gone)';
    is -s "$out/victim", 20 << 20, 'the file a data link points to is whole';
    ok slurp("$out/victim") eq $victim, 'and unchanged';
    is -s "$out/stray-victim", 20 << 20, 'the file a _tmp/ link points to is whole';
    ok -l "$uploads/$evil.data" && -l "$tmp/stray-link", 'the links are left alone';
    unlink "$uploads/$evil.data", "$uploads/$evil.state", "$tmp/stray-link";
};

stops_cleanly($srv);

done_testing;
