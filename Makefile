# The two commands: `make run` runs Deepwork, `make test` runs every test.
# Both install what they need first (scripts/setup.sh, idempotent).

CARGO ?= cargo

.PHONY: run test install deb setup setup-run ui bench measure-idle measure-plans measure-escalation measure-footprint measure-window-open measure-second-run bindings train-triage fuzz soak

# Everything the tests need; `setup-run` only what building and running need.
setup:
	@bash scripts/setup.sh test

setup-run:
	@bash scripts/setup.sh run

# The window's web side, built into ui/dist, which the deepwork-app binary embeds. Built
# only when its sources changed: a rewritten dist would rebuild the window's binary.
UI_INPUTS := $(shell find ui/src -type f) ui/index.html ui/package.json ui/package-lock.json ui/vite.config.ts ui/tsconfig.json

ui/dist/index.html: $(UI_INPUTS) | setup-run
	@echo "ui: building the window's pages (vite)"
	@cd ui && npx vite build --logLevel warn

ui: ui/dist/index.html

run: setup-run ui
	@echo "run: building deepwork and the window (release)"
	@$(CARGO) build --release -q -p deepwork-cli -p deepwork-app
	@echo "run: starting the resident in the foreground (Ctrl-C stops it; a running session resumes next start)."
	@echo "run: with a display it has a tray icon (menu: Start deep work, Open Deepwork, ...) and Ctrl+Alt+D."
	@echo "run: from another terminal, use the CLI:"
	@echo "       target/release/deepwork start --for 90m        # or --until 11:30, --check-in 11:00"
	@echo "       target/release/deepwork push --source ci --from build-bot --title 'Deploy failed on main'"
	@echo "       target/release/deepwork status | checkin | digest | stop | stats"
	@bash scripts/open-window-when-ready.sh ./target/release/deepwork-app &
	@./target/release/deepwork daemon

# For daily use: the binaries into ~/.local/bin, a menu entry, and the resident at login.
install: setup-run ui
	@echo "install: building deepwork and the window (release)"
	@$(CARGO) build --release -q -p deepwork-cli -p deepwork-app
	@bash scripts/install.sh target/release

# The .deb with both programs, checked: target/debian/deepwork_VERSION_ARCH.deb.
deb: setup ui
	@echo "deb: building deepwork and the window (release), then the package"
	@$(CARGO) build --release -q --locked -p deepwork-cli -p deepwork-app
	@$(CARGO) deb -p deepwork-cli --no-build --locked -o target/debian/
	@echo "deb: checking it (appstreamcli, desktop-file-validate, lintian)"
	@appstreamcli validate --no-net packaging/org.deepwork.Deepwork.metainfo.xml
	@desktop-file-validate packaging/*.desktop
	@lintian --fail-on error,warning target/debian/deepwork_*.deb

test: setup ui
	@echo "test: the window's pages: types (svelte-check) and view logic (vitest)"
	@cd ui && npx svelte-check --tsconfig ./tsconfig.json --fail-on-warnings --output human
	@cd ui && npx vitest run
	@echo "test: formatting"
	@$(CARGO) fmt --all --check
	@echo "test: clippy (warnings are errors)"
	@$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@echo "test: every test of the workspace"
	@$(CARGO) nextest run --workspace --locked --no-fail-fast
	@echo "test: the .deb, installed and run in a clean Debian 12"
	@$(MAKE) -s deb
	@bash scripts/test-deb.sh target/debian/deepwork_*.deb

bench: setup
	$(CARGO) bench -p deepwork-core --bench core
	$(CARGO) bench -p deepwork-store --bench store
	$(CARGO) bench -p deepwork-cli --bench push
	$(CARGO) bench -p deepwork-cli --bench hold
	$(CARGO) bench -p deepwork-engine --bench matrix
	$(CARGO) bench -p deepwork-engine --bench platforms
	$(CARGO) bench -p deepwork-engine --bench sources

# A second `make run` on an up-to-date checkout, until its window shows.
measure-second-run: setup
	bash scripts/measure-second-run.sh 3

measure-idle: setup
	bash scripts/measure-idle.sh 60

# Wakeups and calendar requests of an idle resident with work hours, blocks and a calendar.
measure-plans: setup
	bash scripts/measure-plans.sh 60

# Escalation: how late a step fires after its due time, and wakeups with none open.
measure-escalation: setup
	bash scripts/measure-escalation.sh 10 30

# setup: the private display (Xvfb) is a test package.
measure-footprint: setup ui
	bash scripts/measure-footprint.sh 8

measure-window-open: setup
	bash scripts/measure-window-open.sh 5

# Fuzzing, for long runs (the test suite runs each target briefly, with a fixed seed):
# every target in the tests/fuzz.rs of core, engine and adapters (the
# config, the socket's requests, every platform's and source's answers, the plugin
# protocol, markup and text) runs on arbitrary and mutated input for FUZZ_SECONDS each
# (21 targets: 3.5 h at the default 600). A panic fails it with the smallest input and a
# seed to replay.
FUZZ_SECONDS ?= 600
fuzz:
	DEEPWORK_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p deepwork-core -p deepwork-engine -p deepwork-adapters --test fuzz -- --test-threads 1 --nocapture

# Soak, not in CI: ROUNDS of killing the resident (-9) amid concurrent pushes and starting
# it again, with a plugin platform connected; fails unless every acknowledged push is
# stored exactly once and every session's platform status is put back.
ROUNDS ?= 1000
soak:
	CARGO=$(CARGO) bash scripts/soak.sh $(ROUNDS)

# Rewrites ui/src/generated/api.ts from the Rust types (a test fails while it is stale).
bindings: ui
	DEEPWORK_UPDATE_BINDINGS=1 $(CARGO) test -q -p deepwork-app --test bindings

# Retrains the triage model from crates/deepwork-core/triage/corpus into triage/model.bin
# and reports on the held-out split (add ARGS=--misses to list the corpus's out-of-fold mistakes).
train-triage:
	$(CARGO) run --release -q -p deepwork-core --example train_triage -- $(ARGS)
