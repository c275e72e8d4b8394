package OCI::Layout;

=head1 NAME

OCI::Layout - OCI image layouts built with umoci, for the suites that
push real images with skopeo

=head1 SYNOPSIS

    use OCI::Layout;
    umoci('init', '--layout', $dir);                 # dies when umoci fails
    my $d = layout_ref($dir, 'image');               # its index.json entry
    my $file = layout_blob($dir, $d->{digest});      # the blob's file
    my $index = add_index($dir, 'multi', [ 'amd64', 'linux', 'amd64' ],
                          [ 'arm64', 'linux', 'arm64' ]);
    my $all = reachable($dir, $index);               # { digest => 1, ... }
    my %ref = sample_layout($dir, $tmp);             # image, amd64, arm64, multi

=head1 DESCRIPTION

C<umoci(@args)>: runs umoci, returns its stdout, dies with its stderr
when it fails. C<layout_index($dir)>: index.json decoded.
C<layout_ref($dir, $name)>: the descriptor of index.json whose
C<org.opencontainers.image.ref.name> is C<$name>. C<layout_blob($dir,
$digest)>: the path of a blob. C<add_index($dir, $name, @refs)>: an image
index of the given references (each C<[ name, os, arch ]>) written as a
blob and named C<$name> in index.json; returns its digest.
C<reachable($dir, $digest)>: every blob a manifest or index reaches,
itself included. C<random_file($file, $size)>: a file of random bytes.
C<same_layout($src, $dir, $ref, $digest, $what)>: three tests that the
layout C<$dir> (pulled from a registry) names C<$digest> as C<$ref>,
holds exactly the blobs it reaches in C<$src>, each byte for byte.

C<sample_layout($dir, $scratch, %opt)>: a layout with an image C<image>
of two layers (C<big> bytes, default 1 MiB, then 3000 bytes), two
single-layer images C<amd64> and C<arm64> and an index C<multi> of them;
files are made in C<$scratch>. Returns C<< (image =E<gt> digest, amd64
=E<gt> ..., arm64 =E<gt> ..., multi =E<gt> ...) >>.

=cut

use strict;
use warnings;
use Digest::SHA;
use Exporter 'import';
use Test::More ();
use JSON::XS qw(decode_json);
use OCI::Test qw(enc sha256 spew slurp random_bytes run_cmd OCI_MANIFEST OCI_INDEX);

our @EXPORT = qw(umoci layout_index layout_ref layout_blob add_index reachable random_file
                 same_layout sample_layout);

my $REF_NAME = 'org.opencontainers.image.ref.name';

sub umoci {
    my (@args) = @_;
    my ($rc, $out, $err) = run_cmd([ 'umoci', @args ]);
    die "umoci @args: exit $rc\n$err" if $rc;
    return $out;
}

sub layout_index { decode_json(slurp("$_[0]/index.json")) }

sub layout_ref {
    my ($layout, $name) = @_;
    my ($d) = grep { ($_->{annotations}{$REF_NAME} // '') eq $name }
        @{ layout_index($layout)->{manifests} };
    return $d;
}

sub layout_blob {
    my ($layout, $digest) = @_;
    my ($alg, $hex) = split /:/, $digest, 2;
    return "$layout/blobs/$alg/$hex";
}

# the image layout spec: the blob is named by its digest, index.json
# points to it under its name
sub add_index {
    my ($layout, $name, @refs) = @_;
    my @manifests;
    for my $r (@refs) {
        my ($ref, $os, $arch) = @$r;
        my $d = layout_ref($layout, $ref) or die "no $ref in $layout\n";
        push @manifests, {
            mediaType => $d->{mediaType} // OCI_MANIFEST,
            digest    => $d->{digest},
            size      => $d->{size},
            platform  => { os => $os, architecture => $arch },
        };
    }
    my $body = enc({ schemaVersion => 2, mediaType => OCI_INDEX, manifests => \@manifests });
    my $digest = sha256($body);
    spew(layout_blob($layout, $digest), $body);

    my $index = layout_index($layout);
    $index->{manifests} = [ grep { ($_->{annotations}{$REF_NAME} // '') ne $name }
                            @{ $index->{manifests} } ];
    push @{ $index->{manifests} }, { mediaType => OCI_INDEX, digest => $digest,
        size => length $body, annotations => { $REF_NAME => $name } };
    spew("$layout/index.json.tmp", enc($index));
    rename "$layout/index.json.tmp", "$layout/index.json" or die "rename: $!\n";
    return $digest;
}

sub reachable {
    my ($layout, $digest, $seen) = @_;
    $seen //= {};
    return $seen if $seen->{$digest}++;
    my $m = decode_json(slurp(layout_blob($layout, $digest)));
    if ($m->{manifests}) {
        reachable($layout, $_->{digest}, $seen) for @{ $m->{manifests} };
    } else {
        $seen->{ $_->{digest} } = 1 for $m->{config}, @{ $m->{layers} || [] };
    }
    return $seen;
}

sub random_file {
    my ($file, $size) = @_;
    spew($file, random_bytes($size));
    return $file;
}

sub _file_sha256 { Digest::SHA->new(256)->addfile($_[0], 'b')->hexdigest }

sub same_layout {
    my ($src, $dir, $ref, $digest, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $d = eval { layout_ref($dir, $ref) } || {};
    Test::More::is($d->{digest}, $digest, "$what: pulled manifest digest equals the pushed one");
    my %want = %{ reachable($src, $digest) };
    my (@bad, %have);
    for my $hex (map { s{.*/}{}r } glob("$dir/blobs/sha256/*")) {
        my $f = "$dir/blobs/sha256/$hex";
        $have{"sha256:$hex"} = 1;
        push @bad, "$hex: content does not match its name" if _file_sha256($f) ne $hex;
        my $orig = "$src/blobs/sha256/$hex";
        push @bad, "$hex: not in the source layout" unless -f $orig;
        push @bad, "$hex: differs from the original"
            if -f $orig && (-s $orig != -s $f || _file_sha256($orig) ne $hex);
    }
    Test::More::is_deeply([ sort keys %have ], [ sort keys %want ],
        "$what: the pulled layout holds exactly the image's blobs");
    Test::More::is_deeply(\@bad, [], "$what: every pulled blob equals the original");
}

sub sample_layout {
    my ($src, $tmp, %o) = @_;
    umoci('init', '--layout', $src);
    umoci('new', '--image', "$src:image");
    umoci('insert', '--image', "$src:image", random_file("$tmp/big.bin", $o{big} // (1 << 20)),
          '/data/big.bin');
    umoci('insert', '--image', "$src:image", random_file("$tmp/small.bin", 3000), '/data/small.bin');
    umoci('config', '--image', "$src:image", '--os', 'linux', '--architecture', 'amd64');
    for my $arch (qw(amd64 arm64)) {
        umoci('new', '--image', "$src:$arch");
        umoci('insert', '--image', "$src:$arch", random_file("$tmp/$arch.bin", 70000), "/$arch.bin");
        umoci('config', '--image', "$src:$arch", '--os', 'linux', '--architecture', $arch);
    }
    umoci('gc', '--layout', $src);
    my $multi = add_index($src, 'multi', [ 'amd64', 'linux', 'amd64' ], [ 'arm64', 'linux', 'arm64' ]);
    return (multi => $multi, map { $_ => layout_ref($src, $_)->{digest} } qw(image amd64 arm64));
}

1;
