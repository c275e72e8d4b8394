#!/usr/bin/perl

# Runs the unit tests of the nginx-independent core, built by "make unit"
# into ${OCI_BUILD:-build}/unit/, and re-emits their TAP as subtests.

use warnings;
use strict;

use File::Basename qw(basename);
use File::Spec;
use FindBin;
use TAP::Parser;
use Test::More;

my $root = File::Spec->rel2abs("$FindBin::Bin/..");
my $build = $ENV{OCI_BUILD} // 'build';
$build = "$root/$build" unless File::Spec->file_name_is_absolute($build);

my $dir = "$build/unit";
my @expected = qw(test_sha2 test_sha2_portable test_grammar test_manifest
                  test_route test_layout test_link test_index_page
                  test_upload_state test_query test_redis_slot
                  test_jwt test_event test_challenge);

my %found = map { basename($_) => $_ } grep { -f && -x } glob("$dir/test_*");

for my $name (@expected) {
    next if $found{$name};

    fail("$dir/$name exists");
    diag("$dir/$name is missing: run make unit first");
}

my @sources = glob("$root/src/ngx_oci_{sha2,grammar,manifest_check,route,layout,link,index_page,upload_state,query,jwt,jwt_keys,challenge}.[ch]");

for my $name (sort keys %found) {
    my $bin = $found{$name};

    my $src = "$root/t/unit/" . ($name =~ s/_portable$//r) . '.c';
    my $stale = grep { -M $_ < -M $bin } grep { -e } ($src, @sources);

    subtest $name => sub {
        diag("$name is older than its sources: run make unit")
            if $stale;

        my $parser = TAP::Parser->new({ exec => [$bin] });
        my $failed = 0;

        while (my $r = $parser->next) {
            if ($r->is_test) {
                my $desc = $r->description =~ s/^-\s*//r;

                ok($r->is_ok, $desc) or $failed++;

            } elsif ($r->is_comment) {
                my $text = $r->comment;

                # the diagnostics of a failure go with it, the rest is noise
                $failed ? diag($text) : note($text);

            } elsif ($r->is_unknown && $r->as_string ne '') {
                diag('unexpected output: ' . $r->as_string);
            }
        }

        ok($parser->is_good_plan, "$name: plan matches the tests run")
            or diag(join "\n", $parser->parse_errors);

        is($parser->exit, 0, "$name: exit status");

        done_testing();
    };
}

done_testing();
