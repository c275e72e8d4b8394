#!/usr/bin/perl

# The layers of src/, as the addon file `config` lists them, checked
# against the code itself (and those of tools/, by tools.mk):
#
# - includes: a file includes only headers of its own layer or below;
#   pure files include no nginx header at all;
# - calls: from the symbols of the compiled objects, a file calls only
#   into its own layer or below; within a layer, calls make no circle,
#   and endpoints do not call each other at all. The one symbol every
#   nginx-side layer may use is the module itself, ngx_oci_module.

use warnings;
use strict;

use File::Spec;
use FindBin;
use Test::More;

my $root = File::Spec->rel2abs("$FindBin::Bin/..");
my $build = $ENV{OCI_BUILD} // "$root/build";
$build = "$root/$build" unless File::Spec->file_name_is_absolute($build);

# layer names in order, and each file's layer index

my @layers;
my %layer_of;

{
    open my $fh, '<', "$root/config" or die "config: $!";
    local $/;
    my $config = <$fh>;

    while ($config =~ /^ngx_oci_layer_(\w+)="([^"]*)"/mg) {
        push @layers, $1;
        $layer_of{$_} = $#layers for split ' ', $2;
    }
}

is_deeply \@layers, [qw(pure redis store http api module)],
    'config lists the layers in order';

my @sources = map { /ngx_oci_(\w+)\.c$/ ? $1 : () } glob "$root/src/*.c";

is_deeply [sort grep { !exists $layer_of{$_} } @sources], [],
    'every source file of src/ is in a layer';

# the picture in docs/ names each file in the box of its layer

{
    my $dot = "$root/docs/images/architecture.dot";
    open my $fh, '<', $dot or die "$dot: $!";
    local $/;
    my $text = <$fh>;

    my %box;
    while ($text =~ /^\s*(\w+)\s*\[label=<(.*?)>\]/msg) {
        $box{$1} = $2;
    }

    my @missing;
    for my $file (sort keys %layer_of) {
        my $layer = $layers[$layer_of{$file}];
        push @missing, "$file ($layer)"
            unless defined $box{$layer} && $box{$layer} =~ /\b\Q$file\E\b/;
    }

    is_deeply \@missing, [], 'docs/images/architecture.dot shows every file '
        . 'in its layer';
}

# a header belongs to the layer of its .c file, or of the files it
# declares (ngx_oci_http.h: ngx_oci_http_*.c)

sub header_layer {
    my ($h) = @_;

    return $layer_of{$h} if exists $layer_of{$h};

    my @l = map { $layer_of{$_} } grep { /^\Q$h\E_/ } keys %layer_of;
    return @l ? $l[0] : undef;
}

sub layer_name { $layers[$_[0]] }

my @bad_includes;

for my $file (glob("$root/src/*.[ch]")) {
    my ($name) = $file =~ /ngx_oci_(\w+)\.[ch]$/ or next;
    my $mine = header_layer($name);

    open my $fh, '<', $file or die "$file: $!";

    while (my $line = <$fh>) {
        if ($line =~ /^#include\s+[<"](ngx_\w+)\.h[>"]/) {
            my $inc = $1;

            if ($inc =~ /^ngx_oci_(\w+)$/) {
                my $theirs = header_layer($1);

                push @bad_includes, "$name includes $inc, an unknown header"
                    unless defined $theirs;
                push @bad_includes, "$name (" . layer_name($mine)
                    . ") includes $inc (" . layer_name($theirs) . ")"
                    if defined $theirs && $theirs > $mine;

            } elsif ($mine == 0) {
                push @bad_includes, "$name is pure but includes $inc";
            }
        }
    }
}

is_deeply \@bad_includes, [], 'includes go down the layers';

# calls, from the objects nginx's build made

# objects of files that left src/ may linger in the build directory

my @objects = grep { /ngx_oci_(\w+)\.o$/ && exists $layer_of{$1} }
              glob "$build/addon/src/ngx_oci_*.o";

my @stale = grep { my ($n) = /ngx_oci_(\w+)\.o$/;
                   -M "$root/src/ngx_oci_$n.c" < -M $_ } @objects;

is_deeply \@stale, [], 'the objects are newer than their sources';

if (!@objects) {
    fail("objects in $build/addon/src: build the module first (make)");
    done_testing;
    exit;
}

my (%defined_in, %undefined_in);

for my $obj (@objects) {
    my ($name) = $obj =~ /ngx_oci_(\w+)\.o$/;

    for (`nm '$obj'`) {
        if (/^\s+U\s+(\S+)$/) {
            push @{ $undefined_in{$name} }, $1;
        } elsif (/^[0-9a-f]+\s+[TDBR]\s+(\S+)$/) {
            $defined_in{$1} = $name;
        }
    }
}

ok scalar(keys %defined_in), 'nm read the objects';

my (%calls, @bad_calls);

for my $name (sort keys %undefined_in) {
    for my $sym (@{ $undefined_in{$name} }) {
        my $to = $defined_in{$sym};

        next unless defined $to;

        if ($layer_of{$name} == 0 && $sym =~ /^ngx_/ && $to ne $name
            && $layer_of{$to} != 0)
        {
            push @bad_calls, "$name is pure but uses $sym";
        }

        next if $sym eq 'ngx_oci_module';

        $calls{$name}{$to}{$sym} = 1;

        my ($from_l, $to_l) = ($layer_of{$name}, $layer_of{$to});

        if ($to_l > $from_l) {
            push @bad_calls, "$name (" . layer_name($from_l) . ") calls $sym"
                . " in $to (" . layer_name($to_l) . ")";

        } elsif ($to_l == $from_l && layer_name($from_l) eq 'api') {
            push @bad_calls, "endpoint $name calls endpoint $to ($sym)";
        }
    }
}

for my $obj (@objects) {
    my ($name) = $obj =~ /ngx_oci_(\w+)\.o$/;
    my @pure_nginx = grep { /^ngx_(?!oci_)/ } @{ $undefined_in{$name} // [] };

    push @bad_calls, "$name is pure but calls nginx: @pure_nginx"
        if $layer_of{$name} == 0 && @pure_nginx;
}

is_deeply \@bad_calls, [], 'calls go down the layers';

# no circle among files, whatever their layers

my (%state, @circle);

sub visit {
    my ($n, @path) = @_;

    return if @circle;
    return if ($state{$n} // 0) == 2;

    if (($state{$n} // 0) == 1) {
        my @c = (@path, $n);
        shift @c while $c[0] ne $n;
        @circle = @c;
        return;
    }

    $state{$n} = 1;
    visit($_, @path, $n) for sort grep { $_ ne $n } keys %{ $calls{$n} };
    $state{$n} = 2;
}

visit($_) for sort keys %calls;

is "@circle", '', 'no circle of calls between files';

# tools/ keeps its own order of parts, checked the same way by tools.mk

my $out = `make -s -C '$root' -f tools/tools.mk tools-layers BUILD='$build' 2>&1`;
is $?, 0, 'tools/: no file calls one above it (make tools-layers)'
    or diag $out;

done_testing;
