# mk/install.mk - `make install` and `make uninstall`, the tools' man pages,
# and the packaging checks; included at the end of the top Makefile.
#
# Installs what $(BUILD) holds (building it first) and nothing else: it never
# writes outside $(DESTDIR) and the directories below, never starts, enables
# or reloads a service, and never runs ldconfig (a packager's job; run it by
# hand after installing into a system directory). Pass the same SCX= and
# STATIC= to `make install` as to the build: libghost.pc and the shared
# library follow them.
#
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make uninstall PREFIX=/usr DESTDIR=/tmp/stage   (removes exactly that)
#
# Directories (each may be set on its own):
#   PREFIX          /usr/local
#   BINDIR          $(PREFIX)/bin
#   LIBDIR          $(PREFIX)/lib
#   INCLUDEDIR      $(PREFIX)/include        (the headers go to ghost/ in it)
#   DATADIR         $(PREFIX)/share
#   MANDIR          $(DATADIR)/man
#   PKGCONFIGDIR    $(LIBDIR)/pkgconfig
#   SYSCONFDIR      /etc when PREFIX is /usr, else $(PREFIX)/etc (only named
#                   in the unit: where its configuration files are read)
#   SYSTEMDUNITDIR  $(PREFIX)/lib/systemd/system

PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
DATADIR        ?= $(PREFIX)/share
MANDIR         ?= $(DATADIR)/man
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL        ?= install

# The public headers, by name. Every file of include/ghost/ is either here or
# in GHOST_PRIVATE_HEADERS, with the reason beside it; `make check-headers`
# (and so `make install`) fails on a header that is in neither.
GHOST_PUBLIC_HEADERS := \
    include/ghost/abi.h \
    include/ghost/agent.h \
    include/ghost/agent_main.h \
    include/ghost/channel.h \
    include/ghost/common.h \
    include/ghost/cpuset.h \
    include/ghost/enclave.h \
    include/ghost/ghost.h \
    include/ghost/kernel.h \
    include/ghost/policy.h \
    include/ghost/priotable.h \
    include/ghost/sched.h \
    include/ghost/sim.h \
    include/ghost/status.h \
    include/ghost/thread.h \
    include/ghost/topology.h \
    include/ghost/trace.h \
    include/ghost/txn.h
# Headers of include/ghost/ that are not installed (none so far).
GHOST_PRIVATE_HEADERS :=

# The programs, their man page sections and the one line their NAME gives.
GHOST_PROGRAMS := ghost-agent ghostctl ghost-workload ghost-bench ghost-trace ghost-sim
MAN_SECTION_ghost-agent    := 8
MAN_SECTION_ghostctl       := 8
MAN_SECTION_ghost-workload := 1
MAN_SECTION_ghost-bench    := 1
MAN_SECTION_ghost-trace    := 1
MAN_SECTION_ghost-sim      := 1
MAN_SUMMARY_ghost-agent    := schedule the CPUs of a ghOSt enclave from user space
MAN_SUMMARY_ghostctl       := create, inspect and destroy ghOSt enclaves
MAN_SUMMARY_ghost-workload := run ghost threads in an enclave and report what they got
MAN_SUMMARY_ghost-bench    := measure ghOSt scheduling overheads and rpc tail latency
MAN_SUMMARY_ghost-trace    := turn an agent's trace into a timeline or a summary
MAN_SUMMARY_ghost-sim      := run a policy on a simulated machine in virtual time

man_page = $(1).$(MAN_SECTION_$(1))
MAN_PAGES := $(foreach p,$(GHOST_PROGRAMS),$(BUILD)/man/$(call man_page,$(p))) $(BUILD)/man/libghost.3
GHOST_UNIT := ghost-agent@.service

# libghost.pc: libbpf comes with the sched_ext backend.
PC_REQUIRES_PRIVATE := $(if $(filter 1,$(SCX)),libbpf >= 1.4)
# LIBDIR and INCLUDEDIR relative to ${prefix} where they are below it, so that
# pkg-config --define-prefix can move the tree.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

.PHONY: install uninstall man check-headers check-symbols test-package

man: $(MAN_PAGES)

# Each program's page is generated from its --help, so it cannot drift from it.
define man_from_help
	@mkdir -p $(dir $@)
	@echo "  MAN     $@"
	@scripts/man-from-help.pl --section $(MAN_SECTION_$*) --summary "$(MAN_SUMMARY_$*)" \
	    --source "libghost $(GHOST_LIB_VERSION)" \
	    --see-also "$(foreach p,$(filter-out $*,$(GHOST_PROGRAMS)),$(p)($(MAN_SECTION_$(p)))) libghost(3)" \
	    $< >$@.tmp && mv $@.tmp $@
endef
$(BUILD)/man/%.1: $(BUILD)/bin/% scripts/man-from-help.pl include/ghost/common.h
	$(man_from_help)
$(BUILD)/man/%.8: $(BUILD)/bin/% scripts/man-from-help.pl include/ghost/common.h
	$(man_from_help)

$(BUILD)/man/libghost.3: man/libghost.3 include/ghost/common.h
	@mkdir -p $(dir $@)
	@sed 's/@VERSION@/$(GHOST_LIB_VERSION)/g' $< >$@

