# ngx_oci_module: build, run and test.
#
#   make          build build/ngx_oci_module.so and the tools
#   make run      install what is missing, build, start a registry
#                 (AUTH=token PASSWORD=... : token auth, user dev;
#                 UPSTREAM=https://host[:port] : a pull-through cache,
#                 UPSTREAM_CA=file, UPSTREAM_CREDENTIALS=file)
#   make test     install what the tests need, build, run the suite
#   make bench    install what bench/run needs, run it (docs/benchmarks.md)
#   make test-asan the suite again, with nginx, the module, oci-admin and
#                 the unit tests built with ASan and UBSan (build-asan/)

SHELL := /bin/bash

BUILD    ?= $(CURDIR)/build
NGX_SRC  ?= /usr/share/nginx/src
LISTEN   ?= 127.0.0.1:5000
DATA_DIR ?= $(CURDIR)/var

MODULE   := $(BUILD)/ngx_oci_module.so
SOURCES  := $(wildcard src/*.c src/*.h)

RUN_DEBS  := nginx nginx-dev libjansson-dev libhiredis-dev libssl-dev \
             libcurl4-openssl-dev \
             redis-server gcc make pkg-config openssl ca-certificates
TEST_DEBS := $(RUN_DEBS) redis-sentinel libtest-base-perl libtest-longstring-perl \
             libtext-diff-perl liblist-moreutils-perl libwww-perl \
             libipc-run-perl libjson-xs-perl skopeo umoci curl \
             dpkg-dev debhelper build-essential podman buildah \
             apache2-utils openssl docker-registry libhttp-daemon-perl
BENCH_DEBS := $(RUN_DEBS) wrk apache2-utils docker-registry curl openssl

.PHONY: all module tools run test deps-run deps-test deps-bench bench \
        clean style \
        asan test-asan

all: module tools

include tools/tools.mk

module: $(MODULE)

# configure is slow (~25 s): only re-run it when `config` changes
$(BUILD)/Makefile: config
	@mkdir -p $(BUILD)
	cd $(NGX_SRC) && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --add-dynamic-module=$(CURDIR) --builddir=$(BUILD) \
	        > $(BUILD)/configure.log 2>&1 || \
	    { tail -n 20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/Makefile $(SOURCES)
	$(MAKE) -f $(BUILD)/Makefile -C $(NGX_SRC) modules

deps-run:
	@scripts/install-debs $(RUN_DEBS)

deps-test:
	@scripts/install-debs $(TEST_DEBS)

deps-bench:
	@scripts/install-debs $(BENCH_DEBS)

run: deps-run
	$(MAKE) module tools
	AUTH="$(AUTH)" PASSWORD="$(PASSWORD)" \
	UPSTREAM="$(UPSTREAM)" UPSTREAM_CA="$(UPSTREAM_CA)" \
	UPSTREAM_CREDENTIALS="$(UPSTREAM_CREDENTIALS)" \
	    scripts/run-registry "$(LISTEN)" "$(DATA_DIR)" "$(MODULE)"

bench: deps-bench
	$(MAKE) module tools
	BENCH_NO_BUILD=1 bench/run

test: deps-test
	$(MAKE) module tools
	$(MAKE) -f t/unit/unit.mk BUILD=$(BUILD) unit
	OCI_BUILD=$(BUILD) TEST_NGINX_LOAD_MODULES=$(MODULE) prove -r t/

# The sanitizer build: nginx itself is built from Debian's source of the
# installed version (scripts/nginx-source), with Debian's configure flags
# and the module, since an ASan module cannot be loaded into Debian's
# uninstrumented nginx. NGX_DEBUG_PALLOC gives every pool allocation its
# own malloc(), so that ASan sees past the end of each one. nginx's core
# gets ASan only (it passes NULL with a length of 0 to memcpy() and the
# like, which UBSan would stop at); the module, oci-admin and the unit
# tests get both. clang, because gcc's UBSan writes fatal reports to
# stderr whatever log_path says.
ASAN_BUILD ?= $(CURDIR)/build-asan
ASAN_CC ?= clang
ASAN_CORE := -fsanitize=address -fno-omit-frame-pointer
ASAN_UB := -fsanitize=undefined -fno-sanitize-recover=undefined
# the module's own ngx_modules[] must not be taken for nginx's: globals
# are registered through a private alias
ASAN_MODULE_CFLAGS := $(ASAN_UB) -fsanitize-address-use-odr-indicator
ASAN_FLAGS := $(ASAN_CORE) $(ASAN_UB)
ASAN_CFLAGS := -g -O1 $(ASAN_FLAGS)
ASAN_NGINX := $(ASAN_BUILD)/nginx
ASAN_MODULE := $(ASAN_BUILD)/ngx_oci_module.so
ASAN_REPORTS := $(ASAN_BUILD)/reports
# the static modules of Debian's nginx binary (nginx -V) that conf_flags,
# made for building modules, leaves out; the suites use sub_filter
ASAN_NGX_MORE := --with-http_addition_module --with-http_flv_module \
                 --with-http_gunzip_module --with-http_gzip_static_module \
                 --with-http_mp4_module --with-http_random_index_module \
                 --with-http_secure_link_module --with-http_sub_module

# crypt() is named on its own: configure finds ASan's interceptor of it and
# would not link libcrypt, leaving the interceptor nothing to call
$(ASAN_BUILD)/Makefile: config Makefile
	rm -rf $(ASAN_BUILD)/src $(ASAN_BUILD)/addon $(ASAN_BUILD)/*.o
	@mkdir -p $(ASAN_BUILD)
	src=$$(scripts/nginx-source $(ASAN_BUILD)/nginx-src) && cd $$src && \
	    . $(NGX_SRC)/conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" $(ASAN_NGX_MORE) \
	        --with-cc=$(ASAN_CC) \
	        --with-cc-opt="-g -O1 $(ASAN_CORE) -DNGX_DEBUG_PALLOC=1" \
	        --with-ld-opt="$(ASAN_FLAGS) -lcrypt" \
	        --add-dynamic-module=$(CURDIR) --builddir=$(ASAN_BUILD) \
	        > $(ASAN_BUILD)/configure.log 2>&1 || \
	    { tail -n 20 $(ASAN_BUILD)/configure.log; exit 1; }

$(ASAN_NGINX) $(ASAN_MODULE) &: $(ASAN_BUILD)/Makefile $(SOURCES)
	src=$$(scripts/nginx-source $(ASAN_BUILD)/nginx-src) && \
	$(MAKE) -f $(ASAN_BUILD)/Makefile -C $$src binary && \
	$(MAKE) -f $(ASAN_BUILD)/Makefile -C $$src modules CFLAGS="$$(sed -n \
	    's/^CFLAGS = //p' $(ASAN_BUILD)/Makefile) $(ASAN_MODULE_CFLAGS)"

asan: $(ASAN_NGINX) $(ASAN_MODULE)
	$(MAKE) -f tools/tools.mk BUILD=$(ASAN_BUILD) TOOLS_CC=$(ASAN_CC) \
	    TOOLS_CFLAGS="$(ASAN_CFLAGS) -Wall -Wextra -Werror -std=gnu99 \
	                  -D_FILE_OFFSET_BITS=64" tools
	$(MAKE) -f t/unit/unit.mk BUILD=$(ASAN_BUILD) UNIT_CC=$(ASAN_CC) \
	    UNIT_CFLAGS="$(ASAN_CFLAGS) -Wall -Wextra -Werror -std=gnu99 \
	                 -Wno-string-concatenation -D_FILE_OFFSET_BITS=64" unit

# t/080-debian.t is left out: it builds the package with Debian's flags and
# tries it in Debian's nginx, the same as in make test, and sanitizes nothing
ASAN_SUITES = $(filter-out t/080-debian.t,$(wildcard t/*.t))

# Every sanitizer report goes to a file of $(ASAN_REPORTS): each suite
# fails when one appeared while it ran (t/lib/OCI/Server.pm), and the run
# fails when any is there at the end. t/asan.supp: leaks we accept.
test-asan: deps-test
	@scripts/install-debs dpkg-dev clang
	$(MAKE) asan
	rm -rf $(ASAN_REPORTS) && mkdir -m 1777 -p $(ASAN_REPORTS)
	OCI_BUILD=$(ASAN_BUILD) TEST_NGINX_BINARY=$(ASAN_NGINX) \
	TEST_NGINX_LOAD_MODULES=$(ASAN_MODULE) \
	OCI_SANITIZER_REPORTS=$(ASAN_REPORTS) \
	ASAN_OPTIONS=log_path=$(ASAN_REPORTS)/asan:detect_leaks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/t/asan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=log_path=$(ASAN_REPORTS)/ubsan:print_stacktrace=1 \
	    prove $(ASAN_SUITES)
	@scripts/sanitizer-reports $(ASAN_REPORTS)

STYLE_FILES = src/*.[ch] tools/*.[ch] t/unit/*.[ch] fuzz/*.c bench/*.c

style:
	@! grep -nE '.{81,}' $(STYLE_FILES) \
	    && ! grep -nP '\t| +$$' $(STYLE_FILES) && echo "style ok"

clean:
	rm -rf $(BUILD)

# The Debian package libnginx-mod-http-oci (debian/, docs/install.md).
#   make deb        build it into build/deb/ from a copy of the tree
#   make deb-test   build it, then nginx -t and GET /v2/ with Debian's stock
#                   nginx.conf and the package extracted into a scratch
#                   prefix; OCI_DEB_INSTALL=1 also dpkg -i's it, runs
#                   nginx -t on /etc/nginx and purges it again
DEB_DIR  ?= $(BUILD)/deb
DEB_DEBS := dpkg-dev debhelper build-essential nginx-dev libjansson-dev \
            libhiredis-dev libssl-dev curl

.PHONY: deb deb-test

deb:
	@scripts/install-debs $(DEB_DEBS)
	debian/build-deb $(DEB_DIR)

deb-test: deb
	debian/check-deb \
	    $(DEB_DIR)/libnginx-mod-http-oci_*_$$(dpkg --print-architecture).deb
