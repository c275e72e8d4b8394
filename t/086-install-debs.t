# scripts/install-debs with a stand-in apt-get first in PATH: nothing is
# installed or removed. It calls apt-get only for packages that are
# missing, gives both "update" and "install" a bounded wait for the dpkg
# lock (-o DPkg::Lock::Timeout), and waits for the lists' lock of
# "update" itself, up to the same bound.

BEGIN { push @INC, 't/lib' }
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use OCI::Test;

plan skip_all => 'install-debs installs only as root' if $> != 0;

my $TMP = tempdir('oci-debs-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $CALLS = "$TMP/calls";

# apt-get: notes its arguments; "update" fails with apt's lock message as
# many times as the file "busy" says
spew("$TMP/bin/apt-get", <<'SH');
#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
case "$*" in
*update*)
    n=$(cat "$FAKE_DIR/busy" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then
        echo $((n - 1)) > "$FAKE_DIR/busy"
        echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1 (apt-get)" >&2
        exit 100
    fi
    if [ -e "$FAKE_DIR/broken" ]; then
        echo "E: Failed to fetch" >&2
        exit 100
    fi ;;
esac
exit 0
SH
chmod 0755, "$TMP/bin/apt-get";

my $MISSING = 'oci-no-such-package-' . unique();

sub install_debs {
    my (%o) = @_;
    unlink $CALLS, "$TMP/busy", "$TMP/broken";
    spew("$TMP/busy", $o{busy}) if $o{busy};
    spew("$TMP/broken", '') if $o{broken};
    my %env = (PATH => "$TMP/bin:$ENV{PATH}", FAKE_DIR => $TMP,
               OCI_APT_LOCK_WAIT => $o{wait} // 600);
    my ($rc, $out, $err) = run_cmd(['scripts/install-debs', @{ $o{debs} }],
                                   env => \%env, timeout => 60);
    return ($rc, $err, [ grep { length } split /\n/, slurp($CALLS) ]);
}

subtest 'nothing missing: apt-get is not run' => sub {
    my ($rc, $err, $calls) = install_debs(debs => ['dpkg']);
    is($rc, 0, 'exit 0') or diag($err);
    is_deeply($calls, [], 'no apt-get');
};

subtest 'a missing package: update and install wait for the lock' => sub {
    my ($rc, $err, $calls) = install_debs(debs => ['dpkg', $MISSING],
                                          wait => 420);
    is($rc, 0, 'exit 0') or diag($err);
    is(scalar @$calls, 2, 'two apt-get runs') or diag(explain $calls);
    like($calls->[0] // '', qr/-o DPkg::Lock::Timeout=420 update\b/,
         'update, with the lock timeout');
    like($calls->[1] // '',
         qr/-o DPkg::Lock::Timeout=420 install .*\b\Q$MISSING\E$/,
         'install of the missing package only, with the lock timeout');
    unlike($calls->[1] // '', qr/ dpkg\b/, 'not of what is installed');
};

subtest 'the lists locked by another apt: it waits, then installs' => sub {
    my ($rc, $err, $calls) = install_debs(debs => [$MISSING], busy => 1);
    is($rc, 0, 'exit 0') or diag($err);
    like($err, qr/another apt or dpkg holds its lock; waiting/,
         'saying it waits');
    is_deeply([ map { /(update|install)/ ? $1 : $_ } @$calls ],
              [qw(update update install)], 'update again, then install');
};

subtest 'the lock held past the bound: it gives up' => sub {
    my ($rc, $err, $calls) = install_debs(debs => [$MISSING], busy => 5,
                                          wait => 0);
    is($rc, 1, 'exit 1');
    like($err, qr/Could not get lock/, "with apt's message");
    is(scalar @$calls, 1, 'no install');
};

subtest 'update failing otherwise: no wait, no install' => sub {
    my ($rc, $err, $calls) = install_debs(debs => [$MISSING], broken => 1);
    is($rc, 1, 'exit 1');
    like($err, qr/Failed to fetch/, "with apt's message");
    is(scalar @$calls, 1, 'no install');
};

done_testing();
