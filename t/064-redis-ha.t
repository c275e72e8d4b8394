# The index on a highly available Redis (docs/referrers.md, "Sentinel and
# Cluster"): a Redis Cluster of three masters with a replica each, and a
# master with a replica watched by three sentinels, all started here on
# 127.0.0.1.  Pushes with a subject land on the master of their pair's
# slot; a killed master is replaced by its replica: pulls never fail,
# pushes see a bounded window of 503 with Retry-After, and afterwards
# every accepted push is in the index (oci-admin reindex --dry-run finds
# nothing to add).  oci-admin reindex, gc --redis and events reach both.

BEGIN { push @INC, 't/lib' }

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use JSON::XS qw(decode_json);
use OCI::Harness;
use OCI::Redis;
use OCI::Test;

use constant SIGNATURE => 'application/vnd.example.signature';

-x '/usr/bin/redis-sentinel' or plan skip_all => 'redis-sentinel not found';
my $cluster = OCI::Redis::Cluster->start
    or plan skip_all => 'no Redis Cluster could be started';
my $ha = OCI::Redis::Sentinel->start
    or plan skip_all => 'no Sentinel setup could be started';

my @common = ('oci_delete on;', 'oci_redis_timeout 500ms;',
              'oci_referrers_cache off;', 'oci_events on;');
my $cl = OCI::Harness->start(workers => 2, config => registry_conf(@common,
    'oci_redis cluster=' . $cluster->seeds . ';'));
my $se = OCI::Harness->start(workers => 2, config => registry_conf(@common,
    'oci_redis sentinel=' . $ha->sentinels . ' master=main;'));

my $n = 0;
sub artifact {
    my ($subject) = @_;
    $n++;
    return { schemaVersion => 2, mediaType => OCI_MANIFEST,
             artifactType => SIGNATURE, config => empty_desc(),
             layers => [ empty_desc() ], subject => $subject,
             annotations => { 'org.example.n' => "$n $$" } };
}

sub push_image {
    my ($srv, $name) = @_;
    my ($res, $desc) = push_manifest($srv, $name, 'v1', new_image($srv, $name));
    is $res->code, 201, "image $name pushed";
    return $desc;
}

# a referrer: the response and its digest
sub push_ref {
    my ($srv, $name, $subject) = @_;
    $srv->req('POST', "/v2/$name/blobs/uploads/?digest=" . EMPTY_DIGEST,
              body => '{}');
    my $doc = artifact($subject);
    my ($res, $desc) = push_manifest($srv, $name, sha256(enc($doc)), $doc);
    return ($res, $desc->{digest});
}

