# The Debian package libnginx-mod-http-oci (debian/). Builds it as
# "make deb" does (debian/build-deb: dpkg-buildpackage -b with
# dh-sequence-nginx in a scratch copy of the tree, about 20 s), checks what
# the .deb holds and declares, then lays out Debian's stock nginx.conf with
# the package extracted into a scratch prefix (debian/check-deb
# --layout-only): nginx -t passes and that nginx answers GET /v2/. Nothing
# is installed on the machine; see docs/install.md for OCI_DEB_INSTALL=1.
#
# Needs dpkg-dev, debhelper, build-essential and nginx-dev (for
# dh-sequence-nginx) besides the module's build dependencies; run as root,
# the test installs what is missing, as "make deps-test" does.

use strict;
use warnings;

use File::Spec;
use File::Temp qw(tempdir);
use FindBin;
use HTTP::Tiny;
use IO::Socket::INET;
use Test::More;

my $ROOT  = File::Spec->rel2abs("$FindBin::Bin/..");
my $PKG   = 'libnginx-mod-http-oci';
my $NGINX = $ENV{NGINX} // '/usr/sbin/nginx';
my @DEBS  = qw(dpkg-dev debhelper build-essential nginx-dev nginx
               libjansson-dev libhiredis-dev libssl-dev);

sub run_merged {
    my (@cmd) = @_;
    my $out = qx{@{[ join ' ', map { quotemeta } @cmd ]} 2>&1};
    return ($? >> 8, $out);
}

sub unmet_build_deps {
    return 'dpkg-checkbuilddeps not found (dpkg-dev)'
        unless -x '/usr/bin/dpkg-checkbuilddeps';
    my ($rc, $out) = run_merged('sh', '-c', "cd \Q$ROOT\E && dpkg-checkbuilddeps");
    return undef if $rc == 0;
    $out =~ s/^dpkg-checkbuilddeps: error: //mg;
    chomp $out;
    return $out || "dpkg-checkbuilddeps failed ($rc)";
}

