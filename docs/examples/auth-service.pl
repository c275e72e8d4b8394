#!/usr/bin/perl
#
# auth-service.pl: a minimal authorisation service for nginx's auth_request
# in front of ngx_oci_module (the "auth-request" example of docs/examples.md).
#
#   perl auth-service.pl --listen 127.0.0.1:9000 \
#        --htpasswd /etc/nginx/registry.htpasswd --push-prefix team/
#
# nginx asks it, for every registry request, "GET /check" with the client's
# headers (Authorization included) and these added by the example:
#
#   X-Repository       the repository ($oci_repository), empty for /v2/
#   X-Action           pull, push or delete ($oci_action), empty for /v2/
#   X-Original-Method  the client's method
#   X-Original-URI     the client's URI
#   X-Mount-From       for a cross-repository mount, the repository it
#                      reads ($oci_mount_from), empty otherwise
#
# The policy (change it to yours):
#
#   - credentials that are given must be right (users and bcrypt or crypt
#     passwords from an htpasswd file), else 401;
#   - /v2/ (X-Action empty): 200 for a user, 401 for anonymous clients, so
#     that `docker login` / `podman login` check the password;
#   - pull: everyone, also anonymously, except from <user>/private/...,
#     which only <user> may pull (401 for anonymous clients, else 403);
#   - push: users only (401 for anonymous clients, so they log in), and
#     only to repositories under --push-prefix or under their own name
#     (else 403);
#   - a mount is a push that also reads X-Mount-From: the answer carries
#     "X-Mount-Allowed: 1" when the user may pull it, "0" when not;
#   - delete: nobody (403).
#
# 2xx lets the request through, 401 and 403 are passed to the client (a 401
# with this service's WWW-Authenticate, which makes clients ask for a
# password), anything else makes nginx answer 500. nginx takes
# X-Mount-Allowed with auth_request_set into oci_mount_allow: a mount the
# user may not read is answered as if the source did not hold the blob.
#
# One connection at a time, core Perl only; each decision is logged on
# stderr. It is a sketch of the protocol, not a production service.

use strict;
use warnings;
use Getopt::Long;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);

my ($listen, $htpasswd, $prefix, $realm) = ('127.0.0.1:9000', undef, 'team/', 'registry');
GetOptions('listen=s' => \$listen, 'htpasswd=s' => \$htpasswd,
           'push-prefix=s' => \$prefix, 'realm=s' => \$realm)
    or die "usage: $0 [--listen addr:port] --htpasswd file [--push-prefix p] [--realm r]\n";
die "$0: --htpasswd is required\n" unless defined $htpasswd;

$| = 1;
$SIG{PIPE} = 'IGNORE';

my $server = IO::Socket::INET->new(LocalAddr => $listen, Listen => 128, ReuseAddr => 1,
                                   Proto => 'tcp')
    or die "$0: cannot listen on $listen: $@\n";
print STDERR "auth-service listening on $listen\n";

# The password file is read again for every check, so edits take effect
# at once.
sub user_ok {
    my ($user, $pass) = @_;
    open my $fh, '<', $htpasswd or do { warn "$0: $htpasswd: $!\n"; return 0 };
    while (my $line = <$fh>) {
        chomp $line;
        my ($u, $hash) = split /:/, $line, 2;
        next unless defined $hash && $u eq $user;
        my $c = crypt($pass, $hash);        # bcrypt ($2y$) with Debian's libcrypt
        return defined $c && $c eq $hash ? 1 : 0;
    }
    return 0;
}

# May $user (undef: anonymous) pull $repo? 1, or the status to answer.
sub may_pull {
    my ($user, $repo) = @_;
    my ($owner) = $repo =~ m{^([^/]+)/private/} or return 1;
    return 1 if defined $user && $user eq $owner;
    return $user ? 403 : 401;
}

# (status, user, mount allowed) for the request headers.
sub decide {
    my (%h) = @_;
    my ($action, $repo) = ($h{'x-action'} // '', $h{'x-repository'} // '');
    my $user;
    if (defined(my $auth = $h{authorization})) {
        my ($b64) = $auth =~ /^Basic\s+(\S+)\s*$/i or return (401);
        my ($u, $p) = split /:/, decode_base64($b64), 2;
        return (401) unless defined $p && user_ok($u, $p);
        $user = $u;
    }
    return ($user ? 200 : 401, $user) if $action eq '';
    if ($action eq 'pull') {
        my $pull = may_pull($user, $repo);
        return ($pull == 1 ? 200 : $pull, $user);
    }
    if ($action eq 'push') {
        return (401) unless $user;
        my $ok = index($repo, $prefix) == 0 || index($repo, "$user/") == 0;
        my $from = $h{'x-mount-from'} // '';
        my $mount = $from eq '' ? undef : may_pull($user, $from) == 1 ? 1 : 0;
        return ($ok ? 200 : 403, $user, $mount);
    }
    return (403, $user);
}

while (1) {
    my $c = $server->accept or next;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 5;
        my ($line, %h) = (scalar <$c>);
        die "no request\n" unless defined $line;
        while (defined(my $l = <$c>)) {
            $l =~ s/\r?\n\z//;
            last if $l eq '';
            my ($k, $v) = split /:\s*/, $l, 2;
            $h{ lc $k } = $v // '';
        }
        my ($status, $user, $mount) = decide(%h);
        my $text = { 200 => 'OK', 401 => 'Unauthorized', 403 => 'Forbidden' }->{$status};
        my $extra = $status == 401 ? qq{WWW-Authenticate: Basic realm="$realm"\r\n} : '';
        $extra .= "X-Mount-Allowed: $mount\r\n" if defined $mount;
        print {$c} "HTTP/1.1 $status $text\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n";
        printf STDERR "%s action=%s repository=%s user=%s method=%s uri=%s -> %d%s\n",
            scalar(localtime), $h{'x-action'} // '', $h{'x-repository'} // '', $user // '-',
            $h{'x-original-method'} // '', $h{'x-original-uri'} // '', $status,
            defined $mount ? " mount-from=$h{'x-mount-from'} allowed=$mount" : '';
        alarm 0;
    };
    warn "auth-service: $@" if $@ && $@ ne "no request\n";
    close $c;
}
