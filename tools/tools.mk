# oci-admin, the operations tool (tools/*.c), linked with the module's
# nginx-independent core.
#
# Included by the top Makefile, or used alone from the repository root:
#
#     make -f tools/tools.mk BUILD=build     # build $(BUILD)/oci-admin
#     make -f tools/tools.mk tools-style     # 80 columns, no tabs
#     make -f tools/tools.mk tools-layers    # no file calls one above it

BUILD ?= build

# included by another makefile, this file must not become its default goal
OCI_TOOLS_INCLUDED := $(filter-out 1,$(words $(MAKEFILE_LIST)))
OCI_TOOLS_GOAL := $(.DEFAULT_GOAL)

# the repository root, wherever make runs from
OCI_TOOLS_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

TOOLS_CC ?= cc
TOOLS_CFLAGS ?= -O2 -Wall -Wextra -Werror -std=gnu99 -D_FILE_OFFSET_BITS=64
TOOLS_LIBS = $(shell pkg-config --cflags --libs jansson hiredis libcurl) \
             -lcrypto

TOOLS_SRC = $(OCI_TOOLS_ROOT)/src
TOOLS_DIR = $(OCI_TOOLS_ROOT)/tools

OCI_ADMIN = $(BUILD)/oci-admin

# the module's pure files the tool is linked with, each with its header
OCI_ADMIN_CORE = sha2 grammar manifest_check index_schema layout redis_slot \
                 event

# tools/oci_admin_<part>.c and .h, from the bottom up: a file calls only
# files before it here (tools-layers checks it); oci_admin.c, main(), is
# the top
OCI_ADMIN_PARTS = message set array fs redis webhook \
                  store digests manifest walk index options referrers \
                  reindex_sync reindex_scan reindex_catalog reindex \
                  fsck_problem fsck_repair fsck_content fsck_tags \
                  fsck_repo fsck_uploads fsck \
                  gc_run gc_expire gc_mark gc_sweep gc_files gc \
                  events_relay events

OCI_ADMIN_UNITS = $(OCI_ADMIN_PARTS:%=oci_admin_%) oci_admin

OCI_ADMIN_SRCS = $(OCI_ADMIN_UNITS:%=$(TOOLS_DIR)/%.c) \
                 $(OCI_ADMIN_CORE:%=$(TOOLS_SRC)/ngx_oci_%.c)

OCI_ADMIN_DEPS = $(OCI_ADMIN_SRCS) $(TOOLS_DIR)/oci_admin_defs.h \
                 $(OCI_ADMIN_PARTS:%=$(TOOLS_DIR)/oci_admin_%.h) \
                 $(OCI_ADMIN_CORE:%=$(TOOLS_SRC)/ngx_oci_%.h)

OCI_ADMIN_LAYERS = $(BUILD)/tools-layers

.PHONY: tools tools-style tools-layers

tools: $(OCI_ADMIN)

$(OCI_ADMIN): $(OCI_ADMIN_DEPS)
	@mkdir -p $(dir $@)
	$(TOOLS_CC) $(TOOLS_CFLAGS) -I$(TOOLS_SRC) -I$(TOOLS_DIR) -o $@ \
	    $(OCI_ADMIN_SRCS) $(TOOLS_LIBS)

tools-style:
	@! grep -nE '.{81,}' $(TOOLS_DIR)/*.[ch] \
	    && ! grep -nP '\t| +$$' $(TOOLS_DIR)/*.[ch] && echo "tools style ok"

# each unit's undefined symbols (nm) that tools/ defines must be defined
# by the units before it in OCI_ADMIN_UNITS
tools-layers: $(OCI_ADMIN_DEPS)
	@rm -rf $(OCI_ADMIN_LAYERS) && mkdir -p $(OCI_ADMIN_LAYERS)
	@set -e; cd $(OCI_ADMIN_LAYERS); \
	for u in $(OCI_ADMIN_UNITS); do \
	    $(TOOLS_CC) $(TOOLS_CFLAGS) -I$(TOOLS_SRC) -I$(TOOLS_DIR) \
	        $$(pkg-config --cflags jansson hiredis libcurl) \
	        -c $(TOOLS_DIR)/$$u.c -o $$u.o; \
	    nm --defined-only -g $$u.o | awk 'NF == 3 { print $$3 }' > $$u.def; \
	done; \
	cat *.def | sort > all; : > below; bad=0; \
	for u in $(OCI_ADMIN_UNITS); do \
	    for s in $$(nm -u $$u.o | awk '{ print $$2 }' | sort | comm -12 - all); \
	    do \
	        grep -qx "$$s" below || { echo "$$u uses $$s from above"; bad=1; }; \
	    done; \
	    cat $$u.def >> below; \
	done; \
	[ $$bad = 0 ] && echo "tools layers ok"

ifneq ($(OCI_TOOLS_INCLUDED),)
.DEFAULT_GOAL := $(OCI_TOOLS_GOAL)
endif
