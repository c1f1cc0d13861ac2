# ferry — the developer entry points. See README.md.
#   make setup   install the Debian packages ferry needs (idempotent; sudo when not root)
#   make build   configure and build (Release) into build/
#   make demo    run examples/quickstart end to end into its embedded warehouse
#   make test    every test: unit, integration, format check
#   make bench   benchmarks against their baselines (not part of make test)
#   make asan    build and test with AddressSanitizer + UBSan into build-asan/

BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
FERRY := $(BUILD)/ferry

.PHONY: setup build demo test test-deps format format-check bench asan clean

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Test corpora that come from npm as data (csv-spectrum).
test-deps: setup
	@cd tests && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

test: build test-deps format-check
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	examples/quickstart/run.sh $(abspath $(FERRY))

bench: build
	bench/run.sh $(abspath $(BUILD))

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

format-check:
	@files=$$(git ls-files '*.cpp' '*.h'); \
	if ! clang-format --dry-run -Werror $$files 2>/dev/null; then \
	  echo "clang-format: these files need 'make format':"; \
	  for f in $$files; do clang-format --dry-run -Werror $$f >/dev/null 2>&1 || echo "  $$f"; done; \
	  exit 1; fi

asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Asan

clean:
	rm -rf $(BUILD) build-asan
