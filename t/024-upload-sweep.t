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
use List::Util qw(max);
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
    config => registry_conf('oci_upload_timeout 4s;'),
    log_level => 'notice');
my $uploads = $srv->storage . '/_uploads';

subtest "$SESSIONS expired sessions swept while the worker answers" => sub {
    my $live = start_upload($srv, 'sweep/repo');
    is_status patch_chunk($srv, $live, 'abcd', 0), 202, 'a live session';

    # made aside, then put in place at once, so the sweep finds them all
    my $aside = $srv->storage . '/_uploads.new';
    mkdir $aside or die "$aside: $!";
    my $t0 = time;
    expired_sessions($aside, $SESSIONS);
    note sprintf 'made in %.1f s', time - $t0;
    rename $_, $aside . '/' . ($_ =~ s{.*/}{}r) or die "$_: $!"
        for session_files($srv, $live);
    is entries($aside), 2 * $SESSIONS + 2, 'they are ready, with the live one';
    rename $uploads, "$uploads.old" or die $!;
    rename $aside, $uploads or die $!;
    rmdir "$uploads.old" or die $!;
    $t0 = time;

    # the sweeper runs every second with a 4 s timeout
    my ($ok, $lat) = latencies_during($srv, sub {
        while (entries($uploads) > 2) { sleep 0.1 }
        return 1;
    }, 60);

    ok $ok, 'all swept within 60 s';
    my $worst = max(@$lat);
    diag sprintf '%d probes over %.1f s, the slowest %.1f ms', scalar @$lat,
        time - $t0, $worst * 1000;
    cmp_ok scalar(@$lat), '>=', 5, 'GET /v2/ was sent during the sweep';
    cmp_ok $worst, '<', 0.1, 'every GET /v2/ answered within 100 ms';
    is_status $srv->req('GET', $live), 204, 'the live session is still there';
    is_status close_upload($srv, $live, sha256('abcd')), 201, 'and closes';
};

stops_cleanly($srv);

done_testing;
