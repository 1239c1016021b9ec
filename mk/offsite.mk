# Off-site copies: the codec, key file, target and S3 tests of the unit binary
# against a moto S3 server on loopback, started and stopped by
# tests/offsite/run.sh. `make test` runs them too (the pytest off-site tests
# start their own moto server, see tests/test_offsite.py).
#
#   make offsite-test    runs them against moto
#
# run.sh takes moto from `python3` on PATH (the pyenv one on the CI machines)
# or from MOTO_PYTHON, and needs the aws CLI on PATH.
OFFSITE_FILTER := Codec*:KeyFile*:DirTarget*:OpenTarget*:S3*:Offsite*

.PHONY: offsite-test
offsite-test: build/unit/wecare_unit
	tests/offsite/run.sh build/unit/wecare_unit --gtest_brief=1 --gtest_filter='$(OFFSITE_FILTER)'

test: offsite-test