$(BUILD)/dist/libghost.pc: dist/libghost.pc.in include/ghost/common.h FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' -e 's|@VERSION@|$(GHOST_LIB_VERSION)|' \
	    -e 's|@REQUIRES_PRIVATE@|$(PC_REQUIRES_PRIVATE)|' -e '/^Requires.private: *$$/d' $< >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/dist/libghost-agent.pc: dist/libghost-agent.pc.in include/ghost/common.h FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' -e 's|@VERSION@|$(GHOST_LIB_VERSION)|' \
	    $< >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

# The build tree as pkg-config sees it, for the examples (no install needed).
$(BUILD)/pkgconfig/%-uninstalled.pc: dist/%-uninstalled.pc.in include/ghost/common.h
	@mkdir -p $(dir $@)
	@sed -e 's|@LIBDIR@|$(abspath $(BUILD))/lib|' -e 's|@INCLUDEDIR@|$(CURDIR)/include|' \
	    -e 's|@VERSION@|$(GHOST_LIB_VERSION)|' $< >$@

$(BUILD)/dist/$(GHOST_UNIT): dist/$(GHOST_UNIT).in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

.PHONY: FORCE
FORCE:

check-headers:
	@missing="$(filter-out $(GHOST_PUBLIC_HEADERS) $(GHOST_PRIVATE_HEADERS),$(wildcard include/ghost/*.h))"; \
	gone="$(filter-out $(wildcard include/ghost/*.h),$(GHOST_PUBLIC_HEADERS) $(GHOST_PRIVATE_HEADERS))"; \
	both="$(filter $(GHOST_PUBLIC_HEADERS),$(GHOST_PRIVATE_HEADERS))"; \
	for h in $$missing; do echo "check-headers: $$h is in neither GHOST_PUBLIC_HEADERS nor GHOST_PRIVATE_HEADERS (mk/install.mk)"; done; \
	for h in $$gone; do echo "check-headers: $$h is listed in mk/install.mk but does not exist"; done; \
	for h in $$both; do echo "check-headers: $$h is listed both as public and as private in mk/install.mk"; done; \
	[ -z "$$missing$$gone$$both" ]

check-symbols: lib
	@scripts/check-symbols.sh $(SHARED_LIB)

test-package: all
	@tests/run.sh tests/package/test_*.sh

DEST_LIBDIR := $(DESTDIR)$(LIBDIR)
install: check-headers lib tools man $(BUILD)/dist/libghost.pc $(BUILD)/dist/libghost-agent.pc \
    $(BUILD)/dist/$(GHOST_UNIT)
	@echo "  INSTALL $(DESTDIR)$(PREFIX)"
	@$(INSTALL) -d $(DEST_LIBDIR) $(DESTDIR)$(INCLUDEDIR)/ghost $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(sort $(foreach p,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))))
	@$(INSTALL) -m 644 $(STATIC_LIB) $(AGENT_LIB) $(DEST_LIBDIR)/
ifneq ($(STATIC),1)
	@$(INSTALL) -m 755 $(SHARED_LIB) $(DEST_LIBDIR)/
	@ln -sfn $(notdir $(SHARED_LIB)) $(DEST_LIBDIR)/$(GHOST_LIB_SONAME)
	@ln -sfn $(GHOST_LIB_SONAME) $(DEST_LIBDIR)/libghost.so
endif
	@$(if $(PRELOAD_LIB),$(INSTALL) -m 755 $(PRELOAD_LIB) $(DEST_LIBDIR)/,true)
	@$(INSTALL) -m 644 $(GHOST_PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/ghost/
	@$(INSTALL) -m 644 $(BUILD)/dist/libghost.pc $(BUILD)/dist/libghost-agent.pc \
	    $(DESTDIR)$(PKGCONFIGDIR)/
	@$(INSTALL) -m 755 $(addprefix $(BUILD)/bin/,$(GHOST_PROGRAMS)) $(DESTDIR)$(BINDIR)/
	@$(foreach p,$(MAN_PAGES),$(INSTALL) -m 644 $(p) $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/ &&) true
	@$(INSTALL) -m 644 $(BUILD)/dist/$(GHOST_UNIT) $(DESTDIR)$(SYSTEMDUNITDIR)/

# Removes what install put there (whichever of STATIC= it was built with),
# and the include/ghost directory if nothing else is left in it.
uninstall:
	@echo "  REMOVE  $(DESTDIR)$(PREFIX)"
	@rm -f $(DEST_LIBDIR)/libghost.a $(DEST_LIBDIR)/libghost-agent.a $(DEST_LIBDIR)/libghost.so \
	    $(DEST_LIBDIR)/$(GHOST_LIB_SONAME) \
	    $(DEST_LIBDIR)/$(notdir $(SHARED_LIB)) $(DEST_LIBDIR)/libghost-preload.so \
	    $(addprefix $(DESTDIR)$(INCLUDEDIR)/ghost/,$(notdir $(GHOST_PUBLIC_HEADERS))) \
	    $(DESTDIR)$(PKGCONFIGDIR)/libghost.pc $(DESTDIR)$(PKGCONFIGDIR)/libghost-agent.pc \
	    $(addprefix $(DESTDIR)$(BINDIR)/,$(GHOST_PROGRAMS)) \
	    $(foreach p,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p))) \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/$(GHOST_UNIT)
	@if [ -d $(DESTDIR)$(INCLUDEDIR)/ghost ]; then rmdir $(DESTDIR)$(INCLUDEDIR)/ghost 2>/dev/null || true; fi
