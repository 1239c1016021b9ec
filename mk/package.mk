# The packages (issue 15): the npm package in bindings/node and the Python wheel
# in bindings/python, each made as a user would make it, installed in a scratch
# project under the temporary folder (outside the repository) and used there:
# load, create, list, verify, restore. Included by the Makefile; CI runs them.
#
#   make package-test          both (about 8 min: they compile the extension 3 times)
#   make npm-package-test      npm pack, npm install <tarball> with better-sqlite3 12, types,
#                              the build from source, the missing-compiler and -library messages
#   make python-package-test   pip wheel --no-build-isolation, a --system-site-packages venv
#
# Both need the Debian packages of `make setup`, and the npm one the registry
# (better-sqlite3, typescript). NODE ?= node.
NODE ?= node

.PHONY: package-test npm-package-test python-package-test
package-test: npm-package-test python-package-test

# load.test.js checks the checkout's library: $(DIST).
npm-package-test: $(DIST)
	cd bindings/node && $(NODE) --test test/*.test.js

python-package-test:
	$(PYTHON) -m pytest -q -p no:cacheprovider bindings/python/tests