# every page, following Link
sub listed {
    my ($srv, $name, $digest) = @_;
    my ($q, @all) = ('');
    for (1 .. 100) {
        my $res = $srv->req('GET', "/v2/$name/referrers/$digest$q");
        return undef unless $res->code == 200;
        push @all, map { $_->{digest} }
                   @{ decode_json($res->content)->{manifests} };
        ($q) = ($res->header('Link') // '') =~ /<[^>?]*(\?[^>]*)>/ or last;
    }
    return [ sort @all ];
}

sub reindex {
    my ($srv, @redis) = @_;
    return oci_admin_json('reindex', '--storage', $srv->storage, '--redis',
                          @redis, '--dry-run');
}

# pushes a referrer to each subject and pulls, over and over, while
# $event happens; returns what was accepted and the codes seen
sub through {
    my ($srv, $subjects, $event, $done) = @_;
    my (%accepted, %codes, $pull_failed, $no_retry_after, $t503, $t_end);
    my $t0 = time;
    $event->();
    my $deadline = time + 40;
    while (time < $deadline) {
        for my $s (@$subjects) {
            my ($res, $d) = push_ref($srv, $s->{name}, $s->{desc});
            $codes{ $res->code }++;
            if ($res->code == 201) {
                push @{ $accepted{ $s->{name} } }, $d;
            } elsif ($res->code == 503) {
                $t503 //= time;
                $t_end = time;
                $no_retry_after++ unless $res->header('Retry-After');
            }
            my $pull = $srv->req('GET', "/v2/$s->{name}/manifests/v1");
            $pull_failed++ unless $pull->code == 200;
            my $blob = $srv->req('GET', "/v2/$s->{name}/blobs/" . EMPTY_DIGEST);
            $pull_failed++ unless $blob->code == 200;
        }
        last if $done->() && (!$t_end || time > $t_end + 2);
    }
    ok time < $deadline, 'the pushes succeed again before the test gives up';
    is $pull_failed // 0, 0, 'pulls never failed';
    is $no_retry_after // 0, 0, 'every 503 carries Retry-After';
    ok +(keys %codes) == grep({ $_ == 201 || $_ == 503 } keys %codes),
        'pushes answer 201 or 503, nothing else'
        or diag explain \%codes;
    note sprintf 'codes: %s; 503 from %.1f s to %.1f s after the kill',
        join(', ', map { "$_ x $codes{$_}" } sort keys %codes),
        $t503 ? ($t503 - $t0, $t_end - $t0) : (0, 0);
    return \%accepted;
}

sub all_indexed {
    my ($srv, $subjects, $accepted, $what) = @_;
    for my $s (@$subjects) {
        my $want = $accepted->{ $s->{name} } // [];
        my $got = listed($srv, $s->{name}, $s->{desc}{digest}) // [];
        my %have = map { $_ => 1 } @$got;
        is scalar(grep { !$have{$_} } @$want), 0,
           "$what: every accepted referrer of $s->{name} is listed";
    }
}

subtest 'cluster: pairs spread over the masters, MOVED followed' => sub {
    my @subjects = map { { name => "c$_", desc => push_image($cl, "c$_") } }
                   1 .. 6;
    my %accepted;
    for my $s (@subjects) {
        my ($res, $d) = push_ref($cl, $s->{name}, $s->{desc});
        is $res->code, 201, "referrer of $s->{name} pushed";
        push @{ $accepted{ $s->{name} } }, $d;
    }
    all_indexed($cl, \@subjects, \%accepted, 'cluster');
    my %owners;
    for my $s (@subjects) {
        my $tag = "{$s->{name}\@$s->{desc}{digest}}";
        $owners{ $cluster->owner($tag)->port }++;
    }
    cmp_ok scalar(keys %owners), '>=', 2, 'the pairs live on several masters'
        or diag explain \%owners;
    my @keys = $cluster->keys('oci:{*');
    is scalar(@keys), 6 * 3, 'refs, desc and type keys of each pair';

    # a slot moved by hand: the client follows MOVED to its new owner
    my $s = $subjects[0];
    my $tag = "{$s->{name}\@$s->{desc}{digest}}";
    my $from = $cluster->owner($tag);
    my ($to) = grep { $_->port != $from->port } $cluster->masters;
    my $slot = $from->cli('CLUSTER', 'KEYSLOT', $tag);
    my $to_id = $to->cli('CLUSTER', 'MYID');
    my $from_id = $from->cli('CLUSTER', 'MYID');
    $to->cli('CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $from_id);
    $from->cli('CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $to_id);
    my @k = split /\n/, $from->cli('CLUSTER', 'GETKEYSINSLOT', $slot, 100);
    $from->cli('MIGRATE', '127.0.0.1', $to->port, '', 0, 5000, 'KEYS', @k)
        if @k;
    $_->cli('CLUSTER', 'SETSLOT', $slot, 'NODE', $to_id)
        for $from, $to;
    my ($res, $d) = push_ref($cl, $s->{name}, $s->{desc});
    is $res->code, 201, 'a push after the slot moved: 201';
    push @{ $accepted{ $s->{name} } }, $d;
    all_indexed($cl, [ $s ], \%accepted, 'after the move');
    like $cl->error_log, qr/oci redis query \S+: MOVED to 127\.0\.0\.1:\Q${\ $to->port }\E/,
        'the client was told MOVED and followed it' if $cl->error_log =~ /\[debug\]/;

    my ($rc, $j) = reindex($cl, 'cluster=' . $cluster->seeds);
    is $rc, 0, 'oci-admin reindex --dry-run on the cluster';
    is $j->{added} // -1, 0, 'nothing to add';
    is $j->{removed} // -1, 0, 'nothing to remove';
};

subtest 'cluster: a master killed, its replica takes over' => sub {
    my @subjects = map { { name => "f$_", desc => push_image($cl, "f$_") } }
                   1 .. 6;
    my $victim = $cluster->owner("{f1\@$subjects[0]{desc}{digest}}");
    $victim->cli('WAIT', 1, 2000);
    my $accepted = through($cl, \@subjects, sub { $victim->kill9 },
                           sub { $cluster->ok_now });
    ok $cluster->owner("{f1\@$subjects[0]{desc}{digest}}")->port != $victim->port,
        'a replica serves the slot now';
    all_indexed($cl, \@subjects, $accepted, 'after the failover');
    my ($rc, $j) = reindex($cl, 'cluster=' . join ',',
                           map { $_->addr } grep { $_->alive } $cluster->nodes);
    is $rc, 0, 'oci-admin reindex --dry-run after the failover';
    is $j->{added} // -1, 0, 'nothing accepted is missing from the index';
};

subtest 'sentinel: the client follows the master' => sub {
    my @subjects = map { { name => "s$_", desc => push_image($se, "s$_") } }
                   1 .. 3;
    my %accepted;
    for my $s (@subjects) {
        my ($res, $d) = push_ref($se, $s->{name}, $s->{desc});
        is $res->code, 201, "referrer of $s->{name} pushed";
        push @{ $accepted{ $s->{name} } }, $d;
    }
    all_indexed($se, \@subjects, \%accepted, 'sentinel');

    my $old = $ha->master;
    $old->cli('WAIT', 1, 2000);
    my $accepted = through($se, \@subjects, sub { $old->kill9 }, sub {
        my $m = $ha->master;
        $m && $m->port != $old->port;
    });
    isnt $ha->master->port, $old->port, 'the sentinels promoted the replica';
    push @{ $accepted->{ $_ } }, @{ $accepted{ $_ } } for keys %accepted;
    all_indexed($se, \@subjects, $accepted, 'after the failover');
    my ($rc, $j) = reindex($se, 'sentinel=' . $ha->sentinels, '--master', 'main');
    is $rc, 0, 'oci-admin reindex --dry-run through the sentinels';
    is $j->{added} // -1, 0, 'nothing accepted is missing from the index';
    like $se->error_log, qr/redis master is 127\.0\.0\.1:\Q${\ $ha->master->port }\E/,
        'the new master was learned from the sentinels';
};

subtest 'oci-admin events and gc --redis through the cluster and the sentinels' => sub {
    for my $case ([ $cl, 'f1', 'cluster=' . join(',', map { $_->addr }
                                                  grep { $_->alive } $cluster->nodes) ],
                  [ $se, 's1', 'sentinel=' . $ha->sentinels, '--master', 'main' ]) {
        my ($srv, $repo, @redis) = @$case;
        my ($rc, $out, $err) = oci_admin('events', '--redis', @redis, '--json',
                                         '--repository', $repo);
        is $rc, 0, "events through $redis[0]" or diag $err;
        my @events = grep { $_ } map { dec($_) } split /\n/, $out;
        ok((grep { ($_->{action} // '') eq 'push'
                   && ($_->{target}{repository} // '') eq $repo } @events),
           "it lists the pushes to $repo");
        ($rc, undef, $err) = oci_admin('gc', '--storage', $srv->storage, '--redis', @redis,
                                       '--dry-run');
        is $rc, 0, "gc --redis --dry-run through $redis[0]" or diag $err;
    }
};

done_testing;
