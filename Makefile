# Front door for the README quick start.  The real build is CMake (CMakeLists.txt).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: deps build demo check test test-asan test-mpi fuzz valgrind bench install clean

deps:
	./tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DXBAR_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)

# The main job: install what is missing, build, run the end-to-end demo.
demo: build
	./$(BUILD)/xbar demo

# The whole test suite, then again under AddressSanitizer + UBSan, valgrind memcheck on
# the fast subset, then the fuzzers (docs/hardening.md).
FUZZ_SECONDS ?= 30
check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-asan
	$(MAKE) test-mpi
	$(MAKE) valgrind
	$(MAKE) fuzz

valgrind: build
	./tools/valgrind-tests.sh $(BUILD)

fuzz: deps
	./tools/run-fuzz.sh $(FUZZ_SECONDS) build-fuzz

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DXBAR_WERROR=ON -DXBAR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# MPI campaigns (docs/cluster.md): a -DXBAR_MPI=ON build, mpirun -np 2 against a serial run.
MPI_BUILD ?= build-mpi
test-mpi: deps
	cmake -S . -B $(MPI_BUILD) -DXBAR_WERROR=ON -DXBAR_MPI=ON
	cmake --build $(MPI_BUILD) -j $(JOBS) --target xbar
	cd $(MPI_BUILD) && ctest --output-on-failure -R '^test_mpi$$'

# Install the xbar binary, libxbar (shared and static), headers, xbar.pc, models, man page and
# bash completion under PREFIX (docs/architecture.md); DESTDIR is honoured for packaging.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	@for b in $(BUILD)/bench_*; do [ -x "$$b" ] && "$$b"; done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(MPI_BUILD) build-fuzz
