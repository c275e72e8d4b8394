# How OCI::Server counts sanitizer reports (make test-asan, docs/testing.md):
# report files written into a scratch OCI_SANITIZER_REPORTS. A finding
# counts; the leak report of an nginx that never got to serve is dropped;
# a leak whose frames LeakSanitizer could not name still counts.

use strict;
use warnings;
use File::Temp qw(tempdir);

my $DIR;
BEGIN {
    push @INC, 't/lib';
    $DIR = tempdir('oci-san-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $ENV{OCI_SANITIZER_REPORTS} = $DIR;
}

use Test::More;
use OCI::Server;
use OCI::Test;

my $startup = <<'TXT';
==11==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 1024 byte(s) in 1 object(s) allocated from:
    #1 0x5 in ngx_create_pool /src/core/ngx_palloc.c:23:9
    #2 0x5 in main /src/core/nginx.c:253:23

Indirect leak of 56 byte(s) in 1 object(s) allocated from:
    #2 0x5 in ngx_process_options /src/core/nginx.c:1000:1
    #3 0x5 in main /src/core/nginx.c:284:9

SUMMARY: AddressSanitizer: 1080 byte(s) leaked in 2 allocation(s).
TXT

my $worker = <<'TXT';
==12==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 24 byte(s) in 1 object(s) allocated from:
    #0 0x5 in malloc (/build-asan/nginx+0x16041e)
    #1 0x7f  (<unknown module>)

SUMMARY: AddressSanitizer: 24 byte(s) leaked in 1 allocation(s).
TXT

my $overflow = <<'TXT';
==13==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020
WRITE of size 1 at 0x6020 thread T0
    #0 0x7f in ngx_oci_api_base /src/ngx_oci_api_base.c:19:58
TXT

my $ub = "/src/ngx_oci_x.c:1:2: runtime error: null pointer passed\n";

spew("$DIR/ubsan.11", $startup);
spew("$DIR/ubsan.12", $worker);
spew("$DIR/ubsan.13", $overflow);
spew("$DIR/ubsan.14", $ub);

my $reports = OCI::Server::sanitizer_reports();

ok(!-e "$DIR/ubsan.11", "an nginx's startup leaks: dropped");
unlike($reports, qr/ubsan\.11/, '... and not reported');
like($reports, qr/=== \Q$DIR\E\/ubsan\.12\n.*unknown module/s,
     'a leak on a stack it could not follow: reported');
like($reports, qr/ubsan\.13\n.*heap-buffer-overflow/s, 'an ASan error: reported');
like($reports, qr/ubsan\.14\n.*runtime error/s, 'a UBSan error: reported');

# this script's own END would fail it for them
unlink glob "$DIR/*";
is(OCI::Server::sanitizer_reports(), '', 'none left');

# a script in which one appears fails, though all its tests passed
my ($rc, $out, $err) = run_cmd([ $^X, '-It/lib', '-MTest::More',
    '-MOCI::Server', '-e', 'OCI::Server::spew("$ENV{OCI_SANITIZER_REPORTS}'
    . '/asan.1", "==1==ERROR: AddressSanitizer: x\n"); ok(1); done_testing' ]);
isnt($rc, 0, 'a script with a new report fails');
like($err, qr/sanitizer reports:.*asan\.1/s, '... printing it');
unlink glob "$DIR/*";

done_testing();
