# ngx_oci_module: build, run and test.
#
#   make          build build/ngx_oci_module.so and the tools
#   make run      install what is missing, build, start a registry
#   make test     install what the tests need, build, run the suite

SHELL := /bin/bash

BUILD    ?= $(CURDIR)/build
NGX_SRC  ?= /usr/share/nginx/src
LISTEN   ?= 127.0.0.1:5000
DATA_DIR ?= $(CURDIR)/var

MODULE   := $(BUILD)/ngx_oci_module.so
SOURCES  := $(wildcard src/*.c src/*.h)

RUN_DEBS  := nginx nginx-dev libjansson-dev libhiredis-dev libssl-dev \
             redis-server gcc make pkg-config
TEST_DEBS := $(RUN_DEBS) libtest-base-perl libtest-longstring-perl \
             libtext-diff-perl liblist-moreutils-perl libwww-perl \
             libipc-run-perl libjson-xs-perl skopeo umoci curl \
             dpkg-dev debhelper build-essential podman buildah \
             apache2-utils openssl

.PHONY: all module tools run test deps-run deps-test clean style

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

run: deps-run
	$(MAKE) module tools
	scripts/run-registry "$(LISTEN)" "$(DATA_DIR)" "$(MODULE)"

test: deps-test
	$(MAKE) module tools
	$(MAKE) -f t/unit/unit.mk BUILD=$(BUILD) unit
	OCI_BUILD=$(BUILD) TEST_NGINX_LOAD_MODULES=$(MODULE) prove -r t/

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
