# Upload sessions are a bounded resource: oci_max_upload_sessions and
# oci_max_upload_sessions_per_repository. Over a cap, POST is 429
# TOOMANYREQUESTS with one Retry-After; sessions that end (closed,
# cancelled, refused, expired, removed from disk) free their slot; the
# count is on disk, so it holds across workers, reloads and restarts.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use OCI::Harness;
use OCI::Test;
use Test::More;
use Time::HiRes qw(sleep);

sub is_too_many {
    my ($res, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_error $res, 429, 'TOOMANYREQUESTS', $what;
    is_deeply [ $res->header('Retry-After') ], ['5'], "$what: one Retry-After: 5";
}

sub post { $_[0]->req('POST', "/v2/$_[1]/blobs/uploads/") }

my $CAPS = 'oci_max_upload_sessions 5; oci_max_upload_sessions_per_repository 3;';

my $srv = OCI::Harness->start(workers => 2,
    config => registry_conf('oci_delete on;', $CAPS));

my (@a, @b);

subtest 'a repository and the storage at their caps' => sub {
    push @a, scalar start_upload($srv, 'caps/a') for 1 .. 3;
    is_too_many post($srv, 'caps/a'), 'a fourth session of caps/a';
    push @b, scalar start_upload($srv, 'caps/b') for 1 .. 2;
    is_too_many post($srv, 'caps/b'), 'a sixth session in all';
    is_too_many post($srv, 'caps/c'), 'in another repository too';
    my $d = sha256('mono');
    is_too_many $srv->req('POST', "/v2/caps/c/blobs/uploads/?digest=$d", body => 'mono'),
        'a monolithic upload needs a session too';
    is_status $srv->req('POST', "/v2/caps/c/blobs/uploads/?mount=$d&from=caps/a"), 429,
        'a mount that falls back to a session';
    is scalar(my @f = files_under($srv->storage . "/_uploads")), 10, 'five sessions on disk';
};

subtest 'the count survives a reload and a restart' => sub {
    ok $srv->reload(config => registry_conf('oci_delete on;', $CAPS)), 'reloaded'
        or diag $srv->error;
    is_too_many post($srv, 'caps/a'), 'after a reload';
    $srv->stop;
    $srv->start;
    is_too_many post($srv, 'caps/c'), 'after a restart';
};

subtest 'sessions that end free their slot' => sub {
    is_status $srv->req('DELETE', shift @a), 204, 'a session of caps/a cancelled';
    push @a, scalar start_upload($srv, 'caps/a');
    is_too_many post($srv, 'caps/a'), 'and that slot only';

    my $r = close_upload($srv, shift @a, sha256("x"), body => "x");
    is_status $r, 201,
        'a session of caps/a closed';
    push @a, scalar start_upload($srv, 'caps/a');

    is_error close_upload($srv, shift @a, sha256('y'), body => 'z'), 400, 'DIGEST_INVALID',
        'a session refused at its close';
    push @a, scalar start_upload($srv, 'caps/a');

    unlink session_files($srv, shift @b);
    push @b, scalar start_upload($srv, 'caps/b');
    ok 1, 'a session removed from disk (oci-admin, the sweeper) frees its slot';
    is_too_many post($srv, 'caps/b'), 'the storage is full again';
};

stops_cleanly($srv, 'capped');

subtest 'expired sessions free their slot before the sweeper runs' => sub {
    my $e = OCI::Harness->start(config => registry_conf(
        'oci_upload_timeout 2s; oci_max_upload_sessions_per_repository 2;'));
    start_upload($e, 'exp/a') for 1 .. 2;
    is_too_many post($e, 'exp/a'), 'at the cap';
    # idle for longer than the timeout: expired, swept or not
    sleep 3.2;
    my $loc = start_upload($e, 'exp/a');
    ok $loc, 'an expired session no longer counts';
    stops_cleanly($e, 'expiry');
};

subtest 'no cap: 0' => sub {
    my $n = OCI::Harness->start(config => registry_conf(
        'oci_max_upload_sessions 0; oci_max_upload_sessions_per_repository 0;'));
    start_upload($n, 'nocap/a') for 1 .. 20;
    is scalar(my @f = files_under($n->storage . "/_uploads")), 40, 'twenty sessions';
    ok !-e $n->storage . '/_slots/nocap', 'and no slots';
    stops_cleanly($n, 'no cap');
};

subtest 'the caps nginx -t refuses' => sub {
    for my $bad ('oci_max_upload_sessions 65535;', 'oci_max_upload_sessions_per_repository -1;',
                 'oci_max_upload_sessions many;')
    {
        my $x = OCI::Harness->launch(config => registry_conf($bad));
        ok !$x->alive, "$bad refused";
        $x->stop if $x->alive;
    }
};

done_testing;
