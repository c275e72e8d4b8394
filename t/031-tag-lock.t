# The repository's tag lock: a request that finds it taken retries from a
# timer (the worker keeps serving others meanwhile), and gives up with 503
# after about a second.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use OCI::Harness;
use OCI::Test;

my $srv = OCI::Harness->start(workers => 1, config => registry_conf('oci_delete on;'));

my $manifest = enc(image_manifest(config => push_blob($srv, 'l', '{"n":1}', OCI_CONFIG),
                                  layers => []));

sub put_tag {
    my ($tag) = @_;
    return put_manifest($srv, 'l', $tag, $manifest, OCI_MANIFEST);
}

is put_tag('first')->code, 201, 'a first tag creates the lock file';

my $lockfile = $srv->storage . '/repositories/l/_tags/.lock';
ok -f $lockfile, 'the lock file is where docs/storage.md says';

subtest 'a short hold delays the push, which then succeeds' => sub {
    my $release = hold_tag_lock($srv, 'l', 0.4);
    my $t0 = time;

    # the worker is not blocked while the PUT waits for the lock
    my $waiting = fork // die "fork: $!";
    if ($waiting == 0) {
        my $res = put_tag('delayed');
        exit($res->code == 201 ? 0 : 1);
    }
    sleep 0.1;
    is $srv->req('GET', '/v2/l/manifests/first')->code, 200,
        'another request is served meanwhile';
    is waitpid($waiting, WNOHANG), 0, 'while the PUT is still waiting';

    waitpid $waiting, 0;
    is $? >> 8, 0, 'the waiting PUT got 201 once the lock was free';
    cmp_ok time - $t0, '>=', 0.35, 'after the hold';
    $release->();
    is $srv->req('GET', '/v2/l/manifests/delayed')->code, 200, 'the tag is there';
};

subtest 'a hold of over a second gives 503 UNAVAILABLE' => sub {
    my $release = hold_tag_lock($srv, 'l', 2.5);
    my $t0 = time;
    my $res = put_tag('late');
    my $took = time - $t0;
    is $res->code, 503, '503';
    is error_code($res), 'UNAVAILABLE', 'UNAVAILABLE';
    is $res->header('Retry-After'), '1', 'Retry-After';
    cmp_ok $took, '<', 2.4, 'without waiting for the holder';
    $release->();
    is $srv->req('GET', '/v2/l/manifests/late')->code, 404, 'the tag was not written';
    is put_tag('late')->code, 201, 'and a retry succeeds';
};

stops_cleanly $srv;

done_testing;
