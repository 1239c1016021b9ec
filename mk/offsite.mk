# Off-site copies (issue 6): the C++ tests of ext/offsite against a moto S3
# server on loopback, started and stopped by tests/offsite/run.sh. Included by
# the Makefile; `make test` runs them too (the pytest off-site tests start their
# own moto server, see tests/test_offsite.py).
#
#   make offsite-test    builds build/offsite_test and runs it against moto
#   make offsite-unit    the same binary without S3 (the S3 tests skip)
#
# run.sh takes moto from `python3` on PATH (the pyenv one on the CI machines)
# or from MOTO_PYTHON, and needs the aws CLI on PATH.
include tests/offsite/Makefile.inc

test: offsite-test