my $unmet = unmet_build_deps();
if ($unmet && $> == 0 && ($ENV{OCI_TEST_NO_INSTALL} // '') ne '1') {
    diag("installing what the package build needs: $unmet");
    system("\Q$ROOT\E/scripts/install-debs @DEBS >&2");
    $unmet = unmet_build_deps();
}
plan skip_all => "cannot build the package: $unmet (make deps-test installs"
    . " @DEBS)" if $unmet;
plan skip_all => "$NGINX is missing (apt-get install nginx)" unless -x $NGINX;
plan skip_all => 'dh_nginx is missing (nginx-dev)'
    unless -x '/usr/bin/dh_nginx'
        && -f '/usr/share/perl5/Debian/Debhelper/Sequence/nginx.pm';

my $tmp = tempdir('oci-080-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tmp;

# --- the build ----------------------------------------------------------------

my @before = glob("$ROOT/obj-* $ROOT/debian/$PKG $ROOT/debian/files"
    . " $ROOT/debian/.debhelper $ROOT/debian/debhelper-build-stamp");

my ($rc, $out) = run_merged("$ROOT/debian/build-deb", "$tmp/deb");
is($rc, 0, 'debian/build-deb builds the package') or do {
    diag($out);
    if (open my $fh, '<', "$tmp/deb/build.log") {
        my @log = <$fh>;
        diag(join '', @log > 40 ? @log[-40 .. -1] : @log);
    }
    done_testing();
    exit;
};

my @after = glob("$ROOT/obj-* $ROOT/debian/$PKG $ROOT/debian/files"
    . " $ROOT/debian/.debhelper $ROOT/debian/debhelper-build-stamp");
is_deeply(\@after, \@before, 'the build leaves nothing in the work tree');

chomp(my $arch = qx{dpkg --print-architecture});
my ($deb) = glob("$tmp/deb/${PKG}_*_$arch.deb");
ok($deb && -f $deb, "built ${PKG}_*_$arch.deb") or do {
    done_testing();
    exit;
};
my @dbgsym = glob("$tmp/deb/$PKG-dbgsym_*_$arch.deb");
ok(@dbgsym, 'and its -dbgsym package');

# --- what it holds ------------------------------------------------------------

my %files;
for (split /\n/, qx{dpkg-deb -c \Q$deb\E}) {
    my @f = split ' ', $_, 6;
    (my $path = $f[5]) =~ s{^\./}{/};
    $files{$path} = { mode => $f[0], owner => $f[1] };
}

my $doc = "/usr/share/doc/$PKG";
my $so  = '/usr/lib/nginx/modules/ngx_oci_module.so';
for my $path ($so,
              '/usr/share/nginx/modules-available/mod-http-oci.conf',
              "$doc/examples/registry.conf",
              "$doc/copyright",
              "$doc/changelog.gz") {
    ok($files{$path}, "ships $path");
}
ok($files{"$doc/README.md"} || $files{"$doc/README.md.gz"},
   "ships $doc/README.md");
ok($files{"$doc/docs/directives.md"} || $files{"$doc/docs/directives.md.gz"},
   "ships $doc/docs/directives.md");
is($files{$so} && "$files{$so}{mode} $files{$so}{owner}",
   '-rw-r--r-- root/root', 'the module is 0644 root/root');
is_deeply([grep { m{^/(etc|var)/} } sort keys %files], [],
          'nothing in /etc or /var: no site enabled, no storage created');

# --- what it declares ---------------------------------------------------------

my %f;
for my $field (qw(Package Version Architecture Depends Recommends)) {
    chomp($f{$field} = qx{dpkg-deb -f \Q$deb\E $field});
}
is($f{Package}, $PKG, "Package: $PKG");
is($f{Architecture}, $arch, "Architecture: $arch");

my $abi;
if (open my $fh, '<', '/usr/share/nginx/src/debian/libnginx-mod.abisubstvars') {
    while (<$fh>) { $abi = $1 if /^nginx:abi=(\S+)/ }
}
ok($abi, "nginx-dev names the nginx ABI ($abi)");
like($f{Depends}, qr/(?:^|, )\Q$abi\E(?:,|$)/,
     "Depends has the nginx ABI dependency ($f{Depends})");
like($f{Depends}, qr/\blibjansson4\b/, 'Depends has libjansson4');
like($f{Depends}, qr/\blibhiredis/, 'Depends has libhiredis');
like($f{Depends}, qr/\b(?:libssl3|libcrypto)/, 'Depends has libssl');
chomp(my $provides = qx{dpkg-query -W -f='\${Provides}' nginx 2>/dev/null});
like($provides, qr/\b\Q$abi\E\b/, "the installed nginx provides $abi");
like($f{Recommends}, qr/\bnginx\b/, 'Recommends: nginx');

my $ctl = "$tmp/control";
system('dpkg-deb', '-e', $deb, $ctl) == 0 or die "dpkg-deb -e failed\n";
ok(!-e "$ctl/conffiles", 'no conffiles');
my $postinst = do { local (@ARGV, $/) = "$ctl/postinst"; <> } // '';
like($postinst,
     qr{for confpair in mod-http-oci\.conf:50-mod-http-oci\.conf\s*; do},
     'postinst links modules-enabled/50-mod-http-oci.conf');
like($postinst, qr/dpkg-trigger --no-await nginx-reload/,
     'postinst triggers an nginx reload');
for my $script (qw(prerm postrm)) {
    my $text = do { local (@ARGV, $/) = "$ctl/$script"; <> } // '';
    like($text, qr/50-mod-http-oci\.conf/, "$script handles the link");
}

# --- nginx -t and GET /v2/ with the extracted package -------------------------

my $port = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1:0',
                                 ReuseAddr => 1)->sockport;
my $prefix = "$tmp/prefix";
($rc, $out) = run_merged("$ROOT/debian/check-deb", '--layout-only',
                      '--root', $prefix, '--listen', "127.0.0.1:$port", $deb);
is($rc, 0, 'debian/check-deb lays out the stock nginx.conf') or diag($out);

my $snippet = do {
    local (@ARGV, $/) =
        "$prefix/pkg/usr/share/nginx/modules-available/mod-http-oci.conf";
    <>;
} // '';
is($snippet, "load_module modules/ngx_oci_module.so;\n",
   'the snippet loads modules/ngx_oci_module.so');
is(readlink("$prefix/modules-enabled/50-mod-http-oci.conf"),
   "$prefix/pkg/usr/share/nginx/modules-available/mod-http-oci.conf",
   'the snippet is enabled as postinst enables it');

my @ngx = ($NGINX, '-p', "$prefix/", '-c', "$prefix/nginx.conf",
           '-e', "$prefix/log/error.log");
($rc, $out) = run_merged(@ngx, '-t');
is($rc, 0, 'nginx -t: stock nginx.conf, the module, the example site')
    or diag($out);
like($out, qr/test is successful/, 'nginx -t says the test is successful');

my $started;
END {
    if ($started && open my $fh, '<', "$prefix/nginx.pid") {
        chomp(my $pid = <$fh> // '');
        kill 'QUIT', $pid if $pid =~ /^\d+$/;
    }
}

($rc, $out) = run_merged(@ngx);
$started = $rc == 0;
ok($started, "nginx starts on 127.0.0.1:$port") or diag($out);

SKIP: {
    skip 'nginx did not start', 4 unless $started;

    my $res = HTTP::Tiny->new(timeout => 10)
                        ->get("http://127.0.0.1:$port/v2/");
    is($res->{status}, 200, 'GET /v2/ answers 200')
        or diag("$res->{status} $res->{reason}: $res->{content}");
    is($res->{headers}{'docker-distribution-api-version'}, 'registry/2.0',
       'with Docker-Distribution-API-Version: registry/2.0');
    ok(-d "$prefix/oci", 'nginx created the oci_storage directory');
    SKIP: {
        skip 'not root: the storage belongs to the test user', 1 unless $> == 0;
        my $uid = (stat "$prefix/oci")[4];
        is(scalar getpwuid($uid), 'www-data',
           'owned by the worker user of the stock nginx.conf');
    }
}

if ($started) {
    run_merged(@ngx, '-s', 'quit');
    for (1 .. 50) {
        last unless -e "$prefix/nginx.pid";
        select undef, undef, undef, 0.1;
    }
    $started = -e "$prefix/nginx.pid";
    ok(!$started, 'nginx stops');
}

done_testing();
