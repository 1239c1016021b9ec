# make install: the library and the cron/drill scripts, at fixed places under
# PREFIX (default /usr/local); DESTDIR is prepended to every path, for
# packaging. Included by the Makefile.
#
#   $(PREFIX)/lib/wecare_backup/wecare_backup.so     .load /usr/local/lib/wecare_backup/wecare_backup
#   $(PREFIX)/share/wecare_backup/nightly.sh         nightly backup for cron (see README)
#   $(PREFIX)/share/wecare_backup/restore_drill.sh   restore drill
#   ... and the SQL and shell files they use (nightly.sql, restore_drill.sql, common.sh)
#
# The scripts find the library relative to themselves (../../lib/wecare_backup/)
# unless WECARE_BACKUP_EXT names another one, so a DESTDIR tree works as it is.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]    removes exactly those files
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL ?= install
INSTALL_LIB_DIR   = $(DESTDIR)$(PREFIX)/lib/wecare_backup
INSTALL_SHARE_DIR = $(DESTDIR)$(PREFIX)/share/wecare_backup
INSTALL_PROGRAMS  := sql/nightly.sh sql/restore_drill.sh
INSTALL_DATA      := sql/common.sh sql/nightly.sql sql/restore_drill.sql

.PHONY: install uninstall
install: $(DIST)
	$(INSTALL) -d -m 755 $(INSTALL_LIB_DIR) $(INSTALL_SHARE_DIR)
	$(INSTALL) -m 644 $(DIST) $(INSTALL_LIB_DIR)/wecare_backup.so
	$(INSTALL) -m 755 $(INSTALL_PROGRAMS) $(INSTALL_SHARE_DIR)/
	$(INSTALL) -m 644 $(INSTALL_DATA) $(INSTALL_SHARE_DIR)/

uninstall:
	rm -f $(INSTALL_LIB_DIR)/wecare_backup.so $(addprefix $(INSTALL_SHARE_DIR)/,$(notdir $(INSTALL_PROGRAMS) $(INSTALL_DATA)))
	-rmdir $(INSTALL_LIB_DIR) $(INSTALL_SHARE_DIR) 2>/dev/null
